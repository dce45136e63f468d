//! What waits aside while a document is read: the bytes of a long string's base64, the
//! text of a long list of numbers, in memory within a bound and in a temporary file past it.

use std::fs::File;
use std::io::{self, BufRead, Cursor, Read, Seek, Take, Write};

use crate::codec::dialect::list_stream::Reopen;
use crate::codec::dialect::open::Source;
use crate::codec::document::OUTLINE_LIST;
use crate::codec::io::{AlignedBuf, AlignedReader, Payload, Plain, BUFFER};
use crate::codec::json::StringReader;
use crate::error::{Error, Result};

/// Text kept aside while the rest of the document is read.
pub enum Blob {
    Memory(Vec<u8>),
    File(File),
}

impl Reopen for Blob {
    fn reopen(&mut self) -> Result<Box<dyn BufRead + Send>> {
        match self {
            Blob::Memory(bytes) => Ok(Box::new(Cursor::new(bytes.clone()))),
            Blob::File(file) => {
                let mut file = file.try_clone()?;
                file.rewind()?;
                Ok(Box::new(AlignedReader::with_capacity(BUFFER, file)))
            }
        }
    }
}

impl Blob {
    pub fn into_payload<'a>(self) -> Box<dyn Payload + 'a> {
        match self {
            Blob::Memory(bytes) => Box::new(Cursor::new(bytes)),
            Blob::File(file) => Box::new(AlignedReader::with_capacity(BUFFER, file)),
        }
    }

    pub fn into_bytes(self) -> Result<Vec<u8>> {
        let mut bytes = Vec::new();
        self.into_payload().read_to_end(&mut bytes)?;
        Ok(bytes)
    }
}

/// A long string kept aside.
pub enum Kept {
    /// Its base64 decoded as it arrived (so that what waits is the bytes, three quarters of
    /// the text, and nothing is decoded twice), from character `skip` on, up to the first
    /// thing that is not base64, which is kept as the error to give if the string is read.
    Decoded {
        skip: usize,
        bytes: Blob,
        error: Option<Error>,
    },
    /// Left where it is in an input that can be read again ([`Reread`]): its contents start
    /// at `start` in the document, and its closing quote ends at `end`.
    InInput { start: u64, end: u64 },
}

impl Kept {
    pub fn into_source<'a>(self, input: Option<&Reread>) -> Result<Source<'a>> {
        let (skip, bytes, error) = match self {
            Kept::Decoded { skip, bytes, error } => (skip, bytes, error),
            Kept::InInput { start, end } => {
                let input = input.expect("strings are left in the input only if it is there");
                return Ok(Source::Text(Box::new(input.string_at(start, end)?)));
            }
        };
        let bytes = bytes.into_payload();
        let bytes: Box<dyn Payload + 'a> = match error {
            Some(error) => Box::new(bytes.chain(Failed(Some(error)))),
            None => bytes,
        };
        Ok(Source::Decoded { skip, bytes })
    }
}

/// The input, when it is a regular file: a long string in it (a payload before the keys that
/// say how to read it) can be read again from there when it is needed, rather than waiting
/// aside in memory or in a temporary file, which costs writing and reading it once more.
#[derive(Debug)]
pub struct Reread {
    file: File,
    /// The file offset of the document's first byte.
    start: u64,
}

impl Reread {
    /// `file` holds the document from offset `start` on. Read at offsets, it needs not
    /// be at any position, and its position is left alone.
    pub fn new(file: File, start: u64) -> Reread {
        Reread { file, start }
    }

    /// The same file, for a document that starts `count` bytes further on.
    pub fn skipped(self, count: u64) -> Reread {
        Reread {
            file: self.file,
            start: self.start + count,
        }
    }

    /// The same file, for a document that starts `count` bytes further on, leaving this
    /// one as it is.
    pub fn at(&self, count: u64) -> io::Result<Reread> {
        Ok(Reread {
            file: self.file.try_clone()?,
            start: self.start + count,
        })
    }

    /// The file itself, where the input is the whole of it (from offset 0): for a format
    /// read at offsets of its own, as a zip archive's central directory gives them.
    pub fn whole_file(self) -> Option<File> {
        (self.start == 0).then_some(self.file)
    }

