//! `.safetensors` files (huggingface/safetensors): the header, reading in one pass, writing.
//!
//! A file is an 8-byte little-endian length N, N bytes of JSON (the header), then the data.
//! The header is an object: each key a tensor's name, each value its `dtype`, `shape` and
//! `data_offsets` (`[start, end)` within the data), plus an optional `__metadata__` object of
//! strings. Its checks are the reference's (`safetensors/src/tensor.rs`, `read_metadata` and
//! `Metadata::validate`): the header at most 100 MB; the tensors, sorted by offsets, cover the
//! data from 0 to its end with no hole or overlap; each holds exactly its shape times its dtype
//! size; the file ends where the data does. Duplicate keys, which the reference's JSON reader
//! resolves silently by keeping the last, are refused.
//!
//! Tensors are read in data-offset order, so that a file streams in one pass from a pipe.
//! Writing waits in a temporary file: the header, which comes first, needs every shape.

use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::io::{self, Read, Write};

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

use crate::codec::aside::Spill;
use crate::codec::dialect::RAISE_HINT;
use crate::codec::dtype::Dtype;
use crate::codec::io::{read_full, Payload};
use crate::codec::model::{Bundle, Item, Named, Tensor, TensorHeader};
use crate::codec::sniff::SAFETENSORS_MAX_HEADER;
use crate::error::{Error, Result};

/// The header key that holds the metadata rather than a tensor.
pub const METADATA_KEY: &str = "__metadata__";

/// Bytes of the header's length, before it.
const LENGTH_BYTES: u64 = 8;

/// The reference's dtypes that tensorjson does not carry yet.
const PLANNED: [&str; 9] = [
    "BF16",
    "F8_E5M2",
    "F8_E4M3",
    "F8_E8M0",
    "F8_E4M3FNUZ",
    "F8_E5M2FNUZ",
    "F6_E2M3",
    "F6_E3M2",
    "F4",
];

/// The `__metadata__` of a header: free-form text, as the reference keeps it.
pub use crate::codec::model::Metadata;

fn read_error(message: String) -> Error {
    Error::SafetensorsRead(message)
}

fn write_error(message: String) -> Error {
    Error::SafetensorsWrite(message)
}

// ---------------------------------------------------------------------------------------
// The header
// ---------------------------------------------------------------------------------------

/// One tensor's entry in the header, as the reference reads it (`TensorInfo`: unknown fields
/// are ignored, as there). The dtype is kept as text so that one tensorjson does not carry
/// gets its own message.
#[derive(Deserialize)]
struct TensorInfo {
    dtype: String,
    shape: Vec<u64>,
    data_offsets: (u64, u64),
}

/// The header as it is in the file: the tensors in the order the JSON lists them.
struct Header {
    metadata: Option<Metadata>,
    tensors: Vec<(String, TensorInfo)>,
}

impl<'de> Deserialize<'de> for Header {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(HeaderVisitor)
    }
}

struct HeaderVisitor;

impl<'de> Visitor<'de> for HeaderVisitor {
    type Value = Header;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object of tensors (name: {dtype, shape, data_offsets})")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Header, A::Error> {
        let mut header = Header {
            metadata: None,
            tensors: Vec::new(),
        };
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(duplicate_key(&key));
            }
            if key == METADATA_KEY {
                header.metadata = map.next_value::<Option<UniqueStrings>>()?.map(|map| map.0);
            } else {
                let info = map.next_value::<TensorInfo>()?;
                header.tensors.push((key, info));
            }
        }
        Ok(header)
    }
}

fn duplicate_key<E: de::Error>(key: &str) -> E {
    E::custom(format!(
        "the key {key:?} appears twice (JSON readers keep one of them without a word)"
    ))
}

/// `__metadata__`: strings to strings, with no key twice.
struct UniqueStrings(Metadata);

impl<'de> Deserialize<'de> for UniqueStrings {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(UniqueStringsVisitor)
    }
}

struct UniqueStringsVisitor;

impl<'de> Visitor<'de> for UniqueStringsVisitor {
    type Value = UniqueStrings;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object of strings for __metadata__")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<UniqueStrings, A::Error> {
        let mut strings = Metadata::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value::<String>()?;
            if strings.insert(key.clone(), value).is_some() {
                return Err(duplicate_key(&format!("{METADATA_KEY}.{key}")));
            }
        }
        Ok(UniqueStrings(strings))
    }
}

