//! The native envelope (DESIGN.md section 3): what tensorjson writes by default.
//!
//! ```json
//! {"kind":"tensor","dtype":"int32","shape":[2,3],"data":"AQAAAAIAAAADAAAABAAAAAUAAAAGAAAA"}
//! {"kind":"image","format":"png","width":4,"height":3,"color":"rgb8","data":"iVBORw0KGgo..."}
//! ```
//!
//! Metadata comes first and `data` last, so that a reader can stream `data`.

use std::io::Write;
use std::num::NonZeroUsize;

use serde_json::{json, Value};

use crate::codec::dialect::fields::{self, Fields};
use crate::codec::dialect::writer::ObjectWriter;
use crate::codec::dialect::{
    path, Compression, Encoding, ObjectReader, Plan, ReadOptions, WriteOptions,
};
use crate::codec::layout::Arrangement;
use crate::codec::model::{Image, Item, Tensor};
use crate::codec::zlib;
use crate::error::{Error, Result};

pub const READER: ObjectReader = ObjectReader {
    name: "native",
    looks_for: "\"kind\", or \"dtype\" + \"shape\" + \"data\"",
    plan,
    names: None,
};

fn plan(fields: &Fields, _options: &ReadOptions) -> Option<Result<Plan>> {
    let has_tensor_keys = ["dtype", "shape", "data"]
        .iter()
        .all(|key| fields.contains_key(*key));
    match fields.get("kind") {
        Some(Value::String(kind)) if kind == "tensor" => Some(tensor_plan(fields)),
        Some(Value::String(kind)) if kind == "image" => Some(image_plan(fields)),
        Some(other) => Some(Err(fields::wrong("kind", "\"tensor\" or \"image\"", other))),
        None if has_tensor_keys => Some(tensor_plan(fields)),
        None => None,
    }
}

fn tensor_plan(fields: &Fields) -> Result<Plan> {
    let (header, byte_order) = fields::header(fields, "dtype", "shape")?;
    let compression = match fields::optional_string(fields, "compression")? {
        None => None,
        Some("zlib") => Some(Compression::Zlib),
        Some(other) => return Err(fields::wrong("compression", "\"zlib\"", &json!(other))),
    };
    let fortran_order = match fields::optional_string(fields, "order")? {
        None | Some("C") => false,
        Some("F") => true,
        Some(other) => return Err(fields::wrong("order", "\"C\" or \"F\"", &json!(other))),
    };
    fields::payload(fields, "data")?;
    Ok(Plan::Tensor {
        header,
        path: path(&["data"]),
        encoding: Encoding {
            compression,
            may_be_raw: false,
            arrangement: Arrangement {
                byte_order,
                fortran_order,
                planar_complex: false,
            },
            skip: 0,
        },
    })
}

fn image_plan(fields: &Fields) -> Result<Plan> {
    let format = fields::string(fields, "format")?;
    if !format.eq_ignore_ascii_case("png") {
        return Err(fields::wrong("format", "\"png\"", &json!(format)));
    }
    fields::payload(fields, "data")?;
    Ok(Plan::Image {
        path: path(&["data"]),
        skip: 0,
    })
}

pub fn write(item: Item, out: &mut dyn Write, options: &WriteOptions) -> Result<()> {
    match item {
        Item::Tensor(mut tensor) => write_tensor(&mut tensor, out, options),
        Item::Image(image) => write_image(&image, out, options),
    }
}

fn write_tensor(tensor: &mut Tensor, out: &mut dyn Write, options: &WriteOptions) -> Result<()> {
    let zlib = match options.compression {
        None => false,
        Some(Compression::Zlib) => true,
        Some(Compression::Gzip) => {
            return Err(Error::Envelope(
                "the native envelope is compressed with zlib only, not gzip".to_string(),
            ))
        }
    };
    let mut object = ObjectWriter::open(out, options.pretty)?;
    object.value("kind", json!("tensor"))?;
    object.value("dtype", json!(tensor.header.dtype.name()))?;
    object.value("shape", json!(tensor.header.shape))?;
    if zlib {
        object.value("compression", json!(Compression::Zlib.name()))?;
        let threads = options.threads.unwrap_or_else(zlib::default_threads);
        zlib::deflate_with(tensor, threads, |deflated| {
            // The text of compressed bytes is small next to the compressing.
            object.base64("data", "", deflated, NonZeroUsize::MIN)
        })?;
    } else {
        object.base64("data", "", tensor, options.base64_threads())?;
    }
    object.close()
}

fn write_image(image: &Image, out: &mut dyn Write, options: &WriteOptions) -> Result<()> {
    if options.compression.is_some() {
        return Err(Error::Usage(
            "--compress does not apply to an image: a PNG is compressed already".to_string(),
        ));
    }
    let mut object = ObjectWriter::open(out, options.pretty)?;
    object.value("kind", json!("image"))?;
    object.value("format", json!("png"))?;
    object.value("width", json!(image.width))?;
    object.value("height", json!(image.height))?;
    object.value("color", json!(image.color.name()))?;
    object.base64(
        "data",
        "",
        &mut image.bytes.as_slice(),
        options.base64_threads(),
    )?;
    object.close()
}
