//! `.npz` archives, as `numpy.savez` and `numpy.savez_compressed` write them: a zip archive
//! whose members are `.npy` files named `NAME.npy`. Members are read and written one at a
//! time, streaming, so memory stays flat however large the archive.
//!
//! Reading refuses what numpy would load as something other than an array (a member not
//! ending in `.npy`), what it would load ambiguously (a name twice), and archives whose sizes
//! cannot be trusted: their declared sizes together over the limit (a zip bomb), a member's
//! `.npy` header disagreeing with the size its zip entry declares, or data longer or shorter
//! than declared (never inflated past the declared size).

use std::collections::HashSet;
use std::io::{self, Read, Seek, SeekFrom, Write};

use zip::read::ZipFile;
use zip::result::ZipError;
use zip::ZipArchive;

use crate::codec::dialect::RAISE_HINT;
use crate::codec::io::{read_full, Payload};
use crate::codec::model::{Bundle, Item, Named, Tensor};
use crate::codec::npy;
use crate::error::{Error, Result};

/// What every member's name ends with; numpy strips it to give the array's name.
const SUFFIX: &str = ".npy";

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

const CENTRAL_SIGNATURE: &[u8] = b"PK\x01\x02";
const CENTRAL_FIXED_LEN: usize = 46;

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

const STORED: u16 = 0;
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

/// Writes tensors as the `.npy` members of an `.npz` archive, stored as `numpy.savez` stores
/// them. The output need not be seekable: each member's CRC-32 and sizes follow its data (a
/// data descriptor), and the central directory, which readers go by, has them all.
///
/// Written here rather than with the zip crate, whose version 7 writes a zip64 extra field
/// that disagrees with its central directory entry for a member that starts past 4 GiB
/// (Python's zipfile then reads the wrong offset for it).
pub struct NpzWriter<W: Write> {
    out: W,
    /// Bytes written so far: where the next record starts.
    offset: u64,
    members: Vec<WrittenMember>,
    names: HashSet<String>,
    /// Set once a member fails: the archive cannot be finished then.
    failed: bool,
}

/// What the central directory says of a member written.
struct WrittenMember {
    name: Vec<u8>,
    crc: u32,
    size: u64,
    offset: u64,
}

/// Sizes and offsets past this are written in zip64 fields, as Python's zipfile writes them.
const ZIP64_LIMIT: u64 = (1 << 31) - 1;
/// 1980-01-01, the earliest date a zip entry holds: no clock, so the output is reproducible.
const DOS_DATE: u16 = 0x21;
/// General purpose flags: sizes and CRC-32 in a data descriptor after the data (bit 3), and
/// the name in UTF-8 (bit 11).
const DATA_DESCRIPTOR: u16 = 1 << 3;
const UTF8_NAME: u16 = 1 << 11;
/// Versions needed to extract: 2.0, or 4.5 for zip64.
const VERSION: u16 = 20;
const VERSION_ZIP64: u16 = 45;

impl<W: Write> NpzWriter<W> {
    pub fn new(out: W) -> Self {
        NpzWriter {
            out,
            offset: 0,
            members: Vec::new(),
            names: HashSet::new(),
            failed: false,
        }
    }

    /// Writes `tensor` as the member `NAME.npy`, zip64 if its size or place needs it. After
    /// a member fails, the archive cannot be finished: only dropped.
    pub fn add(&mut self, name: &str, tensor: &mut Tensor) -> Result<()> {
        self.check_open()?;
        self.check_name(name)?;
        let result = self.write_member(format!("{name}{SUFFIX}").into_bytes(), tensor);
        self.failed = result.is_err();
        result
    }

    /// Writes the central directory and gives back the output.
    pub fn finish(mut self) -> Result<W> {
        self.check_open()?;
        let start = self.offset;
        let mut directory = Vec::new();
        for member in &self.members {
            central_entry(member, &mut directory);
        }
        directory.extend_from_slice(&end_records(
            self.members.len() as u64,
            start,
            directory.len() as u64,
        ));
        self.out.write_all(&directory)?;
        self.out.flush()?;
        Ok(self.out)
    }

