//! The plain number tokens long lists are made of (`-12`, `0.5`, `1e-7`), read straight from
//! their bytes: no `Value`, no allocation. Anything else (`NaN`, `true`, an integer past i64,
//! text that is not JSON) is left to the general reader ([`super::list`]), which gives the
//! same values and every error message; this is only its fast lane.

use crate::codec::dialect::scalar::Scalar;
use crate::codec::dtype::Dtype;

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
    /// A float's value where the scan could work it out exactly (see [`Mantissa::exact`]).
    exact: Option<f64>,
}

impl Number<'_> {
    /// The number as a JSON value: an integer, or a finite float (`None` for one that
    /// overflows to infinity, which JSON values cannot hold).
    pub fn value(&self) -> Option<serde_json::Value> {
        match self.kind {
            Plain::Int(integer) => Some(serde_json::Value::from(integer)),
            Plain::Float => serde_json::Number::from_f64(float_value(self)).map(Into::into),
        }
    }
}

/// The token as a number, if it is a plain one; `None` for anything else.
pub fn classify(token: &[u8]) -> Option<Number<'_>> {
    let (kind, exact) = scan(token)?;
    Some(Number { token, kind, exact })
}

#[cfg(test)]
fn kind_of(token: &[u8]) -> Option<Plain> {
    scan(token).map(|(kind, _)| kind)
}

/// One pass over a token: its kind, checked against JSON's number syntax, and a float's
/// value where that is quick and exact.
fn scan(token: &[u8]) -> Option<(Plain, Option<f64>)> {
    let negative = token.first() == Some(&b'-');
    let digits = &token[usize::from(negative)..];
    let mut mantissa = Mantissa::default();
    let whole = mantissa.take_digits(digits);
    // JSON: at least one digit, and no leading zero before more digits.
    if whole == 0 || (digits[0] == b'0' && whole > 1) {
        return None;
    }
    if whole == digits.len() {
        return integer(negative, digits).map(|integer| (Plain::Int(integer), None));
    }
    let mut rest = &digits[whole..];
    let mut exponent = 0i64;
    if let Some(fraction) = rest.strip_prefix(b".") {
        let count = mantissa.take_digits(fraction);
        if count == 0 {
            return None;
        }
        exponent -= count as i64;
        rest = &fraction[count..];
    }
    if !rest.is_empty() {
        exponent += exponent_of(rest)?;
    }
    Some((Plain::Float, mantissa.exact(negative, exponent)))
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

/// The digits of a number, as an integer (which is exact while there are at most 19).
#[derive(Default)]
struct Mantissa {
    value: u64,
    digits: usize,
}

/// The powers of ten that are exact doubles.
const POWERS_OF_TEN: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

impl Mantissa {
    /// Takes the ASCII digits `bytes` starts with; how many there were.
    fn take_digits(&mut self, bytes: &[u8]) -> usize {
        let count = bytes
            .iter()
            .take_while(|byte| byte.is_ascii_digit())
            .count();
        for &digit in &bytes[..count] {
            // Wraps past 19 digits, where `digits` says the value is not to be used.
            self.value = self
                .value
                .wrapping_mul(10)
                .wrapping_add(u64::from(digit - b'0'));
        }
        self.digits += count;
        count
    }

    /// `±mantissa × 10^exponent` where both factors are exact doubles (Clinger's fast path):
    /// one IEEE multiplication or division then rounds once, to nearest, ties to even, which
    /// is the correctly rounded value Python's `float()` gives. Most list elements are such
    /// (a float32 written shortest has at most 9 digits); the others are parsed in full.
    fn exact(&self, negative: bool, exponent: i64) -> Option<f64> {
        if self.digits > 19 || self.value > 1 << 53 || !(-22..=22).contains(&exponent) {
            return None;
        }
        let digits = self.value as f64;
        let power = POWERS_OF_TEN[exponent.unsigned_abs() as usize];
        let value = if exponent < 0 {
            digits / power
        } else {
            digits * power
        };
        Some(if negative { -value } else { value })
    }
}

/// The value of an exponent part, `e[+-]digits` (held within ±10^6, past which every
/// mantissa gives zero or infinity anyway); `None` if it is not one.
fn exponent_of(rest: &[u8]) -> Option<i64> {
    let rest = rest
        .strip_prefix(b"e")
        .or_else(|| rest.strip_prefix(b"E"))?;
    let (negative, digits) = match rest.split_first()? {
        (b'-', digits) => (true, digits),
        (b'+', digits) => (false, digits),
        _ => (false, rest),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let value = digits.iter().fold(0i64, |value, &digit| {
        (value * 10 + i64::from(digit - b'0')).min(1_000_000)
    });
    Some(if negative { -value } else { value })
}

/// The float a [`Plain::Float`] number stands for: correctly rounded, ties to even, as
/// Python's `float()` rounds (`1e400` is infinity, as there).
fn float_value(number: &Number) -> f64 {
    if let Some(value) = number.exact {
        return value;
    }
    debug_assert!(number.token.is_ascii());
    // SAFETY: a `Number`'s token is ASCII (see its field), and ASCII is UTF-8. (Checking
    // again costs a tenth of the time a long list takes.)
    let text = unsafe { std::str::from_utf8_unchecked(number.token) };
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

impl Number<'_> {
    /// The element the token holds, as Python's `json` reads it.
    pub fn scalar(&self) -> Scalar {
        match self.kind {
            Plain::Int(integer) => Scalar::Int(integer.into()),
            Plain::Float => Scalar::Real(float_value(self)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::dialect::{list, scalar};
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
        scalar::push(&mut bytes, number.scalar(), dtype).expect("fits");
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

    #[test]
    fn the_quick_exact_value_is_rusts_correctly_rounded_one() {
        // Shortest float32 and float64 texts of spread-out bits, and decimals of every
        // length and exponent near the fast path's edges.
        let mut tokens = Vec::new();
        let mut bits = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..20_000 {
            bits = bits
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let single = f32::from_bits((bits >> 32) as u32);
            let double = f64::from_bits(bits);
            for text in [
                format!("{single:?}"),
                format!("{double:?}"),
                format!("{single:e}"),
            ] {
                tokens.push(text);
            }
            let digits = bits % 10u64.pow((bits >> 60) as u32 + 1);
            let exponent = (bits >> 40) as i64 % 50 - 25;
            tokens.push(format!("{digits}e{exponent}"));
            tokens.push(format!("-{digits}.5E{exponent}"));
            tokens.push(format!("0.{digits:020}"));
        }
        tokens.push(format!("{}", 1u64 << 53));
        tokens.push(format!("{}.0", (1u64 << 53) + 1));
        let mut quick = 0;
        for token in tokens.iter().filter(|token| !token.contains(['N', 'i'])) {
            let Some(number) = classify(token.as_bytes()) else {
                continue;
            };
            if number.kind != Plain::Float {
                continue;
            }
            let expected: f64 = token.parse().unwrap();
            quick += usize::from(number.exact.is_some());
            assert_eq!(
                float_value(&number).to_bits(),
                expected.to_bits(),
                "{token}"
            );
        }
        assert!(quick > 10_000, "the quick path was taken {quick} times");
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
        let dtypes = Dtype::ALL;
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
                match scalar::push(&mut fast, number.scalar(), dtype) {
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
