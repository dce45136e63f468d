//! A long list of numbers read as it streams from the text the document reader kept aside,
//! element by element into the model's bytes: memory stays flat however long the list. The
//! text is what [`crate::codec::document`] wrote: nested lists of scalar tokens, no
//! whitespace, already checked to be JSON. Each element is read as [`list`] reads it.

use std::io::{self, BufRead, Read};

use serde_json::Value;

use crate::codec::dialect::{list, plain, scalar};
use crate::codec::dtype::Dtype;
use crate::codec::io::Payload;
use crate::codec::json;
use crate::codec::layout::{self, Arrangement};
use crate::codec::model::{Tensor, TensorHeader};
use crate::error::{Error, Result};

/// List text that can be read from its start as often as needed, each time by a reader of
/// its own.
pub trait Reopen: Send {
    fn reopen(&mut self) -> Result<Box<dyn BufRead + Send>>;
}

/// What a first pass over the text found: the shape its nesting gives, and the dtype numpy
/// would infer for its elements.
struct Survey {
    shape: Vec<u64>,
    dtype: Dtype,
}

/// The tensor the list at `field` holds, as [`list::to_arranged_tensor`] makes it from a value.
/// Where the dtype and a shape with elements are given (KServe's `datatype` and `shape`,
/// `--dtype` with a shape), the text is read once: the nesting is checked against the shape
/// as the elements are converted, and only a list that fails is surveyed, for the error a
/// survey first would have given.
pub fn open<'a>(
    text: Box<dyn Reopen + 'a>,
    dtype: Option<Dtype>,
    shape: Option<Vec<u64>>,
    arrangement: Arrangement,
    null_is_nan: bool,
    field: &str,
) -> Result<Tensor<'a>> {
    let list = List {
        dtype,
        shape,
        arrangement,
        null_is_nan,
        field,
    };
    open_list(text, list, Pass::OnceWherePossible)
}

/// How a list is to be read: what [`open`] takes besides its text.
struct List<'f> {
    dtype: Option<Dtype>,
    shape: Option<Vec<u64>>,
    arrangement: Arrangement,
    null_is_nan: bool,
    field: &'f str,
}

/// Whether the survey may be left out; the tests compare both ways.
#[derive(Clone, Copy, PartialEq)]
enum Pass {
    OnceWherePossible,
    /// Only the tests read this way, to compare.
    #[cfg(test)]
    SurveyFirst,
}

fn open_list<'a>(mut text: Box<dyn Reopen + 'a>, list: List, pass: Pass) -> Result<Tensor<'a>> {
    let List {
        dtype,
        shape,
        arrangement,
        null_is_nan,
        field,
    } = list;
    let null_is_nan = null_is_nan && dtype.is_some_and(is_inexact);
    let once = pass == Pass::OnceWherePossible;
    let (dtype, shape, nesting) = match (dtype, shape) {
        (Some(dtype), Some(shape)) if once && count(&shape).is_some_and(|count| count > 0) => {
            let nesting = Nesting::new(shape.clone());
            (dtype, shape, Some(nesting))
        }
        (dtype, shape) => {
            let survey = survey(&mut *text, field, null_is_nan)?;
            let shape = match shape {
                None => survey.shape,
                Some(shape) => check_shape(survey.shape, shape, field)?,
            };
            (dtype.unwrap_or(survey.dtype), shape, None)
        }
    };
    let header = TensorHeader::new(dtype, shape.clone())?;
    let planar = arrangement.planar_complex && dtype.is_complex();
    let stored = if planar {
        TensorHeader::new(dtype.real_part(), vec![2, shape.iter().product()])?
    } else {
        header.clone()
    };
    let converted = Converted {
        dtype: stored.dtype,
        null_is_nan,
        field: field.to_string(),
        index: 0,
        // A chunk of text makes at most 8 bytes of elements per byte ("1," as complex128).
        bytes: Vec::with_capacity(BATCH + CHUNK * 8),
        nesting,
    };
    let elements = Elements {
        tokens: Tokens::new(text.reopen()?),
        converted,
        taken: 0,
        text,
    };
    let tensor = Tensor::new(stored, Box::new(elements));
    if arrangement == Arrangement::MODEL {
        return Ok(tensor);
    }
    layout::normalise(header, Box::new(tensor), arrangement)
}