/// Parses the header's text, naming what is wrong with it.
fn parse_header(bytes: &[u8]) -> Result<Header> {
    let text = std::str::from_utf8(bytes)
        .map_err(|error| read_error(format!("the header is not UTF-8 text: {error}")))?;
    serde_json::from_str(text).map_err(|error| {
        let what = match error.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                "the header is not JSON"
            }
            serde_json::error::Category::Data | serde_json::error::Category::Io => {
                "the header is not a safetensors header"
            }
        };
        read_error(format!("{what}: {error}"))
    })
}

/// A tensor's place in the data, checked against its dtype and shape.
struct Entry {
    name: String,
    header: TensorHeader,
    start: u64,
    end: u64,
}

/// The tensors in data order, checked as the reference checks them, and where the data ends.
fn lay_out(tensors: Vec<(String, TensorInfo)>) -> Result<(Vec<Entry>, u64)> {
    let mut entries = tensors
        .into_iter()
        .map(|(name, info)| entry(name, info))
        .collect::<Result<Vec<_>>>()?;
    // Stable, so tensors of no bytes at one offset keep the header's order.
    entries.sort_by_key(|entry| (entry.start, entry.end));
    let mut end = 0;
    for entry in &entries {
        check_place(entry, end)?;
        end = entry.end;
    }
    Ok((entries, end))
}

fn entry(name: String, info: TensorInfo) -> Result<Entry> {
    let dtype = carried_dtype(&name, &info.dtype)?;
    let header = TensorHeader::new(dtype, info.shape)
        .map_err(|error| read_error(format!("tensor {name:?}: {error}")))?;
    let (start, end) = info.data_offsets;
    Ok(Entry {
        name,
        header,
        start,
        end,
    })
}

fn carried_dtype(name: &str, dtype: &str) -> Result<Dtype> {
    if let Some(dtype) = Dtype::from_safetensors(dtype) {
        return Ok(dtype);
    }
    let carried = Dtype::safetensors_names();
    let message = if PLANNED.contains(&dtype) {
        format!(
            "tensor {name:?} has dtype {dtype}, which tensorjson does not carry (bfloat16 and \
             float8 are planned); it carries {carried}"
        )
    } else {
        format!(
            "tensor {name:?} has dtype {dtype:?}, which is no safetensors dtype tensorjson \
             knows; it carries {carried}"
        )
    };
    Err(read_error(message))
}

/// Checks that `entry` starts where the tensor before it (in data order) ends, at `previous`,
/// and holds as many bytes as its dtype and shape need.
fn check_place(entry: &Entry, previous: u64) -> Result<()> {
    let Entry {
        name, start, end, ..
    } = entry;
    let offsets = format!("data_offsets [{start}, {end}]");
    let problem = if end < start {
        "its end is before its start".to_string()
    } else if *start > previous {
        format!("the data before it ends at byte {previous}: the data has a hole")
    } else if *start < previous {
        format!("the data before it ends at byte {previous}: they overlap")
    } else if end - start != entry.header.byte_len() {
        format!(
            "they hold {} bytes, but shape {:?} x {} is {} bytes",
            end - start,
            entry.header.shape,
            entry.header.dtype,
            entry.header.byte_len()
        )
    } else {
        return Ok(());
    };
    Err(read_error(format!(
        "tensor {name:?} has {offsets}: {problem}"
    )))
}

// ---------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------

/// The input, and how far into the data it has been read.
struct Source<R> {
    input: R,
    /// Bytes of data (after the header) read so far.
    position: u64,
}

impl<R: Read> Source<R> {
    /// Reads and drops the data up to `target` (what is left of a tensor that was dropped
    /// before its end).
    fn skip_to(&mut self, target: u64) -> Result<()> {
        let wanted = target - self.position;
        let skipped = io::copy(&mut (&mut self.input).take(wanted), &mut io::sink())?;
        self.position += skipped;
        if skipped < wanted {
            return Err(self.ended_early());
        }
        Ok(())
    }

    fn ended_early(&self) -> Error {
        read_error(format!(
            "the file ends after {} bytes of data, before the end its header declares",
            self.position
        ))
    }
}

