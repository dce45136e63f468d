//! Numbers as JSON: plain nested lists (`[[1, 2], [3, 4]]`), and the list payloads of other
//! dialects (KServe `data`, json-tricks `__ndarray__`, TF Serving `instances`). Reading infers
//! the dtype as numpy would, unless told; writing streams the elements.

use std::collections::VecDeque;
use std::io::{BufRead, Cursor, Read, Write};
use std::num::NonZeroUsize;

use serde_json::Value;

use crate::codec::dialect::scalar::{self, Scalar};
use crate::codec::dialect::{fields, path, Plan, ReadOptions, WriteOptions};
use crate::codec::dtype::Dtype;
use crate::codec::io::{read_full, AlignedBuf, AlignedReader};
use crate::codec::json;
use crate::codec::layout::{self, Arrangement};
use crate::codec::model::{Item, Tensor, TensorHeader};
use crate::codec::numbers::{put, FloatText, FLOAT_ROOM, NON_FINITE};
use crate::codec::pool::{Chunk, Pool};
use crate::error::{Error, Result};

pub const LOOKS_FOR: &str = "a list of numbers";

pub fn plan(_options: &ReadOptions) -> Plan {
    Plan::List {
        dtype: None,
        shape: None,
        path: path(&[]),
        arrangement: Arrangement::MODEL,
        null_is_nan: false,
    }
}

/// The shape the nesting gives, checking that every level is rectangular.
pub fn nested_shape(value: &Value, field: &str) -> Result<Vec<u64>> {
    let Value::Array(items) = value else {
        return Ok(Vec::new());
    };
    let Some(first) = items.first() else {
        return Ok(vec![0]);
    };
    let inner = nested_shape(first, field)?;
    for item in &items[1..] {
        if nested_shape(item, field)? != inner {
            return Err(Error::Envelope(format!(
                "{field}: lists of different lengths (a ragged array) cannot be a tensor"
            )));
        }
    }
    let mut shape = vec![items.len() as u64];
    shape.extend(inner);
    Ok(shape)
}

fn leaves<'v>(value: &'v Value, out: &mut Vec<&'v Value>) {
    match value {
        Value::Array(items) => items.iter().for_each(|item| leaves(item, out)),
        leaf => out.push(leaf),
    }
}

/// A complex number as json-tricks writes it, `{"__complex__": [re, im]}`, or as jsonpickle
/// does, `{"py/object": "builtins.complex", "py/newargs": {"py/tuple": [re, im]}}`.
fn complex_parts(value: &Value) -> Option<(f64, f64)> {
    let object = value.as_object()?;
    let parts = match object.get("__complex__") {
        Some(parts) => parts,
        None => object.get("py/newargs")?.get("py/tuple")?,
    };
    let parts = parts.as_array()?;
    match parts.as_slice() {
        [re, im] => Some((float_of(re)?, float_of(im)?)),
        _ => None,
    }
}

fn float_of(value: &Value) -> Option<f64> {
    if let Some(digits) = big_integer(value) {
        // As numpy converts a Python int: correctly rounded.
        return digits.parse().ok();
    }
    match value {
        Value::Number(number) => number.as_f64(),
        Value::String(text) => match text.as_str() {
            "NaN" => Some(f64::NAN),
            "Infinity" => Some(f64::INFINITY),
            "-Infinity" => Some(f64::NEG_INFINITY),
            _ => None,
        },
        _ => None,
    }
}

/// The dtype numpy infers for these elements: bool, int64 (uint64 past its range), float64
/// or complex128.
fn infer(leaves: &[&Value], field: &str) -> Result<Dtype> {
    let mut dtype = if leaves.is_empty() {
        Dtype::Float64
    } else {
        Dtype::Bool
    };
    for leaf in leaves {
        dtype = wider(dtype, leaf_kind(leaf, field)?);
    }
    Ok(dtype)
}

