//! Reading typed fields out of a JSON object, with errors that say what was expected.

use serde_json::{Map, Value};

use crate::codec::dialect::kind_of;
use crate::codec::dtype::{ByteOrder, Dtype};
use crate::codec::json::BIG_INTEGER;
use crate::codec::model::TensorHeader;
use crate::error::{Error, Result};

pub type Fields = Map<String, Value>;

/// A short rendering of a value for error messages, as the document wrote it.
pub fn shown(value: &Value) -> String {
    let text = match value
        .as_str()
        .and_then(|text| text.strip_prefix(BIG_INTEGER))
    {
        Some(digits) => digits.to_string(),
        None => value.to_string(),
    };
    if text.chars().count() > 40 {
        let start: String = text.chars().take(37).collect();
        let kind = kind_of(value);
        let article = if kind.starts_with('o') { "an" } else { "a" };
        format!("{article} {kind} ({start}...)")
    } else {
        text
    }
}

pub fn wrong(key: &str, expected: &str, found: &Value) -> Error {
    Error::Envelope(format!(
        "field `{key}`: expected {expected}, found {}",
        shown(found)
    ))
}

pub fn required<'f>(fields: &'f Fields, key: &str) -> Result<&'f Value> {
    fields
        .get(key)
        .ok_or_else(|| Error::Envelope(format!("field `{key}` is missing")))
}

pub fn string<'f>(fields: &'f Fields, key: &str) -> Result<&'f str> {
    let value = required(fields, key)?;
    value.as_str().ok_or_else(|| wrong(key, "a string", value))
}

/// An optional string field.
pub fn optional_string<'f>(fields: &'f Fields, key: &str) -> Result<Option<&'f str>> {
    match fields.get(key) {
        None => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(other) => Err(wrong(key, "a string", other)),
    }
}

/// A field that holds a payload: it must be a string (of base64).
pub fn payload(fields: &Fields, key: &str) -> Result<String> {
    let value = required(fields, key)?;
    match value {
        Value::String(_) => Ok(key.to_string()),
        other => Err(wrong(key, "a base64 string", other)),
    }
}

pub fn dtype(fields: &Fields, key: &str) -> Result<(Dtype, ByteOrder)> {
    let name = string(fields, key)?;
    Dtype::parse(name).map_err(|error| Error::Envelope(format!("field `{key}`: {error}")))
}

pub fn shape(fields: &Fields, key: &str) -> Result<Vec<u64>> {
    let value = required(fields, key)?;
    let expected = "a list of non-negative integers";
    let list = value
        .as_array()
        .ok_or_else(|| wrong(key, expected, value))?;
    list.iter()
        .map(|dim| dim.as_u64().ok_or_else(|| wrong(key, expected, dim)))
        .collect()
}

/// Dtype and shape from their fields, with the data size checked against overflow.
pub fn header(
    fields: &Fields,
    dtype_key: &str,
    shape_key: &str,
) -> Result<(TensorHeader, ByteOrder)> {
    let (dtype, byte_order) = dtype(fields, dtype_key)?;
    let header = TensorHeader::new(dtype, shape(fields, shape_key)?)?;
    Ok((header, byte_order))
}