    /// The text from `start` to `end` in the document, to be read as often as needed.
    pub fn span(&self, start: u64, end: u64) -> Result<Span> {
        Ok(Span {
            file: self.file.try_clone()?,
            start: self.start + start,
            length: end - start,
        })
    }

    /// The contents of the string from `start` to `end` in the document.
    fn string_at(
        &self,
        start: u64,
        end: u64,
    ) -> Result<Plain<StringReader<AlignedReader<Take<At>>>>> {
        let text = self.span(start, end)?.reader()?;
        Ok(Plain(StringReader::resume(text)))
    }
}

/// Text of the input, read from there each time it is needed (a long list of numbers).
pub struct Span {
    file: File,
    start: u64,
    length: u64,
}

impl Span {
    /// A reader of the text, with a buffer no larger than it: a document of a stream may hold
    /// many short ones, and the input much more after each.
    fn reader(&self) -> Result<AlignedReader<Take<At>>> {
        Ok(AlignedReader::with_capacity(self.capacity(), self.text()?))
    }

    fn text(&self) -> Result<Take<At>> {
        let at = At {
            file: self.file.try_clone()?,
            offset: self.start,
        };
        Ok(at.take(self.length))
    }

    fn capacity(&self) -> usize {
        let capacity = usize::try_from(self.length).map_or(BUFFER, |length| length.min(BUFFER));
        capacity.max(1)
    }
}

/// A list of numbers as the list reader takes it: without the white space the input may
/// have between its items, which text kept aside never has.
impl Reopen for Span {
    fn reopen(&mut self) -> Result<Box<dyn BufRead + Send>> {
        let text = WithoutWhiteSpace(self.text()?);
        Ok(Box::new(AlignedReader::with_capacity(
            self.capacity(),
            text,
        )))
    }
}

/// JSON text with its white space left out: for a list of numbers only, which has no
/// strings for white space to be part of.
struct WithoutWhiteSpace<R>(R);

impl<R: Read> Read for WithoutWhiteSpace<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let count = self.0.read(buf)?;
            if count == 0 {
                return Ok(0);
            }
            // Found with memchr first: the lists tensorjson and most writers make have none,
            // and are then left as they are at memchr's speed.
            let read = &buf[..count];
            let first = [
                memchr::memchr3(b' ', b'\n', b'\t', read),
                memchr::memchr(b'\r', read),
            ]
            .into_iter()
            .flatten()
            .min();
            let Some(first) = first else {
                return Ok(count);
            };
            let mut kept = first;
            for at in first..count {
                let byte = buf[at];
                buf[kept] = byte;
                kept += usize::from(!matches!(byte, b' ' | b'\t' | b'\n' | b'\r'));
            }
            if kept > 0 {
                return Ok(kept);
            }
        }
    }
}

/// A file read from an offset of its own, whatever other readers of it do.
struct At {
    file: File,
    offset: u64,
}

impl Read for At {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let count = read_at(&self.file, buf, self.offset)?;
        self.offset += count as u64;
        Ok(count)
    }
}

#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, offset)
}

#[cfg(windows)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(file, buf, offset)
}

/// Reading it gives the error its text turned out to hold.
struct Failed(Option<Error>);

impl Read for Failed {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        Err(match self.0.take() {
            Some(error) => error.into(),
            None => io::Error::other("read past an error"),
        })
    }
}

impl Payload for Failed {}

impl<A: Payload, B: Payload> Payload for io::Chain<A, B> {}

/// The JSON text of numbers as it is gathered: in memory up to [`OUTLINE_LIST`] bytes, then
/// in a temporary file (written [`OUTLINE_LIST`] bytes at a time), so that a list of any
/// length takes no more memory than that. Where the input can be read again ([`Reread`]),
/// text past [`OUTLINE_LIST`] bytes is let go instead, to be read from the input.
pub struct ListText {
    /// All of the text, or what has not yet been written to `file`.
    pub memory: Vec<u8>,
    pub file: Option<Spill>,
    rereadable: bool,
    /// The text was let go: the list is read from the input.
    pub let_go: bool,
}

