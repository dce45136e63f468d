//! Small I/O pieces shared by every reader and writer: page-aligned buffers and buffered
//! streams over them, filling a buffer, and payloads that can be finished.

use std::alloc::{self, Layout};
use std::fmt;
use std::io::{self, BufRead, Read, Write};
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;
use std::slice;

use crate::error::Result;

/// The alignment the kernel needs of a buffer to copy into or out of it at full speed. On
/// some CPUs (AMD Zen 5 among them) it copies a file into a buffer 16 bytes past a 64-byte
/// boundary several times slower, and 16 bytes past a page is where the system allocator
/// puts a large `Vec`.
pub const MIN_ALIGN: usize = 64;

/// Where every buffer made here starts: on a page boundary.
pub const ALIGN: usize = 4096;

/// Bytes in the reading and writing buffers of a stream.
pub const BUFFER: usize = 1 << 20;

/// True if `pointer` is on a [`MIN_ALIGN`] boundary.
pub fn is_aligned(pointer: *const u8) -> bool {
    pointer as usize % MIN_ALIGN == 0
}

/// A zeroed, page-aligned byte buffer of fixed length.
///
/// Allocated as a larger zeroed block with the buffer cut out of it at its first page
/// boundary: a zeroed block of alignment 1 comes from `calloc`, whose large blocks stay
/// untouched (and out of the resident set) until used, where an aligned allocation would be
/// zeroed page by page at once.
pub struct AlignedBuf {
    block: NonNull<u8>,
    offset: usize,
    len: usize,
}

// SAFETY: the buffer owns its block alone, as a `Box<[u8]>` does.
unsafe impl Send for AlignedBuf {}
// SAFETY: shared access only reads.
unsafe impl Sync for AlignedBuf {}

impl AlignedBuf {
    pub fn new(len: usize) -> Self {
        let layout = Self::layout(len);
        // SAFETY: the layout's size is at least ALIGN - 1, never zero.
        let block = unsafe { alloc::alloc_zeroed(layout) };
        let Some(block) = NonNull::new(block) else {
            alloc::handle_alloc_error(layout)
        };
        let offset = block.as_ptr().align_offset(ALIGN);
        let buffer = AlignedBuf { block, offset, len };
        debug_assert_eq!(buffer.as_ptr() as usize % ALIGN, 0);
        buffer
    }

    fn layout(len: usize) -> Layout {
        let size = len.checked_add(ALIGN - 1).expect("buffer size overflows");
        Layout::from_size_align(size, 1).expect("buffer size overflows")
    }
}

impl Deref for AlignedBuf {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        // SAFETY: `offset + len` bytes lie within the block, zeroed at allocation.
        unsafe { slice::from_raw_parts(self.block.as_ptr().add(self.offset), self.len) }
    }
}

impl DerefMut for AlignedBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `deref`, and `&mut self` makes the access unique.
        unsafe { slice::from_raw_parts_mut(self.block.as_ptr().add(self.offset), self.len) }
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this same layout.
        unsafe { alloc::dealloc(self.block.as_ptr(), Self::layout(self.len)) }
    }
}

impl fmt::Debug for AlignedBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AlignedBuf({} bytes)", self.len)
    }
}

/// `std::io::BufReader` over an [`AlignedBuf`], which std's cannot take. As std's, a read at
/// least as large as the buffer, with nothing buffered, goes straight to the inner reader,
/// but only into an aligned buffer: the inner reader only ever fills aligned memory.
pub struct AlignedReader<R> {
    inner: R,
    buffer: AlignedBuf,
    position: usize,
    filled: usize,
}

impl<R: Read> AlignedReader<R> {
    pub fn with_capacity(capacity: usize, inner: R) -> Self {
        AlignedReader {
            inner,
            buffer: AlignedBuf::new(capacity),
            position: 0,
            filled: 0,
        }
    }

    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }
}

/// As std's `BufReader`: what is buffered is dropped, and a relative seek counts from where
/// the reader's user stands, not the inner reader.
impl<R: Read + io::Seek> io::Seek for AlignedReader<R> {
    fn seek(&mut self, position: io::SeekFrom) -> io::Result<u64> {
        let buffered = (self.filled - self.position) as i64;
        let moved = match position {
            io::SeekFrom::Current(offset) => {
                self.inner.seek(io::SeekFrom::Current(offset - buffered))?
            }
            io::SeekFrom::Start(_) | io::SeekFrom::End(_) => self.inner.seek(position)?,
        };
        self.position = 0;
        self.filled = 0;
        Ok(moved)
    }
}

impl<R: Read> Read for AlignedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.position == self.filled
            && buf.len() >= self.buffer.len()
            && is_aligned(buf.as_ptr())
        {
            return self.inner.read(buf);
        }
        let available = self.fill_buf()?;
        let count = available.len().min(buf.len());
        buf[..count].copy_from_slice(&available[..count]);
        self.consume(count);
        Ok(count)
    }
}