/// The number of elements a shape holds, if it fits in 64 bits.
fn count(shape: &[u64]) -> Option<u64> {
    shape
        .iter()
        .try_fold(1u64, |total, &dim| total.checked_mul(dim))
}

/// The shape given, if the nesting the survey found shows it (or is a flat list of as many
/// elements, as KServe allows).
fn check_shape(found: Vec<u64>, shape: Vec<u64>, field: &str) -> Result<Vec<u64>> {
    let flat_fits = found.len() == 1 && Some(found[0]) == count(&shape);
    if shape != found && !flat_fits {
        return Err(Error::Envelope(format!(
            "{field} holds values of shape {found:?}, but the shape given is {shape:?}"
        )));
    }
    Ok(shape)
}

/// Whether the dtype holds NaN (where a dialect writes NaN as `null`).
pub fn is_inexact(dtype: Dtype) -> bool {
    dtype.is_float() || dtype.is_complex()
}

/// One pass over the text: its shape, checked rectangular, and numpy's dtype for it.
fn survey(text: &mut dyn Reopen, field: &str, null_is_nan: bool) -> Result<Survey> {
    let mut tokens = Tokens::new(text.reopen()?);
    let ragged = || {
        Error::Envelope(format!(
            "{field}: lists of different lengths (a ragged array) cannot be a tensor"
        ))
    };
    let (mut depth, mut leaf_depth) = (0usize, None);
    let mut counts: Vec<u64> = Vec::new();
    let mut dims: Vec<Option<u64>> = Vec::new();
    let mut dtype: Option<Dtype> = None;
    let mut each = |event: Event| -> Result<()> {
        match event {
            Event::Open => {
                depth += 1;
                if leaf_depth.is_some_and(|leaf| depth > leaf) {
                    return Err(ragged());
                }
                counts.push(0);
                if dims.len() < depth {
                    dims.push(None);
                }
            }
            Event::Leaf(token) => {
                if *leaf_depth.get_or_insert(depth) != depth {
                    return Err(ragged());
                }
                let kind = leaf_kind(token, null_is_nan, field)?;
                dtype = Some(dtype.map_or(kind, |dtype| list::wider(dtype, kind)));
                *counts.last_mut().expect("inside a list") += 1;
            }
            Event::Close => {
                let count = counts.pop().expect("inside a list");
                match dims[depth - 1] {
                    None => dims[depth - 1] = Some(count),
                    Some(dim) if dim != count => return Err(ragged()),
                    Some(_) => {}
                }
                depth -= 1;
                if let Some(parent) = counts.last_mut() {
                    *parent += 1;
                }
            }
        }
        Ok(())
    };
    while tokens.next_chunk(&mut each)? {}
    let rank = leaf_depth.unwrap_or(dims.len());
    let shape = dims[..rank].iter().map(|dim| dim.unwrap_or(0)).collect();
    // An empty list is float64, as numpy.array([]) is.
    let dtype = dtype.unwrap_or(Dtype::Float64);
    Ok(Survey { shape, dtype })
}

/// The dtype numpy infers for one token alone.
fn leaf_kind(token: &[u8], null_is_nan: bool, field: &str) -> Result<Dtype> {
    match plain::classify(token) {
        Some(number) => Ok(plain::kind(number.kind)),
        None => list::leaf_kind(&scalar(token, null_is_nan)?, field),
    }
}

/// What the list text holds, in order.
enum Event<'t> {
    Open,
    Close,
    Leaf(&'t [u8]),
}

/// The list text cut into [`Event`]s, straight from the reader's buffer: a token is copied
/// only when it spans two buffers.
struct Tokens {
    reader: Box<dyn BufRead + Send>,
    /// The start of a token cut off at the end of a chunk.
    partial: Vec<u8>,
}