/// The dtype numpy infers for one element alone.
pub(crate) fn leaf_kind(leaf: &Value, field: &str) -> Result<Dtype> {
    Ok(match leaf {
        Value::Bool(_) => Dtype::Bool,
        Value::Number(number) if number.is_i64() => Dtype::Int64,
        Value::Number(number) if number.is_u64() => Dtype::Uint64,
        Value::Number(_) => Dtype::Float64,
        other if big_integer(other).is_some() => return Err(too_big_to_infer(field, other)),
        other if complex_parts(other).is_some() => Dtype::Complex128,
        other if float_of(other).is_some() => Dtype::Float64,
        other => return Err(not_a_number(field, other)),
    })
}

fn rank(dtype: Dtype) -> u8 {
    match dtype {
        Dtype::Bool => 0,
        Dtype::Int8 | Dtype::Int16 | Dtype::Int32 | Dtype::Int64 => 1,
        Dtype::Uint8 | Dtype::Uint16 | Dtype::Uint32 | Dtype::Uint64 => 2,
        Dtype::Float16 | Dtype::Float32 | Dtype::Float64 => 3,
        Dtype::Complex64 | Dtype::Complex128 => 4,
    }
}

pub(crate) fn wider(a: Dtype, b: Dtype) -> Dtype {
    // int64 with uint64 gives float64, as in numpy.
    if matches!(
        (a, b),
        (Dtype::Int64, Dtype::Uint64) | (Dtype::Uint64, Dtype::Int64)
    ) {
        return Dtype::Float64;
    }
    if rank(b) > rank(a) {
        b
    } else {
        a
    }
}

fn not_a_number(field: &str, found: &Value) -> Error {
    let found = fields::shown(found);
    Error::Envelope(format!(
        "{field}: expected numbers or booleans, found {found}"
    ))
}

/// Where numbers are expected, a string (of base64, say) is not read: the dialect has none.
pub fn found_a_string(field: &str) -> Error {
    Error::Envelope(format!(
        "{field}: expected a list of numbers, found a string; this layout carries its values \
         as JSON numbers, not base64"
    ))
}

fn too_big_to_infer(field: &str, found: &Value) -> Error {
    let found = fields::shown(found);
    Error::Envelope(format!(
        "{field}: the integer {found} does not fit in 64 bits; numpy would make an object \
         array, which tensorjson does not carry (give --dtype float64 to read it as a float)"
    ))
}

/// Builds a tensor from nested lists, checking them against `shape` if given (a flat list
/// of the right length is accepted too, as KServe allows).
pub fn to_tensor(
    value: &Value,
    dtype: Option<Dtype>,
    shape: Option<Vec<u64>>,
    field: &str,
) -> Result<Tensor<'static>> {
    let nested = nested_shape(value, field)?;
    let mut elements = Vec::new();
    leaves(value, &mut elements);
    let shape = match shape {
        None => nested,
        Some(shape) => {
            let declared = shape
                .iter()
                .try_fold(1u64, |total, &dim| total.checked_mul(dim));
            let flat_fits = nested.len() == 1 && Some(nested[0]) == declared;
            if shape != nested && !flat_fits {
                return Err(Error::Envelope(format!(
                    "{field} holds values of shape {nested:?}, but the shape given is {shape:?}"
                )));
            }
            shape
        }
    };
    let dtype = match dtype {
        Some(dtype) => dtype,
        None => infer(&elements, field)?,
    };
    let header = TensorHeader::new(dtype, shape)?;
    let mut bytes = Vec::with_capacity(elements.len() * dtype.itemsize());
    for (index, element) in elements.iter().enumerate() {
        push_element(&mut bytes, element, dtype)
            .ok_or_else(|| does_not_fit(field, index as u64, element, dtype))?;
    }
    Ok(Tensor::new(header, Box::new(Cursor::new(bytes))))
}

