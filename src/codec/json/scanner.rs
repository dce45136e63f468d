use std::io::{self, BufRead, Read};

use serde_json::Value;

use super::{parse, StringState};
use crate::error::{Error, Result};

/// Deepest nesting accepted in a value; serde_json stops at 128 too.
const MAX_DEPTH: usize = 128;

pub struct Scanner<R> {
    reader: R,
    offset: u64,
}

impl<R: BufRead> Scanner<R> {
    pub fn new(reader: R) -> Self {
        Scanner { reader, offset: 0 }
    }

    pub fn offset(&self) -> u64 {
        self.offset
    }

    pub fn error(&self, message: impl std::fmt::Display) -> Error {
        Error::Json(format!("{message} at byte {}", self.offset))
    }

    pub fn peek(&mut self) -> Result<Option<u8>> {
        loop {
            match self.reader.fill_buf() {
                Ok(buf) => return Ok(buf.first().copied()),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error.into()),
            }
        }
    }

    fn bump(&mut self) {
        self.reader.consume(1);
        self.offset += 1;
    }

    fn next_byte(&mut self) -> Result<u8> {
        let byte = self
            .peek()?
            .ok_or_else(|| self.error("the document ends too early"))?;
        self.bump();
        Ok(byte)
    }

    /// Skips whitespace and returns the next byte without consuming it.
    pub fn peek_token(&mut self) -> Result<Option<u8>> {
        while let Some(byte) = self.peek()? {
            if !matches!(byte, b' ' | b'\t' | b'\n' | b'\r') {
                return Ok(Some(byte));
            }
            self.bump();
        }
        Ok(None)
    }

    /// Consumes `expected` after optional whitespace.
    pub fn expect(&mut self, expected: u8) -> Result<()> {
        match self.peek_token()? {
            Some(byte) if byte == expected => {
                self.bump();
                Ok(())
            }
            Some(byte) => Err(self.error(format!(
                "expected {:?}, found {:?}",
                expected as char, byte as char
            ))),
            None => Err(self.error(format!(
                "expected {:?}, found the end of the document",
                expected as char
            ))),
        }
    }

    /// Checks that only whitespace is left.
    pub fn expect_end(&mut self) -> Result<()> {
        match self.peek_token()? {
            None => Ok(()),
            Some(byte @ (b'{' | b'[' | b'"')) => Err(self.error(format!(
                "unexpected {:?} after the end of the document: another document follows \
                 (JSON Lines, or documents one after another); to read every payload of \
                 every one, decode to a directory (-o DIR/)",
                byte as char
            ))),
            Some(byte) => Err(self.error(format!(
                "unexpected {:?} after the end of the document",
                byte as char
            ))),
        }
    }

    /// Parses the next value (of at most `limit` bytes of text) with serde_json, its numbers
    /// read as Python's `json` reads them (see
    /// `python_numbers`).
    pub fn value(&mut self, limit: usize) -> Result<Value> {
        let start = self.offset;
        let text = self.raw_value(limit)?;
        parse(&text, start)
    }

    /// The text of the next value (of at most `limit` bytes), unparsed.
    pub fn value_text(&mut self, limit: usize) -> Result<Vec<u8>> {
        self.raw_value(limit)
    }

    /// After an item of a list: the scalar items that follow it and end in what is buffered,
    /// handed to `take` as one run of text (`,1.5,-2`), and their count. A run stops before
    /// anything else (whitespace, a nested value, an empty item), which is left to be read
    /// one value at a time; this is only the fast lane for the long lists numbers come in.
    pub fn scalar_run(&mut self, take: impl FnOnce(&[u8]) -> Result<()>) -> Result<usize> {
        let buffer = loop {
            match self.reader.fill_buf() {
                Ok(buffer) => break buffer,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error.into()),
            }
        };
        let (length, count) = scalar_run(buffer);
        if count > 0 {
            take(&buffer[..length])?;
            self.reader.consume(length);
            self.offset += length as u64;
        }
        Ok(count)
    }

    /// Collects the bytes of one value, tracking strings and nesting to find where it ends.
    fn raw_value(&mut self, limit: usize) -> Result<Vec<u8>> {
        self.peek_token()?;
        let mut text = Vec::new();
        let mut depth = 0usize;
        let mut strings = StringState::default();
        loop {
            let in_string = strings.in_string;
            let Some(byte) = self.peek()? else {
                if depth == 0 && !in_string && !text.is_empty() {
                    return Ok(text);
                }
                return Err(self.error("the document ends too early"));
            };
            if !in_string && depth == 0 && !text.is_empty() && is_delimiter(byte) {
                return Ok(text);
            }
            self.bump();
            text.push(byte);
            if text.len() > limit {
                return Err(self.error(format!("a value is longer than {limit} bytes")));
            }
            if !strings.step(byte) {
                match byte {
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => depth = depth.saturating_sub(1),
                    _ => {}
                }
                if depth > MAX_DEPTH {
                    return Err(self.error(format!("nesting is deeper than {MAX_DEPTH}")));
                }
            }
            if depth == 0
                && !strings.in_string
                && matches!(byte, b'"' | b'}' | b']')
                && text.len() > 1
            {
                return Ok(text);
            }
        }
    }

    /// Reads an object key (a short string) and the colon after it.
    pub fn key(&mut self) -> Result<String> {
        if self.peek_token()? != Some(b'"') {
            return Err(self.error("expected a string as object key"));
        }
        let key = match self.value(1 << 16)? {
            Value::String(key) => key,
            _ => unreachable!("a value that starts with a quote is a string"),
        };
        self.expect(b':')?;
        Ok(key)
    }

    /// After `{`: true if there is another member, consuming the `,` before it.
    pub fn next_member(&mut self, first: bool) -> Result<bool> {
        match self.peek_token()? {
            Some(b'}') => {
                self.bump();
                Ok(false)
            }
            Some(b',') if !first => {
                self.bump();
                Ok(true)
            }
            Some(b'"') if first => Ok(true),
            Some(byte) => Err(self.error(format!(
                "expected {} or '}}' in an object, found {:?}",
                if first { "a key" } else { "','" },
                byte as char
            ))),
            None => Err(self.error("the document ends inside an object")),
        }
    }

    /// After `[`: true if there is another item, consuming the `,` before it.
    pub fn next_item(&mut self, first: bool) -> Result<bool> {
        match self.peek_token()? {
            Some(b']') => {
                self.bump();
                Ok(false)
            }
            Some(b',') if !first => {
                self.bump();
                Ok(true)
            }
            Some(_) if first => Ok(true),
            Some(byte) => Err(self.error(format!(
                "expected ',' or ']' in a list, found {:?}",
                byte as char
            ))),
            None => Err(self.error("the document ends inside a list")),
        }
    }

    /// Consumes the opening quote of a string value and returns a reader of its contents,
    /// which owns the scanner until the string has been read.
    pub fn string(mut self) -> Result<StringReader<R>> {
        self.expect(b'"')?;
        Ok(StringReader {
            start: self.offset,
            scanner: self,
            pending: [0; 4],
            pending_len: 0,
            done: false,
        })
    }
}

