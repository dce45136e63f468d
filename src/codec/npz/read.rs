//! Reading refuses what numpy would load as something other than an array (a member not
//! ending in `.npy`), what it would load ambiguously (a name twice), and archives whose sizes
//! cannot be trusted: their declared sizes together over the limit (a zip bomb), a member's
//! `.npy` header disagreeing with the size its zip entry declares, or data longer or shorter
//! than declared (never inflated past the declared size).

use std::collections::HashSet;
use std::io::{self, Read, Seek, SeekFrom};

use zip::read::ZipFile;
use zip::result::ZipError;
use zip::ZipArchive;

use super::{CENTRAL_FIXED_LEN, CENTRAL_SIGNATURE, STORED, SUFFIX};
use crate::codec::dialect::RAISE_HINT;
use crate::codec::io::{read_full, Payload};
use crate::codec::model::{Bundle, Item, Named, Tensor};
use crate::codec::npy;
use crate::error::{Error, Result};

/// Reads the `.npy` members of an `.npz` archive one after the other, in the order of the
/// archive's central directory (the order of `numpy.load(f).files`).
pub struct NpzReader<R: Read + Seek> {
    archive: ZipArchive<R>,
    next: usize,
}

impl<R: Read + Seek> NpzReader<R> {
    /// Opens the archive and checks every member's entry before any data is read: names,
    /// encryption, compression, and that the declared sizes together are at most `max_bytes`.
    pub fn new(input: R, max_bytes: u64) -> Result<Self> {
        let archive = ZipArchive::new(input).map_err(archive_error)?;
        let start = archive.central_directory_start();
        let count = archive.len();
        let mut input = archive.into_inner();
        let entries = central_entries(&mut input, start)?;
        check_unique(&entries, count)?;
        // Read again: the crate's own reading keeps one member of each name, silently.
        let mut archive = ZipArchive::new(input).map_err(archive_error)?;
        let mut total: u128 = 0;
        for (index, entry) in entries.iter().enumerate() {
            let member = archive.by_index_raw(index).map_err(archive_error)?;
            check_entry(entry, &member)?;
            total += u128::from(member.size());
        }
        if total > u128::from(max_bytes) {
            return Err(Error::TooLarge {
                what: "the total uncompressed size the .npz archive's members declare".to_string(),
                size: Some(total),
                limit: max_bytes,
                hint: RAISE_HINT,
            });
        }
        Ok(NpzReader { archive, next: 0 })
    }
}

impl<R: Read + Seek + Send> Bundle for NpzReader<R> {
    fn next_item(&mut self) -> Result<Option<Named<'_>>> {
        if self.next == self.archive.len() {
            return Ok(None);
        }
        let index = self.next;
        self.next += 1;
        let file = self.archive.by_index(index).map_err(archive_error)?;
        let member = file.name().to_string();
        let tensor = open_member(Member::new(file))?;
        let name = member.strip_suffix(SUFFIX).expect("checked in new");
        Ok(Some(Named::new(name, Item::Tensor(tensor))))
    }
}

/// The tensor in a member, whose `.npy` header must account for exactly the bytes its zip
/// entry declares.
fn open_member<R: Read + Send>(mut data: Member<'_, R>) -> Result<Tensor<'_>> {
    let header = npy::read_header(&mut data).map_err(|error| data.named(error))?;
    let header_len = data.read;
    let byte_len = header.tensor.byte_len();
    if u128::from(header_len) + u128::from(byte_len) != u128::from(data.declared) {
        let detail = format!(
            "its .npy header declares {header_len} header bytes and {byte_len} data bytes \
             (shape {:?} x {}), but its zip entry declares {} bytes in all",
            header.tensor.shape,
            header.tensor.dtype.name(),
            data.declared
        );
        return Err(data.refusal(detail));
    }
    let name = data.name.clone();
    npy::open(header, data).map_err(|error| in_member(&name, error))
}

/// An error about a member, named; one that already names it stays as it is.
fn in_member(member: &str, error: Error) -> Error {
    match error {
        Error::NpzMember { .. } => error,
        other => Error::NpzMember {
            member: member.to_string(),
            detail: other.to_string(),
        },
    }
}

/// A member's decompressed bytes, exactly as many as its zip entry declares: a byte past
/// them, or the end before them, is an error, and no more than one byte past them is ever
/// inflated.
struct Member<'a, R: Read> {
    file: ZipFile<'a, R>,
    name: String,
    declared: u64,
    read: u64,
}

impl<'a, R: Read> Member<'a, R> {
    fn new(file: ZipFile<'a, R>) -> Self {
        Member {
            name: file.name().to_string(),
            declared: file.size(),
            file,
            read: 0,
        }
    }

    fn refusal(&self, detail: String) -> Error {
        Error::NpzMember {
            member: self.name.clone(),
            detail,
        }
    }

    fn named(&self, error: Error) -> Error {
        in_member(&self.name, error)
    }

