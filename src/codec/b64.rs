//! Chunked base64 over `Read`/`Write`, with the SIMD engine, so that memory stays flat.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::num::NonZeroUsize;
use std::sync::mpsc;
use std::thread;

use base64::engine::general_purpose::{GeneralPurposeConfig, PAD};
use base64::engine::{DecodePaddingMode, Simd};
use base64::Engine as _;

use crate::codec::io::{read_full, AlignedBuf, Payload};
use crate::codec::pool::{Chunk, Pool, Ticket};
use crate::error::Error;

/// Bytes of binary input per encoded chunk: a multiple of 3, so chunks join without padding.
const ENCODE_CHUNK: usize = 3 << 19;
/// Characters of base64 text per decoded chunk: a multiple of 4.
const DECODE_CHUNK: usize = 4 << 20;

/// Characters of base64 text for `chunk` bytes, a multiple of 3.
fn encoded_size(chunk: usize) -> usize {
    chunk / 3 * 4
}

/// Room for the bytes of `chunk` characters decoded (and of a quantum carried into them).
fn decoded_size(chunk: usize) -> usize {
    chunk / 4 * 3 + 3
}

fn lenient() -> GeneralPurposeConfig {
    PAD.with_decode_padding_mode(DecodePaddingMode::Indifferent)
}

/// The number of threads base64 uses when none is asked for: one. On the 2-core machine it
/// was measured on, more did not make encoding or decoding faster (the work is mostly the
/// kernel copying in and out, on one thread either way, with base64 a tenth of it) and took
/// 2-3 times the memory; `--threads N` asks for more.
pub fn default_threads() -> NonZeroUsize {
    NonZeroUsize::MIN
}

/// Reads `reader` to its end and writes it to `out` as standard padded base64.
/// Returns the number of binary bytes read.
///
/// Input larger than one chunk is read and encoded on a second thread while this one
/// writes, so a run costs the slower of the two sides rather than their sum. With more than
/// one of `threads`, that many workers encode, and a third thread reads.
pub fn encode_stream(
    reader: &mut (dyn Read + Send),
    out: &mut dyn Write,
    threads: NonZeroUsize,
) -> io::Result<u64> {
    encode_in_chunks(reader, out, threads, ENCODE_CHUNK)
}

/// [`encode_stream`] in chunks of `chunk` bytes, a multiple of 3.
fn encode_in_chunks(
    reader: &mut (dyn Read + Send),
    out: &mut dyn Write,
    threads: NonZeroUsize,
    chunk: usize,
) -> io::Result<u64> {
    debug_assert_eq!(chunk % 3, 0);
    let mut input = AlignedBuf::new(chunk);
    let filled = read_full(reader, &mut input)?;
    let mut output = AlignedBuf::new(encoded_size(chunk));
    let written = encode_chunk(&input[..filled], &mut output);
    out.write_all(&output[..written])?;
    if filled < chunk {
        return Ok(filled as u64);
    }
    let rest = if threads.get() == 1 {
        encode_in_two(reader, out, input, output)?
    } else {
        let first = Chunk {
            input,
            filled: 0,
            output,
            produced: None,
        };
        encode_in_parallel(reader, out, threads, first)?
    };
    Ok(filled as u64 + rest)
}

fn encode_in_two(
    reader: &mut (dyn Read + Send),
    out: &mut dyn Write,
    input: AlignedBuf,
    output: AlignedBuf,
) -> io::Result<u64> {
    thread::scope(|scope| {
        let (full_tx, full_rx) = mpsc::sync_channel::<Encoded>(1);
        let (empty_tx, empty_rx) = mpsc::channel::<AlignedBuf>();
        // Two buffers in turn: one being filled while the other is written. Both are made
        // here, so the second thread allocates nothing.
        let second = AlignedBuf::new(output.len());
        let _ = empty_tx.send(output);
        let _ = empty_tx.send(second);
        let producer = scope.spawn(move || produce(reader, input, empty_rx, full_tx));
        let written = consume(out, full_rx, empty_tx);
        // The producer stops on its own once the channels close, which returning from
        // `consume` does.
        let read = producer
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        written.and(read)
    })
}