/// Like [`to_tensor`], for numbers stored in another arrangement: Fortran order, or complex
/// numbers as a list of real parts followed by a list of imaginary parts (JData). Such plans
/// always give both dtype and shape.
pub fn to_arranged_tensor(
    value: &Value,
    dtype: Option<Dtype>,
    shape: Option<Vec<u64>>,
    arrangement: Arrangement,
    field: &str,
) -> Result<Tensor<'static>> {
    let (Some(dtype), Some(shape)) = (dtype, shape.clone()) else {
        return to_tensor(value, dtype, shape, field);
    };
    if arrangement == Arrangement::MODEL {
        return to_tensor(value, Some(dtype), Some(shape), field);
    }
    // Checked first: it also bounds the element count below.
    let header = TensorHeader::new(dtype, shape.clone())?;
    let planar = arrangement.planar_complex && dtype.is_complex();
    let parts = if planar {
        let count: u64 = shape.iter().product();
        to_tensor(value, Some(dtype.real_part()), Some(vec![2, count]), field)?
    } else {
        to_tensor(value, Some(dtype), Some(shape), field)?
    };
    layout::normalise(header, Box::new(parts), arrangement)
}

pub(crate) fn does_not_fit(field: &str, index: u64, element: &Value, dtype: Dtype) -> Error {
    let reason = match integer_range(dtype) {
        Some((min, max))
            if scalar_of(element).and_then(Scalar::integer).is_some()
                || big_integer(element).is_some() =>
        {
            format!("is outside the range of {dtype}, {min} to {max}")
        }
        _ => format!("cannot be read as {dtype}"),
    };
    let element = fields::shown(element);
    Error::Envelope(format!("{field}: element {index} ({element}) {reason}"))
}

/// The least and greatest values of an integer dtype.
fn integer_range(dtype: Dtype) -> Option<(i128, i128)> {
    macro_rules! range {
        ($t:ty) => {
            Some((<$t>::MIN as i128, <$t>::MAX as i128))
        };
    }
    match dtype {
        Dtype::Int8 => range!(i8),
        Dtype::Int16 => range!(i16),
        Dtype::Int32 => range!(i32),
        Dtype::Int64 => range!(i64),
        Dtype::Uint8 => range!(u8),
        Dtype::Uint16 => range!(u16),
        Dtype::Uint32 => range!(u32),
        Dtype::Uint64 => range!(u64),
        Dtype::Bool
        | Dtype::Float16
        | Dtype::Float32
        | Dtype::Float64
        | Dtype::Complex64
        | Dtype::Complex128 => None,
    }
}

/// The digits of an integer literal too large for 64 bits (see [`json::BIG_INTEGER`]).
fn big_integer(value: &Value) -> Option<&str> {
    value.as_str()?.strip_prefix(json::BIG_INTEGER)
}

/// The element a JSON value holds, as Python's `json` read it: integers exactly however
/// large (past i128, as the float they round to), booleans as 0 and 1, NaN and the
/// infinities as their tokens, complex numbers as json-tricks and jsonpickle write them.
pub(crate) fn scalar_of(value: &Value) -> Option<Scalar> {
    if let Some(digits) = big_integer(value) {
        return Some(match digits.parse() {
            Ok(integer) => Scalar::Int(integer),
            Err(_) => Scalar::Real(digits.parse().ok()?),
        });
    }
    match value {
        Value::Bool(flag) => Some(Scalar::Int(i128::from(*flag))),
        Value::Number(number) => match (number.as_i64(), number.as_u64()) {
            (Some(integer), _) => Some(Scalar::Int(integer.into())),
            (None, Some(integer)) => Some(Scalar::Int(integer.into())),
            (None, None) => number.as_f64().map(Scalar::Real),
        },
        Value::String(_) => float_of(value).map(Scalar::Real),
        Value::Object(_) => complex_parts(value).map(|(re, im)| Scalar::Complex(re, im)),
        Value::Null | Value::Array(_) => None,
    }
}

pub(crate) fn push_element(bytes: &mut Vec<u8>, value: &Value, dtype: Dtype) -> Option<()> {
    scalar::push(bytes, scalar_of(value)?, dtype)
}

