//! Gemini's inline data part: `{"inline_data": {"mime_type": "image/png", "data": ".."}}`,
//! or in camelCase, `{"inlineData": {"mimeType": .., "data": ..}}`.

use std::io::Write;

use serde_json::json;

use crate::codec::dialect::anthropic::media_plan;
use crate::codec::dialect::fields::{self, Fields};
use crate::codec::dialect::writer::ObjectWriter;
use crate::codec::dialect::{data_url, path, ObjectReader, Plan, ReadOptions, WriteOptions};
use crate::codec::model::Item;
use crate::error::Result;

pub const READER: ObjectReader = ObjectReader {
    name: "gemini",
    looks_for: "\"inline_data\" or \"inlineData\"",
    plan,
    names: None,
};

fn plan(fields: &Fields, _options: &ReadOptions) -> Option<Result<Plan>> {
    let (key, media_key) = [("inline_data", "mime_type"), ("inlineData", "mimeType")]
        .into_iter()
        .find(|(key, _)| fields.contains_key(*key))?;
    let Some(part) = fields[key].as_object() else {
        return Some(Err(fields::wrong(key, "an object", &fields[key])));
    };
    Some(media_plan(part, media_key, path(&[key, "data"])))
}

pub fn write(item: Item, out: &mut dyn Write, options: &WriteOptions) -> Result<()> {
    let image = data_url::only_images(item, "gemini")?;
    let mut object = ObjectWriter::open(out, options.pretty)?;
    let mut part = object.nested("inline_data", false)?;
    part.value("mime_type", json!("image/png"))?;
    part.base64(
        "data",
        "",
        &mut image.bytes.as_slice(),
        options.base64_threads(),
    )?;
    part.close()?;
    object.close()
}
