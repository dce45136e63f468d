//! OpenAI's image content part: `{"type": "image_url", "image_url": {"url": "data:..."}}`.

use std::io::Write;

use serde_json::{json, Value};

use crate::codec::dialect::fields::{self, Fields};
use crate::codec::dialect::writer::ObjectWriter;
use crate::codec::dialect::{data_url, path, ObjectReader, Plan, ReadOptions, WriteOptions};
use crate::codec::model::Item;
use crate::error::Result;

pub const READER: ObjectReader = ObjectReader {
    name: "openai",
    looks_for: "\"image_url\" with a data URL",
    plan,
    names: None,
};

fn plan(fields: &Fields, _options: &ReadOptions) -> Option<Result<Plan>> {
    let url = match fields.get("image_url")? {
        Value::Object(inner) => inner
            .get("url")
            .map(|url| (url, path(&["image_url", "url"]))),
        url @ Value::String(_) => Some((url, path(&["image_url"]))),
        _ => None,
    };
    let Some((url, at)) = url else {
        return Some(Err(fields::wrong(
            "image_url",
            "an object with \"url\"",
            &fields["image_url"],
        )));
    };
    match url {
        Value::String(text) => data_url::plan(text, at).or_else(|| {
            Some(Err(fields::wrong(
                "image_url.url",
                "a data URL (remote URLs are not fetched)",
                url,
            )))
        }),
        other => Some(Err(fields::wrong("image_url.url", "a data URL", other))),
    }
}

pub fn write(item: Item, out: &mut dyn Write, options: &WriteOptions) -> Result<()> {
    let image = data_url::only_images(item, "openai")?;
    let mut object = ObjectWriter::open(out, options.pretty)?;
    object.value("type", json!("image_url"))?;
    let mut inner = object.nested("image_url", false)?;
    data_url::write_member(&mut inner, "url", &image.bytes, options.base64_threads())?;
    inner.close()?;
    object.close()
}
