//! The payloads tutorials teach: `{"tensor": b64, "shape": [..], "dtype": "torch.float32"}`
//! and `{"image": b64, "format": "PNG"}`. Written exactly so, payload first, as the services
//! that use them send it; read back with the payload waiting in a temporary file.

use std::io::Write;

use serde_json::{json, Value};

use crate::codec::dialect::fields::{self, Fields};
use crate::codec::dialect::writer::ObjectWriter;
use crate::codec::dialect::{
    data_url, path, Encoding, ObjectReader, Plan, ReadOptions, WriteOptions,
};
use crate::codec::model::Item;
use crate::error::Result;

pub const READER: ObjectReader = ObjectReader {
    name: "hand-rolled",
    looks_for: "\"tensor\" + \"shape\" + \"dtype\", or \"image\" holding a string",
    plan,
    names: None,
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
    // `{"image": "data:image/png;base64,..."}` is as common as bare base64.
    let text = fields::string(fields, "image")?;
    if let Some(plan) = data_url::plan(text, path(&["image"])) {
        return plan;
    }
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

/// Writes the keys in the order the services write them: the payload first, then what
/// `numpy.frombuffer(..).reshape(..)` needs (the dtype in PyTorch's naming).
pub fn write(item: Item, out: &mut dyn Write, options: &WriteOptions) -> Result<()> {
    let mut object = ObjectWriter::open(out, options.pretty)?;
    match item {
        Item::Tensor(mut tensor) => {
            let header = tensor.header.clone();
            object.base64("tensor", "", &mut tensor, options.base64_threads())?;
            object.value("shape", json!(header.shape))?;
            object.value("dtype", json!(header.dtype.torch_name()))?;
        }
        Item::Image(image) => {
            object.base64(
                "image",
                "",
                &mut image.bytes.as_slice(),
                options.base64_threads(),
            )?;
            object.value("format", json!("PNG"))?;
        }
    }
    object.close()
}