/// One tensor's bytes: the next `end - position` bytes of the data.
struct Section<'a, R> {
    source: &'a mut Source<R>,
    name: String,
    end: u64,
}

impl<R: Read> Read for Section<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.end - self.source.position;
        let limit = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        if limit == 0 {
            return Ok(0);
        }
        let count = self.source.input.read(&mut buf[..limit])?;
        if count == 0 {
            let message = format!(
                "the file ends {} bytes into the data, inside tensor {:?}, which ends at byte {}",
                self.source.position, self.name, self.end
            );
            return Err(read_error(message).into());
        }
        self.source.position += count as u64;
        Ok(count)
    }
}

impl<R: Read + Send> Payload for Section<'_, R> {}

/// Reads a safetensors file as a [`Bundle`] of its tensors, in data-offset order, in one
/// pass: no seeking, so the input may be a pipe. Reads are passed straight to the input:
/// give a buffered one if the tensors are read in small pieces.
pub struct SafetensorsReader<R: Read> {
    source: Source<R>,
    metadata: Option<Metadata>,
    /// The tensors not yet handed out, in data order (the next one first).
    entries: VecDeque<Entry>,
    data_len: u64,
    /// Set once the end has been checked, so that asking again reads nothing.
    finished: bool,
}

impl<R: Read> SafetensorsReader<R> {
    /// Reads and checks the header. `size` is the whole input's length where it is known (a
    /// regular file): a file shorter or longer than its header declares is then refused
    /// here, before any data is read; otherwise (a pipe) the length is checked as the data
    /// streams, and after the last tensor. More than `max_bytes` of data is refused here.
    pub fn new(input: R, size: Option<u64>, max_bytes: u64) -> Result<Self> {
        let mut input = input;
        let header_len = read_header_length(&mut input, size)?;
        let bytes = read_header_bytes(&mut input, header_len)?;
        let header = parse_header(&bytes)?;
        drop(bytes);
        let (entries, data_len) = lay_out(header.tensors)?;
        if let Some(size) = size {
            check_file_size(size, header_len, data_len, entries.last())?;
        }
        if data_len > max_bytes {
            return Err(Error::TooLarge {
                what: "the safetensors file's data".to_string(),
                size: Some(u128::from(data_len)),
                limit: max_bytes,
                hint: RAISE_HINT,
            });
        }
        Ok(SafetensorsReader {
            source: Source { input, position: 0 },
            metadata: header.metadata,
            entries: entries.into(),
            data_len,
            finished: false,
        })
    }

    /// Bytes of data in the file (after the header): every tensor's together.
    pub fn data_len(&self) -> u64 {
        self.data_len
    }

    /// The names and headers of the tensors not yet handed out, in the order they will be.
    pub fn remaining(&self) -> impl Iterator<Item = (&str, &TensorHeader)> {
        self.entries
            .iter()
            .map(|entry| (entry.name.as_str(), &entry.header))
    }

    /// After the last tensor: the input must end where the data does.
    fn check_end(&mut self) -> Result<()> {
        self.source.skip_to(self.data_len)?;
        let mut extra = [0u8; 1];
        if read_full(&mut self.source.input, &mut extra)? > 0 {
            return Err(read_error(format!(
                "the file goes on after the end of its data, which its header declares to be \
                 {} bytes",
                self.data_len
            )));
        }
        Ok(())
    }
}

impl<R: Read + Send> Bundle for SafetensorsReader<R> {
    /// The header's `__metadata__`, if it has one.
    fn metadata(&self) -> Option<&Metadata> {
        self.metadata.as_ref()
    }

    fn next_item(&mut self) -> Result<Option<Named<'_>>> {
        if self.finished {
            return Ok(None);
        }
        let Some(entry) = self.entries.pop_front() else {
            self.check_end()?;
            self.finished = true;
            return Ok(None);
        };
        // What the consumer left of the tensor before, if it dropped it early.
        self.source.skip_to(entry.start)?;
        let section = Section {
            source: &mut self.source,
            name: entry.name.clone(),
            end: entry.end,
        };
        let tensor = Tensor::new(entry.header, Box::new(section));
        Ok(Some(Named::new(entry.name, Item::Tensor(tensor))))
    }
}

