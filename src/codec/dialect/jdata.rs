//! JData / NeuroJSON (read only): `{"_ArrayType_": "int32", "_ArraySize_": [2, 3],
//! "_ArrayData_": [1, 2, 3, 4, 5, 6]}`, or compressed with `_ArrayZipType_` (`zlib`, `gzip`),
//! `_ArrayZipSize_` and `_ArrayZipData_` (base64).

use serde_json::json;

use crate::codec::dialect::fields::{self, Fields};
use crate::codec::dialect::{path, Compression, Encoding, ObjectReader, Plan, ReadOptions};
use crate::codec::dtype::{ByteOrder, Dtype};
use crate::codec::model::TensorHeader;
use crate::error::Result;

pub const READER: ObjectReader = ObjectReader {
    name: "jdata",
    looks_for: "\"_ArrayType_\"",
    plan,
};

fn plan(fields: &Fields, _options: &ReadOptions) -> Option<Result<Plan>> {
    fields
        .contains_key("_ArrayType_")
        .then(|| tensor_plan(fields))
}

/// JData names types as MATLAB does; the numpy names are accepted too.
fn dtype_of(name: &str) -> Option<Dtype> {
    match name {
        "single" => Some(Dtype::Float32),
        "double" => Some(Dtype::Float64),
        "logical" => Some(Dtype::Bool),
        other => Dtype::parse(other).ok().map(|(dtype, _)| dtype),
    }
}

fn tensor_plan(fields: &Fields) -> Result<Plan> {
    let name = fields::string(fields, "_ArrayType_")?;
    let dtype = dtype_of(name)
        .ok_or_else(|| fields::wrong("_ArrayType_", "a MATLAB or numpy type name", &json!(name)))?;
    let shape = fields::shape(fields, "_ArraySize_")?;
    let Some(zip) = fields::optional_string(fields, "_ArrayZipType_")? else {
        return Ok(Plan::List {
            dtype: Some(dtype),
            shape: Some(shape),
            path: path(&["_ArrayData_"]),
        });
    };
    let compression = match zip {
        "zlib" => Compression::Zlib,
        "gzip" => Compression::Gzip,
        other => {
            return Err(fields::wrong(
                "_ArrayZipType_",
                "\"zlib\" or \"gzip\"",
                &json!(other),
            ))
        }
    };
    fields::payload(fields, "_ArrayZipData_")?;
    Ok(Plan::Tensor {
        header: TensorHeader::new(dtype, shape)?,
        path: path(&["_ArrayZipData_"]),
        encoding: Encoding {
            skip: 0,
            compression: Some(compression),
            byte_order: ByteOrder::Little,
            fortran_order: false,
        },
    })
}
