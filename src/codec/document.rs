//! Reading a JSON document into a tree of values, with what may be large kept aside: the
//! text of a long string (a payload, most often) and the JSON text of a long list of numbers,
//! each in memory within a bound and in a temporary file past it. A string at the top level
//! whose meaning is clear when it starts is not kept at all: it streams straight through
//! ([`Flow::Live`]).

use std::collections::{HashMap, VecDeque};
use std::io::{self, BufRead, Cursor, Read, Write};
use std::num::NonZeroUsize;

use serde_json::{Map, Value};

use crate::codec::aside::{Blob, Kept, ListText, Reread, Spill};
use crate::codec::b64::DecodeReader;
use crate::codec::dialect::list_stream::Reopen;
use crate::codec::dialect::open::{field_name, open_plan, Source};
use crate::codec::dialect::{self, Path, Plan, ReadOptions};
use crate::codec::io::{read_head, AlignedBuf, Payload, BUFFER};
use crate::codec::json::{self, Scanner, StringReader};
use crate::codec::model::{Item, Metadata};
use crate::codec::safetensors::METADATA_KEY;
use crate::codec::search;
use crate::error::{Error, Result};

/// Strings up to this length are read as ordinary values; longer ones may be payloads.
pub const HEAD: usize = 256;
/// Payload strings longer than this wait in a temporary file rather than in memory.
const SPILL: usize = 1 << 20;
/// Largest JSON text of a list of numbers. serde_json's `Value` takes up to 17 times the
/// text, so this bounds memory at a few hundred MiB.
pub const MAX_LIST: usize = 16 << 20;
/// Lists of numbers longer than this are kept as text, and only their outline is built
/// ([`json::outline`]) until one turns out to be the payload.
pub const OUTLINE_LIST: usize = 64 << 10;
/// Text kept in memory for long strings and lists, all told; past it, they wait in temporary
/// files, so that memory does not grow with what a document holds beside its payload, nor a
/// document of many payloads (16 of 1 MiB) past 16 MiB of peak RSS.
const KEPT_IN_MEMORY: usize = 4 << 20;
/// Text of everything built into the tree (keys, short strings, short lists), all told.
const MAX_BUILT: usize = 16 << 20;
/// Deepest nesting accepted; serde_json stops at 128 too.
const MAX_DEPTH: usize = 128;

/// Where base64 starts in a string that may be a payload: after a prefix that ends in `:` or
/// `,` (json-tricks' `b64:`, a data URL's `data:image/png;base64,`), or at the start.
fn base64_start(head: &[u8]) -> usize {
    head.iter()
        .rposition(|&byte| byte == b':' || byte == b',')
        .map_or(0, |colon| colon + 1)
}

/// A document read whole: its tree, in which a long string stands as its first bytes and a
/// long list of numbers as its outline, with their text aside.
pub struct Document {
    pub root: Value,
    /// Long strings, by where they are.
    strings: HashMap<Path, Kept>,
    /// The JSON text of long lists of numbers, by where they are.
    lists: HashMap<Path, Box<dyn Reopen>>,
    /// Bytes of `strings` and `lists` held in memory.
    in_memory: usize,
    /// Bytes of text built into `root`.
    built: usize,
    /// Threads decoding the base64 of strings kept aside.
    threads: NonZeroUsize,
    /// The input, if it can be read again: long strings are then left in it.
    input: Option<Reread>,
}

/// What [`read`] made of a document.
pub enum Flow<R> {
    /// The whole document, to be searched.
    End(Document),
    /// A payload string at the top level, streaming from the input.
    Live(Box<Live<R>>),
}