/// Replaces `null` elements with NaN (as the `NaN` token reads), for dialects that write NaN
/// as `null`.
pub fn nulls_to_nan(value: &mut Value) {
    match value {
        Value::Array(items) => items.iter_mut().for_each(nulls_to_nan),
        Value::Null => *value = Value::String("NaN".to_string()),
        Value::Bool(_) | Value::Number(_) | Value::String(_) | Value::Object(_) => {}
    }
}

/// Whether a value that may be numbers or a base64 string is numbers: anything but a string,
/// or a bare NaN or infinity (a 0-d array), which reads as one.
pub fn is_numbers(value: &Value) -> bool {
    match value {
        Value::String(text) => NON_FINITE.contains(&text.as_str()),
        _ => true,
    }
}

/// Refuses a shape that nested lists alone cannot show: they show a shape only up to its
/// first zero-length axis (`[]` is what (0,), (0, 3) and (0, 0, 0) all write).
pub fn check_nestable(shape: &[usize]) -> Result<()> {
    match shape.iter().position(|&dim| dim == 0) {
        Some(zero) if zero + 1 < shape.len() => Err(Error::Envelope(format!(
            "nested lists cannot show shape {shape:?}: the axes after a zero-length axis are \
             lost; use --style native, json-numpy or json-tricks"
        ))),
        _ => Ok(()),
    }
}

/// Writes a tensor as nested lists (`nested`) or one flat list, element by element.
pub fn write_values(
    tensor: &mut Tensor,
    out: &mut dyn Write,
    nested: bool,
    options: &WriteOptions,
) -> Result<()> {
    let dtype = tensor.header.dtype;
    if dtype.is_complex() {
        return Err(Error::Envelope(format!(
            "JSON numbers cannot hold {dtype} values; use --style native, json-numpy or json-tricks"
        )));
    }
    let shape = if nested {
        tensor.header.shape.clone()
    } else {
        vec![tensor.header.shape.iter().product()]
    };
    let mut elements = Elements {
        reader: AlignedReader::with_capacity(1 << 16, tensor),
        dtype,
        allow_nan: options.allow_nan,
        threads: options.list_threads(),
        index: 0,
        text: AlignedBuf::new(TEXT_BATCH + element_room(dtype)),
        filled: 0,
        out,
    };
    elements.write_dim(&shape)?;
    elements.flush()?;
    // Reading on to the end checks that nothing follows the data in its source.
    let mut rest = [0u8; 1];
    read_full(&mut elements.reader, &mut rest)?;
    Ok(())
}

/// Text gathered before it is written: one write per 64 KiB, not several per element.
const TEXT_BATCH: usize = 64 << 10;
/// Elements in a chunk formatted on another thread.
const CHUNK_ELEMENTS: usize = 32 << 10;

struct Elements<'t, 'a, 'o> {
    reader: AlignedReader<&'t mut Tensor<'a>>,
    dtype: Dtype,
    allow_nan: bool,
    /// Threads formatting a long row.
    threads: NonZeroUsize,
    index: u64,
    /// Room for [`TEXT_BATCH`] bytes and one element more, of which `filled` are written.
    text: AlignedBuf,
    filled: usize,
    out: &'o mut dyn Write,
}