/// One thread reads chunks and hands them to `threads` workers, this one writes their text
/// in order. At most `threads` chunks wait to be written, which bounds memory.
fn encode_in_parallel(
    reader: &mut (dyn Read + Send),
    out: &mut dyn Write,
    threads: NonZeroUsize,
    first: Chunk,
) -> io::Result<u64> {
    let chunk = first.input.len();
    let pool = Pool::new(threads, encode_work);
    thread::scope(|scope| {
        let (order_tx, order_rx) = mpsc::sync_channel::<Ticket>(threads.get());
        let (spare_tx, spare_rx) = mpsc::channel::<Chunk>();
        // The buffers of the first chunk, done with, serve again.
        let _ = spare_tx.send(first);
        let pool = &pool;
        let reading = scope.spawn(move || dispatch(reader, chunk, pool, spare_rx, order_tx));
        let written = write_in_order(out, order_rx, spare_tx);
        // The reading thread stops once the order channel closes, which returning from
        // `write_in_order` does.
        let read = reading
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        written.and(read)
    })
}

fn encode_work(input: &[u8], output: &mut [u8]) -> Option<usize> {
    Some(encode_chunk(input, output))
}

/// The reading side of [`encode_in_parallel`].
fn dispatch(
    reader: &mut (dyn Read + Send),
    size: usize,
    pool: &Pool,
    spare: mpsc::Receiver<Chunk>,
    order: mpsc::SyncSender<Ticket>,
) -> io::Result<u64> {
    let mut total = 0u64;
    loop {
        let mut chunk = spare
            .try_recv()
            .unwrap_or_else(|_| Chunk::new(size, encoded_size(size)));
        chunk.filled = read_full(reader, &mut chunk.input)?;
        if chunk.filled == 0 {
            return Ok(total);
        }
        total += chunk.filled as u64;
        let last = chunk.filled < size;
        if order.send(pool.submit(chunk)).is_err() || last {
            // The writer failed, and reports why; or this was all.
            return Ok(total);
        }
    }
}

/// The writing side of [`encode_in_parallel`].
fn write_in_order(
    out: &mut dyn Write,
    order: mpsc::Receiver<Ticket>,
    spare: mpsc::Sender<Chunk>,
) -> io::Result<()> {
    for ticket in order {
        let chunk = ticket.wait();
        let written = chunk.produced.expect("encoding cannot fail");
        out.write_all(&chunk.output[..written])?;
        let _ = spare.send(chunk);
    }
    Ok(())
}

/// A buffer of encoded text, and how much of it is filled.
type Encoded = (AlignedBuf, usize);

/// Encodes `input` into the front of `output`; returns the encoded length.
fn encode_chunk(input: &[u8], output: &mut [u8]) -> usize {
    Simd::standard(PAD)
        .encode_slice(input, output)
        .expect("output buffer holds a whole encoded chunk")
}

/// The reading side of [`encode_stream`]: encodes chunks into buffers the writer hands back.
fn produce(
    reader: &mut (dyn Read + Send),
    mut input: AlignedBuf,
    empty: mpsc::Receiver<AlignedBuf>,
    full: mpsc::SyncSender<Encoded>,
) -> io::Result<u64> {
    let mut total = 0u64;
    loop {
        let filled = read_full(reader, &mut input)?;
        if filled == 0 {
            return Ok(total);
        }
        total += filled as u64;
        let Ok(mut output) = empty.recv() else {
            return Ok(total); // the writer failed and reports why
        };
        let written = encode_chunk(&input[..filled], &mut output);
        if full.send((output, written)).is_err() || filled < input.len() {
            return Ok(total);
        }
    }
}

