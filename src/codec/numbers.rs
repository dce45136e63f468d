//! Numbers as JSON text: each float written as the shortest decimal that reads back as the
//! same value in its own type, as numpy's `repr` finds it.

/// How a non-finite float is spelled when `--allow-nan` lets it be written, and how
/// [`crate::codec::json`] hands such tokens over when it reads them.
pub const NON_FINITE: [&str; 3] = ["NaN", "Infinity", "-Infinity"];

/// Most significant digits a float16 needs to read back as itself.
const F16_DIGITS: usize = 5;

/// The JSON text of one little-endian float16, float32 or float64 element (`bytes` is its
/// size). A NaN or infinity is `Err(value)` unless `allow_nan`.
pub fn float_text(bytes: &[u8], allow_nan: bool) -> Result<String, f64> {
    let mut floats = FloatText::new(allow_nan);
    let mut text = [0u8; FLOAT_ROOM];
    let length = match bytes.len() {
        2 => floats.f16(u16::from_le_bytes([bytes[0], bytes[1]]), &mut text),
        4 => floats.f32(
            f32::from_le_bytes(bytes.try_into().expect("4 bytes")),
            &mut text,
        ),
        _ => floats.f64(
            f64::from_le_bytes(bytes.try_into().expect("8 bytes")),
            &mut text,
        ),
    }?;
    Ok(String::from_utf8(text[..length].to_vec()).expect("numbers are ASCII"))
}

/// The most bytes a float's text takes: `-1.2345678901234567e-308`.
pub const FLOAT_ROOM: usize = 24;

/// Writes floats as JSON text into the front of byte slices of at least [`FLOAT_ROOM`]
/// bytes, returning the length written: the shortest decimal that reads back as the same
/// value in its own type (zmij, serde_json's own formatter, without allocating). A NaN or
/// infinity is `Err(value)` unless `allow_nan`.
pub struct FloatText {
    buffer: zmij::Buffer,
    allow_nan: bool,
}

impl FloatText {
    pub fn new(allow_nan: bool) -> FloatText {
        FloatText {
            buffer: zmij::Buffer::new(),
            allow_nan,
        }
    }

    #[inline]
    pub fn f16(&mut self, bits: u16, out: &mut [u8]) -> Result<usize, f64> {
        let value = half_value(bits);
        if !value.is_finite() {
            return self.non_finite(value, out);
        }
        Ok(put(out, self.buffer.format_finite(shortest_f16(value))))
    }

    #[inline]
    pub fn f32(&mut self, value: f32, out: &mut [u8]) -> Result<usize, f64> {
        if !value.is_finite() {
            return self.non_finite(f64::from(value), out);
        }
        Ok(put(out, self.buffer.format_finite(value)))
    }

    #[inline]
    pub fn f64(&mut self, value: f64, out: &mut [u8]) -> Result<usize, f64> {
        if !value.is_finite() {
            return self.non_finite(value, out);
        }
        Ok(put(out, self.buffer.format_finite(value)))
    }

    fn non_finite(&self, value: f64, out: &mut [u8]) -> Result<usize, f64> {
        Ok(put(out, non_finite_token(value, self.allow_nan)?))
    }
}

/// Copies `text` to the front of `out`, returning its length.
#[inline]
pub fn put(out: &mut [u8], text: &str) -> usize {
    let text = text.as_bytes();
    let length = text.len();
    // Two copies of a fixed size that overlap, which compile to a few moves: a copy of a
    // length known only at run time is a call to memcpy, which cost a third of the time
    // of writing a list of float32.
    macro_rules! copy {
        ($size:literal) => {{
            out[..$size].copy_from_slice(&text[..$size]);
            out[length - $size..length].copy_from_slice(&text[length - $size..]);
        }};
    }
    match length {
        0..=3 => out[..length].copy_from_slice(text),
        4..=7 => copy!(4),
        8..=15 => copy!(8),
        16..=31 => copy!(16),
        _ => out[..length].copy_from_slice(text),
    }
    length
}

