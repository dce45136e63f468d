//! A stream of JSON documents (JSON Lines, or documents one after another as `jq` reads them)
//! as a bundle: every payload of every document, in order, each streaming in turn.
//!
//! Each document is framed before it is parsed: [`Framed`] shows the parser the bytes of one
//! document and then the end of input, so that the one-document reader serves unchanged, a
//! top-level payload still streams, and a document's errors stay its own.

use std::io::{self, BufRead, Read};

use memchr::memchr2;

use crate::codec::aside::Reread;
use crate::codec::dialect::ReadOptions;
use crate::codec::document::{self, Flow, Payloads};
use crate::codec::model::{position_name, Bundle, Metadata, Named};
use crate::error::{Error, Result};

/// Every payload of every document of a JSON stream.
pub struct JsonStream<R> {
    input: Counted<R>,
    /// The input, if it can be read again, from where `input` starts.
    again: Option<Reread>,
    options: ReadOptions,
    /// The rest of the payloads of the document read last.
    pending: Option<Payloads>,
    /// Items handed out so far: an unnamed item is named by its position.
    position: usize,
    documents: usize,
    /// The first document's `__metadata__`.
    metadata: Option<Metadata>,
}

impl<R: BufRead + Send> JsonStream<R> {
    /// The stream of `input`; `again`, if given, is the same input as a file that can be
    /// read again (see [`document::read`]).
    pub fn new(input: R, again: Option<Reread>, options: &ReadOptions) -> Self {
        JsonStream {
            input: Counted {
                inner: input,
                consumed: 0,
            },
            again,
            options: options.clone(),
            pending: None,
            position: 0,
            documents: 0,
            metadata: None,
        }
    }
}

/// The next payload of the document read last, if any is left, named by its position if it
/// has no name.
fn next_pending(
    pending: &mut Option<Payloads>,
    position: &mut usize,
) -> Result<Option<Named<'static>>> {
    let Some(payloads) = pending else {
        return Ok(None);
    };
    let Some((name, item)) = payloads.next_payload()? else {
        *pending = None;
        return Ok(None);
    };
    let name = name.unwrap_or_else(|| position_name(*position));
    *position += 1;
    Ok(Some(Named::new(name, item)))
}

impl<R: BufRead + Send> Bundle for JsonStream<R> {
    fn metadata(&self) -> Option<&Metadata> {
        self.metadata.as_ref()
    }

    fn next_item(&mut self) -> Result<Option<Named<'_>>> {
        if let Some(named) = next_pending(&mut self.pending, &mut self.position)? {
            return Ok(Some(named));
        }
        if !skip_whitespace(&mut self.input)? {
            if self.documents == 0 {
                return Err(Error::Json("the input is empty".to_string()));
            }
            return Ok(None);
        }
        self.documents += 1;
        let within = format!("document {}", self.documents);
        let again = match &self.again {
            Some(again) => Some(again.at(self.input.consumed)?),
            None => None,
        };
        let framed = Framed::new(&mut self.input);
        let flow = document::read(framed, again, &self.options);
        let flow = flow.map_err(|error| error.within(&within));
        match flow? {
            Flow::Live(live) => {
                let item = live.open(&self.options)?;
                let name = position_name(self.position);
                self.position += 1;
                Ok(Some(Named::new(name, item)))
            }
            Flow::End(document) => {
                let mut payloads = document.every(&self.options);
                if let Ok(payloads) = &mut payloads {
                    if self.documents == 1 {
                        self.metadata = payloads.metadata.take();
                    }
                }
                self.pending = Some(payloads.map_err(|error| error.within(&within))?);
                next_pending(&mut self.pending, &mut self.position)
            }
        }
    }
}

/// The input, counting the bytes consumed: where each document starts in it.
struct Counted<R> {
    inner: R,
    consumed: u64,
}

impl<R: BufRead> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let count = self.inner.read(buf)?;
        self.consumed += count as u64;
        Ok(count)
    }
}

impl<R: BufRead> BufRead for Counted<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amount: usize) {
        self.inner.consume(amount);
        self.consumed += amount as u64;
    }
}

/// Consumes whitespace; whether anything follows it.
fn skip_whitespace(input: &mut impl BufRead) -> io::Result<bool> {
    loop {
        let buf = input.fill_buf()?;
        if buf.is_empty() {
            return Ok(false);
        }
        let blank = buf.iter().take_while(|byte| is_whitespace(**byte)).count();
        let more = blank < buf.len();
        input.consume(blank);
        if more {
            return Ok(true);
        }
    }
}

fn is_whitespace(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r')
}

/// Where the scan of one document stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Before its first byte.
    Start,
    /// A number or `true`/`false`/`null`: it ends before the first byte that cannot be in one.
    Scalar,
    /// Inside a string (`depth` 0: the document is that string), after a backslash or not.
    String { depth: usize, escaped: bool },
    /// Inside objects and lists, outside any string.
    Nested { depth: usize },
}