impl<R: Read> BufRead for AlignedReader<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.position == self.filled {
            debug_assert!(is_aligned(self.buffer.as_ptr()));
            self.filled = self.inner.read(&mut self.buffer)?;
            self.position = 0;
        }
        Ok(&self.buffer[self.position..self.filled])
    }

    fn consume(&mut self, amount: usize) {
        self.position = (self.position + amount).min(self.filled);
    }
}

impl<P: Payload> Payload for AlignedReader<P> {
    fn finish(&mut self) -> Result<()> {
        self.inner.finish()
    }
}

/// `std::io::BufWriter` over an [`AlignedBuf`]. As std's, a write at least as large as the
/// buffer goes straight to the inner writer once the buffer is empty, but only from an
/// aligned buffer: each write the inner writer is asked for starts in aligned memory, unless
/// it goes on from one the inner writer cut short. What is buffered is
/// written when it is dropped, errors ignored: call `flush` or `into_inner` to see them.
pub struct AlignedWriter<W: Write> {
    /// Taken out by `into_inner` only.
    inner: Option<W>,
    buffer: AlignedBuf,
    length: usize,
}

impl<W: Write> AlignedWriter<W> {
    pub fn with_capacity(capacity: usize, inner: W) -> Self {
        AlignedWriter {
            inner: Some(inner),
            buffer: AlignedBuf::new(capacity),
            length: 0,
        }
    }

    fn inner(&mut self) -> &mut W {
        self.inner
            .as_mut()
            .expect("the writer is there until into_inner")
    }

    /// Writes what is buffered; on an error, what was not written stays buffered.
    fn flush_buffer(&mut self) -> io::Result<()> {
        debug_assert!(is_aligned(self.buffer.as_ptr()));
        let mut written = 0;
        let mut result = Ok(());
        while written < self.length {
            let inner = self
                .inner
                .as_mut()
                .expect("the writer is there until into_inner");
            match inner.write(&self.buffer[written..self.length]) {
                Ok(0) => {
                    result = Err(io::ErrorKind::WriteZero.into());
                    break;
                }
                Ok(count) => written += count,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => {
                    result = Err(error);
                    break;
                }
            }
        }
        self.buffer.copy_within(written..self.length, 0);
        self.length -= written;
        result
    }

    /// Writes what is buffered and hands back the inner writer, unflushed.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.flush_buffer()?;
        Ok(self
            .inner
            .take()
            .expect("the writer is there until into_inner"))
    }
}

impl<W: Write> Write for AlignedWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.length + data.len() > self.buffer.len() {
            self.flush_buffer()?;
        }
        if data.len() >= self.buffer.len() && is_aligned(data.as_ptr()) {
            return self.inner().write(data);
        }
        let count = data.len().min(self.buffer.len() - self.length);
        self.buffer[self.length..self.length + count].copy_from_slice(&data[..count]);
        self.length += count;
        Ok(count)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flush_buffer()?;
        self.inner().flush()
    }
}

impl<W: Write> Drop for AlignedWriter<W> {
    fn drop(&mut self) {
        if self.inner.is_some() {
            let _ = self.flush_buffer();
        }
    }
}

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
    let mut buffer = AlignedBuf::new(BUFFER);
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

/// Yields `good` bytes, then fails: for tests of read errors in the streaming pipelines.
#[cfg(test)]
pub struct FailingReader {
    pub good: usize,
}

