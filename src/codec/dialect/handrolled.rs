//! The payloads tutorials teach: `{"tensor": b64, "shape": [..], "dtype": "torch.float32"}`
//! and `{"image": b64, "format": "PNG"}`. Read only.

use serde_json::json;

use crate::codec::dialect::fields::{self, Fields};
use crate::codec::dialect::{Encoding, ObjectReader, Plan};
use crate::error::Result;

pub const READER: ObjectReader = ObjectReader {
    name: "hand-rolled",
    looks_for: "\"tensor\" + \"shape\" + \"dtype\", or \"image\"",
    plan,
};

fn plan(fields: &Fields) -> Option<Result<Plan>> {
    if fields.contains_key("tensor") {
        return Some(tensor_plan(fields));
    }
    if fields.contains_key("image") {
        return Some(image_plan(fields));
    }
    None
}

fn tensor_plan(fields: &Fields) -> Result<Plan> {
    let (header, byte_order) = fields::header(fields, "dtype", "shape")?;
    Ok(Plan::Tensor {
        header,
        field: fields::payload(fields, "tensor")?,
        encoding: Encoding {
            compression: None,
            byte_order,
            fortran_order: false,
        },
    })
}

fn image_plan(fields: &Fields) -> Result<Plan> {
    if let Some(format) = fields::optional_string(fields, "format")? {
        if !format.eq_ignore_ascii_case("png") {
            return Err(fields::wrong("format", "\"PNG\"", &json!(format)));
        }
    }
    Ok(Plan::Image {
        field: fields::payload(fields, "image")?,
    })
}
