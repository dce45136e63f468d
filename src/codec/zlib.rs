//! zlib on every core: the bytes are cut into blocks that are deflated independently, each
//! primed with the last 32 KiB of the block before it as a preset dictionary and ended with
//! a sync flush (the last one with FINISH), and joined into one zlib stream behind one header,
//! with the Adler-32 of the whole combined from the blocks' own. This is what pigz does; any
//! zlib reader reads the result as it reads any other zlib stream.
//!
//! Each of `threads` workers takes a buffer for its output, reads the next block into its
//! own input buffer (one worker at a time), deflates it and hands it to the caller, which
//! reads the stream in order and gives the buffers back. There is no thread that only reads,
//! and so no hand-off to wait for between reading a block and deflating it. `threads` + 2
//! output buffers go round, so memory is bounded by about 2 x `threads` x [`BLOCK`],
//! whatever the size of the data.

use std::io::{self, Read};
use std::num::NonZeroUsize;
use std::sync::{mpsc, Mutex, PoisonError};
use std::thread;

use flate2::{Compress, FlushCompress, Status};
use zlib_rs::adler32::{adler32, adler32_combine};

use crate::codec::io::read_full;

/// Bytes of input per block: small enough that memory stays under 16 MiB on two threads,
/// large enough that the 32 KiB dictionary and the hand-offs cost little (pigz: 128 KiB).
pub const BLOCK: usize = 256 << 10;
/// The deflate window: how much of the previous block primes the next. Without it, blocks
/// lose the matches that reach back into the block before: 0.01-0.25% on random float32,
/// waves and images, but twice the size on an array whose 16 KiB rows repeat.
const WINDOW: usize = 32 << 10;
/// Output buffers besides one per worker: blocks deflated while the caller reads earlier ones.
const AHEAD: usize = 2;

/// The level every zlib payload is written at: the fastest, since at base64 speeds higher
/// levels cost far more than they save.
pub fn level() -> flate2::Compression {
    flate2::Compression::fast()
}

/// The number of threads when none is asked for: every core this process may use.
pub fn default_threads() -> NonZeroUsize {
    crate::codec::pool::every_core()
}

/// Runs `consume` with a reader that yields the zlib stream of everything `reader` yields,
/// deflated by `threads` threads (with one thread, the single-threaded stream of
/// `flate2::read::ZlibEncoder`, as before). The threads stop when `consume` returns, read to
/// the end or not; an error reading `reader` comes out of the stream's reader where it fell.
pub fn deflate_with<T>(
    reader: &mut (dyn Read + Send),
    threads: NonZeroUsize,
    consume: impl FnOnce(&mut (dyn Read + Send)) -> T,
) -> T {
    if threads.get() == 1 {
        return consume(&mut flate2::read::ZlibEncoder::new(reader, level()));
    }
    deflate_in_blocks(reader, threads.get(), BLOCK, consume)
}

fn deflate_in_blocks<T>(
    reader: &mut (dyn Read + Send),
    threads: usize,
    block: usize,
    consume: impl FnOnce(&mut (dyn Read + Send)) -> T,
) -> T {
    assert!(block > 0);
    let input = Mutex::new(Input {
        reader,
        next: 0,
        ended: false,
        tail: Vec::with_capacity(WINDOW),
    });
    let (done_tx, done_rx) = mpsc::channel::<Done>();
    // The output buffers: a worker takes one before it reads a block, and the stream's
    // reader gives it back once it has read the block out. This is what bounds memory:
    // workers wait once `threads + AHEAD` blocks are deflated or being deflated and not yet
    // read. The stream's first buffer, the header's, is one of them.
    let (spare_tx, spare_rx) = mpsc::channel::<Vec<u8>>();
    for _ in 1..threads + AHEAD {
        let _ = spare_tx.send(Vec::new());
    }
    let spare_rx = Mutex::new(spare_rx);
    thread::scope(|scope| {
        for _ in 0..threads {
            let (input, spare, done) = (&input, &spare_rx, done_tx.clone());
            scope.spawn(move || work(input, block, spare, &done));
        }
        drop(done_tx);
        let mut stream = Joined {
            done: done_rx,
            early: Vec::new(),
            next: 0,
            spare: Some(spare_tx),
            current: header(level()).to_vec(),
            position: 0,
            adler: 1,
            finished: false,
        };
        let result = consume(&mut stream);
        // Closing the channel of spare buffers stops the workers.
        drop(stream);
        result
    })
}