/// Bytes of text taken at a time, so that what one chunk's elements make stays small even
/// where the reader's buffer is the whole text.
const CHUNK: usize = 64 << 10;

impl Tokens {
    fn new(reader: Box<dyn BufRead + Send>) -> Self {
        Tokens {
            reader,
            partial: Vec::new(),
        }
    }

    /// Hands the events of the next chunk of text to `each`; false at the end of the text.
    fn next_chunk(&mut self, each: &mut dyn FnMut(Event) -> Result<()>) -> Result<bool> {
        let buffer = self.reader.fill_buf()?;
        let chunk = &buffer[..buffer.len().min(CHUNK)];
        if chunk.is_empty() {
            return Ok(false);
        }
        let mut start = 0;
        for at in memchr::memchr3_iter(b'[', b']', b',', chunk) {
            let byte = chunk[at];
            if self.partial.is_empty() {
                if start < at {
                    each(Event::Leaf(&chunk[start..at]))?;
                }
            } else {
                self.partial.extend_from_slice(&chunk[start..at]);
                each(Event::Leaf(&self.partial))?;
                self.partial.clear();
            }
            match byte {
                b'[' => each(Event::Open)?,
                b']' => each(Event::Close)?,
                _ => {}
            }
            start = at + 1;
        }
        self.partial.extend_from_slice(&chunk[start..]);
        let length = chunk.len();
        self.reader.consume(length);
        Ok(true)
    }
}

/// One scalar token as the list reader takes it (see [`json::parse`]); `null` is NaN where
/// the dialect writes NaN so.
fn scalar(token: &[u8], null_is_nan: bool) -> Result<Value> {
    if null_is_nan && token == b"null" {
        return Ok(Value::String("NaN".to_string()));
    }
    json::scalar(token, 0)
}

/// The elements' bytes, converted as they are read.
struct Elements<'a> {
    tokens: Tokens,
    converted: Converted,
    taken: usize,
    /// The text again, to survey if the nesting turns out not to match the shape.
    text: Box<dyn Reopen + 'a>,
}

/// Elements converted, and where the next one stands.
struct Converted {
    dtype: Dtype,
    null_is_nan: bool,
    field: String,
    index: u64,
    bytes: Vec<u8>,
    /// Where no survey was made: the nesting, checked as it comes.
    nesting: Option<Nesting>,
}

impl Converted {
    fn take(&mut self, event: Event) -> Result<()> {
        if let Some(nesting) = &mut self.nesting {
            if !nesting.step(&event) {
                return Err(nesting.mismatch(&self.field));
            }
        }
        match event {
            Event::Leaf(token) => self.convert(token),
            Event::Open | Event::Close => Ok(()),
        }
    }

    /// Appends a token's element: by the fast lane where it is plain, else as [`list`]
    /// reads it (and as the survey would have refused it).
    fn convert(&mut self, token: &[u8]) -> Result<()> {
        let (dtype, bytes) = (self.dtype, &mut self.bytes);
        let fast =
            plain::classify(token).and_then(|number| scalar::push(bytes, number.scalar(), dtype));
        if fast.is_none() {
            let value = scalar(token, self.null_is_nan)?;
            list::leaf_kind(&value, &self.field)?;
            list::push_element(bytes, &value, dtype)
                .ok_or_else(|| list::does_not_fit(&self.field, self.index, &value, dtype))?;
        }
        self.index += 1;
        Ok(())
    }
}

/// The nesting of a list checked against a shape with elements as it is read: the list must
/// show the shape, or be flat with as many elements. Which of the two is known at the first
/// element, from its depth.
struct Nesting {
    shape: Vec<u64>,
    /// The lengths each level must have, once known.
    lengths: Option<Vec<u64>>,
    /// Items so far in each open list, outermost first.
    counts: Vec<u64>,
}

