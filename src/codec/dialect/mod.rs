//! JSON dialects: every convention for putting a tensor or image in JSON maps to and from the
//! one model here. Reading is driven by [`read`], which scans the document once, streams a
//! large payload string straight through when the keys before it already say what it is, and
//! otherwise keeps large strings in a temporary file until the whole document has been seen.

pub mod fields;
pub mod handrolled;
pub mod native;
pub mod npy_base64;

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Cursor, Read, Seek, Write};

use serde_json::{Map, Value};

use crate::codec::b64::DecodeReader;
use crate::codec::dtype::ByteOrder;
use crate::codec::io::{read_full, Payload};
use crate::codec::json::{Scanner, StringReader};
use crate::codec::model::{Item, TensorHeader};
use crate::codec::{layout, npy, pngfile};
use crate::error::{Error, Result};

/// Strings up to this length are read as ordinary values; longer ones may be payloads.
const HEAD: usize = 256;
/// Payload strings longer than this wait in a temporary file rather than in memory.
const SPILL: usize = 1 << 20;
/// Largest JSON text of a non-string value (a list of numbers, say). serde_json's `Value`
/// takes up to 17 times the text, so this bounds memory at a few hundred MiB.
const MAX_VALUE: usize = 16 << 20;
/// Largest encoded image accepted.
const MAX_IMAGE_FILE: u64 = 1 << 30;

/// How a payload string is encoded, beyond base64.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    Zlib,
}

impl Compression {
    pub const ALL: [Compression; 1] = [Compression::Zlib];

    pub fn name(self) -> &'static str {
        match self {
            Compression::Zlib => "zlib",
        }
    }
}

/// How the bytes in a payload string are laid out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Encoding {
    pub compression: Option<Compression>,
    pub byte_order: ByteOrder,
    pub fortran_order: bool,
}

/// What a dialect reader found: where the payload is and how to read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Plan {
    /// Base64 of the tensor's bytes in the string at `field`.
    Tensor {
        header: TensorHeader,
        field: String,
        encoding: Encoding,
    },
    /// Base64 of a whole `.npy` file; `field` is `None` for a document that is just the string.
    Npy { field: Option<String> },
    /// Base64 of a PNG file in the string at `field`.
    Image { field: String },
}

impl Plan {
    fn field(&self) -> Option<&str> {
        match self {
            Plan::Tensor { field, .. } | Plan::Image { field } => Some(field),
            Plan::Npy { field } => field.as_deref(),
        }
    }
}

/// A reader of one dialect of JSON objects: `None` when the keys are not its own.
pub struct ObjectReader {
    pub name: &'static str,
    pub looks_for: &'static str,
    pub plan: fn(&Map<String, Value>) -> Option<Result<Plan>>,
}

/// Tried in this order; the first whose keys match reads the object.
pub const OBJECT_READERS: [ObjectReader; 2] = [native::READER, handrolled::READER];

fn plan_object(fields: &Map<String, Value>) -> Option<Result<Plan>> {
    OBJECT_READERS
        .iter()
        .find_map(|reader| (reader.plan)(fields))
}

fn no_dialect(found: &str) -> Error {
    let mut looked_for: Vec<String> = OBJECT_READERS
        .iter()
        .map(|reader| format!("{} ({})", reader.name, reader.looks_for))
        .collect();
    looked_for.push(format!("npy-base64 ({})", npy_base64::LOOKS_FOR));
    Error::Envelope(format!(
        "no known tensor or image layout: found {found}; looked for: {}",
        looked_for.join("; ")
    ))
}

