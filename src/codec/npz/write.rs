use std::collections::HashSet;
use std::io::{self, Write};

use super::{CENTRAL_SIGNATURE, STORED, SUFFIX};
use crate::codec::model::Tensor;
use crate::codec::npy;
use crate::error::{Error, Result};

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
    use super::super::CENTRAL_FIXED_LEN;
    use super::*;

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
}