    fn write_member(&mut self, name: Vec<u8>, tensor: &mut Tensor) -> Result<()> {
        let size = npy::header_bytes(&tensor.header).len() as u64 + tensor.header.byte_len();
        let zip64 = size > ZIP64_LIMIT;
        let header = local_header(&name, zip64);
        self.out.write_all(&header)?;
        let mut data = Checked {
            out: &mut self.out,
            crc: flate2::Crc::new(),
        };
        npy::write(tensor, &mut data)?;
        // The tensor yields exactly its declared bytes, or fails: `size` is what was written.
        let crc = data.crc.sum();
        self.out.write_all(&data_descriptor(crc, size, zip64))?;
        let offset = self.offset;
        self.offset += header.len() as u64 + size + if zip64 { 24 } else { 16 };
        self.members.push(WrittenMember {
            name,
            crc,
            size,
            offset,
        });
        Ok(())
    }

    fn check_open(&self) -> Result<()> {
        if !self.failed {
            return Ok(());
        }
        let message = "an earlier .npz member failed, so the archive cannot be finished";
        Err(Error::Io(io::Error::other(message)))
    }

    /// Refuses a name `numpy.load` would not give back as it is, or a second time.
    fn check_name(&mut self, name: &str) -> Result<()> {
        let refuse = |why| -> Result<()> {
            let name = name.to_string();
            Err(Error::NpzName { name, why })
        };
        if name.is_empty() {
            return refuse("the name is empty");
        }
        if name.contains('\0') {
            return refuse("it holds a NUL byte, where Python's zipfile ends a name");
        }
        if name.len() + SUFFIX.len() > usize::from(u16::MAX) {
            return refuse("it is longer than a zip entry's name can be");
        }
        if !self.names.insert(name.to_string()) {
            return refuse("it is given twice");
        }
        Ok(())
    }
}

/// The member's data on its way out, its CRC-32 taken as it goes.
struct Checked<'a, W> {
    out: &'a mut W,
    crc: flate2::Crc,
}

impl<W: Write> Write for Checked<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let count = self.out.write(buf)?;
        self.crc.update(&buf[..count]);
        Ok(count)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

fn flags(name: &[u8]) -> u16 {
    if name.is_ascii() {
        DATA_DESCRIPTOR
    } else {
        DATA_DESCRIPTOR | UTF8_NAME
    }
}

/// A local file header. The CRC-32 and sizes are not known yet: they are zero here and
/// follow the data; a zip64 member says so with 0xFFFFFFFF sizes and a zip64 extra field.
fn local_header(name: &[u8], zip64: bool) -> Vec<u8> {
    let mut header = b"PK\x03\x04".to_vec();
    let version = if zip64 { VERSION_ZIP64 } else { VERSION };
    for field in [version, flags(name), STORED, 0, DOS_DATE] {
        header.extend_from_slice(&field.to_le_bytes());
    }
    let sizes = if zip64 { u32::MAX } else { 0 };
    for field in [0, sizes, sizes] {
        header.extend_from_slice(&u32::to_le_bytes(field));
    }
    let zip64_fields: &[u64] = if zip64 { &[0, 0] } else { &[] };
    header.extend_from_slice(&(name.len() as u16).to_le_bytes());
    header.extend_from_slice(&zip64_extra_len(zip64_fields).to_le_bytes());
    header.extend_from_slice(name);
    push_zip64_extra(&mut header, zip64_fields);
    header
}

fn zip64_extra_len(fields: &[u64]) -> u16 {
    if fields.is_empty() {
        0
    } else {
        4 + 8 * fields.len() as u16
    }
}

/// The zip64 extra field holding `fields`, if there are any.
fn push_zip64_extra(out: &mut Vec<u8>, fields: &[u64]) {
    if fields.is_empty() {
        return;
    }
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&(8 * fields.len() as u16).to_le_bytes());
    for field in fields {
        out.extend_from_slice(&field.to_le_bytes());
    }
}