/// Reads a document: a top-level payload string whose meaning is already clear (the `data` of
/// a native envelope after its `dtype` and `shape`, say) is handed back unread, to stream;
/// anything else is read whole.
///
/// `again`, if given, is the same input as a file that can be read again.
pub fn read<R: BufRead + Send>(
    input: R,
    again: Option<Reread>,
    options: &ReadOptions,
) -> Result<Flow<R>> {
    let mut scanner = Scanner::new(input);
    let root = Value::Object(Map::new());
    let mut document = Document::new(root, options.base64_threads(), again);
    // With --path, the payload is wherever the pointer says: nothing streams early. A
    // payload that streams is the whole document, which has no name for --name to pick.
    let live = (options.path.is_none() && options.name.is_none()).then_some(options);
    match scanner.peek_token()? {
        Some(b'{') => {
            scanner.expect(b'{')?;
            read_members(scanner, document, true, live)
        }
        Some(b'"') if live.is_some() => read_top_string(scanner, document),
        Some(_) => {
            let (walked, mut scanner) = document.walk(scanner, &mut Path::new())?;
            document.root = document.settle(walked, &Path::new())?;
            scanner.expect_end()?;
            Ok(Flow::End(document))
        }
        None => Err(Error::Json("the input is empty".to_string())),
    }
}

/// A top-level string: streamed if it is a payload, else read into the tree.
fn read_top_string<R: BufRead + Send>(
    scanner: Scanner<R>,
    mut document: Document,
) -> Result<Flow<R>> {
    let mut string = scanner.string()?;
    let head = read_head(&mut string, HEAD + 1)?;
    if let Some((_, plan)) = dialect::plan_string(&head) {
        let live = Live {
            head: Cursor::new(head),
            string: Some(string),
            document: None,
            plan: plan?,
        };
        return Ok(Flow::Live(Box::new(live)));
    }
    let path = Path::new();
    let (value, mut scanner) = document.string_value(head, string, &path)?;
    document.root = value;
    scanner.expect_end()?;
    Ok(Flow::End(document))
}

/// Where a [`Document::walk`] ends: a value of the tree, or the JSON text of numbers (a
/// scalar, or a list of nothing else), kept as text until its place in the tree is known,
/// with the outline of a list.
enum Walked {
    Tree(Value),
    Numbers {
        text: ListText,
        /// Where the text starts and ends in the document.
        start: u64,
        end: u64,
        outline: Option<Value>,
    },
}

impl Document {
    fn new(root: Value, threads: NonZeroUsize, input: Option<Reread>) -> Self {
        Document {
            root,
            strings: HashMap::new(),
            lists: HashMap::new(),
            in_memory: 0,
            built: 0,
            threads,
            input,
        }
    }

    /// Opens the payload `--path` or `--name` picks, or the only one the document holds.
    pub fn open<'a>(mut self, options: &ReadOptions) -> Result<Item<'a>> {
        let plan = search::pick(&self.root, options)?;
        let numbers = matches!(plan, Plan::List { .. });
        let source = self.take(plan.path(), numbers)?;
        open_plan(plan, source, options)
    }

    /// Every payload the document holds, to be opened one after the other ([`search::every`]).
    pub fn every(self, options: &ReadOptions) -> Result<Payloads> {
        let plans = search::every(&self.root, options)?;
        Ok(Payloads {
            metadata: metadata(&self.root),
            document: self,
            plans: plans.into(),
            options: options.clone(),
        })
    }

    /// The top-level object's members read so far.
    fn fields(&mut self) -> &mut Map<String, Value> {
        match &mut self.root {
            Value::Object(fields) => fields,
            _ => unreachable!("members are read into an object"),
        }
    }

    /// Counts text built into the tree against [`MAX_BUILT`].
    fn build(&mut self, bytes: usize) -> Result<()> {
        self.built += bytes;
        if self.built > MAX_BUILT {
            return Err(Error::Envelope(format!(
                "the document holds more than {MAX_BUILT} bytes of JSON besides its long \
                 strings and lists of numbers"
            )));
        }
        Ok(())
    }

