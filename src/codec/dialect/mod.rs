//! JSON dialects: every convention for putting a tensor or image in JSON maps to and from the
//! one model here, one small file each. Reading is driven by [`read`], which scans the
//! document once, streams a large payload string straight through when the keys before it
//! already say what it is, and otherwise keeps large strings in a temporary file until the
//! whole document has been seen.

pub mod anthropic;
pub mod data_url;
pub mod fields;
pub mod gemini;
pub mod handrolled;
pub mod jdata;
pub mod json_numpy;
pub mod json_tricks;
pub mod jsonpickle;
pub mod kserve;
pub mod list;
pub mod native;
pub mod npy_base64;
pub mod openai;
pub mod tf_serving;
mod writer;

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Cursor, Read, Seek, Write};

use serde_json::{Map, Value};

use crate::codec::b64::DecodeReader;
use crate::codec::dtype::{ByteOrder, Dtype};
use crate::codec::io::{read_full, Payload};
use crate::codec::json::{self, Scanner, StringReader};
use crate::codec::layout::{self, Arrangement};
use crate::codec::model::{Item, Tensor, TensorHeader};
use crate::codec::{npy, pngfile};
use crate::error::{Error, Result};

pub use writer::WriteOptions;

/// Strings up to this length are read as ordinary values; longer ones may be payloads.
const HEAD: usize = 256;
/// Payload strings longer than this wait in a temporary file rather than in memory.
const SPILL: usize = 1 << 20;
/// Largest JSON text of a non-string value (a list of numbers, say). serde_json's `Value`
/// takes up to 17 times the text, so this bounds memory at a few hundred MiB.
const MAX_VALUE: usize = 16 << 20;
/// Non-string values longer than this are kept as text, and only their outline is parsed
/// ([`json::outline`]) until one turns out to be the payload.
const OUTLINE_VALUE: usize = 64 << 10;
/// Text kept in memory for large strings and values, all told; past it, they wait in
/// temporary files, so that a document's memory does not grow with what it holds beside
/// the payload.
const KEPT_IN_MEMORY: usize = 16 << 20;

/// Largest decoded payload `decode` accepts unless told otherwise: 4 GiB, twice the largest
/// array the benchmark moves, yet a bound on what a small compressed document can unpack to.
pub const DEFAULT_MAX_BYTES: u64 = 4 << 30;

/// Largest payload held whole in memory (to reorder a Fortran-order or planar-complex array,
/// or gather a jsonpickle view) unless told otherwise. Such data takes twice its size while
/// it is reordered.
pub const DEFAULT_MAX_IN_MEMORY: u64 = 1 << 30;

/// What the user told `decode` about the document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadOptions {
    /// Which tensor to pick in a document that holds several (KServe inputs, say).
    pub name: Option<String>,
    /// The dtype of plain numbers, where the dialect does not say (lists, TF Serving).
    pub dtype: Option<Dtype>,
    /// Largest decoded payload, in bytes: a tensor's data, an image file or its pixels.
    /// Checked against the declared size before any data is read.
    pub max_bytes: u64,
    /// Largest payload held whole in memory to be reordered, in bytes.
    pub max_in_memory: u64,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            name: None,
            dtype: None,
            max_bytes: DEFAULT_MAX_BYTES,
            max_in_memory: DEFAULT_MAX_IN_MEMORY,
        }
    }
}

const RAISE_HINT: &str = " (raise it with --max-bytes)";

impl ReadOptions {
    fn check_size(&self, what: &str, bytes: u64) -> Result<()> {
        check_limit(what, bytes, self.max_bytes, RAISE_HINT)
    }

    /// Checks an array that is held whole in memory.
    fn check_in_memory(&self, what: &str, bytes: u64) -> Result<()> {
        let hint = " for data reordered in memory (raise it with --max-bytes)";
        if self.max_in_memory < self.max_bytes {
            check_limit(what, bytes, self.max_in_memory, hint)?;
        }
        self.check_size(what, bytes)
    }

    /// Checks a tensor stored in `arrangement`: streamed, or reordered in memory.
    fn check_tensor(&self, header: &TensorHeader, arrangement: Arrangement) -> Result<()> {
        let what = "the decoded data";
        if layout::reorders_in_memory(header, arrangement) {
            self.check_in_memory(what, header.byte_len())
        } else {
            self.check_size(what, header.byte_len())
        }
    }
}