/// The header's length, checked against the format's limit and the file's size.
fn read_header_length(input: &mut impl Read, size: Option<u64>) -> Result<u64> {
    let mut length = [0u8; LENGTH_BYTES as usize];
    let count = read_full(input, &mut length)?;
    if count < length.len() {
        return Err(read_error(format!(
            "it is {count} bytes long, too short for the 8-byte header length"
        )));
    }
    let length = u64::from_le_bytes(length);
    if length > SAFETENSORS_MAX_HEADER {
        return Err(read_error(format!(
            "the header length is {length} bytes, over the format's limit of \
             {SAFETENSORS_MAX_HEADER} bytes"
        )));
    }
    if let Some(size) = size {
        let after = size.saturating_sub(LENGTH_BYTES);
        if length > after {
            return Err(read_error(format!(
                "the header length is {length} bytes, but only {after} bytes follow it"
            )));
        }
    }
    Ok(length)
}

fn read_header_bytes(input: &mut impl Read, length: u64) -> Result<Vec<u8>> {
    // Reserved as it arrives: a length is only a claim, and a pipe may end well before it.
    let mut bytes = Vec::new();
    input.take(length).read_to_end(&mut bytes)?;
    if (bytes.len() as u64) < length {
        return Err(read_error(format!(
            "the file ends inside the header, after {} of its {length} bytes",
            bytes.len()
        )));
    }
    Ok(bytes)
}

/// A file of known `size` must end where its last tensor's data does.
fn check_file_size(size: u64, header_len: u64, data_len: u64, last: Option<&Entry>) -> Result<()> {
    let available = size - LENGTH_BYTES - header_len;
    if available == data_len {
        return Ok(());
    }
    let message = match last {
        Some(last) if data_len > available => format!(
            "tensor {:?} ends at byte {data_len} of the data, past the end of the file, which \
             holds {available} bytes of data",
            last.name
        ),
        Some(_) | None => {
            format!("the file holds {available} bytes of data, but its header declares {data_len}")
        }
    };
    Err(read_error(message))
}

// ---------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------

/// One tensor's entry in the header, as the reference writes it (dtype, shape, data_offsets).
#[derive(Serialize)]
struct TensorOut {
    dtype: &'static str,
    shape: Vec<usize>,
    data_offsets: (u64, u64),
}

/// The header as written: `__metadata__` first, then the tensors in data order, as the
/// reference writes them.
struct HeaderOut<'a> {
    metadata: Option<&'a Metadata>,
    tensors: &'a [(String, TensorOut)],
}

impl Serialize for HeaderOut<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let length = self.tensors.len() + usize::from(self.metadata.is_some());
        let mut map = serializer.serialize_map(Some(length))?;
        if let Some(metadata) = self.metadata {
            map.serialize_entry(METADATA_KEY, metadata)?;
        }
        for (name, tensor) in self.tensors {
            map.serialize_entry(name, tensor)?;
        }
        map.end()
    }
}

/// Writes tensors as a safetensors file, in the order they are added. Their data waits in a
/// temporary file until [`finish`](Self::finish), since the header, which comes first, needs
/// every shape: memory stays flat at any size.
///
/// The reference sorts what it writes by dtype alignment, then by name, so that every
/// tensor's data starts aligned; this writer keeps the order it is given, so that names and
/// order survive a round trip (numpy and the reference read unaligned data). Tensors added in
/// the reference's order come out byte for byte as the reference writes them.
pub struct SafetensorsWriter {
    data: Spill,
    tensors: Vec<(String, TensorOut)>,
    names: HashSet<String>,
    metadata: Option<Metadata>,
    /// Bytes of data so far.
    length: u64,
    /// Set when adding a tensor failed part way: the data is then no longer what the header
    /// would say.
    broken: bool,
}

impl SafetensorsWriter {
    /// A writer with no tensors, and its temporary file.
    pub fn new() -> Result<Self> {
        Ok(SafetensorsWriter {
            data: Spill::new()?,
            tensors: Vec::new(),
            names: HashSet::new(),
            metadata: None,
            length: 0,
            broken: false,
        })
    }

    /// Sets the header's `__metadata__` (written only if set, as the reference does).
    pub fn set_metadata(&mut self, metadata: Metadata) {
        self.metadata = Some(metadata);
    }

