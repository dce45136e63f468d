//! jsonpickle's numpy extension (read only). Up to 16 elements: `{"py/object":
//! "numpy.ndarray", "values": [[1, 2]], "dtype": "int32"}` (`shape` only when empty, `order:
//! "F"` when Fortran). Larger: `values` is base64 of zlib bytes in stored order, with `shape`,
//! `dtype`, `byteorder` and `order`; with `ndarray_compression=None`, base64 of the bytes
//! themselves, which nothing in the document marks. A view (a reshape or slice) holds its array as `base`,
//! with `offset` and `strides` in bytes and `byteorder: "S"` when swapped against the base.

use serde_json::{json, Value};

use crate::codec::dialect::fields::{self, Fields};
use crate::codec::dialect::{list, path, Compression, Encoding, ObjectReader, Plan, ReadOptions};
use crate::codec::dtype::ByteOrder;
use crate::codec::layout::Arrangement;
use crate::codec::model::TensorHeader;
use crate::error::{Error, Result};

pub const READER: ObjectReader = ObjectReader {
    name: "jsonpickle",
    looks_for: "\"py/object\": \"numpy.ndarray\"",
    plan,
    names: None,
};

fn plan(fields: &Fields, _options: &ReadOptions) -> Option<Result<Plan>> {
    (fields.get("py/object")? == "numpy.ndarray").then(|| match fields.get("base") {
        Some(base) => view_plan(fields, base),
        None => array_plan(fields),
    })
}

fn fortran(fields: &Fields) -> bool {
    fields.get("order") == Some(&Value::from("F"))
}

fn array_plan(fields: &Fields) -> Result<Plan> {
    let (dtype, descr_order) = fields::dtype(fields, "dtype")?;
    let values = fields::required(fields, "values")?;
    if list::is_numbers(values) {
        let shape = match fields.get("shape") {
            Some(_) => Some(fields::shape(fields, "shape")?),
            None => None,
        };
        return Ok(Plan::List {
            dtype: Some(dtype),
            shape,
            path: path(&["values"]),
            arrangement: Arrangement::MODEL,
            null_is_nan: false,
        });
    }
    let byte_order = match fields::optional_string(fields, "byteorder")? {
        Some(">") => ByteOrder::Big,
        Some("<" | "=" | "|") => ByteOrder::Little,
        None => descr_order,
        Some(other) => return Err(fields::wrong("byteorder", "\"<\" or \">\"", &json!(other))),
    };
    let header = TensorHeader::new(dtype, fields::shape(fields, "shape")?)?;
    Ok(Plan::Tensor {
        header,
        path: path(&["values"]),
        encoding: Encoding {
            skip: 0,
            compression: Some(Compression::Zlib),
            // jsonpickle writes the same keys with `ndarray_compression=None`.
            may_be_raw: true,
            arrangement: Arrangement {
                byte_order,
                fortran_order: fortran(fields),
                planar_complex: false,
            },
        },
    })
}

fn view_plan(fields: &Fields, base: &Value) -> Result<Plan> {
    let base_fields = base
        .as_object()
        .ok_or_else(|| fields::wrong("base", "an array object", base))?;
    let mut base_plan = array_plan(base_fields)?;
    base_plan.path_mut().insert(0, "base".to_string());
    let (dtype, _) = fields::dtype(fields, "dtype")?;
    let header = TensorHeader::new(dtype, fields::shape(fields, "shape")?)?;
    let offset = match fields.get("offset") {
        None => 0,
        Some(value) => value
            .as_u64()
            .ok_or_else(|| fields::wrong("offset", "a byte count", value))?,
    };
    let strides = match fields.get("strides") {
        None => None,
        Some(Value::Array(list)) => Some(
            list.iter()
                .map(|stride| {
                    stride
                        .as_i64()
                        .ok_or_else(|| fields::wrong("strides", "integers", stride))
                })
                .collect::<Result<Vec<i64>>>()?,
        ),
        Some(other) => return Err(fields::wrong("strides", "a list of integers", other)),
    };
    if strides
        .as_ref()
        .is_some_and(|strides| strides.len() != header.shape.len())
    {
        return Err(Error::Envelope(
            "field `strides` does not match `shape`".to_string(),
        ));
    }
    Ok(Plan::View {
        base: Box::new(base_plan),
        header,
        offset,
        strides,
        swapped: fields.get("byteorder") == Some(&Value::from("S")),
        fortran_order: fortran(fields),
    })
}