fn check_limit(what: &str, bytes: u64, limit: u64, hint: &'static str) -> Result<()> {
    if bytes <= limit {
        return Ok(());
    }
    Err(Error::TooLarge {
        what: what.to_string(),
        size: Some(bytes.into()),
        limit,
        hint,
    })
}

/// How a payload string is compressed under its base64.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    Zlib,
    Gzip,
}

impl Compression {
    pub fn name(self) -> &'static str {
        match self {
            Compression::Zlib => "zlib",
            Compression::Gzip => "gzip",
        }
    }
}

/// How the bytes in a payload string are laid out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Encoding {
    /// Characters before the base64 (`b64:` in json-tricks), already checked by the planner.
    pub skip: usize,
    pub compression: Option<Compression>,
    /// The payload may instead be the raw bytes, with nothing in the document to say so
    /// (jsonpickle's `ndarray_compression=None`); see [`zlib_or_raw`].
    pub may_be_raw: bool,
    pub arrangement: Arrangement,
}

impl Encoding {
    /// Plain base64 of C-order bytes in the given byte order.
    pub fn plain(byte_order: ByteOrder) -> Self {
        Encoding {
            skip: 0,
            compression: None,
            may_be_raw: false,
            arrangement: Arrangement {
                byte_order,
                ..Arrangement::MODEL
            },
        }
    }
}

/// Where a value sits in the document: object keys and list indices, from the top.
pub type Path = Vec<String>;

/// What a dialect reader found: where the payload is and how to read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Plan {
    /// Base64 of the tensor's bytes in the string at `path`.
    Tensor {
        header: TensorHeader,
        path: Path,
        encoding: Encoding,
    },
    /// Base64 of a whole `.npy` file in the string at `path`.
    Npy { path: Path, skip: usize },
    /// Base64 of a PNG file in the string at `path`, after `skip` characters.
    Image { path: Path, skip: usize },
    /// A view into the array that `base` reads (jsonpickle): elements at byte `offset` and
    /// `strides` (C-order strides when `None`) of the base's stored bytes.
    View {
        base: Box<Plan>,
        header: TensorHeader,
        offset: u64,
        strides: Option<Vec<i64>>,
        /// The view's bytes are in the opposite order to the base's.
        swapped: bool,
        fortran_order: bool,
    },
    /// Numbers (nested lists, or flat with a shape) at `path`.
    List {
        dtype: Option<Dtype>,
        shape: Option<Vec<u64>>,
        path: Path,
        arrangement: Arrangement,
        /// `null` elements of a float or complex dtype are NaN.
        null_is_nan: bool,
    },
}

impl Plan {
    fn path(&self) -> &Path {
        match self {
            Plan::View { base, .. } => base.path(),
            Plan::Tensor { path, .. }
            | Plan::Npy { path, .. }
            | Plan::Image { path, .. }
            | Plan::List { path, .. } => path,
        }
    }

    pub fn path_mut(&mut self) -> &mut Path {
        match self {
            Plan::View { base, .. } => base.path_mut(),
            Plan::Tensor { path, .. }
            | Plan::Npy { path, .. }
            | Plan::Image { path, .. }
            | Plan::List { path, .. } => path,
        }
    }

    /// The top-level key whose string can be streamed as it is read, if any.
    fn live_key(&self) -> Option<&str> {
        match (self, self.path().as_slice()) {
            (Plan::List { .. } | Plan::View { .. }, _) => None,
            (_, [key]) => Some(key),
            _ => None,
        }
    }
}

/// Builds a path from its steps.
pub fn path(steps: &[&str]) -> Path {
    steps.iter().map(|step| step.to_string()).collect()
}

/// A reader of one dialect of JSON objects: `None` when the keys are not its own.
pub struct ObjectReader {
    pub name: &'static str,
    pub looks_for: &'static str,
    pub plan: fn(&Map<String, Value>, &ReadOptions) -> Option<Result<Plan>>,
}

/// Tried in this order; the first whose keys match reads the object. KServe comes before
/// TF Serving because both may use `inputs`.
pub const OBJECT_READERS: [ObjectReader; 11] = [
    native::READER,
    json_numpy::READER,
    json_tricks::READER,
    jsonpickle::READER,
    jdata::READER,
    kserve::READER,
    tf_serving::READER,
    openai::READER,
    anthropic::READER,
    gemini::READER,
    handrolled::READER,
];

/// Readers of documents that are a bare string.
const STRING_READERS: [(&str, &str); 3] = [
    ("npy-base64", npy_base64::LOOKS_FOR),
    ("data-url", data_url::LOOKS_FOR),
    ("png-base64", "a string starting \"iVBORw0KGgo\""),
];