    /// Reads the value at the scanner, which stands at `path`.
    fn walk<R: BufRead>(
        &mut self,
        mut scanner: Scanner<R>,
        path: &mut Path,
    ) -> Result<(Walked, Scanner<R>)> {
        if path.len() > MAX_DEPTH {
            return Err(scanner.error(format!("nesting is deeper than {MAX_DEPTH}")));
        }
        match scanner.peek_token()? {
            Some(b'"') => {
                let mut string = scanner.string()?;
                let head = read_head(&mut string, HEAD + 1)?;
                let (value, scanner) = self.string_value(head, string, path)?;
                Ok((Walked::Tree(value), scanner))
            }
            Some(b'{') => {
                let (value, scanner) = self.walk_object(scanner, path)?;
                Ok((Walked::Tree(value), scanner))
            }
            Some(b'[') => self.walk_list(scanner, path),
            _ => {
                let start = scanner.offset();
                let text = ListText::from(scanner.value_text(MAX_LIST)?);
                let walked = Walked::Numbers {
                    text,
                    start,
                    end: scanner.offset(),
                    outline: None,
                };
                Ok((walked, scanner))
            }
        }
    }

    fn walk_object<R: BufRead>(
        &mut self,
        mut scanner: Scanner<R>,
        path: &mut Path,
    ) -> Result<(Value, Scanner<R>)> {
        scanner.expect(b'{')?;
        let mut fields = Map::new();
        let mut first = true;
        while scanner.next_member(first)? {
            first = false;
            let key = scanner.key()?;
            self.build(key.len())?;
            if fields.contains_key(&key) {
                return Err(scanner.error(format!("key {key:?} appears twice")));
            }
            path.push(key.clone());
            let (walked, next) = self.walk(scanner, path)?;
            scanner = next;
            let value = self.settle(walked, path)?;
            path.pop();
            fields.insert(key, value);
        }
        Ok((Value::Object(fields), scanner))
    }

    /// A list of numbers (or of lists of numbers) stays JSON text, of any length; a list
    /// holding anything else becomes a list of values.
    fn walk_list<R: BufRead>(
        &mut self,
        mut scanner: Scanner<R>,
        path: &mut Path,
    ) -> Result<(Walked, Scanner<R>)> {
        let start = scanner.offset();
        scanner.expect(b'[')?;
        let mut text = ListText::new(vec![b'['], self.input.is_some());
        let mut first = None;
        let mut items: Option<Vec<Value>> = None;
        let mut index = 0usize;
        while scanner.next_item(index == 0)? {
            // A number needs no path: only what may be kept aside does.
            if items.is_none() && !matches!(scanner.peek_token()?, Some(b'"' | b'{' | b'[')) {
                if index > 0 {
                    text.push(b",")?;
                }
                let token = scanner.value_text(MAX_LIST)?;
                if index == 0 {
                    first = Some(json::scalar(&token, scanner.offset())?);
                }
                text.push(&token)?;
                index += 1;
                index += scanner.scalar_run(|run| text.push(run))?;
                continue;
            }
            path.push(index.to_string());
            let item_start = scanner.offset();
            let (walked, next) = self.walk(scanner, path)?;
            scanner = next;
            match (&mut items, walked) {
                (
                    None,
                    Walked::Numbers {
                        text: item,
                        start: at,
                        outline,
                        ..
                    },
                ) => {
                    if index == 0 {
                        first = Some(match outline {
                            Some(outline) => outline,
                            None => json::parse(&item.memory, at)?,
                        });
                    } else {
                        text.push(b",")?;
                    }
                    text.append(item)?;
                }
                (Some(items), walked) => items.push(self.settle(walked, path)?),
                (None, Walked::Tree(value)) => {
                    // The numbers so far become values after all.
                    let so_far = std::mem::replace(&mut text, ListText::from(Vec::new()));
                    let so_far = self.list_so_far(so_far, start, item_start)?;
                    self.build(so_far.len())?;
                    let Value::Array(mut earlier) = json::parse(&so_far, start)? else {
                        unreachable!("list text parses as a list")
                    };
                    earlier.push(value);
                    items = Some(earlier);
                }
            }
            path.pop();
            index += 1;
        }
        match items {
            Some(items) => Ok((Walked::Tree(Value::Array(items)), scanner)),
            None => {
                text.push(b"]")?;
                let outline = Some(Value::Array(first.into_iter().collect()));
                Ok((
                    Walked::Numbers {
                        text,
                        start,
                        end: scanner.offset(),
                        outline,
                    },
                    scanner,
                ))
            }
        }
    }

