//! The plain number tokens long lists are made of (`-12`, `0.5`, `1e-7`), read straight from
//! their bytes: no `Value`, no allocation. Anything else (`NaN`, `true`, an integer past i64,
//! text that is not JSON) is left to the general reader ([`super::list`]), which gives the
//! same values and every error message; this is only its fast lane.

use crate::codec::dtype::Dtype;
use crate::codec::numbers::float16_bits;

/// What a plain token is, as Python's `json` reads it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Plain {
    /// An integer that fits in i64 (`-0` is the integer 0, as in Python).
    Int(i64),
    /// A number with a fraction or an exponent: a Python float.
    Float,
}

/// A token [`classify`] found plain, with its kind.
#[derive(Clone, Copy, Debug)]
pub struct Number<'t> {
    /// Only ASCII digits, signs, points and exponent marks, in JSON's number syntax.
    token: &'t [u8],
    pub kind: Plain,
}

/// The token as a number, if it is a plain one; `None` for anything else.
pub fn classify(token: &[u8]) -> Option<Number<'_>> {
    let kind = kind_of(token)?;
    Some(Number { token, kind })
}

fn kind_of(token: &[u8]) -> Option<Plain> {
    let digits = token.strip_prefix(b"-").unwrap_or(token);
    let whole = digits
        .iter()
        .take_while(|byte| byte.is_ascii_digit())
        .count();
    // JSON: at least one digit, and no leading zero before more digits.
    if whole == 0 || (digits[0] == b'0' && whole > 1) {
        return None;
    }
    if whole == digits.len() {
        return integer(token.len() > digits.len(), digits).map(Plain::Int);
    }
    is_fraction_and_exponent(&digits[whole..]).then_some(Plain::Float)
}

/// The value of an integer of ASCII digits, if it fits in i64.
fn integer(negative: bool, digits: &[u8]) -> Option<i64> {
    // Up to 18 digits always fit; longer ones are rare and checked on the way.
    let mut magnitude: i128 = 0;
    for &digit in digits {
        magnitude = magnitude * 10 + i128::from(digit - b'0');
        if magnitude > 1 << 63 {
            return None;
        }
    }
    i64::try_from(if negative { -magnitude } else { magnitude }).ok()
}

/// Whether what follows the integer part is `.digits`, then `e[+-]digits`, each optional but
/// not both absent (the caller has handled a bare integer).
fn is_fraction_and_exponent(rest: &[u8]) -> bool {
    let rest = match rest.strip_prefix(b".") {
        Some(fraction) => {
            let count = fraction.iter().take_while(|b| b.is_ascii_digit()).count();
            if count == 0 {
                return false;
            }
            &fraction[count..]
        }
        None => rest,
    };
    if rest.is_empty() {
        return true;
    }
    let Some(exponent) = rest.strip_prefix(b"e").or_else(|| rest.strip_prefix(b"E")) else {
        return false;
    };
    let exponent = exponent
        .strip_prefix(b"+")
        .or_else(|| exponent.strip_prefix(b"-"))
        .unwrap_or(exponent);
    !exponent.is_empty() && exponent.iter().all(u8::is_ascii_digit)
}

/// The float a [`Plain::Float`] token stands for: correctly rounded, ties to even, as
/// Python's `float()` rounds (`1e400` is infinity, as there).
fn float_value(token: &[u8]) -> f64 {
    debug_assert!(token.is_ascii());
    // SAFETY: a `Number`'s token is ASCII (see its field), and ASCII is UTF-8. (Checking again costs a tenth of the time a long list takes.)
    let text = unsafe { std::str::from_utf8_unchecked(token) };
    text.parse()
        .expect("JSON number syntax is a subset of what Rust's float parser takes")
}

/// The dtype numpy infers for a plain token alone.
pub fn kind(plain: Plain) -> Dtype {
    match plain {
        Plain::Int(_) => Dtype::Int64,
        Plain::Float => Dtype::Float64,
    }
}