fn plan_object(fields: &Map<String, Value>, options: &ReadOptions) -> Option<Result<Plan>> {
    OBJECT_READERS
        .iter()
        .find_map(|reader| (reader.plan)(fields, options))
}

/// The plan for a whole object: its own dialect, or else the one object one level down that
/// has one.
fn plan_document(fields: &Map<String, Value>, options: &ReadOptions) -> Result<Plan> {
    if let Some(plan) = plan_object(fields, options) {
        return plan;
    }
    let mut nested: Vec<(&String, Result<Plan>)> = fields
        .iter()
        .filter_map(|(key, value)| {
            let plan = plan_object(value.as_object()?, options)?;
            Some((key, plan))
        })
        .collect();
    match nested.len() {
        0 => {
            let keys: Vec<&String> = fields.keys().collect();
            Err(no_dialect(&format!("an object with keys {keys:?}")))
        }
        1 => {
            let (key, plan) = nested.pop().expect("one");
            let mut plan = plan?;
            plan.path_mut().insert(0, key.clone());
            Ok(plan)
        }
        _ => {
            let keys: Vec<&String> = nested.iter().map(|(key, _)| *key).collect();
            Err(Error::Envelope(format!(
                "the document holds several tensors or images, under keys {keys:?}; \
                 extract one first (for example with jq)"
            )))
        }
    }
}

fn no_dialect(found: &str) -> Error {
    let mut looked_for: Vec<String> = OBJECT_READERS
        .iter()
        .map(|reader| format!("{} ({})", reader.name, reader.looks_for))
        .collect();
    looked_for.extend(
        STRING_READERS
            .iter()
            .map(|(name, looks_for)| format!("{name} ({looks_for})")),
    );
    looked_for.push(format!("list ({})", list::LOOKS_FOR));
    Error::Envelope(format!(
        "no known tensor or image layout: found {found}; looked for: {}",
        looked_for.join("; ")
    ))
}

/// Reads a JSON document in any known dialect into the model.
pub fn read<'a, R: BufRead + Send + 'a>(input: R, options: &ReadOptions) -> Result<Item<'a>> {
    let mut scanner = Scanner::new(input);
    match scanner.peek_token()? {
        Some(b'{') => {
            scanner.expect(b'{')?;
            match read_members(scanner, Document::default(), true, Some(options))? {
                Flow::Live(live) => live.open(options),
                Flow::End(document) => document.open(options),
            }
        }
        Some(b'"') => read_top_string(scanner, options),
        Some(_) => {
            let value = scanner.value(MAX_VALUE)?;
            scanner.expect_end()?;
            // A bare number is a 0-d array, as numpy.array(5) is; so is a bare NaN, which
            // reaches here as a string.
            let numbers = !matches!(value, Value::Null | Value::Object(_));
            if !(numbers && list::is_numbers(&value)) {
                return Err(no_dialect(&format!("a JSON {}", kind_of(&value))));
            }
            open_plan(list::plan(options), Source::Value(value), options)
        }
        None => Err(Error::Json("the input is empty".to_string())),
    }
}

pub fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "object",
    }
}

/// The plan for a document that is one string, from its first characters.
fn plan_string(head: &[u8]) -> Option<Result<Plan>> {
    if npy_base64::matches(head) {
        return Some(Ok(Plan::Npy {
            path: Path::new(),
            skip: 0,
        }));
    }
    if head.starts_with(b"iVBORw0KGgo") {
        return Some(Ok(Plan::Image {
            path: Path::new(),
            skip: 0,
        }));
    }
    let text = String::from_utf8_lossy(head);
    data_url::plan(&text, Path::new())
}

fn read_top_string<'a, R: BufRead + Send + 'a>(
    scanner: Scanner<R>,
    options: &ReadOptions,
) -> Result<Item<'a>> {
    let mut string = scanner.string()?;
    let head = read_head(&mut string, HEAD)?;
    let Some(plan) = plan_string(&head) else {
        let shown: String = String::from_utf8_lossy(&head).chars().take(16).collect();
        return Err(no_dialect(&format!("a string starting {shown:?}")));
    };
    let live = Live {
        head: Cursor::new(head),
        string: Some(string),
        document: None,
        plan: plan?,
    };
    live.open(options)
}

/// The first `length` bytes of a string (fewer if it is shorter).
fn read_head(string: &mut impl Read, length: usize) -> Result<Vec<u8>> {
    let mut head = vec![0u8; length];
    let filled = read_full(string, &mut head)?;
    head.truncate(filled);
    Ok(head)
}