impl Elements<'_, '_, '_> {
    fn write_dim(&mut self, shape: &[usize]) -> Result<()> {
        let Some((&length, inner)) = shape.split_first() else {
            return self.write_next();
        };
        self.push(b'[')?;
        if inner.is_empty() {
            self.write_row(length)?;
        } else {
            for index in 0..length {
                if index > 0 {
                    self.push(b',')?;
                }
                self.write_dim(inner)?;
            }
        }
        self.push(b']')
    }

    fn push(&mut self, byte: u8) -> Result<()> {
        if self.filled == self.text.len() {
            self.flush()?;
        }
        self.text[self.filled] = byte;
        self.filled += 1;
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        self.out.write_all(&self.text[..self.filled])?;
        self.filled = 0;
        Ok(())
    }

    /// `length` elements, comma-separated: formatted straight from the reader's buffer, as
    /// many at once as the text has room for, or on other threads where the row is long
    /// (a flat KServe `data`, most often).
    fn write_row(&mut self, length: usize) -> Result<()> {
        if self.threads.get() > 1 && length >= 2 * CHUNK_ELEMENTS {
            return self.write_row_in_parallel(length);
        }
        let size = self.dtype.itemsize();
        let room = element_room(self.dtype);
        let mut left = length;
        while left > 0 {
            if left < length {
                self.push(b',')?;
            }
            if self.text.len() - self.filled < room {
                self.flush()?;
            }
            let fits = (self.text.len() - self.filled) / room;
            let buffer = self.reader.fill_buf()?;
            let count = (buffer.len() / size).min(left).min(fits);
            if count == 0 {
                // An element cut at the buffer's end, or the end of the data (which
                // `read_exact` reports).
                self.write_next()?;
                left -= 1;
                continue;
            }
            let text = &mut self.text[self.filled..];
            let written =
                format_elements(&buffer[..count * size], self.dtype, self.allow_nan, text)
                    .map_err(|(at, value)| non_finite(self.index + at as u64, value))?;
            self.filled += written;
            self.index += count as u64;
            self.reader.consume(count * size);
            left -= count;
        }
        Ok(())
    }

    /// [`Self::write_row`] with the formatting done by a pool of threads, a chunk each,
    /// while this one reads the elements and writes the text in order.
    fn write_row_in_parallel(&mut self, length: usize) -> Result<()> {
        self.flush()?;
        let (dtype, allow_nan) = (self.dtype, self.allow_nan);
        let pool = Pool::new(self.threads, move |input, output| {
            format_elements(input, dtype, allow_nan, output).ok()
        });
        let size = dtype.itemsize();
        let mut pending = VecDeque::new();
        let mut spare: Vec<Chunk> = Vec::new();
        let mut left = length;
        let mut first = true;
        while left > 0 || !pending.is_empty() {
            // One chunk more than there are threads keeps them all busy while this one writes.
            if left > 0 && pending.len() <= pool.threads() {
                let count = left.min(CHUNK_ELEMENTS);
                let mut chunk = spare.pop().unwrap_or_else(|| {
                    Chunk::new(CHUNK_ELEMENTS * size, CHUNK_ELEMENTS * element_room(dtype))
                });
                self.reader.read_exact(&mut chunk.input[..count * size])?;
                chunk.filled = count * size;
                pending.push_back(pool.submit(chunk));
                left -= count;
                continue;
            }
            let chunk = pending.pop_front().expect("a chunk is pending").wait();
            self.write_chunk(&chunk, first)?;
            first = false;
            spare.push(chunk);
        }
        Ok(())
    }

    /// A formatted chunk's text, or the error its elements hold, which its worker left to
    /// be found here.
    fn write_chunk(&mut self, chunk: &Chunk, first: bool) -> Result<()> {
        let data = &chunk.input[..chunk.filled];
        let Some(length) = chunk.produced else {
            let mut text = vec![0; data.len() / self.dtype.itemsize() * element_room(self.dtype)];
            let (at, value) = format_elements(data, self.dtype, self.allow_nan, &mut text)
                .expect_err("a worker found an element it could not write");
            return Err(non_finite(self.index + at as u64, value));
        };
        if !first {
            self.out.write_all(b",")?;
        }
        self.out.write_all(&chunk.output[..length])?;
        self.index += (data.len() / self.dtype.itemsize()) as u64;
        Ok(())
    }

    fn write_next(&mut self) -> Result<()> {
        if self.text.len() - self.filled < element_room(self.dtype) {
            self.flush()?;
        }
        let mut buffer = [0u8; 8];
        let element = &mut buffer[..self.dtype.itemsize()];
        self.reader.read_exact(element)?;
        let text = &mut self.text[self.filled..];
        self.filled += format_elements(element, self.dtype, self.allow_nan, text)
            .map_err(|(_, value)| non_finite(self.index, value))?;
        self.index += 1;
        Ok(())
    }
}

