//! Numbers as JSON text: each float written as the shortest decimal that reads back as the
//! same value in its own type, as numpy's `repr` finds it.

use half::f16;

/// How a non-finite float is spelled when `--allow-nan` lets it be written, and how
/// [`crate::codec::json`] hands such tokens over when it reads them.
pub const NON_FINITE: [&str; 3] = ["NaN", "Infinity", "-Infinity"];

/// Most significant digits a float16 needs to read back as itself.
const F16_DIGITS: usize = 5;

/// The JSON text of one little-endian float16, float32 or float64 element (`bytes` is its
/// size). A NaN or infinity is `Err(value)` unless `allow_nan`.
pub fn float_text(bytes: &[u8], allow_nan: bool) -> Result<String, f64> {
    // serde_json writes the shortest decimal that round-trips in f32 or f64.
    let (value, text) = match bytes.len() {
        2 => {
            let value = f16::from_le_bytes([bytes[0], bytes[1]]);
            (value.to_f64(), serde_json::to_string(&shortest_f16(value)))
        }
        4 => {
            let value = f32::from_le_bytes(bytes.try_into().expect("4 bytes"));
            (value as f64, serde_json::to_string(&value))
        }
        _ => {
            let value = f64::from_le_bytes(bytes.try_into().expect("8 bytes"));
            (value, serde_json::to_string(&value))
        }
    };
    if !value.is_finite() {
        return non_finite_token(value, allow_nan);
    }
    Ok(text.expect("a finite float is always written"))
}

/// The float64 nearest the shortest decimal that reads back (through float64, as numpy
/// reads `json.loads` output) as `value`, the closest such decimal where several are.
/// Written as float64, that decimal keeps its few digits.
fn shortest_f16(value: f16) -> f64 {
    let exact = value.to_f64();
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
            .filter(|&decimal| f16::from_f64(decimal).to_bits() == value.to_bits())
            .min_by(|a, b| (a - exact).abs().total_cmp(&(b - exact).abs()));
        if let Some(decimal) = best {
            return decimal;
        }
    }
    exact
}

fn non_finite_token(value: f64, allow_nan: bool) -> Result<String, f64> {
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
    Ok(token.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

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
            assert_eq!(f16::from_f64(read).to_bits(), bits, "{text}");
            // No decimal with fewer significant digits reads back as the same value.
            let digits = significant_digits(&text);
            if digits > 1 {
                let shorter = format!("{:.*e}", digits - 2, value.to_f64());
                for step in [-1i64, 0, 1] {
                    let (m, e) = shorter.split_once('e').unwrap();
                    let m: i64 = m.replace('.', "").parse::<i64>().unwrap() + step;
                    let e: i32 = e.parse::<i32>().unwrap() - (digits as i32 - 2);
                    let candidate: f64 = format!("{m}e{e}").parse().unwrap();
                    assert_ne!(
                        f16::from_f64(candidate).to_bits(),
                        bits,
                        "{text} vs {m}e{e}"
                    );
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
    fn non_finite_needs_allow_nan() {
        let nan = f32::NAN.to_le_bytes();
        assert!(float_text(&nan, false).unwrap_err().is_nan());
        assert_eq!(float_text(&nan, true).unwrap(), "NaN");
        let minus_infinity = f64::NEG_INFINITY.to_le_bytes();
        assert_eq!(float_text(&minus_infinity, true).unwrap(), "-Infinity");
    }
}
