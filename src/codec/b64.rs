//! Chunked base64 over `Read`/`Write`, with the SIMD engine, so that memory stays flat.

use std::io::{self, Read, Write};
use std::sync::mpsc;
use std::thread;

use base64::engine::general_purpose::{GeneralPurposeConfig, PAD};
use base64::engine::{DecodePaddingMode, Simd};
use base64::Engine as _;

use crate::codec::io::{read_full, AlignedBuf, Payload};
use crate::error::Error;

/// Bytes of binary input per encoded chunk: a multiple of 3, so chunks join without padding.
const ENCODE_CHUNK: usize = 3 << 19;
/// Characters of base64 text per decoded chunk: a multiple of 4.
const DECODE_CHUNK: usize = 4 << 20;

fn lenient() -> GeneralPurposeConfig {
    PAD.with_decode_padding_mode(DecodePaddingMode::Indifferent)
}

/// Reads `reader` to its end and writes it to `out` as standard padded base64.
/// Returns the number of binary bytes read.
///
/// Input larger than one chunk is read and encoded on a second thread while this one
/// writes, so a run costs the slower of the two sides rather than their sum.
pub fn encode_stream(reader: &mut (dyn Read + Send), out: &mut dyn Write) -> io::Result<u64> {
    let mut input = AlignedBuf::new(ENCODE_CHUNK);
    let filled = read_full(reader, &mut input)?;
    let mut output = AlignedBuf::new(ENCODE_CHUNK / 3 * 4);
    let written = encode_chunk(&input[..filled], &mut output);
    out.write_all(&output[..written])?;
    if filled < ENCODE_CHUNK {
        return Ok(filled as u64);
    }
    let rest = thread::scope(|scope| {
        let (full_tx, full_rx) = mpsc::sync_channel::<Encoded>(1);
        let (empty_tx, empty_rx) = mpsc::channel::<AlignedBuf>();
        // Two buffers in turn: one being filled while the other is written. Both are made
        // here, so the second thread allocates nothing.
        let _ = empty_tx.send(output);
        let _ = empty_tx.send(AlignedBuf::new(ENCODE_CHUNK / 3 * 4));
        let producer = scope.spawn(move || produce(reader, input, empty_rx, full_tx));
        let written = consume(out, full_rx, empty_tx);
        // The producer stops on its own once the channels close, which returning from
        // `consume` does.
        let read = producer
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        written.and(read)
    })?;
    Ok(filled as u64 + rest)
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
}

impl<R: Read> DecodeReader<R> {
    /// `field` names where the text came from, for error messages.
    pub fn new(inner: R, field: impl Into<String>) -> Self {
        DecodeReader {
            inner,
            field: field.into(),
            text: AlignedBuf::new(DECODE_CHUNK),
            carry: 0,
            decoded: AlignedBuf::new(DECODE_CHUNK / 4 * 3 + 3),
            decoded_len: 0,
            position: 0,
            consumed: 0,
            at_end: false,
        }
    }

    fn refill(&mut self) -> io::Result<()> {
        let filled = self.carry + read_full(&mut self.inner, &mut self.text[self.carry..])?;
        self.at_end = filled < self.text.len();
        // Fast path: clean standard base64 decodes as it is. Anything else (whitespace, the
        // URL-safe alphabet, an error to report) takes the slow path.
        let usable = self.usable(filled);
        let engine = Simd::standard(lenient());
        let length = match self.decode_chunk(&engine, usable) {
            Ok(()) => filled,
            Err(_) => self.refill_slowly(filled)?,
        };
        let usable = self.usable(length);
        self.text.copy_within(usable..length, 0);
        self.carry = length - usable;
        self.consumed += usable as u64;
        Ok(())
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
            let count = encode_stream(&mut data.as_slice(), &mut out).unwrap();
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
            let error = encode_stream(&mut FailingReader { good }, &mut io::sink()).unwrap_err();
            assert_eq!(error.to_string(), "disk on fire", "after {good} bytes");
        }
    }

    #[test]
    fn a_closed_output_stops_the_reader_and_is_returned() {
        let data = vec![1u8; 8 * ENCODE_CHUNK];
        for room in [0, 100, 3 * ENCODE_CHUNK] {
            let error = encode_stream(&mut data.as_slice(), &mut ClosedPipe { room }).unwrap_err();
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