/// The most bytes one element's text takes, with a comma after it.
fn element_room(dtype: Dtype) -> usize {
    let text = match dtype {
        Dtype::Bool => "false".len(),
        Dtype::Int8
        | Dtype::Int16
        | Dtype::Int32
        | Dtype::Int64
        | Dtype::Uint8
        | Dtype::Uint16
        | Dtype::Uint32
        | Dtype::Uint64 => i64::MIN.to_string().len(),
        Dtype::Float16 | Dtype::Float32 | Dtype::Float64 => FLOAT_ROOM,
        // Never written as numbers ([`write_values`] refuses them); room for a pair.
        Dtype::Complex64 | Dtype::Complex128 => 2 * FLOAT_ROOM + 3,
    };
    text + 1
}

/// Writes the text of the elements of `dtype` in `data`, comma-separated, to the front of
/// `out`, which has [`element_room`] bytes for each: integers and booleans as Python writes
/// them, floats as their shortest round-trip decimal. Returns the length written, or the
/// position and value of a NaN or infinity that `allow_nan` does not let be written.
fn format_elements(
    data: &[u8],
    dtype: Dtype,
    allow_nan: bool,
    out: &mut [u8],
) -> std::result::Result<usize, (usize, f64)> {
    let mut integers = itoa::Buffer::new();
    let mut floats = FloatText::new(allow_nan);
    macro_rules! int {
        ($t:ty) => {
            each(data, out, |element, out| {
                Ok(put(out, integers.format(<$t>::from_le_bytes(element))))
            })
        };
    }
    match dtype {
        Dtype::Bool => each(data, out, |[byte]: [u8; 1], out| {
            Ok(put(out, if byte != 0 { "true" } else { "false" }))
        }),
        Dtype::Int8 => int!(i8),
        Dtype::Int16 => int!(i16),
        Dtype::Int32 => int!(i32),
        Dtype::Int64 => int!(i64),
        Dtype::Uint8 => int!(u8),
        Dtype::Uint16 => int!(u16),
        Dtype::Uint32 => int!(u32),
        Dtype::Uint64 => int!(u64),
        Dtype::Float16 => each(data, out, |e, out| floats.f16(u16::from_le_bytes(e), out)),
        Dtype::Float32 => each(data, out, |e, out| floats.f32(f32::from_le_bytes(e), out)),
        Dtype::Float64 => each(data, out, |e, out| floats.f64(f64::from_le_bytes(e), out)),
        Dtype::Complex64 | Dtype::Complex128 => unreachable!("refused before writing"),
    }
}

/// Runs `text_of` over each `N`-byte element of `data`, the texts comma-separated in `out`.
fn each<const N: usize>(
    data: &[u8],
    out: &mut [u8],
    mut text_of: impl FnMut([u8; N], &mut [u8]) -> std::result::Result<usize, f64>,
) -> std::result::Result<usize, (usize, f64)> {
    let mut at = 0;
    for (index, element) in data.chunks_exact(N).enumerate() {
        if index > 0 {
            out[at] = b',';
            at += 1;
        }
        let element = element.try_into().expect("N bytes");
        at += text_of(element, &mut out[at..]).map_err(|value| (index, value))?;
    }
    Ok(at)
}

fn non_finite(index: u64, value: f64) -> Error {
    Error::Envelope(format!(
        "element {index} is {value}, which JSON cannot hold; give --allow-nan to write \
         the NaN/Infinity tokens that Python's json reads, or use --style native"
    ))
}

