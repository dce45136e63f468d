//! `decode --cast`: a tensor's values converted to another dtype as `numpy.ndarray.astype`
//! converts them, element by element as the data streams, except that a value the target
//! cannot hold is refused (numpy wraps it, or warns and drops an imaginary part).

use std::io::{self, Read};

use crate::codec::dtype::Dtype;
use crate::codec::io::{read_full, AlignedBuf, Payload};
use crate::codec::model::{Tensor, TensorHeader};
use crate::codec::numbers::{double_to_half, half_value};
use crate::error::{Error, Result};

/// Elements converted per read: a few MiB of output at most.
const CHUNK: usize = 1 << 16;

/// The tensor with its values converted to `to`; the same tensor if it already is.
pub fn cast(tensor: Tensor<'_>, to: Dtype) -> Result<Tensor<'_>> {
    let from = tensor.header.dtype;
    if from == to {
        return Ok(tensor);
    }
    let shape = tensor.header.shape.iter().map(|&dim| dim as u64).collect();
    // A wider dtype may take the size past what numpy allows: refused here, up front.
    let header = TensorHeader::new(to, shape)?;
    let reader = Cast {
        source: tensor,
        from,
        to,
        input: AlignedBuf::new(CHUNK * from.itemsize()),
        output: Vec::with_capacity(CHUNK * to.itemsize()),
        position: 0,
        index: 0,
    };
    Ok(Tensor::new(header, Box::new(reader)))
}

struct Cast<'a> {
    source: Tensor<'a>,
    from: Dtype,
    to: Dtype,
    input: AlignedBuf,
    output: Vec<u8>,
    position: usize,
    /// Flat C-order index of the next element, for messages.
    index: u64,
}

impl Cast<'_> {
    /// Converts the next chunk; false at the end of the data.
    fn refill(&mut self) -> Result<bool> {
        // The source yields whole elements: its length is a multiple of the item size.
        let count = read_full(&mut self.source, &mut self.input)?;
        self.output.clear();
        self.position = 0;
        for element in self.input[..count].chunks_exact(self.from.itemsize()) {
            let value = Scalar::read(self.from, element);
            value
                .write(self.to, &mut self.output)
                .map_err(|refusal| refusal.error(self.to, self.index, value))?;
            self.index += 1;
        }
        Ok(count > 0)
    }
}

impl Read for Cast<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.position == self.output.len() && !self.refill()? {
            return Ok(0);
        }
        let count = buf.len().min(self.output.len() - self.position);
        buf[..count].copy_from_slice(&self.output[self.position..self.position + count]);
        self.position += count;
        Ok(count)
    }
}

impl Payload for Cast<'_> {
    fn finish(&mut self) -> Result<()> {
        self.source.finish()
    }
}

/// A floating-point value as stored, so that each conversion rounds once, from it.
#[derive(Clone, Copy, Debug)]
enum Real {
    /// float16, as its bits.
    Half(u16),
    Single(f32),
    Double(f64),
}

/// One element, read from the little-endian bytes of its dtype.
#[derive(Clone, Copy, Debug)]
enum Scalar {
    Bool(bool),
    /// Every int and uint value fits.
    Int(i128),
    Real(Real),
    Complex(Real, Real),
}

/// Why a value cannot be cast.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Refusal {
    /// Outside the target's range, from the first to the second.
    OutOfRange(i128, i128),
    NotFinite,
    Imaginary,
}

impl Scalar {
    fn read(dtype: Dtype, bytes: &[u8]) -> Scalar {
        let int = |value: i128| Scalar::Int(value);
        let single = |at: usize| Real::Single(f32::from_le_bytes(array(&bytes[at..at + 4])));
        let double = |at: usize| Real::Double(f64::from_le_bytes(array(&bytes[at..at + 8])));
        match dtype {
            Dtype::Bool => Scalar::Bool(bytes[0] != 0),
            Dtype::Int8 => int(i8::from_le_bytes(array(bytes)).into()),
            Dtype::Int16 => int(i16::from_le_bytes(array(bytes)).into()),
            Dtype::Int32 => int(i32::from_le_bytes(array(bytes)).into()),
            Dtype::Int64 => int(i64::from_le_bytes(array(bytes)).into()),
            Dtype::Uint8 => int(bytes[0].into()),
            Dtype::Uint16 => int(u16::from_le_bytes(array(bytes)).into()),
            Dtype::Uint32 => int(u32::from_le_bytes(array(bytes)).into()),
            Dtype::Uint64 => int(u64::from_le_bytes(array(bytes)).into()),
            Dtype::Float16 => Scalar::Real(Real::Half(u16::from_le_bytes(array(bytes)))),
            Dtype::Float32 => Scalar::Real(single(0)),
            Dtype::Float64 => Scalar::Real(double(0)),
            Dtype::Complex64 => Scalar::Complex(single(0), single(4)),
            Dtype::Complex128 => Scalar::Complex(double(0), double(8)),
        }
    }