/// A large string kept aside while the rest of the document is read.
enum Blob {
    Memory(Vec<u8>),
    File(File),
}

/// The members of the top-level object read so far; large strings are in `blobs`, with
/// their first bytes standing in for them in `fields`, and large other values in `texts`,
/// with their outline standing in.
#[derive(Default)]
struct Document {
    fields: Map<String, Value>,
    blobs: HashMap<String, Blob>,
    /// The text of a large value, and where it started in the document.
    texts: HashMap<String, (Blob, u64)>,
    /// Bytes of `blobs` and `texts` held in memory.
    in_memory: usize,
}

enum Flow<R> {
    End(Document),
    Live(Live<R>),
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
        if document.fields.contains_key(&key) {
            return Err(scanner.error(format!("key {key:?} appears twice")));
        }
        if scanner.peek_token()? != Some(b'"') {
            let start = scanner.offset();
            let text = scanner.value_text(MAX_VALUE)?;
            if text.len() <= OUTLINE_VALUE {
                document.fields.insert(key, json::parse(&text, start)?);
                continue;
            }
            document
                .fields
                .insert(key.clone(), json::outline(&text, start)?);
            let text = document.stash(text)?;
            document.texts.insert(key, (text, start));
            continue;
        }
        let mut string = scanner.string()?;
        let head = read_head(&mut string, HEAD + 1)?;
        if head.len() <= HEAD {
            let text = String::from_utf8(head).map_err(|_| string.error("invalid UTF-8"))?;
            document.fields.insert(key, Value::String(text));
            scanner = string.into_scanner()?;
            continue;
        }
        let stand_in = String::from_utf8_lossy(&head).into_owned();
        document.fields.insert(key.clone(), Value::String(stand_in));
        if let Some(options) = live {
            if let Some(Ok(plan)) = plan_object(&document.fields, options) {
                if plan.live_key() == Some(key.as_str()) {
                    let live = Live {
                        head: Cursor::new(head),
                        string: Some(string),
                        document: Some((document, options.clone())),
                        plan,
                    };
                    return Ok(Flow::Live(live));
                }
            }
        }
        let (blob, rest) = document.keep(head, string)?;
        document.blobs.insert(key, blob);
        scanner = rest;
    }
    scanner.expect_end()?;
    Ok(Flow::End(document))
}

impl Document {
    /// How much more text may be kept in memory.
    fn memory_left(&self) -> usize {
        KEPT_IN_MEMORY.saturating_sub(self.in_memory)
    }

    /// Keeps a large string in memory, or in a temporary file past [`SPILL`] bytes or
    /// [`KEPT_IN_MEMORY`] in all.
    fn keep<R: BufRead>(
        &mut self,
        head: Vec<u8>,
        mut string: StringReader<R>,
    ) -> Result<(Blob, Scanner<R>)> {
        let mut text = head;
        let limit = SPILL.min(self.memory_left()).saturating_sub(text.len()) as u64;
        (&mut string).take(limit).read_to_end(&mut text)?;
        let mut probe = [0u8; 1];
        let more = read_full(&mut string, &mut probe)?;
        if more == 0 {
            self.in_memory += text.len();
            return Ok((Blob::Memory(text), string.into_scanner()?));
        }
        text.push(probe[0]);
        let mut spill = Spill::new()?;
        spill.write_all(&text)?;
        io::copy(&mut string, &mut spill)?;
        Ok((spill.into_blob()?, string.into_scanner()?))
    }

    /// Keeps the text of a large value, in memory while [`KEPT_IN_MEMORY`] allows.
    fn stash(&mut self, text: Vec<u8>) -> Result<Blob> {
        if text.len() <= self.memory_left() {
            self.in_memory += text.len();
            return Ok(Blob::Memory(text));
        }
        let mut spill = Spill::new()?;
        spill.write_all(&text)?;
        spill.into_blob()
    }
}

/// The temporary file a large string is kept in. Its write errors say where it is: the user
/// knows only the input, and a full disk there is not the input's fault.
struct Spill(File);

impl Spill {
    fn new() -> Result<Spill> {
        let file = tempfile::tempfile().map_err(|error| temporary_file_error("create", error))?;
        Ok(Spill(file))
    }

    fn into_blob(self) -> Result<Blob> {
        let mut file = self.0;
        file.rewind()?;
        Ok(Blob::File(file))
    }
}