/// The float64 nearest the shortest decimal that reads back (through float64, as numpy
/// reads `json.loads` output) as `value`, the closest such decimal where several are.
/// Written as float64, that decimal keeps its few digits.
fn shortest_f16(exact: f64) -> f64 {
    if !exact.is_finite() || exact == 0.0 {
        return exact;
    }
    for digits in 1..=F16_DIGITS {
        let rounded = format!("{exact:.prec$e}", prec = digits - 1);
        let (mantissa, exponent) = rounded.split_once('e').expect("exponent form");
        let mantissa: i64 = mantissa.replace('.', "").parse().expect("digits");
        let exponent: i32 = exponent.parse::<i32>().expect("exponent") - (digits as i32 - 1);
        // The nearest decimal of this length may miss where the gap below a power of two is
        // narrower than the one above; a neighbour may still read back.
        // The rounded one comes first, to win a tie (0.046875 is 0.04688, as numpy has it).
        let best = [mantissa, mantissa - 1, mantissa + 1]
            .into_iter()
            .filter_map(|candidate| format!("{candidate}e{exponent}").parse::<f64>().ok())
            .filter(|&decimal| float16_bits(decimal) == float16_bits(exact))
            .min_by(|a, b| (a - exact).abs().total_cmp(&(b - exact).abs()));
        if let Some(decimal) = best {
            return decimal;
        }
    }
    exact
}

/// The value of float16 `bits`, exactly (every float16 is a float64).
pub fn half_value(bits: u16) -> f64 {
    let sign = if bits & 0x8000 == 0 { 1.0 } else { -1.0 };
    let exponent = i32::from(bits >> 10 & 0x1f);
    let mantissa = f64::from(bits & 0x03ff);
    let magnitude = match exponent {
        0 => mantissa * 2f64.powi(-24),
        0x1f if mantissa == 0.0 => f64::INFINITY,
        0x1f => f64::NAN,
        _ => (1024.0 + mantissa) * 2f64.powi(exponent - 25),
    };
    sign * magnitude
}

/// A non-NaN float64 to float16 bits, rounded once to nearest even, as numpy's
/// `npy_doublebits_to_halfbits` does (the `half` crate goes through float32 on x86, which
/// rounds twice).
pub fn double_to_half(value: f64) -> u16 {
    let sign = if value.is_sign_negative() { 0x8000 } else { 0 };
    let magnitude = value.abs();
    // 65520 is halfway between the largest float16, 65504, and 2^16: it and all above
    // round to infinity.
    if magnitude >= 65520.0 {
        return sign | 0x7c00;
    }
    if magnitude < 2f64.powi(-14) {
        // Subnormal: a count of 2^-24, which scaling by a power of two finds exactly; 1024
        // of them is the smallest normal number, whose bits are that count too.
        return sign | (magnitude * 2f64.powi(24)).round_ties_even() as u16;
    }
    let exponent = ((magnitude.to_bits() >> 52) as i32) - 1023;
    // The significand scaled to [1024, 2048): rounding it may carry into the exponent,
    // which the sum below absorbs.
    let significand = (magnitude * 2f64.powi(10 - exponent)).round_ties_even() as u16;
    sign | ((((exponent + 15) as u16) << 10) + (significand - 1024))
}

/// A float64 to float16 bits as numpy converts a Python float: rounded once (see
/// [`double_to_half`]); a NaN is the quiet NaN of its sign.
pub fn float16_bits(value: f64) -> u16 {
    if value.is_nan() {
        let sign = if value.is_sign_negative() { 0x8000 } else { 0 };
        return sign | 0x7e00;
    }
    double_to_half(value)
}

