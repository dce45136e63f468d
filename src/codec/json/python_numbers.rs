use super::StringState;

/// Marks a string that stands for an integer literal too large for 64 bits: Python reads it
/// exactly (numpy then makes an object array); serde_json would round it to a float.
pub const BIG_INTEGER: &str = "\u{1f}int:";

/// Rewrites the number tokens that serde_json reads differently from Python's `json`, so
/// that no value changes unnoticed: `NaN`, `Infinity`, `-Infinity` and floats past f64's
/// range (`1e400`, which Python reads as infinity) become the strings "NaN", "Infinity" and
/// "-Infinity", which the list reader takes for floats; `-0` becomes the integer `0`, as in
/// Python (serde_json reads it as the float -0.0); an integer past 64 bits becomes a string
/// starting with [`BIG_INTEGER`]. `None` if there is nothing to rewrite.
pub(super) fn python_numbers(text: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut copied = 0;
    let mut strings = StringState::default();
    let mut index = 0;
    while index < text.len() {
        if strings.step(text[index]) {
            index += 1;
            continue;
        }
        let length = text[index..]
            .iter()
            .position(|&byte| !(byte.is_ascii_alphanumeric() || b"+-.".contains(&byte)))
            .unwrap_or(text.len() - index);
        let end = index + length.max(1);
        if let Some(replacement) = python_token(&text[index..end]) {
            out.extend_from_slice(&text[copied..index]);
            out.extend_from_slice(replacement.as_bytes());
            copied = end;
        }
        index = end;
    }
    if copied == 0 {
        return None;
    }
    out.extend_from_slice(&text[copied..]);
    Some(out)
}

/// The JSON text that stands in for one token, if it needs another (see [`python_numbers`]).
fn python_token(token: &[u8]) -> Option<String> {
    let token = std::str::from_utf8(token).ok()?;
    match token {
        "NaN" | "Infinity" | "-Infinity" => return Some(format!("\"{token}\"")),
        "-0" => return Some("0".to_string()),
        _ => {}
    }
    let digits = token.strip_prefix('-').unwrap_or(token);
    if !digits.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    if digits.bytes().all(|byte| byte.is_ascii_digit()) {
        if token.parse::<i64>().is_ok() || token.parse::<u64>().is_ok() || digits.starts_with('0') {
            return None;
        }
        return Some(format!("\"\\u001fint:{token}\""));
    }
    let value: f64 = token.parse().ok()?;
    let infinity = if value > 0.0 {
        "\"Infinity\""
    } else {
        "\"-Infinity\""
    };
    value.is_infinite().then(|| infinity.to_string())
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::codec::json::Scanner;

    fn parsed(text: &str) -> Value {
        Scanner::new(text.as_bytes()).value(1000).unwrap()
    }

    #[test]
    fn numbers_read_as_python_reads_them() {
        // Python: json.loads("[1, -0, 2]") == [1, 0, 2], all ints.
        assert_eq!(parsed("[1, -0, 2]"), serde_json::json!([1, 0, 2]));
        assert!(parsed("-0").is_i64());
        assert_eq!(
            parsed("-0.0").as_f64().unwrap().to_bits(),
            (-0.0f64).to_bits()
        );
        // Python reads 1e400 as inf.
        assert_eq!(
            parsed("[1e400, -1E+400, 1e308]"),
            serde_json::json!(["Infinity", "-Infinity", 1e308])
        );
        let big = [
            "123456789012345678901234567890",
            "18446744073709551616",
            "-9223372036854775809",
        ];
        for token in big {
            let marked = format!("{BIG_INTEGER}{token}");
            assert_eq!(parsed(&format!("[{token}]")), serde_json::json!([marked]));
        }
        for fits in ["18446744073709551615", "-9223372036854775808"] {
            assert!(parsed(fits).is_number(), "{fits}");
        }
        // Strings are left alone, escapes and all.
        assert_eq!(
            parsed(r#"["-0", "NaN\\", "1e400"]"#),
            serde_json::json!(["-0", "NaN\\", "1e400"])
        );
        // Text that is not JSON stays an error.
        assert!(Scanner::new(&b"[0123]"[..]).value(100).is_err());
    }

    #[test]
    fn python_non_finite_tokens_become_strings() {
        let mut scanner = Scanner::new(&b"[NaN, -Infinity, \"NaN\", Infinity]"[..]);
        let value = scanner.value(100).unwrap();
        assert_eq!(
            value,
            serde_json::json!(["NaN", "-Infinity", "NaN", "Infinity"])
        );
    }
}