    /// Adds a tensor, reading its data to its end into the temporary file.
    pub fn add(&mut self, name: &str, tensor: &mut Tensor) -> Result<()> {
        self.check_open()?;
        check_name(name, &self.names)?;
        let dtype = tensor.header.dtype;
        let safetensors = dtype.safetensors_name().ok_or_else(|| {
            write_error(format!(
                "tensor {name:?} is {dtype}, which safetensors has no dtype for (it has {})",
                Dtype::safetensors_names()
            ))
        })?;
        self.broken = true;
        let copied = crate::codec::io::copy(tensor, &mut self.data)?;
        self.broken = false;
        let start = self.length;
        self.length += copied;
        let entry = TensorOut {
            dtype: safetensors,
            shape: tensor.header.shape.clone(),
            data_offsets: (start, self.length),
        };
        self.names.insert(name.to_string());
        self.tensors.push((name.to_string(), entry));
        Ok(())
    }

    fn check_open(&self) -> Result<()> {
        if self.broken {
            return Err(write_error(
                "a tensor added before failed part way, so the data is incomplete".to_string(),
            ));
        }
        Ok(())
    }

    /// Writes the file: the header's length, the header (padded with spaces to a multiple of
    /// 8 bytes, as the reference pads it), then the data.
    pub fn finish(self, out: &mut dyn Write) -> Result<()> {
        self.check_open()?;
        let header = self.header()?;
        out.write_all(&(header.len() as u64).to_le_bytes())?;
        out.write_all(&header)?;
        let mut data = self.data.into_blob()?.into_payload();
        let copied = crate::codec::io::copy(&mut data, out)?;
        if copied != self.length {
            return Err(write_error(format!(
                "the temporary file holds {copied} bytes of data, not the {} written to it",
                self.length
            )));
        }
        Ok(())
    }

    fn header(&self) -> Result<Vec<u8>> {
        self.header_within(SAFETENSORS_MAX_HEADER)
    }

    /// The header, padded, refused if longer than `limit` (the format's limit, or a test's).
    fn header_within(&self, limit: u64) -> Result<Vec<u8>> {
        let header = HeaderOut {
            metadata: self.metadata.as_ref(),
            tensors: &self.tensors,
        };
        let mut bytes = serde_json::to_vec(&header)
            .map_err(|error| write_error(format!("the header cannot be written: {error}")))?;
        let padded = bytes.len().next_multiple_of(LENGTH_BYTES as usize);
        if padded as u64 > limit {
            return Err(write_error(format!(
                "its header would be {padded} bytes, over the format's limit of {limit} bytes"
            )));
        }
        bytes.resize(padded, b' ');
        Ok(bytes)
    }
}