    /// At the declared end: the data must end too (which is also when the crate checks the
    /// CRC-32).
    fn check_end(&mut self) -> io::Result<usize> {
        let mut extra = [0u8; 1];
        match self.file.read(&mut extra) {
            Ok(0) => Ok(0),
            Ok(_) => Err(self
                .refusal(format!(
                    "its data is longer than the {} bytes its zip entry declares",
                    self.declared
                ))
                .into()),
            Err(error) => Err(self.named(error.into()).into()),
        }
    }
}

impl<R: Read> Read for Member<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let remaining = self.declared - self.read;
        if buf.is_empty() {
            return Ok(0);
        }
        if remaining == 0 {
            return self.check_end();
        }
        let limit = buf
            .len()
            .min(usize::try_from(remaining).unwrap_or(usize::MAX));
        let count = match self.file.read(&mut buf[..limit]) {
            Ok(count) => count,
            Err(error) => return Err(self.named(error.into()).into()),
        };
        if count == 0 {
            let detail = format!(
                "its data ends after {} bytes, before the {} its zip entry declares",
                self.read, self.declared
            );
            return Err(self.refusal(detail).into());
        }
        self.read += count as u64;
        Ok(count)
    }
}

impl<R: Read + Send> Payload for Member<'_, R> {}

/// What the central directory says of one member, from the fixed fields of its entry.
struct Entry {
    name: Vec<u8>,
    flags: u16,
    method: u16,
}

/// Every entry of the central directory starting at `start`, duplicates included, which the
/// zip crate keeps only one of.
fn central_entries(input: &mut (impl Read + Seek), start: u64) -> Result<Vec<Entry>> {
    input.seek(SeekFrom::Start(start))?;
    let mut entries = Vec::new();
    let mut fixed = [0u8; CENTRAL_FIXED_LEN];
    loop {
        let count = read_full(input, &mut fixed)?;
        if count < CENTRAL_SIGNATURE.len() || &fixed[..4] != CENTRAL_SIGNATURE {
            return Ok(entries);
        }
        if count < CENTRAL_FIXED_LEN {
            return Err(Error::Npz("the central directory is cut short".to_string()));
        }
        let field = |at: usize| u16::from_le_bytes([fixed[at], fixed[at + 1]]);
        let mut name = vec![0u8; usize::from(field(28))];
        if read_full(input, &mut name)? < name.len() {
            return Err(Error::Npz("the central directory is cut short".to_string()));
        }
        let skip = i64::from(field(30)) + i64::from(field(32));
        input.seek(SeekFrom::Current(skip))?;
        entries.push(Entry {
            name,
            flags: field(8),
            method: field(10),
        });
    }
}

/// Refuses a name given twice: `numpy.load` would give one of them only.
fn check_unique(entries: &[Entry], count: usize) -> Result<()> {
    let mut seen = HashSet::new();
    for entry in entries {
        if !seen.insert(entry.name.as_slice()) {
            return Err(Error::Npz(format!(
                "the member {:?} appears twice (numpy.load would give only one of them)",
                String::from_utf8_lossy(&entry.name)
            )));
        }
    }
    if entries.len() != count {
        return Err(Error::Npz(format!(
            "its central directory holds {} entries, but its end record counts {count}",
            entries.len()
        )));
    }
    Ok(())
}

/// The checks on a member's entry that need none of its data.
fn check_entry<R: Read>(entry: &Entry, member: &ZipFile<'_, R>) -> Result<()> {
    let refuse = |detail: String| -> Result<()> {
        Err(Error::NpzMember {
            member: member.name().to_string(),
            detail,
        })
    };
    if !member.name().ends_with(SUFFIX) {
        return refuse(not_npy(member.name()));
    }
    if entry.flags & 1 != 0 {
        return refuse("encrypted; tensorjson reads no encrypted members".to_string());
    }
    match entry.method {
        STORED => {
            if member.compressed_size() != member.size() {
                return refuse(format!(
                    "stored uncompressed, yet its zip entry declares {} bytes stored and {} \
                     bytes uncompressed",
                    member.compressed_size(),
                    member.size()
                ));
            }
        }
        DEFLATED => {}
        other => {
            return refuse(format!(
                "compressed with {} (zip method {other}); tensorjson reads stored and \
                 deflated members, which numpy writes",
                method_name(other)
            ))
        }
    }
    Ok(())
}

const DEFLATED: u16 = 8;

/// What a member that is no `.npy` file is, as numpy would load it.
fn not_npy(name: &str) -> String {
    if name.ends_with('/') {
        return "a directory, not an .npy file".to_string();
    }
    format!(
        "not an .npy file: its name does not end in {SUFFIX} (numpy.load would give its \
         bytes, not an array)"
    )
}

/// The name of a zip compression method (APPNOTE 4.4.5), as far as numpy's readers know them.
fn method_name(method: u16) -> &'static str {
    match method {
        1 => "Shrink",
        2..=5 => "Reduce",
        6 => "Implode",
        9 => "Deflate64",
        12 => "bzip2",
        14 => "LZMA",
        93 => "Zstandard",
        95 => "XZ",
        98 => "PPMd",
        99 => "AES encryption",
        _ => "an unknown method",
    }
}

