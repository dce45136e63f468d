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
use std::collections::HashSet;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use crate::codec::dtype::Dtype;
use crate::codec::model::TensorHeader;
use crate::error::{Error, Result};

mod read;
mod write;

pub use read::SafetensorsReader;
pub use write::SafetensorsWriter;

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