/// The writing side of [`encode_stream`].
fn consume(
    out: &mut dyn Write,
    full: mpsc::Receiver<Encoded>,
    empty: mpsc::Sender<AlignedBuf>,
) -> io::Result<()> {
    for (output, written) in full {
        out.write_all(&output[..written])?;
        let _ = empty.send(output);
    }
    Ok(())
}

/// Decodes base64 text read from `inner` into binary, chunk by chunk. Accepts the standard
/// and URL-safe alphabets, missing padding and embedded whitespace.
///
/// With more than one thread, text past the first chunk is read on this thread and decoded
/// by workers, a few chunks ahead. Workers take the fast path only (clean standard base64,
/// cut on a multiple of 4 characters); the first chunk that is not is read again, with all
/// after it, by the one-thread path, from the very same place, so that whatever it finds
/// (an error and where it is, above all) is what one thread finds.
pub struct DecodeReader<R> {
    inner: R,
    field: String,
    text: AlignedBuf,
    /// Characters in `text` carried over because they did not fill a quantum of four.
    carry: usize,
    decoded: AlignedBuf,
    /// Bytes of `decoded` filled, and how many of them were handed out.
    decoded_len: usize,
    position: usize,
    consumed: u64,
    at_end: bool,
    threads: NonZeroUsize,
    parallel: Option<Parallel>,
    /// Text the workers read but gave back, to be read again before `inner`.
    replay: Replay,
}

impl<R: Read> DecodeReader<R> {
    /// `field` names where the text came from, for error messages.
    pub fn new(inner: R, field: impl Into<String>) -> Self {
        Self::with_threads(inner, field, NonZeroUsize::MIN)
    }

    /// As [`DecodeReader::new`], decoding on `threads` threads once the text is longer than
    /// one chunk.
    pub fn with_threads(inner: R, field: impl Into<String>, threads: NonZeroUsize) -> Self {
        Self::in_chunks(inner, field, threads, DECODE_CHUNK)
    }

    /// Decodes `chunk` characters at a time, a multiple of 4.
    fn in_chunks(inner: R, field: impl Into<String>, threads: NonZeroUsize, chunk: usize) -> Self {
        debug_assert_eq!(chunk % 4, 0);
        DecodeReader {
            inner,
            field: field.into(),
            text: AlignedBuf::new(chunk),
            carry: 0,
            decoded: AlignedBuf::new(decoded_size(chunk)),
            decoded_len: 0,
            position: 0,
            consumed: 0,
            at_end: false,
            threads,
            parallel: None,
            replay: Replay::default(),
        }
    }

    fn refill(&mut self) -> io::Result<()> {
        if self.parallel.is_some() && self.refill_in_parallel()? {
            return Ok(());
        }
        let read = read_full(
            &mut (&mut self.replay).chain(&mut self.inner),
            &mut self.text[self.carry..],
        )?;
        let filled = self.carry + read;
        self.at_end = filled < self.text.len();
        // Fast path: clean standard base64 decodes as it is. Anything else (whitespace, the
        // URL-safe alphabet, an error to report) takes the slow path.
        let usable = self.usable(filled);
        let engine = Simd::standard(lenient());
        let (length, fast) = match self.decode_chunk(&engine, usable) {
            Ok(()) => (filled, true),
            Err(_) => (self.refill_slowly(filled)?, false),
        };
        let usable = self.usable(length);
        self.text.copy_within(usable..length, 0);
        self.carry = length - usable;
        self.consumed += usable as u64;
        // Past a first chunk of clean text, more may follow: workers take it from here.
        if fast
            && !self.at_end
            && self.carry == 0
            && self.threads.get() > 1
            && self.replay.is_empty()
        {
            self.parallel = Some(Parallel::new(self.threads, self.text.len()));
        }
        Ok(())
    }

