//! A pull scanner over JSON text that hands small values to serde_json and streams large
//! strings, so that a multi-gigabyte base64 field never sits in memory.

use std::io::{self, BufRead, Read};

use serde_json::Value;

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
            Some(byte) => Err(self.error(format!(
                "unexpected {:?} after the end of the document",
                byte as char
            ))),
        }
    }

    /// Parses the next value (of at most `limit` bytes of text) with serde_json.
    pub fn value(&mut self, limit: usize) -> Result<Value> {
        let start = self.offset;
        let text = self.raw_value(limit)?;
        serde_json::from_slice(&text)
            .or_else(|error| {
                // Python's json writes NaN and Infinity as bare tokens; read them as strings,
                // which the list reader takes for floats.
                let quoted = quote_non_finite(&text).ok_or(error)?;
                serde_json::from_slice(&quoted)
            })
            .map_err(|error| Error::Json(format!("{error} (in the value at byte {start})")))
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

    /// Consumes the opening quote of a string value and returns a reader of its contents,
    /// which owns the scanner until the string has been read.
    pub fn string(mut self) -> Result<StringReader<R>> {
        self.expect(b'"')?;
        Ok(StringReader {
            scanner: self,
            pending: [0; 4],
            pending_len: 0,
            done: false,
        })
    }
}

/// Where the bytes of JSON text stand relative to strings, followed byte by byte.
#[derive(Default)]
struct StringState {
    in_string: bool,
    escaped: bool,
}

impl StringState {
    /// Steps over `byte`; true if it belongs to a string, its quotes included.
    fn step(&mut self, byte: u8) -> bool {
        if self.in_string {
            match (self.escaped, byte) {
                (true, _) => self.escaped = false,
                (false, b'\\') => self.escaped = true,
                (false, b'"') => self.in_string = false,
                (false, _) => {}
            }
            return true;
        }
        self.in_string = byte == b'"';
        self.in_string
    }
}

/// Puts quotes around the `NaN`, `Infinity` and `-Infinity` tokens outside strings; `None`
/// if there are none.
fn quote_non_finite(text: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() + 16);
    let mut strings = StringState::default();
    let mut index = 0;
    let mut found = false;
    while index < text.len() {
        let byte = text[index];
        if strings.step(byte) {
            // Inside a string (or its quotes): copied as it is.
        } else if let Some(token) = ["NaN", "Infinity", "-Infinity"]
            .iter()
            .find(|token| text[index..].starts_with(token.as_bytes()))
        {
            out.push(b'"');
            out.extend_from_slice(token.as_bytes());
            out.push(b'"');
            index += token.len();
            found = true;
            continue;
        }
        out.push(byte);
        index += 1;
    }
    found.then_some(out)
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
    /// UTF-8 bytes of an escape not yet handed out.
    pending: [u8; 4],
    pending_len: usize,
    done: bool,
}

impl<R: BufRead> StringReader<R> {
    /// Reads what is left of the string and returns how many bytes that was.
    pub fn skip_rest(&mut self) -> Result<u64> {
        Ok(io::copy(self, &mut io::sink())?)
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
        let available = loop {
            match self.scanner.reader.fill_buf() {
                Ok(available) => break available,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error.into()),
            }
        };
        if available.is_empty() {
            return Err(self.scanner.error("the document ends inside a string"));
        }
        let window = &available[..available.len().min(buf.len())];
        let run = memchr::memchr2(b'"', b'\\', window).unwrap_or(window.len());
        // A branch-free fold, so that the check vectorises; a control character ends the
        // run where it stands, to be refused below.
        let has_control = window[..run]
            .iter()
            .fold(false, |seen, &byte| seen | (byte < 0x20));
        let run = if has_control {
            window[..run]
                .iter()
                .position(|&byte| byte < 0x20)
                .unwrap_or(run)
        } else {
            run
        };
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

    #[test]
    fn python_non_finite_tokens_become_strings() {
        let mut scanner = Scanner::new(&b"[NaN, -Infinity, \"NaN\", Infinity]"[..]);
        let value = scanner.value(100).unwrap();
        assert_eq!(
            value,
            serde_json::json!(["NaN", "-Infinity", "NaN", "Infinity"])
        );
    }

    #[test]
    fn deep_nesting_is_refused() {
        let deep = "[".repeat(10_000);
        let error = Scanner::new(deep.as_bytes()).value(1 << 20).unwrap_err();
        assert!(error.to_string().contains("nesting"), "{error}");
    }
}
