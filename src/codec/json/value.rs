use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::python_numbers::python_numbers;
use crate::codec::dialect::plain;
use crate::error::{Error, Result};

/// Parses the text of one value that started at byte `start` of the document.
pub fn parse(text: &[u8], start: u64) -> Result<Value> {
    build(text, start, Build { outline: false })
}

/// Parses one scalar token (a number, `true`, `false`, `null`, or a Python token such as
/// `NaN`) as [`parse`] does, without serde_json for the plain numbers that long lists are
/// made of.
pub fn scalar(token: &[u8], start: u64) -> Result<Value> {
    match token {
        b"true" => return Ok(Value::Bool(true)),
        b"false" => return Ok(Value::Bool(false)),
        b"null" => return Ok(Value::Null),
        _ => {}
    }
    // JSON's own number syntax, strictly (`01`, `+1` and `1.` are not numbers, as Python's
    // json says too); anything else, an infinite float or an integer past 64 bits among them,
    // goes through the general reader.
    let value = plain::classify(token.trim_ascii()).and_then(|number| number.value());
    match value {
        Some(value) => Ok(value),
        None => parse(token, start),
    }
}

/// Parses the text of one value into its outline: objects whole, but a list of more than
/// `OUTLINE_LIST` items that are not objects (numbers, most often) cut to its first item.
/// Enough to tell a dialect by, in a fraction of the memory the whole value takes; the whole
/// value is parsed later only if it is the one to read.
pub fn outline(text: &[u8], start: u64) -> Result<Value> {
    build(text, start, Build { outline: true })
}

fn build(text: &[u8], start: u64, build: Build) -> Result<Value> {
    let rewritten = python_numbers(text);
    let mut deserializer =
        serde_json::Deserializer::from_slice(rewritten.as_deref().unwrap_or(text));
    build
        .deserialize(&mut deserializer)
        .and_then(|value| deserializer.end().map(|()| value))
        .map_err(|error| at(error, start))
}

fn at(error: serde_json::Error, start: u64) -> Error {
    Error::Json(format!("{error} (in the value at byte {start})"))
}

/// Lists up to this long are kept whole in an outline: shapes, strides, names.
const OUTLINE_LIST: usize = 64;

/// Builds a value, or its outline (see [`outline`]). Either way, an object with a key twice
/// is refused: which of two values wins differs between parsers (serde_json and Python keep
/// the last, others the first), so a document that says two things is refused rather than
/// read one way here and another way elsewhere.
#[derive(Clone, Copy)]
struct Build {
    outline: bool,
}

impl<'de> DeserializeSeed<'de> for Build {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Build {
    type Value = Value;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Value, E> {
        Ok(Value::from(value))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Value, E> {
        Ok(Value::from(value))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Value, E> {
        Ok(Value::from(value))
    }

    fn visit_str<E>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_string()))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        let mut count = 0usize;
        while let Some(item) = seq.next_element_seed(self)? {
            count += 1;
            items.push(item);
            if self.outline && count > OUTLINE_LIST && !items[0].is_object() {
                items.truncate(1);
            }
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut fields = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(self)?;
            if fields.contains_key(&key) {
                let message = format!("key {key:?} appears twice in an object");
                return Err(serde::de::Error::custom(message));
            }
            fields.insert(key, value);
        }
        Ok(Value::Object(fields))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scalar_is_a_number_in_json_syntax_only() {
        for bad in ["01", "+1", "1.", "-01", ".5", "1e", "1e+", "--1"] {
            assert!(scalar(bad.as_bytes(), 0).is_err(), "{bad}");
        }
        assert_eq!(scalar(b" 1.5 ", 0).unwrap(), Value::from(1.5));
        assert_eq!(scalar(b"-0", 0).unwrap(), Value::from(0));
        assert_eq!(
            scalar(b"12345678901234567890", 0).unwrap(),
            Value::from(12345678901234567890u64)
        );
    }
}
