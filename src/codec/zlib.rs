//! zlib on every core: the bytes are cut into blocks that are deflated independently, each
//! primed with the last 32 KiB of the block before it as a preset dictionary and ended with
//! a sync flush (the last one with FINISH), and joined into one zlib stream behind one header,
//! with the Adler-32 of the whole combined from the blocks' own. This is what pigz does; any
//! zlib reader reads the result as it reads any other zlib stream.
//!
//! One thread reads blocks, `threads` threads deflate them, and the caller reads the stream
//! in order. At most about `threads` blocks are in flight, so memory is bounded by
//! `threads` x [`BLOCK`] (input and output), whatever the size of the data.

use std::io::{self, Read};
use std::num::NonZeroUsize;
use std::sync::{mpsc, Mutex, PoisonError};
use std::thread;

use flate2::{Compress, FlushCompress, Status};
use zlib_rs::adler32::{adler32, adler32_combine};

use crate::codec::io::read_full;

/// Bytes of input per block: small enough that memory stays under 16 MiB on two threads,
/// large enough that the 32 KiB dictionary and the hand-offs cost next to nothing (pigz: 128 KiB).
pub const BLOCK: usize = 256 << 10;
/// The deflate window: how much of the previous block primes the next.
const WINDOW: usize = 32 << 10;

/// The level every zlib payload is written at: the fastest, since at base64 speeds higher
/// levels cost far more than they save.
pub fn level() -> flate2::Compression {
    flate2::Compression::fast()
}

/// The number of threads when none is asked for: every core this process may use.
pub fn default_threads() -> NonZeroUsize {
    thread::available_parallelism().unwrap_or(NonZeroUsize::MIN)
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
    // Blocks' results, in order, each as the receiver its worker will answer on. The bound
    // is what bounds memory: the reading thread waits once `threads` blocks are pending.
    let (order_tx, order_rx) = mpsc::sync_channel::<Pending>(threads);
    let (job_tx, job_rx) = mpsc::channel::<Job>();
    let job_rx = Mutex::new(job_rx);
    // Buffers done with, back to the reading thread to be filled again.
    let (spare_tx, spare_rx) = mpsc::channel::<Vec<u8>>();
    thread::scope(|scope| {
        for _ in 0..threads {
            let job_rx = &job_rx;
            let spare = spare_tx.clone();
            scope.spawn(move || work(job_rx, spare));
        }
        scope.spawn(move || dispatch(reader, block, spare_rx, job_tx, order_tx));
        let mut stream = Joined {
            blocks: order_rx,
            spare: spare_tx,
            current: header(level()).to_vec(),
            position: 0,
            adler: 1,
            done: false,
        };
        let result = consume(&mut stream);
        // Closing the order channel stops the reading thread, which closes the job channel
        // and so stops the workers.
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

struct Job {
    data: Vec<u8>,
    /// A buffer for the deflated data.
    out: Vec<u8>,
    /// The end of the previous block, or nothing for the first.
    dictionary: Vec<u8>,
    last: bool,
    result: mpsc::SyncSender<io::Result<Block>>,
}

struct Block {
    deflated: Vec<u8>,
    adler: u32,
    length: usize,
    last: bool,
}

type Pending = mpsc::Receiver<io::Result<Block>>;

/// The reading thread: cuts the input into blocks and hands them out.
fn dispatch(
    reader: &mut (dyn Read + Send),
    block: usize,
    spare: mpsc::Receiver<Vec<u8>>,
    jobs: mpsc::Sender<Job>,
    order: mpsc::SyncSender<Pending>,
) {
    let mut dictionary = Vec::new();
    loop {
        // What a spare buffer holds is overwritten, or cut off.
        let mut data = spare.try_recv().unwrap_or_else(|_| buffer(block));
        data.resize(block, 0);
        let (result, pending) = mpsc::sync_channel(1);
        let filled = match read_full(reader, &mut data) {
            Ok(filled) => filled,
            Err(error) => {
                let _ = result.send(Err(error));
                let _ = order.send(pending);
                return;
            }
        };
        data.truncate(filled);
        let last = filled < block;
        if order.send(pending).is_err() {
            return; // the stream's reader is gone
        }
        let next = if last {
            Vec::new()
        } else {
            data[filled.saturating_sub(WINDOW)..].to_vec()
        };
        let job = Job {
            data,
            out: spare.try_recv().unwrap_or_else(|_| buffer(block)),
            dictionary,
            last,
            result,
        };
        if jobs.send(job).is_err() || last {
            return;
        }
        dictionary = next;
    }
}

/// Room for `length` bytes deflated when they do not compress: the fastest level writes
/// such bytes with fixed codes, up to 9 bits each.
fn room(length: usize) -> usize {
    length + length / 8 + 64
}

/// A buffer for a block's input or its output: all are alike, so that any can be reused
/// for either without growing.
fn buffer(block: usize) -> Vec<u8> {
    Vec::with_capacity(room(block))
}

/// A deflating thread.
fn work(jobs: &Mutex<mpsc::Receiver<Job>>, spare: mpsc::Sender<Vec<u8>>) {
    let mut compress = Compress::new(level(), false);
    loop {
        let job = jobs.lock().unwrap_or_else(PoisonError::into_inner).recv();
        let Ok(job) = job else {
            return;
        };
        compress.reset();
        let deflated = deflate_block(&mut compress, &job.data, &job.dictionary, job.last, job.out);
        let block = deflated.map(|deflated| Block {
            deflated,
            adler: adler32(1, &job.data),
            length: job.data.len(),
            last: job.last,
        });
        let _ = job.result.send(block);
        let _ = spare.send(job.data);
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
    blocks: mpsc::Receiver<Pending>,
    spare: mpsc::Sender<Vec<u8>>,
    current: Vec<u8>,
    position: usize,
    adler: u32,
    done: bool,
}

impl Joined {
    fn next_block(&mut self) -> io::Result<()> {
        let stopped = || io::Error::other("a compressing thread stopped");
        let pending = self.blocks.recv().map_err(|_| stopped())?;
        let block = pending.recv().map_err(|_| stopped())??;
        self.adler = adler32_combine(self.adler, block.adler, block.length as u64);
        let done_with = std::mem::replace(&mut self.current, block.deflated);
        let _ = self.spare.send(done_with);
        self.position = 0;
        if block.last {
            self.current.extend_from_slice(&self.adler.to_be_bytes());
            self.done = true;
        }
        Ok(())
    }
}

impl Read for Joined {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.position == self.current.len() {
            if self.done {
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
        let data = sample(16 * BLOCK + 12345);
        let one = single_threaded(&data).len() as f64;
        let many = deflate(&data, 2, BLOCK).len() as f64;
        assert!(
            many <= one * 1.01,
            "{many} bytes in blocks, {one} in one stream"
        );
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