/// A tensor's name must be new, not empty, and not the metadata's key.
fn check_name(name: &str, names: &HashSet<String>) -> Result<()> {
    let problem = if name.is_empty() {
        "a tensor's name is empty".to_string()
    } else if name == METADATA_KEY {
        format!("a tensor is named {METADATA_KEY:?}, the header's key for metadata")
    } else if names.contains(name) {
        format!("two tensors are named {name:?}")
    } else {
        return Ok(());
    };
    Err(write_error(problem))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(header: &str, data: &[u8]) -> Vec<u8> {
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(header.as_bytes());
        bytes.extend_from_slice(data);
        bytes
    }

    fn open(bytes: &[u8]) -> Result<SafetensorsReader<&[u8]>> {
        SafetensorsReader::new(bytes, Some(bytes.len() as u64), u64::MAX)
    }

    fn refusal(bytes: &[u8]) -> String {
        match open(bytes) {
            Ok(_) => panic!("accepted"),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn duplicate_keys_are_refused_where_serde_json_would_keep_the_last() {
        let twice = r#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#;
        let message = refusal(&file(twice, &[1]));
        assert!(message.contains("the key \"a\" appears twice"), "{message}");
        let meta = r#"{"__metadata__":{"k":"1"},"__metadata__":null}"#;
        let message = refusal(&file(meta, &[]));
        assert!(
            message.contains("\"__metadata__\" appears twice"),
            "{message}"
        );
    }

    #[test]
    fn metadata_is_kept_and_null_metadata_is_none() {
        let with = r#"{"__metadata__":{"b":"2","a":"1"}}"#;
        let bytes = file(with, &[]);
        let reader = open(&bytes).unwrap();
        let keys: Vec<&str> = reader
            .metadata()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["a", "b"]);
        let bytes = file(r#"{"__metadata__":null}"#, &[]);
        assert!(open(&bytes).unwrap().metadata().is_none());
    }

    #[test]
    fn offsets_are_checked_in_data_order_whatever_the_header_order() {
        let u8s = |name: &str, start: u64, end: u64| {
            let len = end.saturating_sub(start);
            format!(r#""{name}":{{"dtype":"U8","shape":[{len}],"data_offsets":[{start},{end}]}}"#)
        };
        let header = format!("{{{},{}}}", u8s("late", 2, 5), u8s("early", 0, 2));
        let bytes = file(&header, &[0; 5]);
        let reader = open(&bytes).unwrap();
        let names: Vec<&str> = reader.remaining().map(|(name, _)| name).collect();
        assert_eq!(names, ["early", "late"]);
        let header = format!("{{{},{}}}", u8s("late", 3, 5), u8s("early", 0, 2));
        let message = refusal(&file(&header, &[0; 5]));
        assert!(
            message.ends_with(
                "tensor \"late\" has data_offsets [3, 5]: the data before it ends at byte 2: \
                 the data has a hole"
            ),
            "{message}"
        );
    }

    #[test]
    fn a_header_length_past_the_limit_is_refused_before_reading_it() {
        let mut bytes = (SAFETENSORS_MAX_HEADER + 1).to_le_bytes().to_vec();
        bytes.push(b'{');
        let error = SafetensorsReader::new(bytes.as_slice(), None, u64::MAX)
            .err()
            .unwrap();
        assert!(
            error.to_string().contains("over the format's limit"),
            "{error}"
        );
    }

    #[test]
    fn the_header_is_padded_with_spaces_to_a_multiple_of_eight() {
        let writer = SafetensorsWriter::new().unwrap();
        assert_eq!(writer.header().unwrap(), b"{}      ");
        let mut out = Vec::new();
        writer.finish(&mut out).unwrap();
        assert_eq!(out, b"\x08\0\0\0\0\0\0\0{}      ");
    }

    #[test]
    fn a_pipe_that_goes_on_after_the_data_is_refused_at_the_end() {
        let header = r#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#;
        let bytes = file(header, &[7, 8]);
        let mut reader = SafetensorsReader::new(bytes.as_slice(), None, u64::MAX).unwrap();
        {
            let Some(named) = reader.next_item().unwrap() else {
                panic!("no tensor");
            };
            let Item::Tensor(tensor) = named.item else {
                panic!("an image");
            };
            assert_eq!(tensor.into_bytes().unwrap(), [7]);
        }
        let error = reader.next_item().err().unwrap().to_string();
        assert!(
            error.contains("goes on after the end of its data"),
            "{error}"
        );
    }

    #[test]
    fn a_pipe_that_ends_inside_a_dropped_tensor_is_refused_at_the_next() {
        let header = r#"{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[1],"data_offsets":[4,5]}}"#;
        let bytes = file(header, &[1, 2]);
        let mut reader = SafetensorsReader::new(bytes.as_slice(), None, u64::MAX).unwrap();
        assert!(reader.next_item().unwrap().is_some(), "dropped unread");
        let error = reader.next_item().err().unwrap().to_string();
        assert!(
            error.ends_with(
                "the file ends after 2 bytes of data, before the end its header declares"
            ),
            "{error}"
        );
    }

    #[test]
    fn a_header_over_the_limit_is_refused_before_anything_is_written() {
        let mut writer = SafetensorsWriter::new().unwrap();
        writer.set_metadata(Metadata::from([("k".to_string(), "v".to_string())]));
        // {"__metadata__":{"k":"v"}} is 26 bytes, 32 padded.
        assert_eq!(writer.header_within(32).unwrap().len(), 32);
        let error = writer.header_within(31).unwrap_err().to_string();
        assert_eq!(
            error,
            "cannot write a safetensors file: its header would be 32 bytes, over the format's \
             limit of 31 bytes"
        );
    }
}