fn non_finite_token(value: f64, allow_nan: bool) -> Result<&'static str, f64> {
    if !allow_nan {
        return Err(value);
    }
    let token = if value.is_nan() {
        NON_FINITE[0]
    } else if value > 0.0 {
        NON_FINITE[1]
    } else {
        NON_FINITE[2]
    };
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use half::f16;

    #[test]
    fn floats_are_written_as_serde_json_writes_them() {
        // The text JSON readers already agree on: serde_json's, for many bit patterns.
        let mut state = 0x9e3779b97f4a7c15u64;
        for _ in 0..100_000 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let double = f64::from_bits(state);
            let single = f32::from_bits((state >> 32) as u32);
            if double.is_finite() {
                let text = float_text(&double.to_le_bytes(), false).unwrap();
                assert_eq!(text, serde_json::to_string(&double).unwrap());
            }
            if single.is_finite() {
                let text = float_text(&single.to_le_bytes(), false).unwrap();
                assert_eq!(text, serde_json::to_string(&single).unwrap());
            }
        }
    }

    fn text_of(value: f16) -> String {
        float_text(&value.to_le_bytes(), false).unwrap()
    }

    /// Significant digits of a decimal as serde_json writes it.
    fn significant_digits(text: &str) -> usize {
        let mantissa = text.split(['e', 'E']).next().unwrap();
        let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
        let digits = digits.trim_start_matches('0').trim_end_matches('0');
        digits.len().max(1)
    }

    #[test]
    fn every_float16_reads_back_from_the_shortest_decimal() {
        for bits in 0..=u16::MAX {
            let value = f16::from_bits(bits);
            if !value.is_finite() {
                continue;
            }
            let text = text_of(value);
            let read: f64 = text.parse().unwrap();
            assert_eq!(float16_bits(read), bits, "{text}");
            // No decimal with fewer significant digits reads back as the same value.
            let digits = significant_digits(&text);
            if digits > 1 {
                let shorter = format!("{:.*e}", digits - 2, value.to_f64());
                for step in [-1i64, 0, 1] {
                    let (m, e) = shorter.split_once('e').unwrap();
                    let m: i64 = m.replace('.', "").parse::<i64>().unwrap() + step;
                    let e: i32 = e.parse::<i32>().unwrap() - (digits as i32 - 2);
                    let candidate: f64 = format!("{m}e{e}").parse().unwrap();
                    assert_ne!(float16_bits(candidate), bits, "{text} vs {m}e{e}");
                }
            }
        }
    }

    #[test]
    fn float16_examples_are_numpy_reprs() {
        // repr(numpy.float16(x)) for these values.
        let cases = [
            (0.1, "0.1"),
            (65504.0, "65500.0"),
            (1.0, "1.0"),
            (-2.5, "-2.5"),
            (0.333, "0.333"),
            (0.046875, "0.04688"),
        ];
        for (value, numpy) in cases {
            assert_eq!(text_of(f16::from_f64(value)), numpy);
        }
        assert_eq!(text_of(f16::from_bits(1)), "6e-8");
    }

    #[test]
    fn float64_to_float16_rounds_once_as_numpy_does() {
        // numpy: 1 + 2^-11 + 2^-40 -> 1.001 (0x3c01); through float32 it would tie to 1.0.
        let cases: [(f64, u16); 9] = [
            (1.0 + 2f64.powi(-11) + 2f64.powi(-40), 0x3c01),
            (1.0 + 2f64.powi(-11), 0x3c00),
            (65504.0, 0x7bff),
            (65519.99, 0x7bff),
            (65520.0, 0x7c00),
            (-1e300, 0xfc00),
            (2f64.powi(-24), 0x0001),
            (2f64.powi(-25), 0x0000),
            (-0.0, 0x8000),
        ];
        for (value, bits) in cases {
            assert_eq!(double_to_half(value), bits, "{value:e}");
        }
        for (bits, value) in [
            (0x7bffu16, 65504.0),
            (0x0001, 2f64.powi(-24)),
            (0xc000, -2.0),
        ] {
            assert_eq!(half_value(bits), value);
        }
    }

    #[test]
    fn non_finite_needs_allow_nan() {
        let nan = f32::NAN.to_le_bytes();
        assert!(float_text(&nan, false).unwrap_err().is_nan());
        assert_eq!(float_text(&nan, true).unwrap(), "NaN");
        let minus_infinity = f64::NEG_INFINITY.to_le_bytes();
        assert_eq!(float_text(&minus_infinity, true).unwrap(), "-Infinity");
    }
}
