//! Small I/O pieces shared by every reader: filling a buffer, and payloads that can be finished.

use std::io::{self, Read};

use crate::error::Result;

/// Reads until `buf` is full or the reader ends; returns how many bytes were read.
pub fn read_full(reader: &mut (impl Read + ?Sized), buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(count) => filled += count,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(filled)
}

/// The first `length` bytes of a reader (fewer if it is shorter).
pub fn read_head(reader: &mut impl Read, length: usize) -> io::Result<Vec<u8>> {
    let mut head = vec![0u8; length];
    let filled = read_full(reader, &mut head)?;
    head.truncate(filled);
    Ok(head)
}

/// Copies `reader` to its end into `writer` through a buffer large enough for streaming
/// (`io::copy` uses 8 KiB unless the writer is a plain `BufWriter`).
pub fn copy(
    reader: &mut (impl Read + ?Sized),
    writer: &mut (impl io::Write + ?Sized),
) -> io::Result<u64> {
    let mut buffer = vec![0u8; 1 << 20];
    let mut total = 0;
    loop {
        let count = read_full(reader, &mut buffer)?;
        writer.write_all(&buffer[..count])?;
        total += count as u64;
        if count < buffer.len() {
            return Ok(total);
        }
    }
}

/// The bytes of a tensor as they come from their source. Once they have been read to the end,
/// `finish` checks whatever follows them in the source (the rest of a JSON document, say).
pub trait Payload: Read + Send {
    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
}

impl Payload for &[u8] {}
impl Payload for std::fs::File {}
impl Payload for io::Cursor<Vec<u8>> {}
impl<P: Payload + ?Sized> Payload for Box<P> {
    fn finish(&mut self) -> Result<()> {
        (**self).finish()
    }
}
impl<P: Payload> Payload for io::BufReader<P> {
    fn finish(&mut self) -> Result<()> {
        self.get_mut().finish()
    }
}

/// A reader that counts the bytes read through it.
pub struct Counting<R> {
    inner: R,
    count: u64,
}

impl<R> Counting<R> {
    pub fn new(inner: R) -> Self {
        Counting { inner, count: 0 }
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let count = self.inner.read(buf)?;
        self.count += count as u64;
        Ok(count)
    }
}

/// Any reader whose end needs no check.
pub struct Plain<R>(pub R);

impl<R: Read> Read for Plain<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl<R: Read + Send> Payload for Plain<R> {}