/// The two bytes that open a zlib stream deflated at `level` with a 32 KiB window, as zlib
/// writes them (RFC 1950: CMF, then FLG with FLEVEL and a check making both a multiple of 31).
fn header(level: flate2::Compression) -> [u8; 2] {
    let cmf = 0x78u8;
    let flevel: u8 = match level.level() {
        0 | 1 => 0,
        2..=5 => 1,
        6 => 2,
        _ => 3,
    };
    let flg = flevel << 6;
    let check = 31 - ((u16::from(cmf) << 8 | u16::from(flg)) % 31) as u8;
    [cmf, flg | (check % 31)]
}

/// The input, read by one worker at a time, a block at a time.
struct Input<'r> {
    reader: &'r mut (dyn Read + Send),
    /// The number of the next block.
    next: usize,
    /// Whether the last block, or an error, has been read.
    ended: bool,
    /// The end of the last block read: the next one's dictionary.
    tail: Vec<u8>,
}

struct Block {
    deflated: Vec<u8>,
    adler: u32,
    length: usize,
    last: bool,
}

/// A block's number and what became of it.
type Done = (usize, io::Result<Block>);

/// Room for `length` bytes deflated when they do not compress: the fastest level writes
/// such bytes with fixed codes, up to 9 bits each.
fn room(length: usize) -> usize {
    length + length / 8 + 64
}

/// A deflating thread: takes an output buffer, reads the next block into its own input
/// buffer, deflates it and hands it on, until the input ends or the stream's reader is gone.
fn work(
    input: &Mutex<Input>,
    block: usize,
    spare: &Mutex<mpsc::Receiver<Vec<u8>>>,
    done: &mpsc::Sender<Done>,
) {
    let mut compress = Compress::new(level(), false);
    let mut data = vec![0; block];
    let mut dictionary = Vec::with_capacity(WINDOW);
    loop {
        let out = spare.lock().unwrap_or_else(PoisonError::into_inner).recv();
        let Ok(out) = out else {
            return; // the stream's reader is gone, or has all it needs
        };
        let (index, read) = {
            let mut input = input.lock().unwrap_or_else(PoisonError::into_inner);
            if input.ended {
                return;
            }
            let read = read_full(input.reader, &mut data);
            input.ended = !matches!(read, Ok(filled) if filled == block);
            // This block's dictionary is the previous block's end, and its own end the next's.
            std::mem::swap(&mut dictionary, &mut input.tail);
            input.tail.clear();
            if let Ok(filled) = read {
                input
                    .tail
                    .extend_from_slice(&data[filled.saturating_sub(WINDOW)..filled]);
            }
            input.next += 1;
            (input.next - 1, read)
        };
        // Should deflating panic, the stream's reader gets an error rather than waiting.
        let mut promise = Promise {
            done,
            index,
            kept: false,
        };
        let result = read.and_then(|filled| {
            let data = &data[..filled];
            let last = filled < block;
            compress.reset();
            let deflated = deflate_block(&mut compress, data, &dictionary, last, out)?;
            Ok(Block {
                deflated,
                adler: adler32(1, data),
                length: filled,
                last,
            })
        });
        promise.kept = true;
        if done.send((index, result)).is_err() {
            return;
        }
    }
}

/// A block's number, sent with an error if the worker does not send the block itself.
struct Promise<'a> {
    done: &'a mpsc::Sender<Done>,
    index: usize,
    kept: bool,
}

impl Drop for Promise<'_> {
    fn drop(&mut self) {
        if !self.kept {
            let stopped = io::Error::other("a compressing thread stopped");
            let _ = self.done.send((self.index, Err(stopped)));
        }
    }
}