    /// Puts what a walk found into the tree at `path`: a long list of numbers as its outline
    /// (its first item), its text kept aside.
    fn settle(&mut self, walked: Walked, path: &Path) -> Result<Value> {
        let Walked::Numbers {
            text,
            start,
            end,
            outline,
        } = walked
        else {
            let Walked::Tree(value) = walked else {
                unreachable!("matched above")
            };
            return Ok(value);
        };
        if text.file.is_none() && !text.let_go && text.memory.len() <= OUTLINE_LIST {
            self.build(text.memory.len())?;
            return json::parse(&text.memory, start);
        }
        let outline = match outline {
            Some(outline) => outline,
            None => json::parse(&text.memory, start)?,
        };
        let text: Box<dyn Reopen> = match (&self.input, text.file.is_some()) {
            (Some(input), _) if text.let_go => Box::new(input.span(start, end)?),
            (_, true) => Box::new(text.into_blob()?),
            (_, false) => Box::new(self.stash(text.memory)?),
        };
        self.lists.insert(path.clone(), text);
        Ok(outline)
    }

    /// The text of a list of numbers up to `item`, where an item that is not a number
    /// starts, closed: the numbers so far, to become values after all.
    fn list_so_far(&self, text: ListText, start: u64, item: u64) -> Result<Vec<u8>> {
        let too_long = || {
            Error::Envelope(format!(
                "a list that mixes numbers with other values is longer than {MAX_LIST} bytes"
            ))
        };
        let mut so_far = match &self.input {
            Some(input) if text.let_go => {
                // Read without white space, as text kept aside is, and so counted alike;
                // with the comma before the item, which kept text does not have.
                let mut so_far = Vec::new();
                let limit = MAX_LIST + 1;
                let mut span = input.span(start, item)?;
                span.reopen()?.take(limit as u64).read_to_end(&mut so_far)?;
                if so_far.len() == limit {
                    return Err(too_long());
                }
                if so_far.last() == Some(&b',') {
                    so_far.pop();
                }
                so_far
            }
            _ => text.into_memory(MAX_LIST)?,
        };
        so_far.push(b']');
        if so_far.len() > MAX_LIST {
            return Err(too_long());
        }
        Ok(so_far)
    }

    /// A string whose first bytes are `head`: whole if short, else kept aside with its head
    /// standing in for it in the tree.
    fn string_value<R: BufRead>(
        &mut self,
        head: Vec<u8>,
        string: StringReader<R>,
        path: &Path,
    ) -> Result<(Value, Scanner<R>)> {
        if head.len() <= HEAD {
            self.build(head.len())?;
            let text = String::from_utf8(head).map_err(|_| string.error("invalid UTF-8"))?;
            return Ok((Value::String(text), string.into_scanner()?));
        }
        let stand_in = Value::String(String::from_utf8_lossy(&head).into_owned());
        let (kept, scanner) = self.keep(head, string, path)?;
        self.strings.insert(path.clone(), kept);
        Ok((stand_in, scanner))
    }

    /// How much more text may be kept in memory.
    fn memory_left(&self) -> usize {
        KEPT_IN_MEMORY.saturating_sub(self.in_memory)
    }