fn data_descriptor(crc: u32, size: u64, zip64: bool) -> Vec<u8> {
    let mut descriptor = b"PK\x07\x08".to_vec();
    descriptor.extend_from_slice(&crc.to_le_bytes());
    for _ in 0..2 {
        if zip64 {
            descriptor.extend_from_slice(&size.to_le_bytes());
        } else {
            descriptor.extend_from_slice(&(size as u32).to_le_bytes());
        }
    }
    descriptor
}

/// A 32-bit field, or 0xFFFFFFFF with the value in the zip64 extra field.
fn field32(value: u64, zip64_fields: &mut Vec<u64>) -> u32 {
    if value > ZIP64_LIMIT {
        zip64_fields.push(value);
        u32::MAX
    } else {
        value as u32
    }
}

/// A member's central directory entry. Its zip64 extra field holds exactly the fields that
/// are 0xFFFFFFFF in the entry, in the order APPNOTE 4.5.3 gives: uncompressed size,
/// compressed size, offset.
fn central_entry(member: &WrittenMember, out: &mut Vec<u8>) {
    let mut zip64_fields = Vec::new();
    let uncompressed = field32(member.size, &mut zip64_fields);
    let compressed = field32(member.size, &mut zip64_fields);
    let offset = field32(member.offset, &mut zip64_fields);
    let version = if zip64_fields.is_empty() {
        VERSION
    } else {
        VERSION_ZIP64
    };
    out.extend_from_slice(CENTRAL_SIGNATURE);
    // Made by Unix (3), so that the external attributes are read as a mode.
    for field in [(3 << 8) | version, version, flags(&member.name), STORED, 0] {
        out.extend_from_slice(&field.to_le_bytes());
    }
    out.extend_from_slice(&DOS_DATE.to_le_bytes());
    for field in [member.crc, compressed, uncompressed] {
        out.extend_from_slice(&field.to_le_bytes());
    }
    let extra_len = zip64_extra_len(&zip64_fields);
    for field in [member.name.len() as u16, extra_len, 0, 0, 0] {
        out.extend_from_slice(&field.to_le_bytes());
    }
    // A regular file, rw-r--r--.
    out.extend_from_slice(&(0o100644u32 << 16).to_le_bytes());
    out.extend_from_slice(&offset.to_le_bytes());
    out.extend_from_slice(&member.name);
    push_zip64_extra(out, &zip64_fields);
}

