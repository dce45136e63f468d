//! The native envelope (DESIGN.md section 3): what tensorjson writes by default.
//!
//! ```json
//! {"kind":"tensor","dtype":"int32","shape":[2,3],"data":"AQAAAAIAAAADAAAABAAAAAUAAAAGAAAA"}
//! {"kind":"image","format":"png","width":4,"height":3,"color":"rgb8","data":"iVBORw0KGgo..."}
//! ```
//!
//! Metadata comes first and `data` last, so that a reader can stream `data`.

use std::io::Write;

use serde_json::{json, Value};

use crate::codec::b64;
use crate::codec::dialect::fields::{self, Fields};
use crate::codec::dialect::{Compression, Encoding, ObjectReader, Plan};
use crate::codec::model::{Image, Tensor};
use crate::error::{Error, Result};

pub const READER: ObjectReader = ObjectReader {
    name: "native",
    looks_for: "\"kind\", or \"dtype\" + \"shape\" + \"data\"",
    plan,
};

fn plan(fields: &Fields) -> Option<Result<Plan>> {
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
        Some(name) => Some(
            Compression::ALL
                .into_iter()
                .find(|compression| compression.name() == name)
                .ok_or_else(|| fields::wrong("compression", "\"zlib\"", &json!(name)))?,
        ),
    };
    let fortran_order = match fields::optional_string(fields, "order")? {
        None | Some("C") => false,
        Some("F") => true,
        Some(other) => return Err(fields::wrong("order", "\"C\" or \"F\"", &json!(other))),
    };
    Ok(Plan::Tensor {
        header,
        field: fields::payload(fields, "data")?,
        encoding: Encoding {
            compression,
            byte_order,
            fortran_order,
        },
    })
}

fn image_plan(fields: &Fields) -> Result<Plan> {
    let format = fields::string(fields, "format")?;
    if !format.eq_ignore_ascii_case("png") {
        return Err(fields::wrong("format", "\"png\"", &json!(format)));
    }
    Ok(Plan::Image {
        field: fields::payload(fields, "data")?,
    })
}

/// How to write an envelope.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriteOptions {
    pub compression: Option<Compression>,
    pub pretty: bool,
}

/// Writes the members before `data`, then opens the `data` string.
fn write_head(out: &mut dyn Write, members: &[(&str, Value)], pretty: bool) -> Result<()> {
    let (open, separator, colon) = if pretty {
        ("{\n  ", ",\n  ", ": ")
    } else {
        ("{", ",", ":")
    };
    out.write_all(open.as_bytes())?;
    for (key, value) in members {
        let value = value
            .to_string()
            .replace(',', if pretty { ", " } else { "," });
        write!(out, "{}{colon}{value}{separator}", json!(key))?;
    }
    write!(out, "\"data\"{colon}\"")?;
    Ok(())
}

fn write_tail(out: &mut dyn Write, pretty: bool) -> Result<()> {
    out.write_all(if pretty { b"\"\n}\n" } else { b"\"}\n" })?;
    Ok(())
}

pub fn write_tensor(tensor: &mut Tensor, out: &mut dyn Write, options: WriteOptions) -> Result<()> {
    let mut members = vec![
        ("kind", json!("tensor")),
        ("dtype", json!(tensor.header.dtype.name())),
        ("shape", json!(tensor.header.shape)),
    ];
    if let Some(compression) = options.compression {
        members.push(("compression", json!(compression.name())));
    }
    write_head(out, &members, options.pretty)?;
    match options.compression {
        Some(Compression::Zlib) => {
            let level = flate2::Compression::default();
            let mut deflated = flate2::read::ZlibEncoder::new(tensor, level);
            b64::encode_stream(&mut deflated, out)?;
        }
        None => {
            b64::encode_stream(tensor, out)?;
        }
    }
    write_tail(out, options.pretty)
}

pub fn write_image(image: &Image, out: &mut dyn Write, options: WriteOptions) -> Result<()> {
    if options.compression.is_some() {
        return Err(Error::Envelope(
            "--compress applies to tensors; a PNG is compressed already".to_string(),
        ));
    }
    let members = [
        ("kind", json!("image")),
        ("format", json!("png")),
        ("width", json!(image.width)),
        ("height", json!(image.height)),
        ("color", json!(image.color.name())),
    ];
    write_head(out, &members, options.pretty)?;
    b64::encode_stream(&mut image.bytes.as_slice(), out)?;
    write_tail(out, options.pretty)
}