/// Reads a JSON document in any known dialect into the model.
pub fn read<'a, R: BufRead + 'a>(input: R) -> Result<Item<'a>> {
    let mut scanner = Scanner::new(input);
    match scanner.peek_token()? {
        Some(b'{') => {
            scanner.expect(b'{')?;
            match read_members(scanner, Document::default(), true, true)? {
                Flow::Live(live) => live.open(),
                Flow::End(document) => document.open(),
            }
        }
        Some(b'"') => read_top_string(scanner),
        Some(_) => {
            let value = scanner.value(MAX_VALUE)?;
            scanner.expect_end()?;
            Err(no_dialect(&format!("a JSON {}", kind_of(&value))))
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

fn read_top_string<'a, R: BufRead + 'a>(scanner: Scanner<R>) -> Result<Item<'a>> {
    let mut string = scanner.string()?;
    let mut head = vec![0u8; HEAD];
    let filled = read_full(&mut string, &mut head)?;
    head.truncate(filled);
    if !npy_base64::matches(&head) {
        let shown = String::from_utf8_lossy(&head[..head.len().min(16)]).into_owned();
        return Err(no_dialect(&format!("a string starting {shown:?}")));
    }
    let live = Live {
        head: Cursor::new(head),
        string: Some(string),
        document: None,
        plan: Plan::Npy { field: None },
    };
    live.open()
}

/// A large string kept aside while the rest of the document is read.
enum Blob {
    Memory(Vec<u8>),
    File(File),
}

/// The members of the top-level object read so far; large strings are in `blobs`, with
/// their first bytes standing in for them in `fields`.
#[derive(Default)]
struct Document {
    fields: Map<String, Value>,
    blobs: HashMap<String, Blob>,
}

enum Flow<R> {
    End(Document),
    Live(Live<R>),
}

fn read_members<R: BufRead>(
    mut scanner: Scanner<R>,
    mut document: Document,
    mut first: bool,
    allow_live: bool,
) -> Result<Flow<R>> {
    while scanner.next_member(first)? {
        first = false;
        let key = scanner.key()?;
        if document.fields.contains_key(&key) {
            return Err(scanner.error(format!("key {key:?} appears twice")));
        }
        if scanner.peek_token()? != Some(b'"') {
            let value = scanner.value(MAX_VALUE)?;
            document.fields.insert(key, value);
            continue;
        }
        let mut string = scanner.string()?;
        let mut head = vec![0u8; HEAD + 1];
        let filled = read_full(&mut string, &mut head)?;
        head.truncate(filled);
        if filled <= HEAD {
            let text = String::from_utf8(head).map_err(|_| string.error("invalid UTF-8"))?;
            document.fields.insert(key, Value::String(text));
            scanner = string.into_scanner()?;
            continue;
        }
        let stand_in = String::from_utf8_lossy(&head).into_owned();
        document.fields.insert(key.clone(), Value::String(stand_in));
        if allow_live {
            if let Some(Ok(plan)) = plan_object(&document.fields) {
                if plan.field() == Some(key.as_str()) {
                    let live = Live {
                        head: Cursor::new(head),
                        string: Some(string),
                        document: Some(document),
                        plan,
                    };
                    return Ok(Flow::Live(live));
                }
            }
        }
        let (blob, rest) = keep(head, string)?;
        document.blobs.insert(key, blob);
        scanner = rest;
    }
    scanner.expect_end()?;
    Ok(Flow::End(document))
}

/// Keeps a large string in memory, or in a temporary file past [`SPILL`] bytes.
fn keep<R: BufRead>(head: Vec<u8>, mut string: StringReader<R>) -> Result<(Blob, Scanner<R>)> {
    let mut text = head;
    let limit = (SPILL - text.len()) as u64;
    (&mut string).take(limit).read_to_end(&mut text)?;
    if text.len() < SPILL {
        return Ok((Blob::Memory(text), string.into_scanner()?));
    }
    let mut file = tempfile::tempfile()?;
    file.write_all(&text)?;
    io::copy(&mut string, &mut file)?;
    file.rewind()?;
    Ok((Blob::File(file), string.into_scanner()?))
}

impl Document {
    fn open<'a>(mut self) -> Result<Item<'a>> {
        let plan = match plan_object(&self.fields) {
            Some(plan) => plan?,
            None => {
                let keys: Vec<&String> = self.fields.keys().collect();
                return Err(no_dialect(&format!("an object with keys {keys:?}")));
            }
        };
        let field = plan
            .field()
            .expect("object plans name their field")
            .to_string();
        let text: Box<dyn Payload + 'a> = match self.blobs.remove(&field) {
            Some(Blob::Memory(bytes)) => Box::new(Cursor::new(bytes)),
            Some(Blob::File(file)) => Box::new(BufReader::with_capacity(1 << 20, file)),
            None => match self.fields.remove(&field) {
                Some(Value::String(text)) => Box::new(Cursor::new(text.into_bytes())),
                _ => unreachable!("plans check that their field is a string"),
            },
        };
        open_plan(plan, text)
    }
}