impl Write for Spill {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .write(buf)
            .map_err(|error| temporary_file_error("write", error).into())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0
            .flush()
            .map_err(|error| temporary_file_error("write", error).into())
    }
}

fn temporary_file_error(action: &'static str, error: io::Error) -> Error {
    Error::TemporaryFile {
        action,
        directory: std::env::temp_dir(),
        reason: crate::output::without_temporary_path(error).to_string(),
    }
}

/// Where a plan's payload comes from.
enum Source<'a> {
    /// The text of a string, unescaped.
    Text(Box<dyn Payload + 'a>),
    /// A parsed value.
    Value(Value),
}

impl Document {
    fn open<'a>(mut self, options: &ReadOptions) -> Result<Item<'a>> {
        let plan = plan_document(&self.fields, options)?;
        let numbers = matches!(plan, Plan::List { .. });
        let source = self.take(plan.path(), numbers)?;
        open_plan(plan, source, options)
    }

    /// The value at `path`. Where `numbers` are expected, a string stays a value: a bare NaN
    /// or infinity reaches here as one.
    fn take<'a>(&mut self, path: &Path, numbers: bool) -> Result<Source<'a>> {
        if let Some((text, start)) = path.first().and_then(|key| self.texts.remove(key)) {
            let text = match text {
                Blob::Memory(text) => text,
                Blob::File(file) => {
                    let mut text = Vec::new();
                    BufReader::new(file).read_to_end(&mut text)?;
                    text
                }
            };
            self.fields
                .insert(path[0].clone(), json::parse(&text, start)?);
        }
        if let [key] = path.as_slice() {
            match self.blobs.remove(key) {
                Some(Blob::Memory(bytes)) => return Ok(Source::Text(Box::new(Cursor::new(bytes)))),
                Some(Blob::File(file)) => {
                    let reader = BufReader::with_capacity(1 << 20, file);
                    return Ok(Source::Text(Box::new(reader)));
                }
                None => {}
            }
        }
        let mut value = Value::Object(std::mem::take(&mut self.fields));
        for step in path {
            value = match value {
                Value::Object(mut map) => map.remove(step),
                Value::Array(mut list) => step
                    .parse::<usize>()
                    .ok()
                    .filter(|&index| index < list.len())
                    .map(|index| list.swap_remove(index)),
                _ => None,
            }
            .ok_or_else(|| Error::Envelope(format!("nothing at {}", path.join("/"))))?;
        }
        Ok(match value {
            Value::String(text) if !numbers => {
                Source::Text(Box::new(Cursor::new(text.into_bytes())))
            }
            other => Source::Value(other),
        })
    }
}

/// A payload string being streamed from the document as it is read. Once it has been read,
/// `finish` reads the rest of the document and checks it would have been read the same way.
struct Live<R> {
    head: Cursor<Vec<u8>>,
    string: Option<StringReader<R>>,
    document: Option<(Document, ReadOptions)>,
    plan: Plan,
}

impl<'a, R: BufRead + Send + 'a> Live<R> {
    fn open(self, options: &ReadOptions) -> Result<Item<'a>> {
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
        let Flow::End(document) = read_members(scanner, document, false, None)? else {
            unreachable!("live streaming was not allowed")
        };
        match plan_object(&document.fields, &options) {
            Some(Ok(plan)) if plan == self.plan => Ok(()),
            Some(Err(error)) => Err(error),
            _ => Err(Error::Envelope(format!(
                "keys after `{}` change how it is read; write them before it",
                self.plan.path().join("/")
            ))),
        }
    }
}

/// How messages name the value at `path`: its keys in backticks, or the whole document.
fn field_name(path: &Path) -> String {
    if path.is_empty() {
        "the document".to_string()
    } else {
        format!("`{}`", path.join("/"))
    }
}