/// The length of the run of `,token` items at the start of `buffer`, and their count (see
/// [`Scanner::scalar_run`]); each token is followed by `,` or `]` within the buffer. One
/// tight pass over the bytes, not a loop per token: this is where a long list's text is read.
fn scalar_run(buffer: &[u8]) -> (usize, usize) {
    if buffer.first() != Some(&b',') {
        return (0, 0);
    }
    // 64 bytes at a time while all of them may be in a run (the checks vectorise), then
    // byte by byte to where the run stops.
    let (mut commas, mut stop) = (0, 0);
    for block in buffer.chunks_exact(64) {
        if !block
            .iter()
            .fold(true, |all, &byte| all & is_run_byte(byte))
        {
            break;
        }
        commas += block.iter().filter(|&&byte| byte == b',').count();
        stop += 64;
    }
    for &byte in &buffer[stop..] {
        if !is_run_byte(byte) {
            break;
        }
        commas += usize::from(byte == b',');
        stop += 1;
    }
    let last_comma = memchr::memrchr(b',', &buffer[..stop]).expect("the run starts with one");
    // The item after the last comma ends the run only if `]` follows it here.
    let (mut end, mut count) = match buffer.get(stop) {
        Some(b']') => (stop, commas),
        _ => (last_comma, commas - 1),
    };
    // An empty item (`,,` or `,]`) is left to be read as a value, which refuses it.
    if let Some(empty) = memchr::memmem::find(&buffer[..end], b",,") {
        end = empty;
        count = memchr::memchr_iter(b',', &buffer[..end]).count();
    } else if end > 0 && buffer[end - 1] == b',' {
        end -= 1;
        count -= 1;
    }
    (end, count)
}