    /// Takes the next chunk the workers decoded; false if they gave it back, and the
    /// one-thread path reads from there on.
    fn refill_in_parallel(&mut self) -> io::Result<bool> {
        let parallel = self.parallel.as_mut().expect("called in parallel only");
        parallel.read_ahead(&mut self.inner);
        let mut chunk = match parallel.pending.pop_front() {
            None => {
                self.at_end = true;
                self.decoded_len = 0;
                self.position = 0;
                return Ok(true);
            }
            Some(Ahead::Failed(error)) => return Err(error),
            Some(Ahead::Chunk(ticket)) => ticket.wait(),
        };
        let Some(length) = chunk.produced else {
            // Text that is not clean here is likely not clean further on either.
            self.threads = NonZeroUsize::MIN;
            self.replay.push(chunk);
            let parallel = self.parallel.take().expect("called in parallel only");
            parallel.give_back(&mut self.replay);
            return Ok(false);
        };
        std::mem::swap(&mut self.decoded, &mut chunk.output);
        self.decoded_len = length;
        self.position = 0;
        self.consumed += chunk.filled as u64;
        parallel.spare.push(chunk);
        Ok(true)
    }

    /// How much of `length` characters can be decoded now: whole quanta until the end.
    fn usable(&self, length: usize) -> usize {
        if self.at_end {
            length
        } else {
            length / 4 * 4
        }
    }

    /// Strips whitespace and reads the URL-safe alphabet as the standard one (both may mix,
    /// as Python's `urlsafe_b64decode` allows), then decodes; returns the new length.
    fn refill_slowly(&mut self, filled: usize) -> io::Result<usize> {
        let length = strip_whitespace(&mut self.text[..filled]);
        for byte in &mut self.text[..length] {
            match *byte {
                b'-' => *byte = b'+',
                b'_' => *byte = b'/',
                _ => {}
            }
        }
        let usable = self.usable(length);
        self.decode_chunk(&Simd::standard(lenient()), usable)
            .map_err(|error| self.error(error))?;
        Ok(length)
    }

    fn decode_chunk(
        &mut self,
        engine: &Simd,
        usable: usize,
    ) -> Result<(), base64::DecodeSliceError> {
        self.decoded_len = engine.decode_slice(&self.text[..usable], &mut self.decoded)?;
        self.position = 0;
        Ok(())
    }

    fn error(&self, error: base64::DecodeSliceError) -> io::Error {
        let detail = match error {
            base64::DecodeSliceError::DecodeError(error) => describe(error, self.consumed),
            base64::DecodeSliceError::OutputSliceTooSmall => "output too small".to_string(),
        };
        Error::Base64 {
            field: self.field.clone(),
            detail,
        }
        .into()
    }
}

/// The chunks the workers of a [`DecodeReader`] decode ahead.
struct Parallel {
    pool: Pool,
    /// In the order their text comes in.
    pending: VecDeque<Ahead>,
    spare: Vec<Chunk>,
    /// The inner reader ended, or failed.
    read_all: bool,
    /// Characters of text per chunk.
    size: usize,
}

enum Ahead {
    Chunk(Ticket),
    /// A read error, reported where it fell: after the chunks before it.
    Failed(io::Error),
}

impl Parallel {
    fn new(threads: NonZeroUsize, size: usize) -> Parallel {
        Parallel {
            pool: Pool::new(threads, decode_work),
            pending: VecDeque::new(),
            spare: Vec::new(),
            read_all: false,
            size,
        }
    }

    /// Reads chunks until each worker has one and one more waits, so that none is idle
    /// while the caller takes the oldest.
    fn read_ahead(&mut self, inner: &mut impl Read) {
        while !self.read_all && self.pending.len() <= self.pool.threads() {
            let mut chunk = self
                .spare
                .pop()
                .unwrap_or_else(|| Chunk::new(self.size, decoded_size(self.size)));
            match read_full(inner, &mut chunk.input) {
                Ok(filled) => {
                    chunk.filled = filled;
                    self.read_all = filled < self.size;
                    if filled > 0 {
                        self.pending
                            .push_back(Ahead::Chunk(self.pool.submit(chunk)));
                    }
                }
                Err(error) => {
                    self.read_all = true;
                    self.pending.push_back(Ahead::Failed(error));
                }
            }
        }
    }