fn open_plan<'a>(plan: Plan, source: Source<'a>, options: &ReadOptions) -> Result<Item<'a>> {
    if let Plan::View { .. } = plan {
        return open_view(plan, source, options).map(Item::Tensor);
    }
    let field = field_name(plan.path());
    let text = match (source, &plan) {
        (Source::Value(value), Plan::List { .. }) if !list::is_numbers(&value) => {
            return Err(list::found_a_string(&field));
        }
        (
            Source::Value(mut value),
            Plan::List {
                dtype,
                shape,
                arrangement,
                null_is_nan,
                ..
            },
        ) => {
            let dtype = dtype.or(options.dtype);
            if *null_is_nan && dtype.is_some_and(|dtype| dtype.is_float() || dtype.is_complex()) {
                list::nulls_to_nan(&mut value);
            }
            let tensor =
                list::to_arranged_tensor(&value, dtype, shape.clone(), *arrangement, &field)?;
            options.check_size("the decoded data", tensor.header.byte_len())?;
            return Ok(Item::Tensor(tensor));
        }
        (Source::Text(_), Plan::List { .. }) => return Err(list::found_a_string(&field)),
        (Source::Value(value), _) => {
            return Err(fields::wrong(&field, "a base64 string", &value));
        }
        (Source::Text(text), _) => text,
    };
    match plan {
        Plan::Tensor {
            header, encoding, ..
        } => {
            options.check_tensor(&header, encoding.arrangement)?;
            let decoded = DecodeReader::new(skip(text, encoding.skip)?, field.clone());
            let bytes: Box<dyn Payload + 'a> = match encoding.compression {
                Some(Compression::Zlib) if encoding.may_be_raw => {
                    let limit = options.max_in_memory.min(options.max_bytes);
                    zlib_or_raw(decoded, header.byte_len(), limit, field)?
                }
                Some(compression) => Box::new(Inflate::new(decoded, compression, field)),
                None => Box::new(decoded),
            };
            let tensor = layout::normalise(header, bytes, encoding.arrangement)?;
            Ok(Item::Tensor(tensor))
        }
        Plan::Npy { skip: count, .. } => {
            let mut decoded = BufReader::new(DecodeReader::new(skip(text, count)?, field));
            let header = npy::read_header(&mut decoded)?;
            options.check_tensor(&header.tensor, header.arrangement())?;
            Ok(Item::Tensor(npy::open(header, decoded)?))
        }
        Plan::Image { skip: count, .. } => {
            let decoded = DecodeReader::new(skip(text, count)?, field);
            let bytes = read_image_file(decoded, options)?;
            // Checked in full where it is written (`write_binary`), which decodes it once.
            let image = pngfile::read_header(bytes)?;
            options.check_size("the decoded image", image.pixel_bytes())?;
            Ok(Item::Image(image))
        }
        Plan::List { .. } | Plan::View { .. } => unreachable!("handled above"),
    }
}

/// The bytes of an image file up to its IEND chunk, up to `--max-bytes` and
/// [`pngfile::MAX_FILE_BYTES`].
fn read_image_file(mut decoded: impl Payload, options: &ReadOptions) -> Result<Vec<u8>> {
    let limit = options.max_bytes.min(pngfile::MAX_FILE_BYTES);
    let too_large = || Error::TooLarge {
        what: "the decoded PNG file".to_string(),
        size: None,
        limit,
        hint: if limit == options.max_bytes {
            RAISE_HINT
        } else {
            " (PNG files are read into memory)"
        },
    };
    let bytes = pngfile::read_file(&mut decoded, limit, too_large)?;
    // Bytes after IEND are ignored, as in a file, but the base64 holding them must be valid.
    io::copy(&mut decoded, &mut io::sink())?;
    decoded.finish()?;
    Ok(bytes)
}

/// Reads the base array with its bytes as stored, then gathers the view's elements from them.
fn open_view<'a>(plan: Plan, source: Source<'a>, options: &ReadOptions) -> Result<Tensor<'a>> {
    let Plan::View {
        base,
        header,
        offset,
        strides,
        swapped,
        fortran_order,
    } = plan
    else {
        unreachable!("called with views only")
    };
    options.check_in_memory("the array view", header.byte_len())?;
    let mut base = *base;
    let base_order = match &mut base {
        Plan::Tensor { encoding, .. } => {
            let stored = encoding.arrangement;
            encoding.arrangement = Arrangement::MODEL;
            stored.byte_order
        }
        _ => ByteOrder::Little,
    };
    let Item::Tensor(base) = open_plan(base, source, options)? else {
        unreachable!("array plans give tensors")
    };
    options.check_in_memory("the view's base array", base.header.byte_len())?;
    let memory = base.into_bytes()?;
    let strides = strides.map(|strides| strides.into_iter().map(i128::from).collect());
    let gathered = gather(&memory, &header, offset, strides, fortran_order)?;
    let byte_order = match (base_order, swapped) {
        (order, false) => order,
        (ByteOrder::Little, true) => ByteOrder::Big,
        (ByteOrder::Big, true) => ByteOrder::Little,
    };
    let arrangement = Arrangement {
        byte_order,
        ..Arrangement::MODEL
    };
    layout::normalise(header, Box::new(Cursor::new(gathered)), arrangement)
}