/// Raw deflate of `data` after `dictionary`, ending on a byte boundary with a sync flush, or
/// with the final block when `last`.
fn deflate_block(
    compress: &mut Compress,
    data: &[u8],
    dictionary: &[u8],
    last: bool,
    mut out: Vec<u8>,
) -> io::Result<Vec<u8>> {
    if !dictionary.is_empty() {
        compress
            .set_dictionary(dictionary)
            .map_err(io::Error::other)?;
    }
    let flush = if last {
        FlushCompress::Finish
    } else {
        FlushCompress::Sync
    };
    out.clear();
    out.reserve(room(data.len()));
    let start = compress.total_in();
    loop {
        let consumed = (compress.total_in() - start) as usize;
        let status = compress
            .compress_vec(&data[consumed..], &mut out, flush)
            .map_err(io::Error::other)?;
        let consumed = (compress.total_in() - start) as usize;
        // A flush is complete once it returns with output space to spare.
        let done = match status {
            Status::StreamEnd => true,
            Status::Ok | Status::BufError => {
                !last && consumed == data.len() && out.len() < out.capacity()
            }
        };
        if done {
            return Ok(out);
        }
        out.reserve(data.len() / 8 + 64);
    }
}

/// The stream's reader: the header, the blocks in order, then the Adler-32.
struct Joined {
    done: mpsc::Receiver<Done>,
    /// Blocks deflated before the ones ahead of them.
    early: Vec<Done>,
    /// The number of the next block to read out.
    next: usize,
    /// Where read-out buffers go back to the workers; dropped once the input has ended, so
    /// that workers waiting for a buffer stop.
    spare: Option<mpsc::Sender<Vec<u8>>>,
    current: Vec<u8>,
    position: usize,
    adler: u32,
    finished: bool,
}

impl Joined {
    fn next_block(&mut self) -> io::Result<()> {
        let result = match self.early.iter().position(|(index, _)| *index == self.next) {
            Some(at) => self.early.swap_remove(at).1,
            None => loop {
                let (index, result) = self
                    .done
                    .recv()
                    .map_err(|_| io::Error::other("a compressing thread stopped"))?;
                if index == self.next {
                    break result;
                }
                self.early.push((index, result));
            },
        };
        let block = match result {
            Ok(block) => block,
            Err(error) => {
                self.spare = None;
                return Err(error);
            }
        };
        self.next += 1;
        self.adler = adler32_combine(self.adler, block.adler, block.length as u64);
        let done_with = std::mem::replace(&mut self.current, block.deflated);
        if let Some(spare) = &self.spare {
            let _ = spare.send(done_with);
        }
        self.position = 0;
        if block.last {
            self.spare = None;
            self.current.extend_from_slice(&self.adler.to_be_bytes());
            self.finished = true;
        }
        Ok(())
    }
}

impl Read for Joined {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.position == self.current.len() {
            if self.finished {
                return Ok(0);
            }
            self.next_block()?;
        }
        let count = buf.len().min(self.current.len() - self.position);
        buf[..count].copy_from_slice(&self.current[self.position..self.position + count]);
        self.position += count;
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::io::FailingReader;

    /// Compressible, but not trivially: float32 values of a slow wave with noise in the low bits.
    fn sample(length: usize) -> Vec<u8> {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut bytes = Vec::with_capacity(length + 4);
        let mut index = 0u32;
        while bytes.len() < length {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let value = ((index / 64) % 200) as f32 + (state % 4) as f32 * 0.25;
            bytes.extend_from_slice(&value.to_le_bytes());
            index += 1;
        }
        bytes.truncate(length);
        bytes
    }

    fn deflate(data: &[u8], threads: usize, block: usize) -> Vec<u8> {
        let mut out = Vec::new();
        deflate_in_blocks(&mut &data[..], threads, block, |stream| {
            stream.read_to_end(&mut out)
        })
        .unwrap();
        out
    }

    fn single_threaded(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        deflate_with(&mut &data[..], NonZeroUsize::MIN, |stream| {
            stream.read_to_end(&mut out)
        })
        .unwrap();
        out
    }

