//! A long list of numbers read as it streams from the text the document reader kept aside,
//! element by element into the model's bytes: memory stays flat however long the list. The
//! text is what [`crate::codec::document`] wrote: nested lists of scalar tokens, no
//! whitespace, already checked to be JSON. Each element is read as [`list`] reads it.

use std::io::{self, BufRead, Read};

use serde_json::Value;

use crate::codec::dialect::list;
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
pub fn open<'a>(
    mut text: Box<dyn Reopen + 'a>,
    dtype: Option<Dtype>,
    shape: Option<Vec<u64>>,
    arrangement: Arrangement,
    null_is_nan: bool,
    field: &str,
) -> Result<Tensor<'a>> {
    let survey = survey(
        &mut *text,
        field,
        null_is_nan && dtype.is_some_and(is_inexact),
    )?;
    let dtype = dtype.unwrap_or(survey.dtype);
    let shape = match shape {
        None => survey.shape,
        Some(shape) => {
            let declared = shape
                .iter()
                .try_fold(1u64, |total, &dim| total.checked_mul(dim));
            let flat_fits = survey.shape.len() == 1 && Some(survey.shape[0]) == declared;
            if shape != survey.shape && !flat_fits {
                return Err(Error::Envelope(format!(
                    "{field} holds values of shape {:?}, but the shape given is {shape:?}",
                    survey.shape
                )));
            }
            shape
        }
    };
    let header = TensorHeader::new(dtype, shape.clone())?;
    let planar = arrangement.planar_complex && dtype.is_complex();
    let stored = if planar {
        TensorHeader::new(dtype.real_part(), vec![2, shape.iter().product()])?
    } else {
        header.clone()
    };
    let elements = Elements {
        reader: text.reopen()?,
        token: Vec::new(),
        dtype: stored.dtype,
        null_is_nan: null_is_nan && is_inexact(dtype),
        field: field.to_string(),
        index: 0,
        pending: Vec::new(),
        taken: 0,
    };
    let tensor = Tensor::new(stored, Box::new(elements));
    if arrangement == Arrangement::MODEL {
        return Ok(tensor);
    }
    layout::normalise(header, Box::new(tensor), arrangement)
}

/// Whether the dtype holds NaN (where a dialect writes NaN as `null`).
pub fn is_inexact(dtype: Dtype) -> bool {
    dtype.is_float() || dtype.is_complex()
}

/// One pass over the text: its shape, checked rectangular, and numpy's dtype for it.
fn survey(text: &mut dyn Reopen, field: &str, null_is_nan: bool) -> Result<Survey> {
    let mut reader = text.reopen()?;
    let ragged = || {
        Error::Envelope(format!(
            "{field}: lists of different lengths (a ragged array) cannot be a tensor"
        ))
    };
    let (mut depth, mut leaf_depth) = (0usize, None);
    let mut counts: Vec<u64> = Vec::new();
    let mut dims: Vec<Option<u64>> = Vec::new();
    let mut dtype: Option<Dtype> = None;
    let mut token = Vec::new();
    while let Some(byte) = next_byte(&mut *reader)? {
        match byte {
            b'[' => {
                depth += 1;
                if leaf_depth.is_some_and(|leaf| depth > leaf) {
                    return Err(ragged());
                }
                counts.push(0);
                if dims.len() < depth {
                    dims.push(None);
                }
            }
            b']' | b',' => {
                if !token.is_empty() {
                    if *leaf_depth.get_or_insert(depth) != depth {
                        return Err(ragged());
                    }
                    let value = scalar(&token, null_is_nan)?;
                    let kind = list::leaf_kind(&value, field)?;
                    dtype = Some(dtype.map_or(kind, |dtype| list::wider(dtype, kind)));
                    *counts.last_mut().expect("inside a list") += 1;
                    token.clear();
                }
                if byte == b']' {
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
            other => token.push(other),
        }
    }
    let rank = leaf_depth.unwrap_or(dims.len());
    let shape = dims[..rank].iter().map(|dim| dim.unwrap_or(0)).collect();
    // An empty list is float64, as numpy.array([]) is.
    let dtype = dtype.unwrap_or(Dtype::Float64);
    Ok(Survey { shape, dtype })
}

fn next_byte(reader: &mut dyn BufRead) -> io::Result<Option<u8>> {
    let buffer = reader.fill_buf()?;
    let Some(&byte) = buffer.first() else {
        return Ok(None);
    };
    reader.consume(1);
    Ok(Some(byte))
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
struct Elements {
    reader: Box<dyn BufRead + Send>,
    /// A token cut off at the end of a batch.
    token: Vec<u8>,
    dtype: Dtype,
    null_is_nan: bool,
    field: String,
    index: u64,
    pending: Vec<u8>,
    taken: usize,
}

impl Elements {
    /// Converts elements until `pending` holds about `want` bytes; false at the end.
    fn fill(&mut self, want: usize) -> Result<bool> {
        self.pending.clear();
        self.taken = 0;
        while self.pending.len() < want {
            let buffer = self.reader.fill_buf()?;
            if buffer.is_empty() {
                break;
            }
            let length = buffer.len();
            for &byte in buffer {
                match byte {
                    b'[' => {}
                    b']' | b',' if self.token.is_empty() => {}
                    b']' | b',' => {
                        let value = scalar(&self.token, self.null_is_nan)?;
                        list::push_element(&mut self.pending, &value, self.dtype).ok_or_else(
                            || list::does_not_fit(&self.field, self.index, &value, self.dtype),
                        )?;
                        self.index += 1;
                        self.token.clear();
                    }
                    other => self.token.push(other),
                }
            }
            self.reader.consume(length);
        }
        Ok(!self.pending.is_empty())
    }
}

/// Bytes of elements converted at a time.
const BATCH: usize = 1 << 20;

impl Read for Elements {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.taken == self.pending.len() && !self.fill(BATCH)? {
            return Ok(0);
        }
        let count = buf.len().min(self.pending.len() - self.taken);
        buf[..count].copy_from_slice(&self.pending[self.taken..self.taken + count]);
        self.taken += count;
        Ok(count)
    }
}

impl Payload for Elements {}
