//! Data URLs, `data:image/png;base64,...`, as web pages and LLM APIs carry images.

use std::io::Write;

use crate::codec::dialect::writer::write_base64_string;
use crate::codec::dialect::{Path, Plan, WriteOptions};
use crate::codec::model::Item;
use crate::error::{Error, Result};

pub const LOOKS_FOR: &str = "a string starting \"data:\"";

const PNG_PREFIX: &str = "data:image/png;base64,";

/// The plan for a string that starts `data:`, from its first characters.
pub fn plan(head: &str, path: Path) -> Option<Result<Plan>> {
    let rest = head.strip_prefix("data:")?;
    Some(parse(rest, path))
}

fn parse(rest: &str, path: Path) -> Result<Plan> {
    let comma = rest
        .find(',')
        .ok_or_else(|| Error::Envelope("data URL without a ',' before its data".to_string()))?;
    let mut parameters = rest[..comma].split(';');
    let media_type = parameters.next().unwrap_or_default();
    if !parameters.any(|parameter| parameter == "base64") {
        return Err(Error::Envelope(format!(
            "data URL of {media_type:?} is not base64 (no ';base64')"
        )));
    }
    if !media_type.eq_ignore_ascii_case("image/png") {
        return Err(Error::Envelope(format!(
            "data URL of type {media_type:?}: only image/png is supported"
        )));
    }
    Ok(Plan::Image {
        path,
        skip: "data:".len() + comma + 1,
    })
}

/// Writes the image as a data URL: a JSON string, or bare text with `raw`.
pub fn write(item: Item, out: &mut dyn Write, options: &WriteOptions) -> Result<()> {
    let image = only_images(item, "data-url")?;
    if options.raw {
        out.write_all(PNG_PREFIX.as_bytes())?;
        crate::codec::b64::encode_stream(
            &mut image.bytes.as_slice(),
            out,
            options.base64_threads(),
        )?;
        return Ok(());
    }
    write_base64_string(
        out,
        PNG_PREFIX,
        &mut image.bytes.as_slice(),
        options.base64_threads(),
    )
}

/// The image of an item, or an error saying that `style` holds images only.
pub fn only_images(item: Item, style: &str) -> Result<crate::codec::model::Image> {
    match item {
        Item::Image(image) => Ok(image),
        Item::Tensor(_) => Err(Error::Envelope(format!(
            "style {style} holds PNG images; to send a tensor as an image, decode it to .png first"
        ))),
    }
}

/// Writes `"data:image/png;base64,..."` as a member of an object.
pub fn write_member(
    object: &mut crate::codec::dialect::writer::ObjectWriter,
    key: &str,
    bytes: &[u8],
    threads: std::num::NonZeroUsize,
) -> Result<()> {
    object.base64(key, PNG_PREFIX, &mut &bytes[..], threads)
}
