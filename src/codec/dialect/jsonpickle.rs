//! jsonpickle's numpy extension (read only): `{"py/object": "numpy.ndarray", "values": [[1, 2]],
//! "dtype": "int32"}` for small arrays; larger ones have `values` = base64 of zlib bytes plus
//! `shape`, `dtype`, `byteorder` and `order: "F"` when Fortran.

use serde_json::{json, Value};

use crate::codec::dialect::fields::{self, Fields};
use crate::codec::dialect::{path, Compression, Encoding, ObjectReader, Plan, ReadOptions};
use crate::codec::dtype::ByteOrder;
use crate::codec::model::TensorHeader;
use crate::error::Result;

pub const READER: ObjectReader = ObjectReader {
    name: "jsonpickle",
    looks_for: "\"py/object\": \"numpy.ndarray\"",
    plan,
};

fn plan(fields: &Fields, _options: &ReadOptions) -> Option<Result<Plan>> {
    (fields.get("py/object")? == "numpy.ndarray").then(|| tensor_plan(fields))
}

fn tensor_plan(fields: &Fields) -> Result<Plan> {
    let (dtype, descr_order) = fields::dtype(fields, "dtype")?;
    let values = fields::required(fields, "values")?;
    if !values.is_string() {
        let shape = match fields.get("shape") {
            Some(_) => Some(fields::shape(fields, "shape")?),
            None => None,
        };
        return Ok(Plan::List {
            dtype: Some(dtype),
            shape,
            path: path(&["values"]),
        });
    }
    let byte_order = match fields::optional_string(fields, "byteorder")? {
        Some(">") => ByteOrder::Big,
        Some("<" | "=" | "|") => ByteOrder::Little,
        None => descr_order,
        Some(other) => return Err(fields::wrong("byteorder", "\"<\" or \">\"", &json!(other))),
    };
    let header = TensorHeader::new(dtype, fields::shape(fields, "shape")?)?;
    let fortran_order = fields.get("order") == Some(&Value::from("F"));
    Ok(Plan::Tensor {
        header,
        path: path(&["values"]),
        encoding: Encoding {
            skip: 0,
            compression: Some(Compression::Zlib),
            byte_order,
            fortran_order,
        },
    })
}
