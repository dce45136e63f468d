use std::collections::VecDeque;
use std::io::{self, Read};

use super::{lay_out, parse_header, read_error, Entry, Metadata, LENGTH_BYTES};
use crate::codec::dialect::RAISE_HINT;
use crate::codec::io::{read_full, Payload};
use crate::codec::model::{Bundle, Item, Named, Tensor, TensorHeader};
use crate::codec::sniff::SAFETENSORS_MAX_HEADER;
use crate::error::{Error, Result};

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
}
