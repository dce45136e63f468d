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
pub mod list_stream;
pub mod native;
pub mod npy_base64;
pub mod open;
pub mod openai;
pub mod plain;
pub mod scalar;
pub mod shaped;
pub mod tf_serving;
mod writer;

use std::io::BufRead;
use std::num::NonZeroUsize;

use serde_json::{Map, Value};

use crate::codec::aside::Reread;
use crate::codec::b64;
use crate::codec::document::{self, Flow};
use crate::codec::dtype::{ByteOrder, Dtype};
use crate::codec::layout::{self, Arrangement};
use crate::codec::model::{Item, TensorHeader};
use crate::codec::search;
use crate::error::{Error, Result};

pub use writer::WriteOptions;

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
    /// Which payload to pick in a document that holds several: by its name in a KServe or
    /// TF Serving document, or by its key.
    pub name: Option<String>,
    /// Where the payload is: a JSON Pointer (RFC 6901), `/outputs/0`.
    pub path: Option<String>,
    /// The shape of raw tensor data (a bare base64 string at `path`), with `dtype`.
    pub shape: Option<Vec<u64>>,
    /// The dtype of plain numbers, where the dialect does not say (lists, TF Serving).
    pub dtype: Option<Dtype>,
    /// Largest decoded payload, in bytes: a tensor's data, an image file or its pixels.
    /// Checked against the declared size before any data is read.
    pub max_bytes: u64,
    /// Largest payload held whole in memory to be reordered, in bytes.
    pub max_in_memory: u64,
    /// Threads decoding base64; `None` for [`b64::default_threads`]. The bytes are the
    /// same on any number.
    pub threads: Option<NonZeroUsize>,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            name: None,
            path: None,
            shape: None,
            dtype: None,
            max_bytes: DEFAULT_MAX_BYTES,
            max_in_memory: DEFAULT_MAX_IN_MEMORY,
            threads: None,
        }
    }
}

pub(crate) const RAISE_HINT: &str = " (raise it with --max-bytes)";

impl ReadOptions {
    /// Threads decoding base64: as asked, or [`b64::default_threads`].
    pub fn base64_threads(&self) -> NonZeroUsize {
        self.threads.unwrap_or_else(b64::default_threads)
    }

    /// Refuses options that cannot apply whatever the document holds ([`Error::Usage`]):
    /// `--shape` describes raw data at `--path`, read with `--dtype`. Needs nothing but the
    /// options, so it can run before any input is read.
    pub fn check(&self) -> Result<()> {
        let missing = match (&self.shape, self.dtype, &self.path) {
            (None, _, _) | (Some(_), Some(_), Some(_)) => return Ok(()),
            (Some(_), None, Some(_)) => "--dtype",
            (Some(_), Some(_), None) => "--path",
            (Some(_), None, None) => "--dtype and --path",
        };
        Err(Error::Usage(format!(
            "--shape applies to raw tensor data: the base64 string at --path POINTER, read \
             with --dtype DTYPE; give {missing} too"
        )))
    }

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
    /// (jsonpickle's `ndarray_compression=None`); see `open::zlib_or_raw`.
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
    pub fn path(&self) -> &Path {
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
    pub fn live_key(&self) -> Option<&str> {
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

/// The names of the tensors an object holds, in order.
pub type Names = fn(&Map<String, Value>) -> Vec<String>;

/// A reader of one dialect of JSON objects: `None` when the keys are not its own.
pub struct ObjectReader {
    pub name: &'static str,
    pub looks_for: &'static str,
    pub plan: fn(&Map<String, Value>, &ReadOptions) -> Option<Result<Plan>>,
    /// For a reader of several named tensors, which picks one by `--name` itself: the names
    /// an object holds, in order.
    pub names: Option<Names>,
}

/// Tried in this order; the first whose keys match reads the object. KServe comes before
/// TF Serving because both may use `inputs`.
pub const OBJECT_READERS: [ObjectReader; 12] = [
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
    shaped::READER,
];

/// How base64 of a PNG file starts.
const PNG_BASE64: &[u8] = b"iVBORw0KGgo";

/// Readers of strings that are a payload by themselves.
const STRING_READERS: [(&str, &str); 3] = [
    ("npy-base64", npy_base64::LOOKS_FOR),
    ("data-url", data_url::LOOKS_FOR),
    ("png-base64", "a string starting \"iVBORw0KGgo\""),
];

/// The plan of the first reader whose keys the object has, and that reader.
pub fn read_object(
    fields: &Map<String, Value>,
    options: &ReadOptions,
) -> Option<(&'static ObjectReader, Result<Plan>)> {
    OBJECT_READERS
        .iter()
        .find_map(|reader| Some((reader, (reader.plan)(fields, options)?)))
}

pub fn plan_object(fields: &Map<String, Value>, options: &ReadOptions) -> Option<Result<Plan>> {
    read_object(fields, options).map(|(_, plan)| plan)
}

pub fn no_dialect(found: &str) -> Error {
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
pub fn read<'a, R: BufRead + Send + 'a>(
    input: R,
    again: Option<Reread>,
    options: &ReadOptions,
) -> Result<Item<'a>> {
    options.check()?;
    match document::read(input, again, options)? {
        Flow::Live(live) => live.open(options),
        Flow::End(document) => document.open(options),
    }
}

/// Refuses options that do not apply to the value `--path` points at ([`Error::Usage`]):
/// `--shape` reads a base64 string there as raw data, and `--name` picks among the payloads
/// an object holds by their keys; a number, list, `null` or string has no names. Also for
/// the whole document when it holds no payload but numbers (`--path ""`).
pub fn check_at_path(value: &Value, path: &Path, options: &ReadOptions) -> Result<()> {
    let at = || {
        let pointer = search::pointer(path);
        format!("the value at {pointer} is a JSON {}", kind_of(value))
    };
    if options.shape.is_some() && !value.is_string() {
        return Err(Error::Usage(format!(
            "--shape does not apply here: it reads the base64 string at --path as raw data, \
             and {}; drop --shape to read it as it is",
            at()
        )));
    }
    if options.name.is_some() && !value.is_object() {
        return Err(Error::Usage(format!(
            "--name does not apply here: it picks among the payloads an object holds, and {}",
            at()
        )));
    }
    Ok(())
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

/// The plan for a string that is a payload by itself, from its first characters, and the
/// name of its reader.
pub fn plan_string(head: &[u8]) -> Option<(&'static str, Result<Plan>)> {
    let [npy, data_url, png] = STRING_READERS.map(|(name, _)| name);
    if npy_base64::matches(head) {
        let plan = Plan::Npy {
            path: Path::new(),
            skip: 0,
        };
        return Some((npy, Ok(plan)));
    }
    if head.starts_with(PNG_BASE64) {
        let plan = Plan::Image {
            path: Path::new(),
            skip: 0,
        };
        return Some((png, Ok(plan)));
    }
    let text = String::from_utf8_lossy(head);
    Some((data_url, data_url::plan(&text, Path::new())?))
}
