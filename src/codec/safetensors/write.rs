use std::collections::HashSet;
use std::io::Write;

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

use super::{write_error, Metadata, LENGTH_BYTES, METADATA_KEY};
use crate::codec::aside::Spill;
use crate::codec::dtype::Dtype;
use crate::codec::model::Tensor;
use crate::codec::sniff::SAFETENSORS_MAX_HEADER;
use crate::error::Result;

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

    #[test]
    fn the_header_is_padded_with_spaces_to_a_multiple_of_eight() {
        let writer = SafetensorsWriter::new().unwrap();
        assert_eq!(writer.header().unwrap(), b"{}      ");
        let mut out = Vec::new();
        writer.finish(&mut out).unwrap();
        assert_eq!(out, b"\x08\0\0\0\0\0\0\0{}      ");
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