#[cfg(test)]
impl Read for FailingReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.good == 0 {
            return Err(io::Error::other("disk on fire"));
        }
        let count = buf.len().min(self.good);
        buf[..count].fill(7);
        self.good -= count;
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(length: usize) -> Vec<u8> {
        (0..length).map(|i| (i * 7 % 251) as u8).collect()
    }

    /// Hands out at most `step` bytes a read, and notes where each read was asked to go.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
        unaligned: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.unaligned += usize::from(!is_aligned(buf.as_ptr()));
            let count = buf.len().min(self.step).min(self.data.len());
            buf[..count].copy_from_slice(&self.data[..count]);
            self.data = &self.data[count..];
            Ok(count)
        }
    }

    /// Takes at most `step` bytes a write, and notes where each write came from.
    struct Sink {
        written: Vec<u8>,
        step: usize,
        unaligned: usize,
        fail: bool,
    }

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.fail {
                return Err(io::Error::other("disk full"));
            }
            self.unaligned += usize::from(!is_aligned(buf.as_ptr()));
            let count = buf.len().min(self.step);
            self.written.extend_from_slice(&buf[..count]);
            Ok(count)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn sink(step: usize) -> Sink {
        Sink {
            written: Vec::new(),
            step,
            unaligned: 0,
            fail: false,
        }
    }

    #[test]
    fn buffers_are_page_aligned_zeroed_and_writable() {
        for length in [0, 1, 63, 4095, 4096, 4097, 1 << 20, 3 << 19] {
            let mut buffer = AlignedBuf::new(length);
            assert_eq!(buffer.len(), length);
            assert_eq!(buffer.as_ptr() as usize % ALIGN, 0, "length {length}");
            assert!(buffer.iter().all(|&byte| byte == 0));
            buffer.fill(0xa5);
            assert!(buffer.iter().all(|&byte| byte == 0xa5));
        }
    }

    /// What `vec!` gives on glibc for large buffers, which is why these buffers exist; if it
    /// ever fails, the system allocator aligns large blocks by itself. Several at once: where
    /// a block comes from (its own mapping, 16 bytes past a page, or the heap, once glibc has
    /// raised its threshold for other tests' blocks) depends on what this process freed
    /// before, and a heap block may be aligned by chance.
    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn large_vecs_are_not_aligned() {
        let buffers: Vec<Vec<u8>> = (0..8).map(|_| vec![0u8; 1 << 20]).collect();
        assert!(!buffers.iter().all(|buffer| is_aligned(buffer.as_ptr())));
    }

    #[test]
    fn the_reader_reads_everything_and_fills_only_aligned_memory() {
        let source = data(300_000);
        for (capacity, step, chunk) in [
            (4096, 1000, 7),
            (4096, 5000, 4096),
            (1 << 16, 1 << 20, 1 << 17),
        ] {
            let mut reader = AlignedReader::with_capacity(
                capacity,
                Trickle {
                    data: &source,
                    step,
                    unaligned: 0,
                },
            );
            // A large buffer, aligned and not: the reader reads into it or into its own.
            let mut target = AlignedBuf::new(chunk + 1);
            let mut out = Vec::new();
            let mut offset = 0;
            loop {
                let buf = &mut target[offset..offset + chunk];
                let count = reader.read(buf).unwrap();
                if count == 0 {
                    break;
                }
                out.extend_from_slice(&buf[..count]);
                offset ^= 1;
            }
            assert_eq!(out, source);
            assert_eq!(reader.get_mut().unaligned, 0);
        }
    }

    #[test]
    fn the_reader_serves_lines_through_buf_read() {
        let mut reader = AlignedReader::with_capacity(8, &b"one\ntwo\nthree"[..]);
        let lines: Vec<String> = (&mut reader).lines().map(Result::unwrap).collect();
        assert_eq!(lines, ["one", "two", "three"]);
        assert!(reader.fill_buf().unwrap().is_empty());
    }

    #[test]
    fn the_writer_writes_everything_from_aligned_memory_only() {
        let source = data(300_000);
        for (capacity, step, chunk) in [
            (4096, 1000, 7),
            (4096, 1024, 7),
            (4096, 100_000, 4096),
            (1 << 16, 1 << 20, 1 << 17),
        ] {
            let mut writer = AlignedWriter::with_capacity(capacity, sink(step));
            for (index, piece) in source.chunks(chunk).enumerate() {
                // Every other piece from an aligned copy, the rest from 1 byte past one.
                let mut copy = AlignedBuf::new(piece.len() + 1);
                let at = index % 2;
                copy[at..at + piece.len()].copy_from_slice(piece);
                writer.write_all(&copy[at..at + piece.len()]).unwrap();
            }
            let inner = writer.into_inner().unwrap();
            assert_eq!(inner.written, source);
            // A write cut short goes on where it stopped, aligned or not.
            if step % MIN_ALIGN == 0 {
                assert_eq!(inner.unaligned, 0, "capacity {capacity}, step {step}");
            }
        }
    }

    #[test]
    fn the_writer_keeps_what_it_could_not_write_and_writes_it_on_drop() {
        let mut out = sink(usize::MAX);
        {
            let mut writer = AlignedWriter::with_capacity(16, &mut out);
            writer.write_all(b"kept").unwrap();
            writer.inner().fail = true;
            assert!(writer.write_all(&[1; 20]).is_err());
            assert!(writer.flush().is_err());
            writer.inner().fail = false;
        }
        assert_eq!(out.written, b"kept");
    }

    /// Every buffer the kernel reads into or writes from is one of these: std's buffered
    /// streams, whose buffers cannot be aligned, and large zeroed `Vec`s have no place in the
    /// sources (this file aside, which names them).
    #[test]
    fn no_source_makes_an_unaligned_stream_buffer() {
        fn visit(directory: &std::path::Path, found: &mut Vec<String>) {
            for entry in std::fs::read_dir(directory).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    visit(&path, found);
                } else if path.extension().is_some_and(|ext| ext == "rs")
                    && !path.ends_with("codec/io.rs")
                {
                    let text = std::fs::read_to_string(&path).unwrap();
                    for (number, line) in text.lines().enumerate() {
                        let code = line.split("//").next().unwrap_or("");
                        if ["BufReader", "BufWriter", "vec![0u8; 1 <<"]
                            .iter()
                            .any(|name| code.contains(name))
                        {
                            found.push(format!("{}:{}: {line}", path.display(), number + 1));
                        }
                    }
                }
            }
        }
        let mut found = Vec::new();
        visit(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut found,
        );
        assert!(
            found.is_empty(),
            "use AlignedReader, AlignedWriter or AlignedBuf:\n{}",
            found.join("\n")
        );
    }

    #[test]
    fn copy_moves_everything() {
        let source = data(3 * BUFFER + 5);
        let mut out = sink(usize::MAX);
        let count = copy(&mut source.as_slice(), &mut out).unwrap();
        assert_eq!((count, out.written == source), (source.len() as u64, true));
    }
}