/// Whether a byte can be part of a scalar token (a number, `true`, `NaN`, and also text that
/// is not JSON, refused when the token is read). None ends a value or starts one.
#[cfg(test)]
fn is_token_byte(byte: u8) -> bool {
    is_run_byte(byte) && byte != b','
}

/// A token byte or a comma: `+,-.` (one range), digits, ASCII letters. Compares, not a
/// table, so that a block of bytes is checked at once.
fn is_run_byte(byte: u8) -> bool {
    (byte.wrapping_sub(b'+') < 4)
        | (byte.wrapping_sub(b'0') < 10)
        | ((byte | 0x20).wrapping_sub(b'a') < 26)
}

fn is_delimiter(byte: u8) -> bool {
    matches!(
        byte,
        b',' | b'}' | b']' | b':' | b' ' | b'\t' | b'\n' | b'\r'
    )
}

/// The contents of a JSON string, unescaped, read in place from the scanner.
pub struct StringReader<R> {
    scanner: Scanner<R>,
    /// The offset of its first byte, after the opening quote.
    start: u64,
    /// UTF-8 bytes of an escape not yet handed out.
    pending: [u8; 4],
    pending_len: usize,
    done: bool,
}

impl<R: BufRead> StringReader<R> {
    /// The contents of a string whose opening quote was just before `reader`.
    pub fn resume(reader: R) -> Self {
        StringReader {
            scanner: Scanner::new(reader),
            start: 0,
            pending: [0; 4],
            pending_len: 0,
            done: false,
        }
    }

    /// Where its contents start in the document.
    pub fn start(&self) -> u64 {
        self.start
    }

    /// Reads what is left of the string and returns how many bytes that was. Runs without
    /// escapes are checked where they stand and copied nowhere.
    pub fn skip_rest(&mut self) -> Result<u64> {
        let mut skipped = 0;
        let mut small = [0u8; 8];
        loop {
            if self.pending_len == 0 && !self.done {
                let run = self.skip_plain()?;
                if run > 0 {
                    skipped += run as u64;
                    continue;
                }
            }
            // An escape, a control character or the end: as reading does.
            let count = self.read_string(&mut small)?;
            if count == 0 {
                return Ok(skipped);
            }
            skipped += count as u64;
        }
    }

    /// Consumes the bytes before the next quote, backslash or control character; returns
    /// how many.
    fn skip_plain(&mut self) -> Result<usize> {
        let available = self.fill()?;
        let run = plain_run(available);
        self.scanner.reader.consume(run);
        self.scanner.offset += run as u64;
        Ok(run)
    }