    /// Keeps a long string's bytes in memory, or in a temporary file past [`SPILL`] bytes
    /// or [`KEPT_IN_MEMORY`] in all.
    fn keep<R: BufRead>(
        &mut self,
        head: Vec<u8>,
        mut string: StringReader<R>,
        path: &Path,
    ) -> Result<(Kept, Scanner<R>)> {
        if self.input.is_some() {
            let start = string.start();
            // Read past, and copied nowhere: it is read again from the input if picked.
            string.skip_rest()?;
            let scanner = string.into_scanner()?;
            let end = scanner.offset();
            return Ok((Kept::InInput { start, end }, scanner));
        }
        let skip = base64_start(&head);
        let text = Cursor::new(head[skip..].to_vec()).chain(&mut string);
        let mut decoder = DecodeReader::with_threads(text, field_name(path), self.threads);
        let limit = SPILL.min(self.memory_left());
        let mut bytes = Vec::new();
        let mut spill: Option<Spill> = None;
        let mut chunk = AlignedBuf::new(BUFFER);
        let error = loop {
            let count = match decoder.read(&mut chunk) {
                Ok(0) => break None,
                Ok(count) => count,
                Err(error) => match Error::from(error) {
                    // Not base64 (or not all of it): only an error if it is read as such.
                    error @ Error::Base64 { .. } => break Some(error),
                    other => return Err(other),
                },
            };
            match &mut spill {
                Some(file) => file.write_all(&chunk[..count])?,
                None if bytes.len() + count <= limit => bytes.extend_from_slice(&chunk[..count]),
                None => {
                    let mut file = Spill::new()?;
                    file.write_all(&std::mem::take(&mut bytes))?;
                    file.write_all(&chunk[..count])?;
                    spill = Some(file);
                }
            }
        };
        drop(decoder);
        io::copy(&mut string, &mut io::sink())?;
        let bytes = match spill {
            Some(file) => file.into_blob()?,
            None => {
                self.in_memory += bytes.len();
                Blob::Memory(bytes)
            }
        };
        let kept = Kept::Decoded { skip, bytes, error };
        Ok((kept, string.into_scanner()?))
    }

    /// Keeps the text of a long list, in memory while [`KEPT_IN_MEMORY`] allows.
    fn stash(&mut self, text: Vec<u8>) -> Result<Blob> {
        if text.len() <= self.memory_left() {
            self.in_memory += text.len();
            return Ok(Blob::Memory(text));
        }
        let mut spill = Spill::new()?;
        spill.write_all(&text)?;
        spill.into_blob()
    }

    /// The value at `path`. Where `numbers` are expected, a string stays a value: a bare NaN
    /// or infinity reaches here as one.
    fn take<'a>(&mut self, path: &Path, numbers: bool) -> Result<Source<'a>> {
        if let Some(kept) = self.strings.remove(path) {
            return kept.into_source(self.input.as_ref());
        }
        if let Some(text) = self.lists.remove(path) {
            return Ok(Source::Numbers(text));
        }
        // Taken out of the tree, leaving `null`: the document may hold more payloads.
        let value = path
            .iter()
            .try_fold(&mut self.root, |value, step| match value {
                Value::Object(map) => map.get_mut(step),
                Value::Array(list) => list.get_mut(step.parse::<usize>().ok()?),
                _ => None,
            })
            .map(Value::take)
            .ok_or_else(|| Error::Envelope(format!("nothing at {}", search::pointer(path))))?;
        Ok(match value {
            Value::String(text) if !numbers => {
                Source::Text(Box::new(Cursor::new(text.into_bytes())))
            }
            other => Source::Value(other),
        })
    }
}

/// The payloads of a [`Document`], each opened in turn, with its name where it has one.
pub struct Payloads {
    /// The document's `__metadata__`, as a safetensors header holds it.
    pub metadata: Option<Metadata>,
    document: Document,
    plans: VecDeque<(Option<String>, Plan)>,
    options: ReadOptions,
}

impl Payloads {
    pub fn next_payload<'a>(&mut self) -> Result<Option<(Option<String>, Item<'a>)>> {
        let Some((name, plan)) = self.plans.pop_front() else {
            return Ok(None);
        };
        let numbers = matches!(plan, Plan::List { .. });
        let source = self.document.take(plan.path(), numbers)?;
        let item = open_plan(plan, source, &self.options)?;
        Ok(Some((name, item)))
    }
}