/// The zip crate's error, said once: its own words begin with "invalid Zip archive", and
/// an archive cut short is an I/O error to it.
fn archive_error(error: ZipError) -> Error {
    match error {
        ZipError::Io(error) if error.kind() == io::ErrorKind::UnexpectedEof => {
            Error::Npz("it ends early (is it cut short?)".to_string())
        }
        ZipError::Io(error) => Error::Io(error),
        ZipError::InvalidArchive(detail) => Error::Npz(detail.into_owned()),
        ZipError::UnsupportedArchive(detail) => Error::Npz(format!("unsupported: {detail}")),
        other => Error::Npz(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Cursor, Write};

    use zip::write::SimpleFileOptions;
    use zip::{CompressionMethod, ZipWriter};

    use super::*;

    /// An archive of `(name, bytes)` members, written by the zip crate as given.
    fn archive(members: &[(&str, &[u8])], method: CompressionMethod) -> Vec<u8> {
        let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
        let options = SimpleFileOptions::default().compression_method(method);
        for (name, bytes) in members {
            zip.start_file(*name, options).unwrap();
            zip.write_all(bytes).unwrap();
        }
        zip.finish().unwrap().into_inner()
    }

    fn first_error(bytes: Vec<u8>) -> String {
        let mut reader = match NpzReader::new(Cursor::new(bytes), u64::MAX) {
            Ok(reader) => reader,
            Err(error) => return error.to_string(),
        };
        let message = match reader.next_item() {
            Ok(Some(Named {
                item: Item::Tensor(mut tensor),
                ..
            })) => io::copy(&mut tensor, &mut io::sink())
                .unwrap_err()
                .to_string(),
            Ok(Some(Named {
                item: Item::Image(_),
                ..
            })) => panic!("a member read as an image"),
            Ok(None) => panic!("no member"),
            Err(error) => error.to_string(),
        };
        message
    }

    #[test]
    fn a_directory_member_is_refused_as_one() {
        let error = first_error(archive(&[("dir/", b"")], CompressionMethod::Stored));
        assert_eq!(error, ".npz member \"dir/\": a directory, not an .npy file");
    }

    #[test]
    fn a_member_that_is_no_npy_file_inside_is_refused_naming_it() {
        for method in [CompressionMethod::Stored, CompressionMethod::Deflated] {
            let error = first_error(archive(&[("x.npy", b"PK not npy")], method));
            assert!(
                error.starts_with(".npz member \"x.npy\": bad .npy header: "),
                "{method}: {error}"
            );
        }
    }

    #[test]
    fn an_empty_member_ends_inside_its_header() {
        let error = first_error(archive(&[("x.npy", b"")], CompressionMethod::Stored));
        let expected = ".npz member \"x.npy\": bad .npy header: the file ends inside the header";
        assert_eq!(error, expected);
    }

    fn entry(name: &str) -> Entry {
        Entry {
            name: name.as_bytes().to_vec(),
            flags: 0,
            method: STORED,
        }
    }

    #[test]
    fn entries_the_end_record_does_not_count_are_refused() {
        let entries = [entry("a.npy"), entry("b.npy")];
        assert!(check_unique(&entries, 2).is_ok());
        let error = check_unique(&entries, 1).unwrap_err().to_string();
        assert!(
            error.contains("holds 2 entries, but its end record counts 1"),
            "{error}"
        );
        let error = check_unique(&[entry("a.npy"), entry("a.npy")], 1)
            .unwrap_err()
            .to_string();
        assert!(error.contains("\"a.npy\" appears twice"), "{error}");
    }

    #[test]
    fn a_central_directory_cut_short_is_refused() {
        let mut bytes = CENTRAL_SIGNATURE.to_vec();
        bytes.extend_from_slice(&[0u8; 20]);
        let error = central_entries(&mut Cursor::new(bytes), 0).err().unwrap();
        assert!(error.to_string().contains("cut short"), "{error}");
        // An entry whose name runs past the end.
        let mut bytes = CENTRAL_SIGNATURE.to_vec();
        bytes.extend_from_slice(&[0u8; CENTRAL_FIXED_LEN - 4]);
        bytes[28] = 9;
        let error = central_entries(&mut Cursor::new(bytes), 0).err().unwrap();
        assert!(error.to_string().contains("cut short"), "{error}");
    }

    #[test]
    fn methods_are_named() {
        assert_eq!(method_name(12), "bzip2");
        assert_eq!(method_name(93), "Zstandard");
        assert_eq!(method_name(4), "Reduce");
        assert_eq!(method_name(77), "an unknown method");
    }

    #[test]
    fn an_error_already_naming_its_member_is_not_named_twice() {
        let named = Error::NpzMember {
            member: "a.npy".to_string(),
            detail: "why".to_string(),
        };
        assert_eq!(
            in_member("b.npy", named).to_string(),
            ".npz member \"a.npy\": why"
        );
        let other = Error::NpyHeader("why".to_string());
        assert_eq!(
            in_member("b.npy", other).to_string(),
            ".npz member \"b.npy\": bad .npy header: why"
        );
    }
}