/// `--style list`: the tensor as nested lists; an image is refused.
pub fn write(item: Item, out: &mut dyn Write, options: &WriteOptions) -> Result<()> {
    match item {
        Item::Tensor(mut tensor) => {
            check_nestable(&tensor.header.shape)?;
            write_values(&mut tensor, out, true, options)
        }
        Item::Image(_) => Err(Error::Envelope(
            "style list holds tensors; decode the image to .npy first, or use an image style"
                .to_string(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A payload that hands out three bytes at a time, cutting elements in two.
    struct Trickle(Cursor<Vec<u8>>);

    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let end = buf.len().min(3);
            self.0.read(&mut buf[..end])
        }
    }

    impl crate::codec::io::Payload for Trickle {}

    fn text_of(tensor: &mut Tensor, nested: bool) -> Result<String> {
        let mut out = Vec::new();
        write_values(tensor, &mut out, nested, &WriteOptions::default())?;
        Ok(String::from_utf8(out).unwrap())
    }

    fn written(values: &[u8], dtype: Dtype, shape: Vec<u64>, threads: usize) -> Result<String> {
        let header = TensorHeader::new(dtype, shape).unwrap();
        let mut tensor = Tensor::new(header, Box::new(Trickle(Cursor::new(values.to_vec()))));
        let options = WriteOptions {
            threads: NonZeroUsize::new(threads),
            ..WriteOptions::default()
        };
        let mut out = Vec::new();
        write_values(&mut tensor, &mut out, true, &options)?;
        Ok(String::from_utf8(out).unwrap())
    }

    #[test]
    fn long_rows_written_on_several_threads_are_the_text_of_one() {
        // Rows long enough to be cut into chunks, of a length no chunk size divides.
        let count = 5 * CHUNK_ELEMENTS + 77;
        let floats: Vec<u8> = (0..count)
            .flat_map(|i| ((i as f32 * 0.37).sin() * 1e5).to_le_bytes())
            .collect();
        let one = written(&floats, Dtype::Float32, vec![count as u64], 1).unwrap();
        let read: Vec<f32> = serde_json::from_str(&one).unwrap();
        let read: Vec<u8> = read.iter().flat_map(|v| v.to_le_bytes()).collect();
        assert!(read == floats, "the text reads back as other values");
        for threads in [2, 3] {
            assert_eq!(
                written(&floats, Dtype::Float32, vec![count as u64], threads).unwrap(),
                one
            );
        }
        let integers: Vec<u8> = (0..2 * count as i64)
            .flat_map(|i| (i * -7919).to_le_bytes())
            .collect();
        let shape = vec![2, count as u64];
        let expected = written(&integers, Dtype::Int64, shape.clone(), 1).unwrap();
        assert_eq!(
            written(&integers, Dtype::Int64, shape, 2).unwrap(),
            expected
        );
        assert!(expected.starts_with("[[0,-7919,"), "{}", &expected[..20]);
    }

    #[test]
    fn a_nan_in_a_long_row_is_refused_at_its_index_on_any_number_of_threads() {
        let count = 4 * CHUNK_ELEMENTS;
        let at = 3 * CHUNK_ELEMENTS + 5;
        let mut values = vec![1.5f64; count];
        values[at] = f64::NAN;
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        for threads in [1, 2] {
            let error = written(&bytes, Dtype::Float64, vec![count as u64], threads).unwrap_err();
            assert!(
                error.to_string().contains(&format!("element {at} is NaN")),
                "{error}"
            );
        }
    }

    #[test]
    fn rows_read_whole_or_cut_write_the_same_text() {
        let values: Vec<f32> = (0..5000).map(|i| (i as f32 * 0.7).sin() * 1e3).collect();
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let header = || TensorHeader::new(Dtype::Float32, vec![50, 100]).unwrap();
        let mut whole = Tensor::new(header(), Box::new(Cursor::new(bytes.clone())));
        let mut cut = Tensor::new(header(), Box::new(Trickle(Cursor::new(bytes.clone()))));
        let expected = values.iter().map(|v| format!("{v:?}")).collect::<Vec<_>>();
        let flat = format!("[{}]", expected.join(","));
        assert_eq!(text_of(&mut whole, false).unwrap(), flat);
        let nested = text_of(&mut cut, true).unwrap();
        assert_eq!(
            nested
                .replace("],[", ",")
                .replace("[[", "[")
                .replace("]]", "]"),
            flat
        );
        // Data that ends early is an error, wherever it ends.
        let short = TensorHeader::new(Dtype::Float32, vec![5001]).unwrap();
        let mut short = Tensor::new(short, Box::new(Trickle(Cursor::new(bytes))));
        assert!(text_of(&mut short, false).is_err());
    }
}