impl From<Vec<u8>> for ListText {
    fn from(memory: Vec<u8>) -> Self {
        ListText::new(memory, false)
    }
}

impl ListText {
    /// Text starting with `memory`, in an input that is `rereadable` or not.
    pub fn new(memory: Vec<u8>, rereadable: bool) -> Self {
        ListText {
            memory,
            file: None,
            rereadable,
            let_go: false,
        }
    }

    pub fn push(&mut self, bytes: &[u8]) -> Result<()> {
        if self.let_go {
            return Ok(());
        }
        self.memory.extend_from_slice(bytes);
        if self.memory.len() > OUTLINE_LIST && self.rereadable {
            self.memory = Vec::new();
            self.let_go = true;
        } else if self.memory.len() > OUTLINE_LIST {
            let file = match &mut self.file {
                Some(file) => file,
                None => self.file.insert(Spill::new()?),
            };
            file.write_all(&self.memory)?;
            self.memory.clear();
        }
        Ok(())
    }

    pub fn append(&mut self, other: ListText) -> Result<()> {
        if other.let_go {
            self.memory = Vec::new();
            self.let_go = true;
        }
        if let Some(spill) = other.file {
            let mut reader = spill.into_blob()?.into_payload();
            let mut chunk = AlignedBuf::new(BUFFER);
            loop {
                let count = reader.read(&mut chunk)?;
                if count == 0 {
                    break;
                }
                self.push(&chunk[..count])?;
            }
        }
        self.push(&other.memory)
    }

    /// The text kept: in memory, or (past [`OUTLINE_LIST`]) in its file.
    pub fn into_blob(mut self) -> Result<Blob> {
        match self.file.take() {
            None => Ok(Blob::Memory(self.memory)),
            Some(mut file) => {
                file.write_all(&self.memory)?;
                file.into_blob()
            }
        }
    }

    /// The text in memory, if it is not longer than `limit`.
    pub fn into_memory(self, limit: usize) -> Result<Vec<u8>> {
        let bytes = match self.into_blob()? {
            Blob::Memory(bytes) => bytes,
            blob => blob.into_bytes()?,
        };
        if bytes.len() > limit {
            return Err(Error::Envelope(format!(
                "a list that mixes numbers with other values is longer than {limit} bytes"
            )));
        }
        Ok(bytes)
    }
}

/// The temporary file long text is kept in. Its write errors say where it is: the user
/// knows only the input, and a full disk there is not the input's fault.
pub struct Spill(File);

impl Spill {
    pub fn new() -> Result<Spill> {
        let file = tempfile::tempfile().map_err(|error| temporary_file_error("create", error))?;
        Ok(Spill(file))
    }

    pub fn into_blob(self) -> Result<Blob> {
        Ok(Blob::File(self.into_file()?))
    }

    /// The file, from its start.
    pub fn into_file(self) -> Result<File> {
        let mut file = self.0;
        file.rewind()?;
        Ok(file)
    }
}

impl Write for Spill {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .write(buf)
            .map_err(|error| temporary_file_error("write", error).into())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0
            .flush()
            .map_err(|error| temporary_file_error("write", error).into())
    }
}

pub fn temporary_file_error(action: &'static str, error: io::Error) -> Error {
    Error::TemporaryFile {
        action,
        directory: std::env::temp_dir(),
        reason: crate::output::without_temporary_path(error).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hands out `step` bytes at a time.
    struct Steps<'a>(&'a [u8], usize);

    impl Read for Steps<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let count = self.1.min(buf.len()).min(self.0.len());
            buf[..count].copy_from_slice(&self.0[..count]);
            self.0 = &self.0[count..];
            Ok(count)
        }
    }

    #[test]
    fn white_space_is_left_out_wherever_reads_cut_it() {
        let text = b"[\r\n [1, 2,\t3],\n   [4,5 ,6]  \n]\n   ";
        for step in 1..=text.len() {
            let mut out = Vec::new();
            WithoutWhiteSpace(Steps(text, step))
                .read_to_end(&mut out)
                .unwrap();
            assert_eq!(out, b"[[1,2,3],[4,5,6]]", "{step} bytes a read");
        }
    }
}