    fn inflate(stream: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::ZlibDecoder::new(stream)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn the_header_is_zlibs() {
        for level in [0, 1, 2, 5, 6, 7, 9] {
            let level = flate2::Compression::new(level);
            let mut stream = Vec::new();
            flate2::read::ZlibEncoder::new(&b"abc"[..], level)
                .read_to_end(&mut stream)
                .unwrap();
            assert_eq!(header(level), stream[..2], "{level:?}");
        }
    }

    #[test]
    fn blocks_join_into_one_stream_at_every_size_and_thread_count() {
        let block = 40 << 10; // more than the window, so whole dictionaries are used
        for length in [0, 1, block - 1, block, block + 1, 3 * block, 5 * block + 7] {
            let data = sample(length);
            for threads in 1..=4 {
                let stream = deflate(&data, threads, block);
                assert_eq!(stream[..2], header(level()), "length {length}");
                assert_eq!(inflate(&stream), data, "length {length}, {threads} threads");
            }
        }
    }

    #[test]
    fn blocks_smaller_than_the_window_join_too() {
        let data = sample(100_003);
        for block in [1, 1000, 4096] {
            assert_eq!(inflate(&deflate(&data, 3, block)), data, "block {block}");
        }
    }

    #[test]
    fn full_size_blocks_join_into_one_stream() {
        for length in [BLOCK - 1, BLOCK, BLOCK + 1, 3 * BLOCK + 5] {
            let data = sample(length);
            let mut stream = Vec::new();
            deflate_with(&mut &data[..], NonZeroUsize::new(2).unwrap(), |reader| {
                reader.read_to_end(&mut stream)
            })
            .unwrap();
            assert_eq!(inflate(&stream), data, "length {length}");
        }
    }

    #[test]
    fn one_thread_writes_the_stream_it_always_wrote() {
        let data = sample(300_000);
        let mut expected = Vec::new();
        flate2::read::ZlibEncoder::new(&data[..], flate2::Compression::fast())
            .read_to_end(&mut expected)
            .unwrap();
        assert_eq!(single_threaded(&data), expected);
    }

    #[test]
    fn the_size_stays_within_a_percent_of_one_thread() {
        let length = 16 * BLOCK + 12345;
        // Counting float32s, random float32s (whose low bytes do not compress), the wave, and
        // 16 KiB rows that repeat (which compress only with matches into the block before).
        let counting: Vec<u8> = (0..length / 4)
            .flat_map(|index| (index as f32).to_le_bytes())
            .collect();
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let random: Vec<u8> = (0..length / 4)
            .flat_map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                ((state >> 40) as f32 / (1 << 24) as f32 - 0.5).to_le_bytes()
            })
            .collect();
        let rows = random[..16 << 10].repeat(length / (16 << 10) + 1)[..length].to_vec();
        for (name, data) in [
            ("counting", counting),
            ("random", random),
            ("wave", sample(length)),
            ("rows", rows),
        ] {
            let one = single_threaded(&data).len() as f64;
            let many = deflate(&data, 2, BLOCK).len() as f64;
            assert!(
                many <= one * 1.01,
                "{name}: {many} bytes in blocks, {one} in one stream"
            );
        }
    }

    #[test]
    fn a_read_error_comes_out_where_it_fell() {
        let block = 8 << 10;
        for good in [0, 10, block, 5 * block + 3] {
            for threads in 1..=3 {
                let mut out = Vec::new();
                let error = deflate_in_blocks(&mut FailingReader { good }, threads, block, |s| {
                    s.read_to_end(&mut out)
                })
                .unwrap_err();
                assert_eq!(error.to_string(), "disk on fire", "after {good} bytes");
                // Everything before the failed block came out, and is a valid start.
                let whole_blocks = good / block;
                let mut inflated = Vec::new();
                let _ = flate2::read::ZlibDecoder::new(&out[..]).read_to_end(&mut inflated);
                assert_eq!(
                    inflated,
                    vec![7; whole_blocks * block],
                    "after {good} bytes"
                );
            }
        }
    }

    #[test]
    fn a_reader_that_stops_early_stops_the_threads() {
        let data = sample(5 * BLOCK);
        for threads in 1..=3 {
            let head = deflate_in_blocks(&mut &data[..], threads, 16 << 10, |stream| {
                let mut head = [0u8; 100];
                stream.read_exact(&mut head).map(|()| head)
            })
            .unwrap();
            assert_eq!(head[..2], header(level()));
        }
    }

    #[test]
    fn the_stream_goes_through_base64_as_any_reader() {
        let data = sample(3 * BLOCK + 1);
        let mut text = Vec::new();
        deflate_with(&mut &data[..], NonZeroUsize::new(3).unwrap(), |stream| {
            crate::codec::b64::encode_stream(stream, &mut text, NonZeroUsize::MIN)
        })
        .unwrap();
        let mut stream = Vec::new();
        crate::codec::b64::DecodeReader::new(&text[..], "data")
            .read_to_end(&mut stream)
            .unwrap();
        assert_eq!(inflate(&stream), data);
    }
}
