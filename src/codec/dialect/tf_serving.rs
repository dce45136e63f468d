//! TensorFlow Serving's REST API: `{"instances": [...]}` (row format) or `{"inputs": ...}`
//! (columnar), with no dtype or shape in the JSON; binary values as `{"b64": ".."}`.
//! Numbers take the dtype numpy infers, or `--dtype`; a `b64` value holding a PNG is an image.

use std::io::Write;

use serde_json::Value;

use crate::codec::dialect::fields::Fields;
use crate::codec::dialect::writer::ObjectWriter;
use crate::codec::dialect::{list, ObjectReader, Path, Plan, ReadOptions, WriteOptions};
use crate::codec::dtype::Dtype;
use crate::codec::layout::Arrangement;
use crate::codec::model::Item;
use crate::error::{Error, Result};

pub const READER: ObjectReader = ObjectReader {
    name: "tf-serving",
    looks_for: "\"instances\", or \"inputs\" holding numbers",
    plan,
    names: Some(names),
};

fn plan(fields: &Fields, options: &ReadOptions) -> Option<Result<Plan>> {
    let key = ["instances", "inputs"]
        .into_iter()
        .find(|key| fields.contains_key(*key))?;
    let at = vec![key.to_string()];
    Some(match &fields[key] {
        Value::Object(named) => pick(named, options).and_then(|name| {
            let mut at = at.clone();
            at.push(name.clone());
            value_plan(&named[name], at)
        }),
        value => value_plan(value, at),
    })
}

/// The names of columnar inputs; none for the row format or one unnamed input.
fn names(fields: &Fields) -> Vec<String> {
    match fields.get("inputs") {
        Some(Value::Object(named)) if !fields.contains_key("instances") => {
            named.keys().cloned().collect()
        }
        _ => Vec::new(),
    }
}

/// Columnar inputs by name: the one, or the one `--name` names.
fn pick<'f>(named: &'f Fields, options: &ReadOptions) -> Result<&'f String> {
    let names: Vec<&String> = named.keys().collect();
    match &options.name {
        Some(wanted) => named.keys().find(|name| *name == wanted).ok_or_else(|| {
            Error::Envelope(format!(
                "no input named {wanted:?}; the names are {names:?}"
            ))
        }),
        None if names.len() == 1 => Ok(names[0]),
        None => Err(Error::Envelope(format!(
            "the document holds {} inputs, named {names:?}; pick one with --name",
            names.len()
        ))),
    }
}

fn value_plan(value: &Value, mut at: Path) -> Result<Plan> {
    // One binary instance, alone or in a list of one.
    let (binary, steps) = match value {
        Value::Array(items) if items.len() == 1 => (items[0].get("b64"), vec!["0", "b64"]),
        other => (other.get("b64"), vec!["b64"]),
    };
    if let Some(binary) = binary {
        let is_png = binary
            .as_str()
            .is_some_and(|text| text.starts_with("iVBORw0KGgo"));
        if !is_png {
            return Err(Error::Envelope(
                "a `b64` value that is not a PNG image: tensorjson reads PNG images from TF \
                 Serving's binary values"
                    .to_string(),
            ));
        }
        at.extend(steps.into_iter().map(String::from));
        return Ok(Plan::Image { path: at, skip: 0 });
    }
    if let Some(items) = value.as_array() {
        let binary = items
            .iter()
            .filter(|item| item.get("b64").is_some())
            .count();
        if binary > 1 {
            return Err(Error::Envelope(format!(
                "the instances hold {binary} binary values (`{{\"b64\": ..}}`), one image each; \
                 tensorjson reads one image at a time: extract one first (for example with jq)"
            )));
        }
        if items.iter().any(Value::is_object) {
            return Err(Error::Envelope(
                "instances holding named inputs (objects) are not supported; send one input, \
                 or use the columnar \"inputs\" form and --name"
                    .to_string(),
            ));
        }
    }
    Ok(Plan::List {
        dtype: None,
        shape: None,
        path: at,
        arrangement: Arrangement::MODEL,
        null_is_nan: false,
    })
}

/// Writes `{"instances": <nested list>}` for a tensor, `{"instances": [{"b64": ..}]}` for an image.
pub fn write(item: Item, out: &mut dyn Write, options: &WriteOptions) -> Result<()> {
    let mut object = ObjectWriter::open(out, false)?;
    object.raw("instances", |out| write_value(item, out, options))?;
    object.close()
}

/// How a request of named inputs, in the columnar form, starts and ends around its inputs
/// (each `"name": <value>`).
pub const NAMED_INPUTS: (&str, &str) = ("{\"inputs\":{", "}}");

/// Writes the value of an input: a nested list for a tensor, `[{"b64": ..}]` for an image.
pub fn write_value(item: Item, out: &mut dyn Write, options: &WriteOptions) -> Result<()> {
    match item {
        Item::Image(image) => {
            out.write_all(b"[")?;
            let mut instance = ObjectWriter::open(out, false)?;
            let threads = options.base64_threads();
            instance.base64("b64", "", &mut image.bytes.as_slice(), threads)?;
            instance.close()?;
            out.write_all(b"]")?;
            Ok(())
        }
        Item::Tensor(mut tensor) => {
            let dtype = tensor.header.dtype;
            if matches!(dtype, Dtype::Float16) || dtype.is_complex() {
                return Err(Error::Envelope(format!(
                    "TF Serving's JSON has no dtype, and {dtype} would be read back as another \
                     type; use --style kserve or native"
                )));
            }
            if tensor.header.shape.is_empty() {
                return Err(Error::Envelope(
                    "TF Serving's instances are a list; a 0-d array has none: reshape it to (1,)"
                        .to_string(),
                ));
            }
            list::check_nestable(&tensor.header.shape)?;
            list::write_values(&mut tensor, out, true, options)
        }
    }
}