/// A payload string being streamed from the document as it is read. Once it has been read,
/// `finish` reads the rest of the document and checks it would have been read the same way.
struct Live<R> {
    head: Cursor<Vec<u8>>,
    string: Option<StringReader<R>>,
    document: Option<Document>,
    plan: Plan,
}

impl<'a, R: BufRead + 'a> Live<R> {
    fn open(self) -> Result<Item<'a>> {
        let plan = self.plan.clone();
        open_plan(plan, Box::new(self))
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

impl<R: BufRead> Payload for Live<R> {
    fn finish(&mut self) -> Result<()> {
        let Some(string) = self.string.take() else {
            return Ok(());
        };
        let mut scanner = string.into_scanner()?;
        let Some(document) = self.document.take() else {
            return scanner.expect_end();
        };
        let Flow::End(document) = read_members(scanner, document, false, false)? else {
            unreachable!("live streaming was not allowed")
        };
        match plan_object(&document.fields) {
            Some(Ok(plan)) if plan == self.plan => Ok(()),
            Some(Err(error)) => Err(error),
            _ => Err(Error::Envelope(format!(
                "keys after `{}` change how it is read; write them before it",
                self.plan.field().unwrap_or("data")
            ))),
        }
    }
}

fn open_plan<'a>(plan: Plan, text: Box<dyn Payload + 'a>) -> Result<Item<'a>> {
    match plan {
        Plan::Tensor {
            header,
            field,
            encoding,
        } => {
            let decoded = DecodeReader::new(text, field.clone());
            let bytes: Box<dyn Payload + 'a> = match encoding.compression {
                Some(Compression::Zlib) => Box::new(Inflate::new(decoded, field)),
                None => Box::new(decoded),
            };
            let tensor =
                layout::normalise(header, bytes, encoding.byte_order, encoding.fortran_order)?;
            Ok(Item::Tensor(tensor))
        }
        Plan::Npy { field } => {
            let name = field.unwrap_or_else(|| "string".to_string());
            let decoded = DecodeReader::new(text, name);
            Ok(Item::Tensor(npy::read(BufReader::new(decoded))?))
        }
        Plan::Image { field } => {
            let mut decoded = DecodeReader::new(text, field);
            let mut bytes = Vec::new();
            (&mut decoded)
                .take(MAX_IMAGE_FILE)
                .read_to_end(&mut bytes)?;
            decoded.finish()?;
            Ok(Item::Image(pngfile::read(bytes)?))
        }
    }
}

/// zlib decompression of a payload, its errors named after the field.
struct Inflate<R: Read> {
    decoder: flate2::read::ZlibDecoder<R>,
    field: String,
}

impl<R: Read> Inflate<R> {
    fn new(inner: R, field: String) -> Self {
        Inflate {
            decoder: flate2::read::ZlibDecoder::new(inner),
            field,
        }
    }
}

impl<R: Read> Read for Inflate<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.decoder.read(buf).map_err(|error| {
            if error.get_ref().is_some_and(|inner| inner.is::<Error>()) {
                return error;
            }
            Error::Zlib {
                field: self.field.clone(),
                detail: error.to_string(),
            }
            .into()
        })
    }
}

impl<R: Payload> Payload for Inflate<R> {
    fn finish(&mut self) -> Result<()> {
        self.decoder.get_mut().finish()
    }
}