impl Nesting {
    fn new(shape: Vec<u64>) -> Self {
        Nesting {
            shape,
            lengths: None,
            counts: Vec::new(),
        }
    }

    /// Takes one event; false where the list cannot have the shape.
    fn step(&mut self, event: &Event) -> bool {
        match event {
            Event::Open => {
                let fits = self.count_item();
                self.counts.push(0);
                fits && self
                    .lengths
                    .as_ref()
                    .is_none_or(|lengths| self.counts.len() < lengths.len() + 1)
            }
            Event::Leaf(_) => {
                let depth = self.counts.len();
                let lengths = self.lengths.get_or_insert_with(|| {
                    if depth == self.shape.len() {
                        self.shape.clone()
                    } else {
                        vec![count(&self.shape).unwrap_or(0)]
                    }
                });
                depth == lengths.len() && self.count_item()
            }
            // A list closed before any element is empty, which a shape with elements is not.
            Event::Close => match (self.counts.pop(), &self.lengths) {
                (Some(count), Some(lengths)) => lengths.get(self.counts.len()) == Some(&count),
                (None, _) | (_, None) => false,
            },
        }
    }

    /// Counts an item of the innermost open list; false past its length.
    fn count_item(&mut self) -> bool {
        let depth = self.counts.len();
        let Some(count) = self.counts.last_mut() else {
            return true;
        };
        *count += 1;
        self.lengths.as_ref().is_none_or(|lengths| {
            lengths
                .get(depth - 1)
                .is_some_and(|&length| *count <= length)
        })
    }

    /// The error where the nesting does not fit, if a survey finds none better.
    fn mismatch(&self, field: &str) -> Error {
        Error::Envelope(format!(
            "{field}: the nesting of the list does not show the shape given, {:?}",
            self.shape
        ))
    }
}

impl Elements<'_> {
    /// Converts elements until there are about `want` bytes of them; false at the end.
    fn fill(&mut self, want: usize) -> Result<bool> {
        self.converted.bytes.clear();
        self.taken = 0;
        while self.converted.bytes.len() < want {
            let converted = &mut self.converted;
            match self.tokens.next_chunk(&mut |event| converted.take(event)) {
                Ok(true) => {}
                Ok(false) => break,
                Err(error) => return Err(self.explain(error)),
            }
        }
        Ok(!self.converted.bytes.is_empty())
    }

    /// The error to give for `error`, met without a survey: the survey's own where it finds
    /// one (a ragged list, the wrong shape, a value that is not a number), as it would have
    /// found it first.
    fn explain(&mut self, error: Error) -> Error {
        let Some(nesting) = &self.converted.nesting else {
            return error;
        };
        let shape = nesting.shape.clone();
        let field = self.converted.field.clone();
        match survey(&mut *self.text, &field, self.converted.null_is_nan) {
            Err(first) => first,
            Ok(survey) => check_shape(survey.shape, shape, &field)
                .err()
                .unwrap_or(error),
        }
    }
}

/// Bytes of elements converted at a time.
const BATCH: usize = 1 << 20;

impl Read for Elements<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.taken == self.converted.bytes.len() && !self.fill(BATCH)? {
            return Ok(0);
        }
        let pending = &self.converted.bytes[self.taken..];
        let count = buf.len().min(pending.len());
        buf[..count].copy_from_slice(&pending[..count]);
        self.taken += count;
        Ok(count)
    }
}

