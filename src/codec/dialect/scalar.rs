//! One element of a list of numbers as numpy converts it from what Python's `json` read:
//! the one conversion to the bytes of every dtype, for the general reader's values and the
//! plain tokens of the fast lane alike.

use crate::codec::dtype::Dtype;
use crate::codec::numbers::float16_bits;

/// A Python int, float or complex.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scalar {
    Int(i128),
    Real(f64),
    Complex(f64, f64),
}

impl Scalar {
    /// As an integer dtype takes it: an int, or a float with no fraction.
    pub fn integer(self) -> Option<i128> {
        match self {
            Scalar::Int(integer) => Some(integer),
            Scalar::Real(real) => {
                (real.fract() == 0.0 && real.abs() < 1e20).then_some(real as i128)
            }
            Scalar::Complex(..) => None,
        }
    }

    /// As a float dtype takes it: an int correctly rounded to f64, as numpy converts a
    /// Python int.
    fn real(self) -> Option<f64> {
        match self {
            Scalar::Int(integer) => Some(integer as f64),
            Scalar::Real(real) => Some(real),
            Scalar::Complex(..) => None,
        }
    }

    fn complex(self) -> Option<(f64, f64)> {
        match self {
            Scalar::Complex(re, im) => Some((re, im)),
            other => Some((other.real()?, 0.0)),
        }
    }
}

/// Appends `scalar` as an element of `dtype`; `None` where it does not fit (out of an
/// integer dtype's range, a fraction for an integer, a complex for a real).
pub fn push(bytes: &mut Vec<u8>, scalar: Scalar, dtype: Dtype) -> Option<()> {
    macro_rules! int {
        ($t:ty) => {
            bytes.extend_from_slice(&<$t>::try_from(scalar.integer()?).ok()?.to_le_bytes())
        };
    }
    match dtype {
        Dtype::Bool => match scalar.integer()? {
            0 => bytes.push(0),
            1 => bytes.push(1),
            _ => return None,
        },
        Dtype::Int8 => int!(i8),
        Dtype::Int16 => int!(i16),
        Dtype::Int32 => int!(i32),
        Dtype::Int64 => int!(i64),
        Dtype::Uint8 => int!(u8),
        Dtype::Uint16 => int!(u16),
        Dtype::Uint32 => int!(u32),
        Dtype::Uint64 => int!(u64),
        Dtype::Float16 => bytes.extend_from_slice(&float16_bits(scalar.real()?).to_le_bytes()),
        // Through f64 first, as numpy converts a Python float: rounded twice, like it.
        Dtype::Float32 => bytes.extend_from_slice(&(scalar.real()? as f32).to_le_bytes()),
        Dtype::Float64 => bytes.extend_from_slice(&scalar.real()?.to_le_bytes()),
        Dtype::Complex64 => {
            let (re, im) = scalar.complex()?;
            bytes.extend_from_slice(&(re as f32).to_le_bytes());
            bytes.extend_from_slice(&(im as f32).to_le_bytes());
        }
        Dtype::Complex128 => {
            let (re, im) = scalar.complex()?;
            bytes.extend_from_slice(&re.to_le_bytes());
            bytes.extend_from_slice(&im.to_le_bytes());
        }
    }
    Some(())
}
