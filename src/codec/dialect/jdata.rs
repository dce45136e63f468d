//! JData / NeuroJSON (read only): `{"_ArrayType_": "int32", "_ArraySize_": [2, 3],
//! "_ArrayData_": [1, 2, 3, 4, 5, 6]}`, or compressed with `_ArrayZipType_` (`zlib`, `gzip`,
//! or plain `base64`), `_ArrayZipSize_` and `_ArrayZipData_`. Complex arrays
//! (`_ArrayIsComplex_`) hold all real parts, then all imaginary parts; `_ArrayOrder_` of
//! `c`/`col`/`column` means column-major data. `_ArraySize_` may be one number, and `null`
//! in `_ArrayData_` is NaN, as jdata.decode reads them.

use serde_json::{json, Value};

use crate::codec::dialect::fields::{self, Fields};
use crate::codec::dialect::{path, Compression, Encoding, ObjectReader, Plan, ReadOptions};
use crate::codec::dtype::{ByteOrder, Dtype};
use crate::codec::layout::Arrangement;
use crate::codec::model::TensorHeader;
use crate::error::Result;

pub const READER: ObjectReader = ObjectReader {
    name: "jdata",
    looks_for: "\"_ArrayType_\"",
    plan,
    names: None,
};

fn plan(fields: &Fields, _options: &ReadOptions) -> Option<Result<Plan>> {
    fields
        .contains_key("_ArrayType_")
        .then(|| tensor_plan(fields))
}

/// JData names types as MATLAB does; numpy names and descrs are accepted too.
fn dtype_of(name: &str, complex: bool) -> Option<(Dtype, ByteOrder)> {
    let (dtype, byte_order) = match name {
        "single" => (Dtype::Float32, ByteOrder::Little),
        "double" => (Dtype::Float64, ByteOrder::Little),
        "logical" => (Dtype::Bool, ByteOrder::Little),
        other => Dtype::parse(other).ok()?,
    };
    let dtype = match (complex, dtype) {
        (true, Dtype::Float32) => Dtype::Complex64,
        (true, Dtype::Float64) => Dtype::Complex128,
        (_, dtype) => dtype,
    };
    Some((dtype, byte_order))
}

/// The shape: a list, or one number as jdata.decode also reads it, `n` meaning `(n,)` and
/// 1 a scalar (jdata.encode writes a complex scalar so, and decode gives it back as one).
fn size(fields: &Fields) -> Result<Vec<u64>> {
    match fields.get("_ArraySize_").and_then(Value::as_u64) {
        Some(1) => Ok(Vec::new()),
        Some(length) => Ok(vec![length]),
        None => fields::shape(fields, "_ArraySize_"),
    }
}

fn tensor_plan(fields: &Fields) -> Result<Plan> {
    let name = fields::string(fields, "_ArrayType_")?;
    let complex = fields.get("_ArrayIsComplex_") == Some(&Value::Bool(true));
    let (dtype, byte_order) = dtype_of(name, complex)
        .ok_or_else(|| fields::wrong("_ArrayType_", "a MATLAB or numpy type name", &json!(name)))?;
    let shape = size(fields)?;
    let fortran_order = match fields::optional_string(fields, "_ArrayOrder_")? {
        None | Some("r" | "row") => false,
        Some("c" | "col" | "column") => true,
        Some(other) => {
            return Err(fields::wrong(
                "_ArrayOrder_",
                "\"r\" or \"c\"",
                &json!(other),
            ))
        }
    };
    let arrangement = Arrangement {
        byte_order,
        fortran_order,
        planar_complex: complex,
    };
    let Some(zip) = fields::optional_string(fields, "_ArrayZipType_")? else {
        // Numbers in a list have no byte order.
        let arrangement = Arrangement {
            byte_order: ByteOrder::Little,
            ..arrangement
        };
        return Ok(Plan::List {
            dtype: Some(dtype),
            shape: Some(shape),
            path: path(&["_ArrayData_"]),
            arrangement,
            // MATLAB's jsonencode and JavaScript write NaN as null; jdata.decode reads it so.
            null_is_nan: true,
        });
    };
    let compression = match zip {
        "zlib" => Some(Compression::Zlib),
        "gzip" => Some(Compression::Gzip),
        "base64" => None,
        other => {
            let expected = "\"zlib\", \"gzip\" or \"base64\"";
            return Err(fields::wrong("_ArrayZipType_", expected, &json!(other)));
        }
    };
    fields::payload(fields, "_ArrayZipData_")?;
    Ok(Plan::Tensor {
        header: TensorHeader::new(dtype, shape)?,
        path: path(&["_ArrayZipData_"]),
        encoding: Encoding {
            skip: 0,
            compression,
            may_be_raw: false,
            arrangement,
        },
    })
}