    /// Hands the text of every chunk read ahead back, in order, for the one-thread path.
    fn give_back(self, replay: &mut Replay) {
        for ahead in self.pending {
            match ahead {
                Ahead::Chunk(ticket) => replay.push(ticket.wait()),
                Ahead::Failed(error) => replay.fail(error),
            }
        }
    }
}

/// The whole of `input` decoded, if it is clean standard base64.
fn decode_work(input: &[u8], output: &mut [u8]) -> Option<usize> {
    Simd::standard(lenient()).decode_slice(input, output).ok()
}

/// Text read ahead and given back, read again in order; then the read error that ended it,
/// if one did.
#[derive(Default)]
struct Replay {
    chunks: VecDeque<(AlignedBuf, usize)>,
    /// Bytes of the front chunk already read.
    position: usize,
    error: Option<io::Error>,
}

impl Replay {
    fn push(&mut self, chunk: Chunk) {
        self.chunks.push_back((chunk.input, chunk.filled));
    }

    fn fail(&mut self, error: io::Error) {
        self.error = Some(error);
    }

    fn is_empty(&self) -> bool {
        self.chunks.is_empty() && self.error.is_none()
    }
}

impl Read for Replay {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some((text, filled)) = self.chunks.front() else {
            return match self.error.take() {
                Some(error) => Err(error),
                None => Ok(0),
            };
        };
        let count = buf.len().min(filled - self.position);
        buf[..count].copy_from_slice(&text[self.position..self.position + count]);
        self.position += count;
        if self.position == *filled {
            self.chunks.pop_front();
            self.position = 0;
        }
        Ok(count)
    }
}

fn describe(error: base64::DecodeError, consumed: u64) -> String {
    match error {
        base64::DecodeError::InvalidByte(offset, byte) => format!(
            "byte {:?} (0x{byte:02x}) at offset {} is not a base64 character",
            byte as char,
            consumed + offset as u64
        ),
        base64::DecodeError::InvalidLength(length) => format!(
            "the text ends with a lone character after {} characters; base64 comes in groups of 4",
            consumed + length as u64 - 1
        ),
        base64::DecodeError::InvalidLastSymbol {
            offset,
            symbol: byte,
            ..
        } => format!(
            "last symbol {:?} at offset {} has bits set that no byte uses",
            byte as char,
            consumed + offset as u64
        ),
        base64::DecodeError::InvalidPadding => "padding is in the wrong place".to_string(),
    }
}

/// Removes ASCII whitespace in place; returns the new length.
fn strip_whitespace(text: &mut [u8]) -> usize {
    let mut kept = 0;
    for index in 0..text.len() {
        let byte = text[index];
        if !byte.is_ascii_whitespace() {
            text[kept] = byte;
            kept += 1;
        }
    }
    kept
}

impl<R: Read> Read for DecodeReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.position == self.decoded_len {
            if self.at_end {
                return Ok(0);
            }
            self.refill()?;
        }
        let count = buf.len().min(self.decoded_len - self.position);
        buf[..count].copy_from_slice(&self.decoded[self.position..self.position + count]);
        self.position += count;
        Ok(count)
    }
}

