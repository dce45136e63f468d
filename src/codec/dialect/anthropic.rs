//! Anthropic's image content block:
//! `{"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": ".."}}`.

use std::io::Write;

use serde_json::{json, Value};

use crate::codec::dialect::fields::{self, Fields};
use crate::codec::dialect::writer::ObjectWriter;
use crate::codec::dialect::{data_url, path, ObjectReader, Plan, ReadOptions, WriteOptions};
use crate::codec::model::Item;
use crate::error::Result;

pub const READER: ObjectReader = ObjectReader {
    name: "anthropic",
    looks_for: "\"source\" with \"type\": \"base64\"",
    plan,
    names: None,
};

fn plan(fields: &Fields, _options: &ReadOptions) -> Option<Result<Plan>> {
    let source = fields.get("source")?.as_object()?;
    if source.get("type") != Some(&Value::from("base64")) {
        return None;
    }
    Some(media_plan(source, "media_type", path(&["source", "data"])))
}

/// A `{media type, data}` pair as Anthropic and Gemini write it; only PNG is accepted.
pub fn media_plan(
    object: &Fields,
    media_key: &str,
    data: crate::codec::dialect::Path,
) -> Result<Plan> {
    let media_type = fields::string(object, media_key)?;
    if !media_type.eq_ignore_ascii_case("image/png") {
        return Err(fields::wrong(
            media_key,
            "\"image/png\"",
            &json!(media_type),
        ));
    }
    fields::payload(object, "data")?;
    Ok(Plan::Image {
        path: data,
        skip: 0,
    })
}

pub fn write(item: Item, out: &mut dyn Write, options: &WriteOptions) -> Result<()> {
    let image = data_url::only_images(item, "anthropic")?;
    let mut object = ObjectWriter::open(out, options.pretty)?;
    object.value("type", json!("image"))?;
    let mut source = object.nested("source", false)?;
    source.value("type", json!("base64"))?;
    source.value("media_type", json!("image/png"))?;
    source.base64(
        "data",
        "",
        &mut image.bytes.as_slice(),
        options.base64_threads(),
    )?;
    source.close()?;
    object.close()
}