    /// Appends the value as a `to` element.
    fn write(self, to: Dtype, out: &mut Vec<u8>) -> Result<(), Refusal> {
        match to {
            Dtype::Bool => out.push(u8::from(self.truth())),
            Dtype::Int8 => self.write_int(out, 1, true)?,
            Dtype::Int16 => self.write_int(out, 2, true)?,
            Dtype::Int32 => self.write_int(out, 4, true)?,
            Dtype::Int64 => self.write_int(out, 8, true)?,
            Dtype::Uint8 => self.write_int(out, 1, false)?,
            Dtype::Uint16 => self.write_int(out, 2, false)?,
            Dtype::Uint32 => self.write_int(out, 4, false)?,
            Dtype::Uint64 => self.write_int(out, 8, false)?,
            Dtype::Float16 => out.extend(self.real()?.half().to_le_bytes()),
            Dtype::Float32 => out.extend(self.real()?.single().to_le_bytes()),
            Dtype::Float64 => out.extend(self.real()?.double().to_le_bytes()),
            Dtype::Complex64 => {
                let (re, im) = self.parts();
                out.extend(re.single().to_le_bytes());
                out.extend(im.single().to_le_bytes());
            }
            Dtype::Complex128 => {
                let (re, im) = self.parts();
                out.extend(re.double().to_le_bytes());
                out.extend(im.double().to_le_bytes());
            }
        }
        Ok(())
    }

    /// numpy's truth: non-zero, NaN included, in either part of a complex value.
    fn truth(self) -> bool {
        match self {
            Scalar::Bool(value) => value,
            Scalar::Int(value) => value != 0,
            Scalar::Real(real) => real.value() != 0.0,
            Scalar::Complex(re, im) => re.value() != 0.0 || im.value() != 0.0,
        }
    }

    /// A real value, or a refusal for a complex one whose imaginary part numpy would drop.
    fn real(self) -> Result<Scalar, Refusal> {
        match self {
            // NaN is not zero either.
            Scalar::Complex(_, im) if im.value() != 0.0 => Err(Refusal::Imaginary),
            Scalar::Complex(re, _) => Ok(Scalar::Real(re)),
            Scalar::Bool(_) | Scalar::Int(_) | Scalar::Real(_) => Ok(self),
        }
    }

    /// Real and imaginary parts; a real value has an imaginary part of +0.
    fn parts(self) -> (Scalar, Scalar) {
        match self {
            Scalar::Complex(re, im) => (Scalar::Real(re), Scalar::Real(im)),
            Scalar::Bool(_) | Scalar::Int(_) | Scalar::Real(_) => (self, Scalar::Int(0)),
        }
    }

    /// The integer numpy gives (a float truncated toward zero), if it is in range.
    fn integer(self, min: i128, max: i128) -> Result<i128, Refusal> {
        let value = match self.real()? {
            Scalar::Bool(value) => i128::from(value),
            Scalar::Int(value) => value,
            Scalar::Real(real) => {
                let value = real.value();
                if !value.is_finite() {
                    return Err(Refusal::NotFinite);
                }
                let truncated = value.trunc();
                // Within ±2^64 as a float, the conversion to i128 is exact; the integer
                // comparison below then settles the bound itself.
                if truncated < min as f64 || truncated > max as f64 {
                    return Err(Refusal::OutOfRange(min, max));
                }
                truncated as i128
            }
            Scalar::Complex(..) => unreachable!("real() takes the parts apart"),
        };
        if value < min || value > max {
            return Err(Refusal::OutOfRange(min, max));
        }
        Ok(value)
    }

    fn write_int(self, out: &mut Vec<u8>, size: usize, signed: bool) -> Result<(), Refusal> {
        let (min, max) = int_range(size, signed);
        let value = self.integer(min, max)?;
        // Two's complement: the low bytes of the 64-bit pattern are the element's.
        out.extend_from_slice(&(value as u64).to_le_bytes()[..size]);
        Ok(())
    }

    fn half(self) -> u16 {
        match self {
            Scalar::Real(real) => real.half(),
            other => double_to_half(other.double()),
        }
    }

    fn single(self) -> f32 {
        match self {
            Scalar::Bool(value) => f32::from(u8::from(value)),
            // Rounded once, from the integer itself.
            Scalar::Int(value) => value as f32,
            Scalar::Real(real) => real.single(),
            Scalar::Complex(re, _) => re.single(),
        }
    }

    fn double(self) -> f64 {
        match self {
            Scalar::Bool(value) => f64::from(u8::from(value)),
            Scalar::Int(value) => value as f64,
            Scalar::Real(real) => real.double(),
            Scalar::Complex(re, _) => re.double(),
        }
    }
}