/// Appends the element a plain token holds as `dtype`, as [`super::list::push_element`]
/// does; `None` where that needs the general reader (a float to an integer dtype, an
/// integer out of range: it gives the error).
pub fn push(bytes: &mut Vec<u8>, number: Number, dtype: Dtype) -> Option<()> {
    let real = match number.kind {
        Plain::Int(integer) => return push_integer(bytes, integer, dtype),
        Plain::Float => float_value(number.token),
    };
    match dtype {
        Dtype::Float16 => bytes.extend_from_slice(&float16_bits(real).to_le_bytes()),
        // Through f64 first, as numpy converts a Python float: rounded twice, like it.
        Dtype::Float32 => bytes.extend_from_slice(&(real as f32).to_le_bytes()),
        Dtype::Float64 => bytes.extend_from_slice(&real.to_le_bytes()),
        Dtype::Complex64 => push_complex64(bytes, real),
        Dtype::Complex128 => push_complex128(bytes, real),
        Dtype::Bool
        | Dtype::Int8
        | Dtype::Int16
        | Dtype::Int32
        | Dtype::Int64
        | Dtype::Uint8
        | Dtype::Uint16
        | Dtype::Uint32
        | Dtype::Uint64 => return None,
    }
    Some(())
}

fn push_integer(bytes: &mut Vec<u8>, integer: i64, dtype: Dtype) -> Option<()> {
    macro_rules! int {
        ($t:ty) => {
            bytes.extend_from_slice(&<$t>::try_from(integer).ok()?.to_le_bytes())
        };
    }
    // An integer becomes a float as numpy converts a Python int: correctly rounded to f64.
    let real = integer as f64;
    match dtype {
        Dtype::Bool => match integer {
            0 | 1 => bytes.push(integer as u8),
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
        Dtype::Float16 => bytes.extend_from_slice(&float16_bits(real).to_le_bytes()),
        Dtype::Float32 => bytes.extend_from_slice(&(real as f32).to_le_bytes()),
        Dtype::Float64 => bytes.extend_from_slice(&real.to_le_bytes()),
        Dtype::Complex64 => push_complex64(bytes, real),
        Dtype::Complex128 => push_complex128(bytes, real),
    }
    Some(())
}

fn push_complex64(bytes: &mut Vec<u8>, real: f64) {
    bytes.extend_from_slice(&(real as f32).to_le_bytes());
    bytes.extend_from_slice(&0f32.to_le_bytes());
}

fn push_complex128(bytes: &mut Vec<u8>, real: f64) {
    bytes.extend_from_slice(&real.to_le_bytes());
    bytes.extend_from_slice(&0f64.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::dialect::list;
    use crate::codec::json;

    #[test]
    fn classifies_json_numbers_only() {
        assert_eq!(kind_of(b"0"), Some(Plain::Int(0)));
        assert_eq!(kind_of(b"-0"), Some(Plain::Int(0)));
        assert_eq!(kind_of(b"-12"), Some(Plain::Int(-12)));
        assert_eq!(kind_of(b"9223372036854775807"), Some(Plain::Int(i64::MAX)));
        assert_eq!(kind_of(b"-9223372036854775808"), Some(Plain::Int(i64::MIN)));
        for float in ["0.5", "-0.0", "1e5", "1E+5", "2.5e-3", "1e400", "0e0"] {
            assert_eq!(kind_of(float.as_bytes()), Some(Plain::Float), "{float}");
        }
        let general = [
            "",
            "-",
            "01",
            "-01",
            "1.",
            ".5",
            "+1",
            "1e",
            "1e+",
            "1.e5",
            "1x",
            "0x10",
            "NaN",
            "Infinity",
            "-Infinity",
            "inf",
            "nan",
            "true",
            "null",
            "1_0",
            "--1",
            "1.5.5",
            "9223372036854775808",
            "-9223372036854775809",
            "99999999999999999999999",
        ];
        for token in general {
            assert_eq!(kind_of(token.as_bytes()), None, "{token:?}");
        }
    }

    /// Decimal text and the float32 and float64 bits Python gives for it, made by numpy 2.4:
    /// `numpy.array([json.loads(t)], dtype).view(uint)` (halfway cases, subnormals, the ends
    /// of the range, and float32's double rounding through float64).
    const PYTHON: &[(&str, u32, u64)] = &[
        ("0.1", 0x3dcccccd, 0x3fb999999999999a),
        ("-2.5e-3", 0xbb23d70a, 0xbf647ae147ae147b),
        ("1.7976931348623157e308", 0x7f800000, 0x7fefffffffffffff),
        ("1.7976931348623159e308", 0x7f800000, 0x7ff0000000000000),
        ("1e400", 0x7f800000, 0x7ff0000000000000),
        ("-1e400", 0xff800000, 0xfff0000000000000),
        ("5e-324", 0x00000000, 0x0000000000000001),
        ("2.4703282292062327e-324", 0x00000000, 0x0000000000000000),
        ("2.4703282292062328e-324", 0x00000000, 0x0000000000000001),
        ("2.2250738585072011e-308", 0x00000000, 0x000fffffffffffff),
        ("9007199254740993.0", 0x5a000000, 0x4340000000000000),
        ("9007199254740995.0", 0x5a000000, 0x4340000000000002),
        ("0.30000000000000004", 0x3e99999a, 0x3fd3333333333334),
        ("1.00000005960464477539062", 0x3f800000, 0x3ff0000010000000),
        ("1.00000005960464477539063", 0x3f800000, 0x3ff0000010000000),
        ("3.4028235677973366e38", 0x7f800000, 0x47effffff0000000),
        ("1.401298464324817e-45", 0x00000001, 0x36a0000000000000),
        ("-0.0", 0x80000000, 0x8000000000000000),
        ("123456789012345678901234567890e-20", 0x4e932c06, 0x41d26580b487e6b7),
        ("-0.22692208", 0xbe685e43, 0xbfcd0bc8602b8ecf),
        ("7.038531e-26", 0x15ae43fe, 0x3ab5c87fb0000000),
        ("8.589973e9", 0x50000026, 0x42000004b0400000),
        ("1.1754943508222875e-38", 0x00800000, 0x3810000000000000),
        ("3.4028234664e38", 0x7f7fffff, 0x47efffffe000981d),
        ("0.000000000000000000000000000000000000000000001401298464324817070923729583289916131280", 0x00000001, 0x36a0000000000000),
        ("2.2250738585072012e-308", 0x00000000, 0x0010000000000000),
        ("1e23", 0x65a96816, 0x44b52d02c7e14af6),
        ("4.35", 0x408b3333, 0x4011666666666666),
        ("2.675", 0x402b3333, 0x4005666666666666),
    ];

    fn pushed(token: &str, dtype: Dtype) -> Vec<u8> {
        let number = classify(token.as_bytes()).expect("plain");
        let mut bytes = Vec::new();
        push(&mut bytes, number, dtype).expect("fits");
        bytes
    }

    #[test]
    fn floats_round_as_python_and_numpy_do() {
        for &(token, single, double) in PYTHON {
            let f32_bits = u32::from_le_bytes(pushed(token, Dtype::Float32).try_into().unwrap());
            let f64_bits = u64::from_le_bytes(pushed(token, Dtype::Float64).try_into().unwrap());
            assert_eq!(f32_bits, single, "{token} as float32");
            assert_eq!(f64_bits, double, "{token} as float64");
        }
    }

    /// The general reader, for comparison: what the fast lane must give byte for byte.
    fn general(token: &str, dtype: Dtype) -> Option<Vec<u8>> {
        let value = json::scalar(token.as_bytes(), 0).ok()?;
        let mut bytes = Vec::new();
        list::push_element(&mut bytes, &value, dtype).map(|()| bytes)
    }

    #[test]
    fn agrees_with_the_general_reader() {
        let tokens = [
            "0",
            "-0",
            "1",
            "-1",
            "2",
            "127",
            "128",
            "-129",
            "255",
            "256",
            "65535",
            "65536",
            "2147483648",
            "-2147483649",
            "4294967296",
            "16777217",
            "9007199254740993",
            "9223372036854775807",
            "-9223372036854775808",
            "0.5",
            "-0.0",
            "1e5",
            "65504",
            "65520",
            "1e-8",
            "6.1e-5",
            "3.4028235e38",
            "1e39",
            "1e400",
            "-1e400",
            "0.1",
        ];
        let dtypes = [
            Dtype::Bool,
            Dtype::Int8,
            Dtype::Int16,
            Dtype::Int32,
            Dtype::Int64,
            Dtype::Uint8,
            Dtype::Uint16,
            Dtype::Uint32,
            Dtype::Uint64,
            Dtype::Float16,
            Dtype::Float32,
            Dtype::Float64,
            Dtype::Complex64,
            Dtype::Complex128,
        ];
        for token in tokens {
            let number = classify(token.as_bytes()).expect(token);
            let value = json::scalar(token.as_bytes(), 0).unwrap();
            assert_eq!(
                kind(number.kind),
                list::leaf_kind(&value, "data").unwrap(),
                "{token}"
            );
            for dtype in dtypes {
                let mut fast = Vec::new();
                match push(&mut fast, number, dtype) {
                    Some(()) => assert_eq!(Some(fast), general(token, dtype), "{token} {dtype}"),
                    // Left to the general reader: only where it refuses or reads a float as
                    // an integer.
                    None => {
                        assert!(number.kind == Plain::Float || general(token, dtype).is_none())
                    }
                }
            }
        }
    }
}