/// Advances `state` over `bytes`; where the document ends in them (the length of its last
/// part), if it does.
fn scan(state: &mut State, bytes: &[u8]) -> Option<usize> {
    let mut at = 0;
    while at < bytes.len() {
        match *state {
            State::Start => {
                *state = match bytes[at] {
                    b'"' => State::String {
                        depth: 0,
                        escaped: false,
                    },
                    b'{' | b'[' => State::Nested { depth: 1 },
                    _ => State::Scalar,
                };
                at += 1;
            }
            State::Scalar => {
                let byte = bytes[at];
                if is_whitespace(byte) || b"{}[],:\"".contains(&byte) {
                    return Some(at);
                }
                at += 1;
            }
            State::String {
                depth,
                escaped: true,
            } => {
                *state = State::String {
                    depth,
                    escaped: false,
                };
                at += 1;
            }
            State::String {
                depth,
                escaped: false,
            } => {
                let found = memchr2(b'"', b'\\', &bytes[at..])?;
                at += found + 1;
                if bytes[at - 1] == b'\\' {
                    *state = State::String {
                        depth,
                        escaped: true,
                    };
                } else if depth == 0 {
                    return Some(at);
                } else {
                    *state = State::Nested { depth };
                }
            }
            State::Nested { depth } => {
                let byte = bytes[at];
                at += 1;
                *state = match byte {
                    b'"' => State::String {
                        depth,
                        escaped: false,
                    },
                    b'{' | b'[' => State::Nested { depth: depth + 1 },
                    b'}' | b']' if depth == 1 => return Some(at),
                    b'}' | b']' => State::Nested { depth: depth - 1 },
                    _ => continue,
                };
            }
        }
    }
    None
}

/// One document of a stream: the bytes of `inner` up to where the document ends, then the end
/// of input. Malformed JSON ends where its brackets say; its parser then says what is wrong.
pub struct Framed<'r, R> {
    inner: &'r mut R,
    state: State,
    /// Bytes at the front of the inner buffer already scanned and within the document.
    scanned: usize,
    /// Where in the inner buffer the document ends, once seen.
    end: Option<usize>,
    done: bool,
}

impl<'r, R: BufRead> Framed<'r, R> {
    pub fn new(inner: &'r mut R) -> Self {
        Framed {
            inner,
            state: State::Start,
            scanned: 0,
            end: None,
            done: false,
        }
    }
}

impl<R: BufRead> BufRead for Framed<'_, R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.done {
            return Ok(&[]);
        }
        let buf = self.inner.fill_buf()?;
        if self.end.is_none() {
            match scan(&mut self.state, &buf[self.scanned..]) {
                Some(length) => self.end = Some(self.scanned + length),
                None => self.scanned = buf.len(),
            }
        }
        Ok(&buf[..self.end.unwrap_or(buf.len())])
    }

    fn consume(&mut self, amount: usize) {
        self.inner.consume(amount);
        match &mut self.end {
            Some(end) => {
                *end -= amount;
                self.done = *end == 0;
                if self.done {
                    self.end = None;
                }
            }
            None => self.scanned -= amount,
        }
    }
}

impl<R: BufRead> Read for Framed<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let count = available.len().min(buf.len());
        buf[..count].copy_from_slice(&available[..count]);
        self.consume(count);
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::io::AlignedReader;

    /// The documents a stream is framed into, read through buffers of `capacity` bytes.
    fn frames(text: &str, capacity: usize) -> Vec<String> {
        let mut input = AlignedReader::with_capacity(capacity, text.as_bytes());
        let mut found = Vec::new();
        while skip_whitespace(&mut input).unwrap() {
            let mut document = String::new();
            Framed::new(&mut input)
                .read_to_string(&mut document)
                .unwrap();
            found.push(document);
        }
        found
    }

    #[test]
    fn documents_end_where_their_json_ends() {
        let text =
            "{\"a\": \"}\\\"{\", \"b\": [1, {\"c\": []}]}\n[1,2] \"x\\\\\" 3.5e1 true\r\n{}null";
        let expected = [
            "{\"a\": \"}\\\"{\", \"b\": [1, {\"c\": []}]}",
            "[1,2]",
            "\"x\\\\\"",
            "3.5e1",
            "true",
            "{}",
            "null",
        ];
        for capacity in [1, 2, 3, 7, 64] {
            assert_eq!(frames(text, capacity), expected, "capacity {capacity}");
        }
    }

    #[test]
    fn an_unclosed_document_runs_to_the_end_of_input() {
        assert_eq!(frames("{\"a\": [1, 2", 4), ["{\"a\": [1, 2"]);
        assert_eq!(frames("\"abc", 2), ["\"abc"]);
    }
}
