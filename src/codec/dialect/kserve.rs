//! The Open Inference Protocol (KServe V2, Triton): a request
//! `{"inputs": [{"name", "shape", "datatype", "data"}]}` or a response `{"outputs": [..]}`;
//! `data` is row-major, flat or nested. Triton's BF16 is read as float32, since numpy has no
//! bfloat16.

use std::io::Write;

use serde_json::{json, Value};

use crate::codec::dialect::fields::{self, Fields};
use crate::codec::dialect::writer::ObjectWriter;
use crate::codec::dialect::{list, path, ObjectReader, Plan, ReadOptions, WriteOptions};
use crate::codec::dtype::Dtype;
use crate::codec::layout::Arrangement;
use crate::codec::model::Item;
use crate::error::{Error, Result};

pub const READER: ObjectReader = ObjectReader {
    name: "kserve",
    looks_for: "\"inputs\" or \"outputs\" holding objects with \"datatype\"",
    plan,
    names: Some(names),
};

/// The name `encode --style kserve` gives its one input when `--name` does not.
pub const DEFAULT_NAME: &str = "input-0";

/// The tensors of `inputs` and of `outputs` (a document may echo its inputs beside its
/// outputs), each with its list's key and index.
fn tensors(fields: &Fields) -> Vec<(&'static str, usize, &Fields)> {
    let mut found = Vec::new();
    for key in ["inputs", "outputs"] {
        let Some(list) = fields.get(key).and_then(Value::as_array) else {
            continue;
        };
        let objects: Option<Vec<&Fields>> = list.iter().map(Value::as_object).collect();
        let Some(objects) = objects.filter(|objects| !objects.is_empty()) else {
            continue;
        };
        if objects.iter().all(|tensor| tensor.contains_key("datatype")) {
            found.extend(
                objects
                    .into_iter()
                    .enumerate()
                    .map(|(index, tensor)| (key, index, tensor)),
            );
        }
    }
    found
}

fn plan(fields: &Fields, options: &ReadOptions) -> Option<Result<Plan>> {
    let tensors = tensors(fields);
    if tensors.is_empty() {
        return None;
    }
    Some(pick(&tensors, options).and_then(|(key, index, tensor)| {
        tensor_plan(tensor, path(&[key, &index.to_string(), "data"]))
    }))
}

/// The names of the tensors a document holds, inputs and outputs alike.
fn names(fields: &Fields) -> Vec<String> {
    tensors(fields)
        .into_iter()
        .map(|(_, _, tensor)| name_of(tensor).to_string())
        .collect()
}

fn name_of(tensor: &Fields) -> &str {
    tensor.get("name").and_then(Value::as_str).unwrap_or("")
}

/// The one tensor, or the one `--name` names, among inputs and outputs alike.
fn pick<'f>(
    tensors: &[(&'static str, usize, &'f Fields)],
    options: &ReadOptions,
) -> Result<(&'static str, usize, &'f Fields)> {
    let listed: Vec<String> = tensors
        .iter()
        .map(|(key, _, tensor)| format!("{key} {:?}", name_of(tensor)))
        .collect();
    let listed = listed.join(", ");
    let named: Vec<_> = match &options.name {
        Some(wanted) => tensors
            .iter()
            .filter(|(_, _, tensor)| name_of(tensor) == wanted)
            .collect(),
        None => tensors.iter().collect(),
    };
    match (named.as_slice(), &options.name) {
        ([one], _) => Ok(**one),
        ([], Some(wanted)) => Err(Error::Envelope(format!(
            "no tensor named {wanted:?}; the document holds {listed}"
        ))),
        (_, Some(wanted)) => Err(Error::Envelope(format!(
            "several tensors are named {wanted:?}: {listed}; extract one first (for example \
             with jq)"
        ))),
        (_, None) => Err(Error::Envelope(format!(
            "the document holds {} tensors: {listed}; pick one with --name",
            tensors.len()
        ))),
    }
}

fn tensor_plan(tensor: &Fields, data: crate::codec::dialect::Path) -> Result<Plan> {
    let datatype = fields::string(tensor, "datatype")?;
    let dtype = match datatype {
        "BF16" => Dtype::Float32,
        "BYTES" => {
            return Err(Error::Envelope(
                "datatype BYTES holds strings, not numbers; tensorjson reads numeric tensors"
                    .to_string(),
            ))
        }
        other => Dtype::ALL
            .into_iter()
            .find(|dtype| dtype.kserve_name() == Some(other))
            .ok_or_else(|| fields::wrong("datatype", &datatypes(), &json!(other)))?,
    };
    let shape = fields::shape(tensor, "shape")?;
    if !tensor.contains_key("data") {
        let binary = tensor
            .get("parameters")
            .and_then(|parameters| parameters.get("binary_data_size"));
        if binary.is_some() {
            return Err(Error::Envelope(
                "this tensor uses the binary data extension (`binary_data_size`): its bytes \
                 follow the JSON in the HTTP body, which tensorjson does not read; ask the \
                 server for JSON data instead (\"binary_data\": false)"
                    .to_string(),
            ));
        }
        return Err(Error::Envelope("field `data` is missing".to_string()));
    }
    Ok(Plan::List {
        dtype: Some(dtype),
        shape: Some(shape),
        path: data,
        arrangement: Arrangement::MODEL,
        null_is_nan: false,
    })
}

/// The datatypes this reader knows, from the dtype table.
fn datatypes() -> String {
    let names: Vec<&str> = Dtype::ALL
        .into_iter()
        .filter_map(Dtype::kserve_name)
        .chain(["BF16"])
        .collect();
    format!("one of {}", names.join(", "))
}

/// How a request written by tensorjson starts and ends, around its inputs.
pub const REQUEST: (&str, &str) = ("{\"inputs\":[", "]}");

/// Writes a request with one input holding the tensor as a flat list.
pub fn write(item: Item, out: &mut dyn Write, options: &WriteOptions) -> Result<()> {
    let name = options.name.as_deref().unwrap_or(DEFAULT_NAME);
    out.write_all(REQUEST.0.as_bytes())?;
    write_input(name, item, out, options)?;
    out.write_all(REQUEST.1.as_bytes())?;
    Ok(())
}

/// Writes one input of a request: `{"name", "shape", "datatype", "data"}`, data a flat list.
pub fn write_input(
    name: &str,
    item: Item,
    out: &mut dyn Write,
    options: &WriteOptions,
) -> Result<()> {
    let Item::Tensor(mut tensor) = item else {
        return Err(Error::Envelope(
            "style kserve holds tensors; decode the image to .npy first".to_string(),
        ));
    };
    let dtype = tensor.header.dtype;
    let datatype = dtype.kserve_name().ok_or_else(|| {
        Error::Envelope(format!(
            "the Open Inference Protocol has no datatype for {dtype}; use --style native or json-numpy"
        ))
    })?;
    let mut input = ObjectWriter::open(out, false)?;
    input.value("name", json!(name))?;
    input.value("shape", json!(tensor.header.shape))?;
    input.value("datatype", json!(datatype))?;
    input.raw("data", |out| {
        list::write_values(&mut tensor, out, false, options)
    })?;
    input.close()
}