impl<R: Payload> Payload for DecodeReader<R> {
    fn finish(&mut self) -> crate::error::Result<()> {
        self.inner.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::io::FailingReader;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

    fn decode_all(text: &[u8]) -> crate::error::Result<Vec<u8>> {
        let mut out = Vec::new();
        DecodeReader::new(text, "`data`")
            .read_to_end(&mut out)
            .map_err(Error::from)?;
        Ok(out)
    }

    #[test]
    fn encodes_like_the_reference_engine_across_chunk_boundaries() {
        for length in [
            0,
            1,
            2,
            3,
            4,
            ENCODE_CHUNK - 1,
            ENCODE_CHUNK,
            ENCODE_CHUNK + 2,
            3 * ENCODE_CHUNK,
            4 * ENCODE_CHUNK + 1,
        ] {
            let data: Vec<u8> = (0..length).map(|i| (i * 7 % 251) as u8).collect();
            let mut out = Vec::new();
            let count = encode_stream(&mut data.as_slice(), &mut out, NonZeroUsize::MIN).unwrap();
            assert_eq!(count, length as u64);
            assert_eq!(out, STANDARD.encode(&data).into_bytes(), "length {length}");
        }
    }

    /// Accepts `room` bytes, then fails as a closed pipe does.
    struct ClosedPipe {
        room: usize,
    }

    impl Write for ClosedPipe {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.room == 0 {
                return Err(io::ErrorKind::BrokenPipe.into());
            }
            let count = buf.len().min(self.room);
            self.room -= count;
            Ok(count)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_read_error_on_either_side_of_the_first_chunk_is_returned() {
        for good in [10, ENCODE_CHUNK + 10, 5 * ENCODE_CHUNK] {
            let error = encode_stream(
                &mut FailingReader { good },
                &mut io::sink(),
                NonZeroUsize::MIN,
            )
            .unwrap_err();
            assert_eq!(error.to_string(), "disk on fire", "after {good} bytes");
        }
    }

    #[test]
    fn a_closed_output_stops_the_reader_and_is_returned() {
        let data = vec![1u8; 8 * ENCODE_CHUNK];
        for room in [0, 100, 3 * ENCODE_CHUNK] {
            let error = encode_stream(
                &mut data.as_slice(),
                &mut ClosedPipe { room },
                NonZeroUsize::MIN,
            )
            .unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::BrokenPipe, "room {room}");
        }
    }

    #[test]
    fn decodes_standard_url_safe_unpadded_and_wrapped_text() {
        let data: Vec<u8> = (0..DECODE_CHUNK + 100).map(|i| (i % 253) as u8).collect();
        let standard = STANDARD.encode(&data);
        assert_eq!(decode_all(standard.as_bytes()).unwrap(), data);
        let url = URL_SAFE_NO_PAD.encode(&data);
        assert_eq!(decode_all(url.as_bytes()).unwrap(), data);
        let wrapped: Vec<u8> = standard
            .as_bytes()
            .chunks(76)
            .flat_map(|line| line.iter().copied().chain(*b"\r\n"))
            .collect();
        assert_eq!(decode_all(&wrapped).unwrap(), data);
        assert_eq!(decode_all(b"AQID").unwrap(), [1, 2, 3]);
        assert_eq!(decode_all(b"AQ").unwrap(), [1]);
    }

    fn threads(count: usize) -> NonZeroUsize {
        NonZeroUsize::new(count).unwrap()
    }

    /// Small chunks, so that tests cross many chunk edges in little data.
    const SMALL: usize = 12;

    fn data(length: usize) -> Vec<u8> {
        (0..length).map(|i| (i * 7 % 251) as u8).collect()
    }

    fn encode_small(reader: &mut (dyn Read + Send), threads: usize) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        encode_in_chunks(reader, &mut out, self::threads(threads), SMALL)?;
        Ok(out)
    }

    /// The bytes, or the error's message.
    fn decode_small(text: impl Read, threads: usize) -> std::result::Result<Vec<u8>, String> {
        let mut reader = DecodeReader::in_chunks(text, "`data`", self::threads(threads), 16);
        let mut out = Vec::new();
        match reader.read_to_end(&mut out) {
            Ok(_) => Ok(out),
            Err(error) => Err(Error::from(error).to_string()),
        }
    }

    #[test]
    fn encodes_the_same_on_any_number_of_threads_at_every_chunk_edge() {
        for length in 0..=6 * SMALL + 1 {
            let data = data(length);
            let expected = STANDARD.encode(&data).into_bytes();
            for threads in 1..=4 {
                let out = encode_small(&mut data.as_slice(), threads).unwrap();
                assert_eq!(out, expected, "length {length}, {threads} threads");
            }
        }
    }