/// The end of central directory record, preceded by the zip64 end record and its locator
/// when the count, size or offset does not fit it.
fn end_records(count: u64, start: u64, size: u64) -> Vec<u8> {
    let zip64 = count >= u64::from(u16::MAX) || start > ZIP64_LIMIT || size > ZIP64_LIMIT;
    let mut out = Vec::new();
    if zip64 {
        let record = start + size;
        out.extend_from_slice(b"PK\x06\x06");
        out.extend_from_slice(&44u64.to_le_bytes());
        for field in [(3 << 8) | VERSION_ZIP64, VERSION_ZIP64] {
            out.extend_from_slice(&field.to_le_bytes());
        }
        out.extend_from_slice(&[0; 8]); // this disk, the directory's disk
        for field in [count, count, size, start] {
            out.extend_from_slice(&field.to_le_bytes());
        }
        out.extend_from_slice(b"PK\x06\x07");
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&record.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes());
    }
    let count16 = if zip64 { u16::MAX } else { count as u16 };
    let (size32, start32) = if zip64 {
        (u32::MAX, u32::MAX)
    } else {
        (size as u32, start as u32)
    };
    out.extend_from_slice(b"PK\x05\x06");
    out.extend_from_slice(&[0; 4]); // this disk, the directory's disk
    for field in [count16, count16] {
        out.extend_from_slice(&field.to_le_bytes());
    }
    for field in [size32, start32] {
        out.extend_from_slice(&field.to_le_bytes());
    }
    out.extend_from_slice(&0u16.to_le_bytes()); // no comment
    out
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

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

    fn tensor_of(len: u64) -> Tensor<'static> {
        let header = crate::TensorHeader::new(crate::Dtype::Uint8, vec![len]).unwrap();
        Tensor::new(header, Box::new(io::Cursor::new(vec![0; len as usize])))
    }

    #[test]
    fn a_member_that_fails_leaves_nothing_more_on_the_output() {
        let mut out = Vec::new();
        let mut writer = NpzWriter::new(&mut out);
        let header = crate::TensorHeader::new(crate::Dtype::Uint8, vec![4096]).unwrap();
        let failing = crate::codec::io::FailingReader { good: 1000 };
        let mut tensor = Tensor::new(header, Box::new(crate::codec::io::Plain(failing)));
        let error = writer.add("x", &mut tensor).unwrap_err();
        assert!(error.to_string().contains("disk on fire"), "{error}");
        let error = writer.add("y", &mut tensor_of(4)).unwrap_err();
        assert!(error.to_string().contains("an earlier .npz member failed"));
        let error = writer.finish().unwrap_err();
        assert!(error.to_string().contains("an earlier .npz member failed"));
        // The local header, the .npy header and the 1000 good bytes, and no central directory.
        let central = out.windows(4).any(|window| window == CENTRAL_SIGNATURE);
        assert!(!central, "{} bytes with a central directory", out.len());
        assert!(out.len() < 1200, "{} bytes", out.len());
    }

    #[test]
    fn a_zip64_extra_field_holds_only_the_fields_the_entry_cannot() {
        // A small member past 4 GiB: the offset alone goes to zip64 (zip 7.4 put the sizes
        // there too, which Python then read as the offset).
        let member = WrittenMember {
            name: b"a.npy".to_vec(),
            crc: 7,
            size: 100,
            offset: 5 << 30,
        };
        let mut entry = Vec::new();
        central_entry(&member, &mut entry);
        let u32_at = |at: usize| u32::from_le_bytes(entry[at..at + 4].try_into().unwrap());
        assert_eq!((u32_at(20), u32_at(24)), (100, 100), "sizes");
        assert_eq!(u32_at(42), u32::MAX, "offset");
        assert_eq!(&entry[30..32], &12u16.to_le_bytes(), "extra field length");
        let extra = &entry[CENTRAL_FIXED_LEN + 5..];
        assert_eq!(extra[..4], [1, 0, 8, 0]);
        assert_eq!(extra[4..], (5u64 << 30).to_le_bytes());
        // A member over 2 GiB at the start: both sizes, no offset.
        let member = WrittenMember {
            size: 3 << 30,
            offset: 0,
            ..member
        };
        let mut entry = Vec::new();
        central_entry(&member, &mut entry);
        assert_eq!(&entry[30..32], &20u16.to_le_bytes(), "extra field length");
        assert_eq!(entry[42..46], [0; 4], "offset");
    }

    #[test]
    fn the_end_records_go_zip64_when_the_count_or_the_place_needs_it() {
        let plain = end_records(3, 1000, 200);
        assert_eq!(plain.len(), 22);
        assert_eq!(plain[..4], *b"PK\x05\x06");
        assert_eq!(plain[10..12], 3u16.to_le_bytes());
        for (count, start) in [(70_000, 1000), (3, 3 << 30)] {
            let records = end_records(count, start, 200);
            assert_eq!(records.len(), 56 + 20 + 22, "{count} {start}");
            assert_eq!(records[..4], *b"PK\x06\x06");
            assert_eq!(records[32..40], count.to_le_bytes());
            assert_eq!(records[48..56], start.to_le_bytes());
            assert_eq!(records[64..72], (start + 200).to_le_bytes(), "the locator");
            assert_eq!(records[86..88], [0xFF; 2], "the 16-bit count");
        }
    }

    #[test]
    fn an_archive_with_no_members_is_an_empty_bundle() {
        let bytes = NpzWriter::new(Vec::new()).finish().unwrap();
        let mut reader = NpzReader::new(Cursor::new(bytes), 0).unwrap();
        assert!(reader.next_item().unwrap().is_none());
    }
}