impl Real {
    /// The value, exactly (a NaN keeps no particular payload).
    fn value(self) -> f64 {
        match self {
            Real::Half(bits) => half_value(bits),
            Real::Single(value) => f64::from(value),
            Real::Double(value) => value,
        }
    }

    /// To float16 as numpy converts: rounded once to nearest even; a NaN keeps the top bits
    /// of its payload (quiet or signalling as it was).
    fn half(self) -> u16 {
        match self {
            Real::Half(bits) => bits,
            Real::Single(value) if value.is_nan() => {
                let bits = value.to_bits();
                nan_half((bits >> 16) as u16 & 0x8000, (bits & 0x007f_ffff) >> 13)
            }
            Real::Single(value) => double_to_half(f64::from(value)),
            Real::Double(value) if value.is_nan() => {
                let bits = value.to_bits();
                let sign = (bits >> 48) as u16 & 0x8000;
                nan_half(sign, ((bits & 0x000f_ffff_ffff_ffff) >> 42) as u32)
            }
            Real::Double(value) => double_to_half(value),
        }
    }

    fn single(self) -> f32 {
        match self {
            Real::Half(bits) if is_half_nan(bits) => {
                let sign = u32::from(bits & 0x8000) << 16;
                f32::from_bits(sign | 0x7f80_0000 | u32::from(bits & 0x03ff) << 13)
            }
            Real::Half(bits) => half_value(bits) as f32,
            Real::Single(value) => value,
            // The hardware's conversion, which numpy's C cast also uses.
            Real::Double(value) => value as f32,
        }
    }

    fn double(self) -> f64 {
        match self {
            Real::Half(bits) if is_half_nan(bits) => {
                let sign = u64::from(bits & 0x8000) << 48;
                f64::from_bits(sign | 0x7ff0_0000_0000_0000 | u64::from(bits & 0x03ff) << 42)
            }
            Real::Half(bits) => half_value(bits),
            Real::Single(value) => f64::from(value),
            Real::Double(value) => value,
        }
    }
}

fn array<const N: usize>(bytes: &[u8]) -> [u8; N] {
    bytes.try_into().expect("element of its dtype's size")
}

fn int_range(size: usize, signed: bool) -> (i128, i128) {
    let bits = 8 * size as u32;
    if signed {
        (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)
    } else {
        (0, (1i128 << bits) - 1)
    }
}

fn is_half_nan(bits: u16) -> bool {
    bits & 0x7c00 == 0x7c00 && bits & 0x03ff != 0
}

/// A float16 NaN of `sign` with the top 10 bits of a payload, as numpy's
/// `npy_floatbits_to_halfbits` makes it: never the infinity a zero payload would give.
fn nan_half(sign: u16, payload: u32) -> u16 {
    let bits = 0x7c00 | payload as u16;
    sign | if bits == 0x7c00 { 0x7c01 } else { bits }
}

impl Refusal {
    fn error(self, to: Dtype, index: u64, value: Scalar) -> Error {
        let reason = match self {
            Refusal::OutOfRange(min, max) => format!("outside the range of {to}, {min} to {max}"),
            Refusal::NotFinite => "which no integer type holds".to_string(),
            Refusal::Imaginary => format!(
                "whose imaginary part {to} cannot hold (numpy would drop it with a \
                 ComplexWarning; tensorjson refuses)"
            ),
        };
        Error::Cast {
            to: to.name(),
            index,
            value: shown(value),
            reason,
        }
    }
}

/// A value as messages show it, close to numpy's repr.
fn shown(value: Scalar) -> String {
    match value {
        Scalar::Bool(value) => if value { "True" } else { "False" }.to_string(),
        Scalar::Int(value) => value.to_string(),
        Scalar::Real(real) => shown_real(real),
        Scalar::Complex(re, im) => {
            let sign = if im.value().is_sign_negative() {
                ""
            } else {
                "+"
            };
            format!("({}{sign}{}j)", shown_real(re), shown_real(im))
        }
    }
}