    /// What the reader holds, never empty: the end of the document inside a string is an
    /// error.
    fn fill(&mut self) -> Result<&[u8]> {
        let empty = loop {
            match self.scanner.reader.fill_buf() {
                Ok(available) => break available.is_empty(),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error.into()),
            }
        };
        if empty {
            return Err(self.scanner.error("the document ends inside a string"));
        }
        // What was filled, handed out again without reading.
        Ok(self.scanner.reader.fill_buf()?)
    }

    /// The scanner, standing after the closing quote once the string has been read.
    pub fn into_scanner(mut self) -> Result<Scanner<R>> {
        self.skip_rest()?;
        Ok(self.scanner)
    }

    pub fn error(&self, message: impl std::fmt::Display) -> Error {
        self.scanner.error(message)
    }

    fn escape(&mut self) -> Result<()> {
        let byte = self.scanner.next_byte()?;
        let simple = match byte {
            b'"' => b'"',
            b'\\' => b'\\',
            b'/' => b'/',
            b'b' => 0x08,
            b'f' => 0x0c,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'u' => return self.unicode_escape(),
            other => {
                return Err(self
                    .scanner
                    .error(format!("invalid escape \\{}", other as char)))
            }
        };
        self.pending[0] = simple;
        self.pending_len = 1;
        Ok(())
    }

    fn hex4(&mut self) -> Result<u32> {
        let mut value = 0;
        for _ in 0..4 {
            let byte = self.scanner.next_byte()?;
            let digit = (byte as char)
                .to_digit(16)
                .ok_or_else(|| self.scanner.error("invalid \\u escape"))?;
            value = value * 16 + digit;
        }
        Ok(value)
    }

    fn unicode_escape(&mut self) -> Result<()> {
        let first = self.hex4()?;
        let code = if (0xD800..0xDC00).contains(&first) {
            if self.scanner.next_byte()? != b'\\' || self.scanner.next_byte()? != b'u' {
                return Err(self.scanner.error("lone surrogate in \\u escape"));
            }
            let second = self.hex4()?;
            if !(0xDC00..0xE000).contains(&second) {
                return Err(self.scanner.error("lone surrogate in \\u escape"));
            }
            0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
        } else {
            first
        };
        let character = char::from_u32(code)
            .ok_or_else(|| self.scanner.error("lone surrogate in \\u escape"))?;
        self.pending_len = character.encode_utf8(&mut self.pending).len();
        Ok(())
    }

    fn take_pending(&mut self, buf: &mut [u8]) -> usize {
        let count = buf.len().min(self.pending_len);
        buf[..count].copy_from_slice(&self.pending[..count]);
        self.pending.copy_within(count..self.pending_len, 0);
        self.pending_len -= count;
        count
    }

    fn read_string(&mut self, buf: &mut [u8]) -> Result<usize> {
        if self.pending_len > 0 {
            return Ok(self.take_pending(buf));
        }
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        let available = self.fill()?;
        let window = &available[..available.len().min(buf.len())];
        let run = plain_run(window);
        if run > 0 {
            buf[..run].copy_from_slice(&window[..run]);
            self.scanner.reader.consume(run);
            self.scanner.offset += run as u64;
            return Ok(run);
        }
        match self.scanner.next_byte()? {
            b'"' => {
                self.done = true;
                Ok(0)
            }
            b'\\' => {
                self.escape()?;
                Ok(self.take_pending(buf))
            }
            _ => Err(self.scanner.error("control character inside a string")),
        }
    }
}

/// The length of the run of bytes at the front of `window` that stand for themselves in a
/// string: up to a quote, a backslash or a control character (to be refused).
fn plain_run(window: &[u8]) -> usize {
    // One pass, block by block: a branch-free fold over a block of known length vectorises.
    const BLOCK: usize = 64;
    let mut clean = 0;
    for block in window.chunks_exact(BLOCK) {
        if block.iter().fold(false, |seen, &byte| seen | special(byte)) {
            break;
        }
        clean += BLOCK;
    }
    let rest = &window[clean..];
    clean
        + rest
            .iter()
            .position(|&byte| special(byte))
            .unwrap_or(rest.len())
}

