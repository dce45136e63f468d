//! json-tricks (PyPI): `{"__ndarray__": [[1, 2, 3], [4, 5, 6]], "dtype": "int32", "shape":
//! [2, 3], "Corder": true}`, or compact, `"__ndarray__": "b64:.."` (`"b64.gz:.."` gzipped)
//! with `"endian"`. The dtype's own byte order (`">i4"`) wins over `endian`.

use std::io::{Read, Write};

use serde_json::{json, Value};

use crate::codec::dialect::fields::{self, Fields};
use crate::codec::dialect::writer::ObjectWriter;
use crate::codec::dialect::{
    list, path, Compression, Encoding, ObjectReader, Plan, ReadOptions, WriteOptions,
};
use crate::codec::dtype::ByteOrder;
use crate::codec::layout::Arrangement;
use crate::codec::model::{Item, Tensor};
use crate::codec::numbers::float_text;
use crate::error::{Error, Result};

const KEY: &str = "__ndarray__";

pub const READER: ObjectReader = ObjectReader {
    name: "json-tricks",
    looks_for: "\"__ndarray__\"",
    plan,
    names: None,
};

fn plan(fields: &Fields, _options: &ReadOptions) -> Option<Result<Plan>> {
    fields.contains_key(KEY).then(|| tensor_plan(fields))
}

fn tensor_plan(fields: &Fields) -> Result<Plan> {
    let (header, stored_order) = fields::header(fields, "dtype", "shape")?;
    let value = &fields[KEY];
    let text = match value {
        Value::String(text) if !list::is_numbers(value) => text,
        _ => {
            return Ok(Plan::List {
                dtype: Some(header.dtype),
                shape: Some(header.shape.iter().map(|&dim| dim as u64).collect()),
                path: path(&[KEY]),
                arrangement: Arrangement::MODEL,
                null_is_nan: false,
            })
        }
    };
    let (skip, compression) = if text.starts_with("b64.gz:") {
        (7, Some(Compression::Gzip))
    } else if text.starts_with("b64:") {
        (4, None)
    } else {
        let expected = "a list, or a string starting \"b64:\" or \"b64.gz:\"";
        return Err(fields::wrong(KEY, expected, &fields[KEY]));
    };
    // json-tricks swaps the array's bytes when `endian` is "big", whatever order the dtype
    // (a descr such as ">i4", or a name meaning native little-endian) already has.
    let byte_order = match (fields::optional_string(fields, "endian")?, stored_order) {
        (None | Some("little"), order) => order,
        (Some("big"), ByteOrder::Little) => ByteOrder::Big,
        (Some("big"), ByteOrder::Big) => ByteOrder::Little,
        (Some(other), _) => {
            return Err(fields::wrong(
                "endian",
                "\"little\" or \"big\"",
                &json!(other),
            ))
        }
    };
    Ok(Plan::Tensor {
        header,
        path: path(&[KEY]),
        encoding: Encoding {
            skip,
            compression,
            may_be_raw: false,
            arrangement: Arrangement {
                byte_order,
                fortran_order: fields.get("Corder") == Some(&Value::Bool(false)),
                planar_complex: false,
            },
        },
    })
}

/// Writes the compact form, base64 of little-endian C-order bytes; a 0-d array as json-tricks
/// writes it, a bare value (`{"__complex__": [re, im]}` for a complex number), since
/// json-tricks cannot load a compact 0-d array.
pub fn write(item: Item, out: &mut dyn Write, options: &WriteOptions) -> Result<()> {
    let Item::Tensor(mut tensor) = item else {
        return Err(Error::Envelope(
            "style json-tricks holds tensors, not images".to_string(),
        ));
    };
    let header = tensor.header.clone();
    let bare = header.shape.is_empty();
    // Made before anything is written, so that a NaN refused leaves no partial output.
    let scalar = if bare {
        Some(scalar_text(&mut tensor, options)?)
    } else {
        None
    };
    let mut object = ObjectWriter::open(out, options.pretty)?;
    match &scalar {
        Some(text) => object.raw(KEY, |out| Ok(out.write_all(text.as_bytes())?))?,
        None => object.base64(KEY, "b64:", &mut tensor, options.base64_threads())?,
    }
    object.value("dtype", json!(header.dtype.name()))?;
    object.value("shape", json!(header.shape))?;
    if header.shape.len() > 1 {
        object.value("Corder", json!(true))?;
    }
    if !bare {
        object.value("endian", json!("little"))?;
    }
    object.close()
}

/// The one value of a 0-d tensor as JSON.
fn scalar_text(tensor: &mut Tensor, options: &WriteOptions) -> Result<String> {
    if tensor.header.dtype.is_complex() {
        let mut bytes = Vec::new();
        tensor.read_to_end(&mut bytes)?;
        let (re, im) = bytes.split_at(bytes.len() / 2);
        let part = |bytes| {
            float_text(bytes, options.allow_nan).map_err(|value| {
                Error::Envelope(format!(
                    "the complex value has a part {value}, which JSON cannot hold; give \
                     --allow-nan to write the NaN/Infinity tokens json_tricks.loads reads"
                ))
            })
        };
        return Ok(format!("{{\"__complex__\":[{},{}]}}", part(re)?, part(im)?));
    }
    let mut text = Vec::new();
    list::write_values(tensor, &mut text, true, options)?;
    Ok(String::from_utf8(text).expect("numbers are ASCII"))
}