fn shown_real(real: Real) -> String {
    let value = real.value();
    if value.is_nan() {
        return "nan".to_string();
    }
    if value.is_infinite() {
        return if value > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    match real {
        // Shortest digits that read back in the value's own type.
        Real::Half(_) | Real::Single(_) => (value as f32).to_string(),
        Real::Double(value) => value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn tensor(dtype: Dtype, bytes: Vec<u8>) -> Tensor<'static> {
        let count = (bytes.len() / dtype.itemsize()) as u64;
        let header = TensorHeader::new(dtype, vec![count]).unwrap();
        Tensor::new(header, Box::new(Cursor::new(bytes)))
    }

    fn cast_bytes(dtype: Dtype, bytes: Vec<u8>, to: Dtype) -> Result<Vec<u8>> {
        cast(tensor(dtype, bytes), to)?.into_bytes()
    }

    fn le<T: Copy, const N: usize>(values: &[T], bytes: fn(T) -> [u8; N]) -> Vec<u8> {
        values.iter().flat_map(|&value| bytes(value)).collect()
    }

    #[test]
    fn nan_payloads_follow_numpy() {
        // Values numpy 2.4 gives for these bit patterns.
        let singles = le(
            &[0x7f80_0001u32, 0x7fa0_0000, 0xffc0_0123],
            u32::to_le_bytes,
        );
        let halves = cast_bytes(Dtype::Float32, singles, Dtype::Float16).unwrap();
        assert_eq!(halves, le(&[0x7c01u16, 0x7d00, 0xfe00], u16::to_le_bytes));
        let back = cast_bytes(Dtype::Float16, halves, Dtype::Float32).unwrap();
        assert_eq!(
            back,
            le(
                &[0x7f80_2000u32, 0x7fa0_0000, 0xffc0_0000],
                u32::to_le_bytes
            )
        );
    }

    #[test]
    fn floats_truncate_toward_zero_into_integers_in_range() {
        let values = le(&[-0.5f64, -0.99, 2.7, 255.9, -128.9], f64::to_le_bytes);
        let out = cast_bytes(Dtype::Float64, values, Dtype::Int8);
        assert_eq!(
            out.unwrap_err().to_string(),
            "cannot cast to int8: element 3 is 255.9, outside the range of int8, -128 to 127"
        );
        let values = le(&[-0.5f64, -0.99, 2.7, 255.9], f64::to_le_bytes);
        assert_eq!(
            cast_bytes(Dtype::Float64, values, Dtype::Uint8).unwrap(),
            [0, 0, 2, 255]
        );
    }

    #[test]
    fn refusals_name_the_element_and_why() {
        let error = |dtype, bytes, to| cast_bytes(dtype, bytes, to).unwrap_err().to_string();
        let ints = le(&[1i64, 300], i64::to_le_bytes);
        assert_eq!(
            error(Dtype::Int64, ints, Dtype::Uint8),
            "cannot cast to uint8: element 1 is 300, outside the range of uint8, 0 to 255"
        );
        let floats = le(&[1.0f32, f32::NAN], f32::to_le_bytes);
        assert_eq!(
            error(Dtype::Float32, floats, Dtype::Int32),
            "cannot cast to int32: element 1 is nan, which no integer type holds"
        );
        let complex = le(&[1.0f64, 0.0, 1.5, -2.0], f64::to_le_bytes);
        let message = error(Dtype::Complex128, complex, Dtype::Float32);
        assert!(
            message
                .starts_with("cannot cast to float32: element 1 is (1.5-2j), whose imaginary part"),
            "{message}"
        );
        let big = le(&[u64::MAX], u64::to_le_bytes);
        assert!(
            error(Dtype::Uint64, big, Dtype::Int64).contains("element 0 is 18446744073709551615")
        );
    }

    #[test]
    fn booleans_integers_and_complex_convert_as_numpy_converts() {
        let mask = le(&[0i64, 1, 255], i64::to_le_bytes);
        assert_eq!(
            cast_bytes(Dtype::Int64, mask, Dtype::Uint8).unwrap(),
            [0, 1, 255]
        );
        let floats = le(&[0.0f32, -0.0, f32::NAN, 0.5], f32::to_le_bytes);
        assert_eq!(
            cast_bytes(Dtype::Float32, floats, Dtype::Bool).unwrap(),
            [0, 0, 1, 1]
        );
        let complex = cast_bytes(Dtype::Bool, vec![1, 0], Dtype::Complex64).unwrap();
        assert_eq!(complex, le(&[1.0f32, 0.0, 0.0, 0.0], f32::to_le_bytes));
        // Rounded once from the integer: 2^64 - 1 is 2^64 in float32.
        let max = le(&[u64::MAX], u64::to_le_bytes);
        assert_eq!(
            cast_bytes(Dtype::Uint64, max, Dtype::Float32).unwrap(),
            2f32.powi(64).to_le_bytes()
        );
        let real = le(&[2.0f64, -0.0], f64::to_le_bytes);
        assert_eq!(
            cast_bytes(Dtype::Complex128, real, Dtype::Int16).unwrap(),
            [2, 0]
        );
    }

    #[test]
    fn a_wider_dtype_past_numpys_size_limit_is_refused_up_front() {
        let header = TensorHeader::new(Dtype::Uint8, vec![1 << 62]).unwrap();
        let huge = Tensor::new(header, Box::new(Cursor::new(Vec::new())));
        let error = cast(huge, Dtype::Complex128).err().unwrap();
        assert!(error.to_string().contains("which numpy refuses"), "{error}");
    }
}