/// A quote, a backslash or a control character.
fn special(byte: u8) -> bool {
    (byte < 0x20) | (byte == b'"') | (byte == b'\\')
}

impl<R: BufRead> Read for StringReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_string(buf).map_err(io::Error::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string_of(text: &str) -> Result<Vec<u8>> {
        let scanner = Scanner::new(text.as_bytes());
        let mut out = Vec::new();
        scanner.string()?.read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn unescapes_like_serde_json() {
        let text = r#""a\/b\n\u00e9\ud83d\ude00\"\\ end""#;
        let expected: String = serde_json::from_str(text).unwrap();
        assert_eq!(string_of(text).unwrap(), expected.into_bytes());
    }

    #[test]
    fn refuses_bad_strings() {
        assert!(string_of("\"abc").is_err());
        assert!(string_of("\"a\\x\"").is_err());
        assert!(string_of("\"a\nb\"").is_err());
        assert!(string_of(r#""\ud800x""#).is_err());
    }

    #[test]
    fn values_end_at_their_delimiter() {
        let mut scanner = Scanner::new(&b" [1, [2]] , 3.5}"[..]);
        assert_eq!(scanner.value(100).unwrap(), serde_json::json!([1, [2]]));
        scanner.expect(b',').unwrap();
        assert_eq!(scanner.value(100).unwrap(), serde_json::json!(3.5));
        scanner.expect(b'}').unwrap();
        scanner.expect_end().unwrap();
    }

    /// [`scalar_run`] item by item, as it was first written: what the one-pass version must
    /// give.
    fn scalar_run_by_items(buffer: &[u8]) -> (usize, usize) {
        let (mut end, mut count) = (0, 0);
        while buffer.get(end) == Some(&b',') {
            let Some(token) = buffer[end + 1..]
                .iter()
                .position(|&byte| !is_token_byte(byte))
            else {
                break;
            };
            let after = end + 1 + token;
            if token == 0 || !matches!(buffer[after], b',' | b']') {
                break;
            }
            end = after;
            count += 1;
        }
        (end, count)
    }

    #[test]
    fn run_bytes_are_token_bytes_and_commas() {
        for byte in 0..=255u8 {
            let token = byte.is_ascii_alphanumeric() || matches!(byte, b'+' | b'-' | b'.');
            assert_eq!(is_run_byte(byte), token || byte == b',', "{byte:#x}");
        }
    }

    #[test]
    fn scalar_runs_end_where_items_stop_being_plain() {
        let cases = [
            ",1,2]",
            ",1,2",
            ",1,2,",
            ",1,,2]",
            ",,1]",
            ",1,]",
            ",1, 2]",
            ",1,\"a\"]",
            ",1,[2]]",
            ",NaN,-Infinity,1e5]",
            ",1,2}",
            "1,2]",
            ",",
            ",]",
            "",
            ",1x,2]",
            ",1,2,,",
            ",1 ,2]",
        ];
        for case in cases {
            assert_eq!(
                scalar_run(case.as_bytes()),
                scalar_run_by_items(case.as_bytes()),
                "{case}"
            );
        }
        // Every short string over the bytes that matter.
        let alphabet = b",]1a [\"";
        for length in 1..=6u32 {
            for mut code in 0..alphabet.len().pow(length) {
                let mut text = vec![b','];
                for _ in 0..length {
                    text.push(alphabet[code % alphabet.len()]);
                    code /= alphabet.len();
                }
                assert_eq!(scalar_run(&text), scalar_run_by_items(&text), "{text:?}");
            }
        }
    }

    #[test]
    fn deep_nesting_is_refused() {
        let deep = "[".repeat(10_000);
        let error = Scanner::new(deep.as_bytes()).value(1 << 20).unwrap_err();
        assert!(error.to_string().contains("nesting"), "{error}");
    }
}