/// A top-level `__metadata__` object of strings (a safetensors file's, as `encode` writes
/// it into an object of items).
fn metadata(root: &Value) -> Option<Metadata> {
    let fields = root.get(METADATA_KEY)?.as_object()?;
    fields
        .iter()
        .map(|(key, value)| Some((key.clone(), value.as_str()?.to_string())))
        .collect()
}

/// Reads the members of the top-level object. With `live` options, a payload string whose
/// meaning is already clear is handed back unread, to be streamed.
fn read_members<R: BufRead>(
    mut scanner: Scanner<R>,
    mut document: Document,
    mut first: bool,
    live: Option<&ReadOptions>,
) -> Result<Flow<R>> {
    while scanner.next_member(first)? {
        first = false;
        let key = scanner.key()?;
        document.build(key.len())?;
        if document.fields().contains_key(&key) {
            return Err(scanner.error(format!("key {key:?} appears twice")));
        }
        let mut path = vec![key.clone()];
        if scanner.peek_token()? != Some(b'"') {
            let (walked, next) = document.walk(scanner, &mut path)?;
            scanner = next;
            let value = document.settle(walked, &path)?;
            document.fields().insert(key, value);
            continue;
        }
        let mut string = scanner.string()?;
        let head = read_head(&mut string, HEAD + 1)?;
        if let Some(options) = live.filter(|_| head.len() > HEAD) {
            let stand_in = String::from_utf8_lossy(&head).into_owned();
            document
                .fields()
                .insert(key.clone(), Value::String(stand_in));
            if let Some(Ok(plan)) = dialect::plan_object(document.fields(), options) {
                if plan.live_key() == Some(key.as_str()) {
                    let live = Live {
                        head: Cursor::new(head),
                        string: Some(string),
                        document: Some((document, options.clone())),
                        plan,
                    };
                    return Ok(Flow::Live(Box::new(live)));
                }
            }
        }
        let (value, rest) = document.string_value(head, string, &path)?;
        document.fields().insert(key, value);
        scanner = rest;
    }
    scanner.expect_end()?;
    Ok(Flow::End(document))
}

/// A payload string being streamed from the document as it is read. Once it has been read,
/// `finish` reads the rest of the document and checks it would have been read the same way.
pub struct Live<R> {
    head: Cursor<Vec<u8>>,
    string: Option<StringReader<R>>,
    document: Option<(Document, ReadOptions)>,
    plan: Plan,
}

impl<'a, R: BufRead + Send + 'a> Live<R> {
    pub fn open(self, options: &ReadOptions) -> Result<Item<'a>> {
        let plan = self.plan.clone();
        open_plan(plan, Source::Text(Box::new(self)), options)
    }
}

impl<R: BufRead> Read for Live<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let count = self.head.read(buf)?;
        if count > 0 {
            return Ok(count);
        }
        match &mut self.string {
            Some(string) => string.read(buf),
            None => Ok(0),
        }
    }
}

impl<R: BufRead + Send> Payload for Live<R> {
    fn finish(&mut self) -> Result<()> {
        let Some(string) = self.string.take() else {
            return Ok(());
        };
        let mut scanner = string.into_scanner()?;
        let Some((document, options)) = self.document.take() else {
            return scanner.expect_end();
        };
        let Flow::End(mut document) = read_members(scanner, document, false, None)? else {
            unreachable!("live streaming was not allowed")
        };
        match dialect::plan_object(document.fields(), &options) {
            Some(Ok(plan)) if plan == self.plan => Ok(()),
            Some(Err(error)) => Err(error),
            _ => Err(Error::Envelope(format!(
                "keys after `{}` change how it is read; write them before it",
                self.plan.path().join("/")
            ))),
        }
    }
}