/// The elements of a strided view over `memory`, in C order. Positions are `i128`, which
/// no `i64` stride times a dimension of a bounded view can overflow.
fn gather(
    memory: &[u8],
    header: &TensorHeader,
    offset: u64,
    strides: Option<Vec<i128>>,
    fortran_order: bool,
) -> Result<Vec<u8>> {
    let shape = &header.shape;
    let itemsize = header.dtype.itemsize();
    if header.byte_len() == 0 {
        return Ok(Vec::new());
    }
    let strides = strides.unwrap_or_else(|| contiguous_strides(shape, itemsize, fortran_order));
    // Every element is in bounds if the nearest and the farthest are.
    let (mut low, mut high) = (i128::from(offset), i128::from(offset));
    for (&dim, &stride) in shape.iter().zip(&strides) {
        let reach = (dim as i128 - 1) * stride;
        if reach < 0 {
            low += reach;
        } else {
            high += reach;
        }
    }
    if low < 0 || high + itemsize as i128 > memory.len() as i128 {
        return Err(Error::Envelope(
            "the view reaches outside its base array".to_string(),
        ));
    }
    let mut gathered = Vec::with_capacity(header.byte_len() as usize);
    let mut index = vec![0usize; shape.len()];
    let mut position = i128::from(offset);
    for _ in 0..header.byte_len() as usize / itemsize {
        let at = position as usize;
        gathered.extend_from_slice(&memory[at..at + itemsize]);
        for axis in (0..shape.len()).rev() {
            index[axis] += 1;
            position += strides[axis];
            if index[axis] < shape[axis] {
                break;
            }
            position -= strides[axis] * shape[axis] as i128;
            index[axis] = 0;
        }
    }
    Ok(gathered)
}

fn contiguous_strides(shape: &[usize], itemsize: usize, fortran_order: bool) -> Vec<i128> {
    let mut strides = vec![0i128; shape.len()];
    let mut stride = itemsize as i128;
    let axes: Vec<usize> = if fortran_order {
        (0..shape.len()).collect()
    } else {
        (0..shape.len()).rev().collect()
    };
    for axis in axes {
        strides[axis] = stride;
        stride *= shape[axis] as i128;
    }
    strides
}

/// Drops the first `count` characters, which the planner has already checked.
fn skip<'a>(mut text: Box<dyn Payload + 'a>, count: usize) -> Result<Box<dyn Payload + 'a>> {
    io::copy(&mut (&mut text).take(count as u64), &mut io::sink())?;
    Ok(text)
}

/// The data of a payload that is either zlib-compressed or the raw bytes, with nothing to say
/// which. It is zlib if it starts with a zlib header and is not exactly `expected` bytes
/// long, or if it is and inflates, checksum and all, to exactly `expected` bytes; otherwise
/// it is raw. Data starting with a zlib header is held in memory, up to `limit` bytes, until
/// its length is known; past that it is taken to be zlib.
fn zlib_or_raw<'a>(
    mut decoded: impl Payload + 'a,
    expected: u64,
    limit: u64,
    field: String,
) -> Result<Box<dyn Payload + 'a>> {
    let mut head = read_head(&mut decoded, 2)?;
    if !is_zlib_header(&head) {
        return Ok(Box::new(Buffered::new(head, decoded)));
    }
    let cap = expected.min(limit) + 1;
    (&mut decoded)
        .take(cap - head.len() as u64)
        .read_to_end(&mut head)?;
    // Exactly `expected` bytes (and no more: `cap` is past them) can be either.
    if expected <= limit && head.len() as u64 == expected {
        let mut inflated = Vec::new();
        let mut inflater = flate2::read::ZlibDecoder::new(head.as_slice()).take(expected + 1);
        if inflater.read_to_end(&mut inflated).is_ok() && inflated.len() as u64 == expected {
            return Ok(Box::new(Buffered::new(inflated, decoded)));
        }
        return Ok(Box::new(Buffered::new(head, decoded)));
    }
    let buffered = Buffered::new(head, decoded);
    Ok(Box::new(Inflate::new(buffered, Compression::Zlib, field)))
}

/// Whether `bytes` start as a zlib stream does (RFC 1950): deflate with a window of at most
/// 32 KiB, no preset dictionary, and the check bits right.
fn is_zlib_header(bytes: &[u8]) -> bool {
    match bytes {
        [method, flags, ..] => {
            method & 0x0f == 8
                && method >> 4 <= 7
                && flags & 0x20 == 0
                && (u16::from(*method) << 8 | u16::from(*flags)) % 31 == 0
        }
        _ => false,
    }
}

