//! Writing JSON objects member by member, so that a payload can stream into its place.

use std::io::{Read, Write};
use std::num::NonZeroUsize;

use serde_json::Value;

use crate::codec::dialect::Compression;
use crate::codec::{b64, pool};
use crate::error::Result;

/// How to write a document.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteOptions {
    /// Compress a tensor's bytes under the base64 (native style).
    pub compression: Option<Compression>,
    /// Indent the native envelope.
    pub pretty: bool,
    /// The tensor's name, where the dialect has one (KServe).
    pub name: Option<String>,
    /// Write NaN and infinities as the `NaN`/`Infinity` tokens Python's json accepts.
    pub allow_nan: bool,
    /// Write a data URL as bare text rather than as a JSON string.
    pub raw: bool,
    /// Threads compressing a tensor's bytes (`compression`) or encoding them as base64;
    /// `None` for the default of each. One thread writes the same zlib stream as before
    /// there were more; base64 is the same on any number.
    pub threads: Option<NonZeroUsize>,
}

impl WriteOptions {
    /// Threads encoding base64: as asked, or [`b64::default_threads`].
    pub fn base64_threads(&self) -> NonZeroUsize {
        self.threads.unwrap_or_else(b64::default_threads)
    }

    /// Threads writing a long list of numbers: as asked, or every core, since formatting
    /// numbers costs far more than reading them or writing their text.
    pub fn list_threads(&self) -> NonZeroUsize {
        self.threads.unwrap_or_else(pool::every_core)
    }
}

/// An open JSON object (or a list holding one) being written.
pub struct ObjectWriter<'w> {
    out: &'w mut dyn Write,
    pretty: bool,
    depth: usize,
    members: usize,
    closing: &'static str,
}

impl<'w> ObjectWriter<'w> {
    pub fn open(out: &'w mut dyn Write, pretty: bool) -> Result<Self> {
        out.write_all(b"{")?;
        Ok(ObjectWriter {
            out,
            pretty,
            depth: 1,
            members: 0,
            closing: "}",
        })
    }

    fn key(&mut self, key: &str) -> Result<()> {
        if self.members > 0 {
            self.out.write_all(b",")?;
        }
        if self.pretty {
            write!(self.out, "\n{}", "  ".repeat(self.depth))?;
        }
        self.members += 1;
        let colon = if self.pretty { ": " } else { ":" };
        write!(self.out, "{}{colon}", Value::from(key))?;
        Ok(())
    }

    pub fn value(&mut self, key: &str, value: Value) -> Result<()> {
        self.key(key)?;
        serde_json::to_writer(&mut self.out, &value).map_err(std::io::Error::from)?;
        Ok(())
    }

    /// A member whose value the caller writes as raw JSON.
    pub fn raw(
        &mut self,
        key: &str,
        write: impl FnOnce(&mut dyn Write) -> Result<()>,
    ) -> Result<()> {
        self.key(key)?;
        write(self.out)
    }

    /// A string member holding `prefix` and the base64 of everything `reader` yields.
    pub fn base64(
        &mut self,
        key: &str,
        prefix: &str,
        reader: &mut (dyn Read + Send),
        threads: NonZeroUsize,
    ) -> Result<()> {
        self.raw(key, |out| write_base64_string(out, prefix, reader, threads))
    }

    /// A member that is an object (`"{"`) or a list holding one object (`"[{"`).
    pub fn nested(&mut self, key: &str, list: bool) -> Result<ObjectWriter<'_>> {
        self.key(key)?;
        self.out.write_all(if list { b"[{" } else { b"{" })?;
        Ok(ObjectWriter {
            out: &mut *self.out,
            pretty: self.pretty,
            depth: self.depth + 1,
            members: 0,
            closing: if list { "}]" } else { "}" },
        })
    }

    pub fn close(self) -> Result<()> {
        if self.pretty && self.members > 0 {
            write!(self.out, "\n{}", "  ".repeat(self.depth - 1))?;
        }
        self.out.write_all(self.closing.as_bytes())?;
        Ok(())
    }
}

/// `"<prefix><base64>"`, streamed.
pub fn write_base64_string(
    out: &mut dyn Write,
    prefix: &str,
    reader: &mut (dyn Read + Send),
    threads: NonZeroUsize,
) -> Result<()> {
    out.write_all(b"\"")?;
    out.write_all(prefix.as_bytes())?;
    b64::encode_stream(reader, out, threads)?;
    out.write_all(b"\"")?;
    Ok(())
}
