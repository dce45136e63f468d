//! An application's own tensor object: `shape`, `dtype`, and the data as base64 under a key
//! of its choosing, beside whatever else it holds:
//! `{"result": "<base64>", "shape": [2, 3], "dtype": "float32", "latency_ms": 1.5}`.
//! Read only; tried after every named dialect.

use crate::codec::dialect::fields::{self, Fields};
use crate::codec::dialect::{Encoding, ObjectReader, Plan, ReadOptions};
use crate::codec::document::HEAD;
use crate::error::{Error, Result};

pub const READER: ObjectReader = ObjectReader {
    name: "shape-dtype",
    looks_for: "\"shape\" + \"dtype\" + base64 of the data under one other key",
    plan,
    names: None,
};

fn plan(fields: &Fields, _options: &ReadOptions) -> Option<Result<Plan>> {
    if !(fields.contains_key("shape") && fields.contains_key("dtype")) {
        return None;
    }
    let (header, byte_order) = match fields::header(fields, "dtype", "shape") {
        Ok(header) => header,
        Err(error) => return Some(Err(error)),
    };
    // A short string is the data only if it decodes to just the declared size ("ok" beside
    // the tensor is not data); a long one stands in for text kept aside, and is checked as it
    // is read.
    let expected = header.byte_len();
    let data: Vec<&String> = fields
        .iter()
        .filter(|(key, _)| *key != "dtype")
        .filter_map(|(key, value)| {
            let text = value.as_str()?;
            let fits = text.len() > HEAD || decoded_len(text) == Some(expected);
            (fits && is_base64(text)).then_some(key)
        })
        .collect();
    match data.as_slice() {
        [] => None,
        [key] => Some(Ok(Plan::Tensor {
            header,
            path: vec![key.to_string()],
            encoding: Encoding::plain(byte_order),
        })),
        several => Some(Err(Error::Envelope(format!(
            "`shape` and `dtype` stand beside several base64 strings, {several:?}; pick one with \
             --path"
        )))),
    }
}

fn is_base64(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"+/=-_\r\n ".contains(&byte))
}

/// How many bytes base64 text decodes to, if its length is one base64 can have.
fn decoded_len(text: &str) -> Option<u64> {
    let characters = text
        .bytes()
        .filter(|byte| !b"=\r\n ".contains(byte))
        .count() as u64;
    match characters % 4 {
        1 => None,
        rest => Some(characters / 4 * 3 + rest.saturating_sub(1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoded_lengths_are_those_of_base64() {
        // base64.b64encode of 0..5 bytes: "", "AA==", "AAA=", "AAAA", "AAAAAA==".
        for (text, length) in [
            ("", 0),
            ("AA==", 1),
            ("AAA=", 2),
            ("AAAA", 3),
            ("AAAAAA==", 4),
            ("AAAAAA", 4),
        ] {
            assert_eq!(decoded_len(text), Some(length), "{text}");
        }
        assert_eq!(decoded_len("AAAAA"), None);
    }
}