    #[test]
    fn a_read_error_while_encoding_on_threads_is_returned() {
        for good in [0, 5, SMALL, SMALL + 1, 4 * SMALL, 9 * SMALL + 2] {
            for threads in 2..=4 {
                let error = encode_small(&mut FailingReader { good }, threads).unwrap_err();
                assert_eq!(error.to_string(), "disk on fire", "after {good} bytes");
            }
        }
    }

    #[test]
    fn a_closed_output_stops_the_encoding_threads_and_is_returned() {
        let data = data(40 * SMALL);
        for room in [0, 10, 3 * SMALL, 20 * SMALL] {
            for threads in 2..=4 {
                let mut out = ClosedPipe { room };
                let error = encode_in_chunks(
                    &mut data.as_slice(),
                    &mut out,
                    self::threads(threads),
                    SMALL,
                )
                .unwrap_err();
                assert_eq!(error.kind(), io::ErrorKind::BrokenPipe, "room {room}");
            }
        }
    }

    #[test]
    fn decodes_the_same_on_any_number_of_threads_at_every_chunk_edge() {
        for length in 0..=80 {
            let data = data(length);
            for text in [STANDARD.encode(&data), URL_SAFE_NO_PAD.encode(&data)] {
                for threads in 1..=4 {
                    let out = decode_small(text.as_bytes(), threads);
                    assert_eq!(out, Ok(data.clone()), "{text:?}, {threads} threads");
                }
            }
        }
    }

    #[test]
    fn text_past_one_chunk_is_decoded_by_workers() {
        let text = STANDARD.encode(data(100));
        let mut reader = DecodeReader::in_chunks(text.as_bytes(), "`data`", threads(2), 16);
        let mut out = [0u8; 30];
        reader.read_exact(&mut out).unwrap();
        assert!(reader.parallel.is_some());
    }

    /// Clean text, then each way text can go wrong, at every place in it: what many
    /// threads make of it (bytes or the error message, with its position) is what one does.
    #[test]
    fn errors_are_the_same_on_any_number_of_threads() {
        let clean = STANDARD.encode(data(75)).into_bytes();
        let mut texts = Vec::new();
        for at in 0..clean.len() {
            for byte in [b'!', b'\n', b'-', b'=', b'\0'] {
                let mut text = clean.clone();
                text[at] = byte;
                texts.push(text);
            }
            let mut text = clean[..at].to_vec();
            text.push(b' ');
            text.extend_from_slice(&clean[at..]);
            texts.push(text);
            texts.push(clean[..at].to_vec());
        }
        let mut failed = 0;
        for text in &texts {
            let expected = decode_small(text.as_slice(), 1);
            failed += usize::from(expected.is_err());
            for threads in 2..=4 {
                let got = decode_small(text.as_slice(), threads);
                assert_eq!(got, expected, "{:?}", String::from_utf8_lossy(text));
            }
        }
        assert!(failed > clean.len(), "the texts hold errors");
    }

    #[test]
    fn a_read_error_while_decoding_on_threads_comes_where_it_fell() {
        let clean = STANDARD.encode(data(120)).into_bytes();
        for good in [0, 3, 16, 17, 48, 100, 160] {
            // Bad text before the read error is reported first, as one thread reports it.
            let mut bad = clean.clone();
            bad[40] = b'!';
            for text in [&clean, &bad] {
                let reader = || text[..good].chain(FailingReader { good: 0 });
                let expected = decode_small(reader(), 1);
                assert!(expected.is_err());
                for threads in 2..=4 {
                    assert_eq!(decode_small(reader(), threads), expected, "after {good}");
                }
            }
        }
    }

    #[test]
    fn reports_bad_bytes_and_bad_lengths() {
        let message = decode_all(b"AQID!AAA").unwrap_err().to_string();
        assert!(
            message.contains("'!'") && message.contains("offset 4"),
            "{message}"
        );
        let message = decode_all(b"AQIDA").unwrap_err().to_string();
        assert!(message.contains("groups of 4"), "{message}");
    }
}