impl Payload for Elements<'_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::aside::Blob;

    /// The list's bytes, or its error, read with and without the survey: they must agree.
    fn read(text: &str, dtype: Option<Dtype>, shape: Option<Vec<u64>>, nan: bool) -> String {
        let both = [Pass::OnceWherePossible, Pass::SurveyFirst].map(|pass| {
            let list = List {
                dtype,
                shape: shape.clone(),
                arrangement: Arrangement::MODEL,
                null_is_nan: nan,
                field: "data",
            };
            let text = Box::new(Blob::Memory(text.as_bytes().to_vec()));
            match open_list(text, list, pass).and_then(|tensor| tensor.into_bytes()) {
                Ok(bytes) => format!("{bytes:02x?}"),
                Err(error) => error.to_string(),
            }
        });
        assert_eq!(both[0], both[1], "{text}");
        both[0].clone()
    }

    fn f32s(values: &[f32]) -> String {
        let bytes: Vec<u8> = values
            .iter()
            .flat_map(|value| value.to_le_bytes())
            .collect();
        format!("{bytes:02x?}")
    }

    #[test]
    fn one_pass_reads_what_the_survey_reads() {
        let f32 = Some(Dtype::Float32);
        let flat = "[1.5,-0,2,1e400,-2.5e-3,NaN]";
        let values = [1.5, 0.0, 2.0, f32::INFINITY, -2.5e-3, f32::NAN];
        assert_eq!(read(flat, f32, Some(vec![2, 3]), false), f32s(&values));
        let nested = "[[1.5,-0,2],[1e400,-2.5e-3,NaN]]";
        assert_eq!(read(nested, f32, Some(vec![2, 3]), false), f32s(&values));
        assert_eq!(
            read("[[1,null]]", f32, Some(vec![1, 2]), true),
            f32s(&[1.0, f32::NAN])
        );
        assert_eq!(
            read("[[5]]", Some(Dtype::Int8), Some(vec![1, 1]), false),
            "[05]"
        );
        assert_eq!(
            read("[7]", Some(Dtype::Int64), Some(vec![]), false),
            format!("{:02x?}", 7i64.to_le_bytes())
        );
    }

    #[test]
    fn one_pass_refuses_what_the_survey_refuses() {
        let f32 = Some(Dtype::Float32);
        let cases = [
            ("[[1,2],[3]]", vec![2, 2], "ragged"),
            ("[[1,2],[3,[4]]]", vec![2, 2], "ragged"),
            (
                "[[1,2,3],[4,5,6]]",
                vec![3, 2],
                "shape [2, 3], but the shape given is [3, 2]",
            ),
            ("[1,2,3,4,5]", vec![2, 3], "shape [5], but"),
            ("[1,2,3,4,5,6,7]", vec![2, 3], "shape [7], but"),
            ("[[[1,2,3]],[[4,5,6]]]", vec![2, 3], "shape [2, 1, 3], but"),
            ("[[],[]]", vec![2, 1], "shape [2, 0], but"),
            ("[[1],[]]", vec![2, 1], "ragged"),
            (
                "[1,null,3]",
                vec![3],
                "expected numbers or booleans, found null",
            ),
            ("[1,{},3]", vec![3], ""),
            ("[1,0x1,3]", vec![3], "(in the value at byte 0)"),
            (
                "[1,123456789012345678901234567890,3]",
                vec![3],
                "does not fit in 64 bits",
            ),
        ];
        for (text, shape, expected) in cases {
            let error = read(text, f32, Some(shape), false);
            assert!(
                error.contains(expected) && !error.starts_with('['),
                "{text}: {error}"
            );
        }
        let error = read("[1,300,3]", Some(Dtype::Int8), Some(vec![3]), false);
        assert!(
            error.contains("element 1 (300) is outside the range of int8"),
            "{error}"
        );
    }

    #[test]
    fn tokens_cut_between_chunks_read_whole() {
        // Over two chunks, with tokens of every length across the cut.
        let values: Vec<f64> = (0..20_000)
            .map(|i| (i as f64 * 0.37).sin() * 10f64.powi(i % 9 - 4))
            .collect();
        let text = format!(
            "[{}]",
            values
                .iter()
                .map(|v| format!("{v:?}"))
                .collect::<Vec<_>>()
                .join(",")
        );
        assert!(text.len() > 2 * CHUNK);
        let expected: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let shape = Some(vec![values.len() as u64]);
        assert_eq!(
            read(&text, Some(Dtype::Float64), shape, false),
            format!("{expected:02x?}")
        );
    }
}
