//! The payloads tutorials teach: `{"tensor": b64, "shape": [..], "dtype": "torch.float32"}`
//! and `{"image": b64, "format": "PNG"}`. Read only.

use serde_json::{json, Value};

use crate::codec::dialect::fields::{self, Fields};
use crate::codec::dialect::{path, Encoding, ObjectReader, Plan, ReadOptions};
use crate::error::Result;

pub const READER: ObjectReader = ObjectReader {
    name: "hand-rolled",
    looks_for: "\"tensor\" + \"shape\" + \"dtype\", or \"image\" holding a string",
    plan,
    picks_by_name: false,
};

fn plan(fields: &Fields, _options: &ReadOptions) -> Option<Result<Plan>> {
    if fields.contains_key("tensor") {
        return Some(tensor_plan(fields));
    }
    // `image` holding an object is some other dialect's part, one level down.
    if let Some(Value::String(_)) = fields.get("image") {
        return Some(image_plan(fields));
    }
    None
}

fn tensor_plan(fields: &Fields) -> Result<Plan> {
    let (header, byte_order) = fields::header(fields, "dtype", "shape")?;
    fields::payload(fields, "tensor")?;
    Ok(Plan::Tensor {
        header,
        path: path(&["tensor"]),
        encoding: Encoding::plain(byte_order),
    })
}

fn image_plan(fields: &Fields) -> Result<Plan> {
    if let Some(format) = fields::optional_string(fields, "format")? {
        if !format.eq_ignore_ascii_case("png") {
            return Err(fields::wrong("format", "\"PNG\"", &json!(format)));
        }
    }
    Ok(Plan::Image {
        path: path(&["image"]),
        skip: 0,
    })
}