/// Bytes already read from a payload, then the rest of it.
struct Buffered<R> {
    head: Cursor<Vec<u8>>,
    rest: R,
}

impl<R> Buffered<R> {
    fn new(head: Vec<u8>, rest: R) -> Self {
        Buffered {
            head: Cursor::new(head),
            rest,
        }
    }
}

impl<R: Read> Read for Buffered<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.head.read(buf)? {
            0 => self.rest.read(buf),
            count => Ok(count),
        }
    }
}

impl<R: Payload> Payload for Buffered<R> {
    fn finish(&mut self) -> Result<()> {
        self.rest.finish()
    }
}

/// Decompression of a payload, its errors named after the field.
struct Inflate<R: Read> {
    decoder: Decoder<R>,
    compression: Compression,
    field: String,
}

enum Decoder<R: Read> {
    Zlib(flate2::read::ZlibDecoder<R>),
    Gzip(flate2::read::GzDecoder<R>),
}

impl<R: Read> Inflate<R> {
    fn new(inner: R, compression: Compression, field: String) -> Self {
        let decoder = match compression {
            Compression::Zlib => Decoder::Zlib(flate2::read::ZlibDecoder::new(inner)),
            Compression::Gzip => Decoder::Gzip(flate2::read::GzDecoder::new(inner)),
        };
        Inflate {
            decoder,
            compression,
            field,
        }
    }

    fn inner(&mut self) -> &mut R {
        match &mut self.decoder {
            Decoder::Zlib(decoder) => decoder.get_mut(),
            Decoder::Gzip(decoder) => decoder.get_mut(),
        }
    }
}

impl<R: Read> Read for Inflate<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let result = match &mut self.decoder {
            Decoder::Zlib(decoder) => decoder.read(buf),
            Decoder::Gzip(decoder) => decoder.read(buf),
        };
        result.map_err(|error| {
            if error.get_ref().is_some_and(|inner| inner.is::<Error>()) {
                return error;
            }
            Error::Decompress {
                compression: self.compression.name(),
                field: self.field.clone(),
                detail: error.to_string(),
            }
            .into()
        })
    }
}

impl<R: Payload> Payload for Inflate<R> {
    fn finish(&mut self) -> Result<()> {
        // The compressed stream may end before its text does; what follows is still read,
        // so the rest of the document gets checked.
        io::copy(self.inner(), &mut io::sink())?;
        self.inner().finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    fn read(payload: &[u8], expected: u64, limit: u64) -> Result<Vec<u8>> {
        let mut bytes = zlib_or_raw(payload, expected, limit, "`values`".to_string())?;
        let mut out = Vec::new();
        bytes.read_to_end(&mut out)?;
        Ok(out)
    }

    /// Data whose zlib stream is exactly as long as the data itself: scattered bytes, then
    /// zeros, with as many scattered bytes as it takes.
    fn same_length_as_compressed() -> Vec<u8> {
        (16..128usize)
            .flat_map(|length| (0..length).map(move |scattered| (length, scattered)))
            .map(|(length, scattered)| {
                let mut data: Vec<u8> = (0..scattered).map(|i| (i * 97 + 31) as u8).collect();
                data.resize(length, 0);
                data
            })
            .find(|data| zlib(data).len() == data.len())
            .unwrap()
    }

    #[test]
    fn zlib_or_raw_tells_them_apart() {
        let data: Vec<u8> = (0..64u8).collect();
        assert_eq!(read(&zlib(&data), 64, 1 << 20).unwrap(), data);
        assert_eq!(read(&data, 64, 1 << 20).unwrap(), data);
        // Raw data that starts as a zlib stream does, and does not inflate.
        let mut lookalike = data.clone();
        lookalike[..2].copy_from_slice(&[0x78, 0x9c]);
        assert_eq!(read(&lookalike, 64, 1 << 20).unwrap(), lookalike);
        // A zlib stream exactly as long as what it inflates to.
        let data = same_length_as_compressed();
        let length = data.len() as u64;
        assert_eq!(read(&zlib(&data), length, 1 << 20).unwrap(), data);
        // Past the in-memory limit, data that starts as zlib does is taken to be zlib.
        assert!(read(&lookalike, 64, 16).is_err());
        assert_eq!(read(&zlib(&data), length, 16).unwrap(), data);
    }
}
