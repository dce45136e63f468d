//! The one codec: readers produce the model ([`model`]), writers consume it.

pub mod b64;
pub mod cast;
pub mod dialect;
pub mod document;
pub mod dtype;
pub mod io;
pub mod json;
pub mod layout;
pub mod model;
pub mod npy;
pub mod numbers;
pub mod pngfile;
pub mod search;
pub mod zlib;

use std::io::{BufRead, Cursor, Read, Write};

use crate::codec::dialect::{ReadOptions, WriteOptions};
use crate::codec::dtype::Dtype;
use crate::codec::io::{read_full, Plain};
use crate::codec::model::Item;
use crate::codec::pngfile::Layout;
use crate::error::{Error, Result};

/// How `encode` writes its JSON: one style per dialect that can be written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Style {
    /// The native envelope.
    #[default]
    Native,
    JsonNumpy,
    JsonTricks,
    Kserve,
    TfServing,
    /// A JSON string holding base64 of a whole `.npy` file.
    NpyBase64,
    /// Plain nested lists.
    List,
    DataUrl,
    Openai,
    Anthropic,
    Gemini,
    /// `{"tensor": b64, "shape": [..], "dtype": "torch.float32"}`, `{"image": b64, "format": "PNG"}`.
    HandRolled,
}

impl Style {
    pub const ALL: [Style; 12] = [
        Style::Native,
        Style::JsonNumpy,
        Style::JsonTricks,
        Style::Kserve,
        Style::TfServing,
        Style::NpyBase64,
        Style::List,
        Style::DataUrl,
        Style::Openai,
        Style::Anthropic,
        Style::Gemini,
        Style::HandRolled,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Style::Native => "native",
            Style::JsonNumpy => "json-numpy",
            Style::JsonTricks => "json-tricks",
            Style::Kserve => "kserve",
            Style::TfServing => "tf-serving",
            Style::NpyBase64 => "npy-base64",
            Style::List => "list",
            Style::DataUrl => "data-url",
            Style::Openai => "openai",
            Style::Anthropic => "anthropic",
            Style::Gemini => "gemini",
            Style::HandRolled => "hand-rolled",
        }
    }

    fn write(self, item: Item, out: &mut dyn Write, options: &WriteOptions) -> Result<()> {
        match self {
            Style::Native => dialect::native::write(item, out, options),
            Style::JsonNumpy => dialect::json_numpy::write(item, out, options),
            Style::JsonTricks => dialect::json_tricks::write(item, out, options),
            Style::Kserve => dialect::kserve::write(item, out, options),
            Style::TfServing => dialect::tf_serving::write(item, out, options),
            Style::NpyBase64 => dialect::npy_base64::write(item, out, options),
            Style::List => dialect::list::write(item, out, options),
            Style::DataUrl => dialect::data_url::write(item, out, options),
            Style::Openai => dialect::openai::write(item, out, options),
            Style::Anthropic => dialect::anthropic::write(item, out, options),
            Style::Gemini => dialect::gemini::write(item, out, options),
            Style::HandRolled => dialect::handrolled::write(item, out, options),
        }
    }
}

/// The binary formats `decode` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Npy,
    Png,
}

impl Format {
    pub const ALL: [Format; 2] = [Format::Npy, Format::Png];

    pub fn extension(self) -> &'static str {
        match self {
            Format::Npy => "npy",
            Format::Png => "png",
        }
    }

    /// The format a file name's extension implies, if any.
    pub fn from_extension(extension: &str) -> Option<Format> {
        Format::ALL
            .into_iter()
            .find(|format| extension.eq_ignore_ascii_case(format.extension()))
    }
}

/// Reads a `.npy` file or a PNG image, told apart by their first bytes.
pub fn read_binary<'a>(input: impl Read + Send + 'a) -> Result<Item<'a>> {
    read_binary_within(input, pngfile::MAX_FILE_BYTES)
}

/// [`read_binary`], refusing a PNG file of more than `png_limit` bytes.
fn read_binary_within<'a>(input: impl Read + Send + 'a, png_limit: u64) -> Result<Item<'a>> {
    let mut input = input;
    let mut magic = [0u8; 8];
    let filled = read_full(&mut input, &mut magic)?;
    let magic = &magic[..filled];
    let whole = Cursor::new(magic.to_vec()).chain(input);
    if magic.starts_with(npy::MAGIC) {
        return Ok(Item::Tensor(npy::read(Plain(whole))?));
    }
    if magic == pngfile::SIGNATURE {
        let too_large = || Error::TooLarge {
            what: "the PNG file".to_string(),
            size: None,
            limit: png_limit,
            hint: " (PNG files are read into memory)",
        };
        let bytes = pngfile::read_file(whole, png_limit, too_large)?;
        return Ok(Item::Image(pngfile::read(bytes)?));
    }
    Err(Error::UnknownInput {
        found: describe_start(magic),
    })
}

fn describe_start(magic: &[u8]) -> String {
    match magic.iter().find(|byte| !byte.is_ascii_whitespace()) {
        None if magic.is_empty() => "an empty input".to_string(),
        Some(b'{' | b'[' | b'"') => "JSON text (to read JSON, use `tensorjson decode`)".to_string(),
        _ => format!("bytes {:?}", String::from_utf8_lossy(magic)),
    }
}

/// Reads JSON in any dialect `decode` knows.
pub fn read_json<'a>(input: impl BufRead + Send + 'a, options: &ReadOptions) -> Result<Item<'a>> {
    dialect::read(input, options)
}

/// Writes an item as JSON in the given style, and a newline.
pub fn write_json(
    item: Item,
    out: &mut dyn Write,
    style: Style,
    options: &WriteOptions,
) -> Result<()> {
    if options.compression.is_some() && style != Style::Native {
        return Err(Error::Envelope(format!(
            "--compress applies to --style native; style {} has no compressed form",
            style.name()
        )));
    }
    style.write(item, out, options)?;
    out.write_all(b"\n")?;
    Ok(())
}

/// Converts an item's values to `dtype` as `numpy.ndarray.astype` does, as they stream
/// ([`cast::cast`]); a value the dtype cannot hold fails the read, naming its index. An image
/// becomes its pixels in `layout` (as [`write_binary`] writes them), unless they already are
/// of that dtype.
pub fn cast(item: Item, dtype: Dtype, layout: Layout) -> Result<Item> {
    match item {
        Item::Tensor(tensor) => Ok(Item::Tensor(cast::cast(tensor, dtype)?)),
        Item::Image(image) if image.pixel_dtype() == dtype => Ok(Item::Image(image)),
        Item::Image(image) => {
            let pixels = pngfile::to_tensor(&image, layout)?;
            Ok(Item::Tensor(cast::cast(pixels, dtype)?))
        }
    }
}

/// Writes an item as a `.npy` file or PNG image, converting between the two as needed.
pub fn write_binary(item: Item, out: &mut dyn Write, format: Format, layout: Layout) -> Result<()> {
    match (item, format) {
        (Item::Tensor(mut tensor), Format::Npy) => npy::write(&mut tensor, out),
        (Item::Image(image), Format::Npy) => {
            npy::write(&mut pngfile::to_tensor(&image, layout)?, out)
        }
        (Item::Image(image), Format::Png) => {
            pngfile::check(&image)?;
            Ok(out.write_all(&image.bytes)?)
        }
        (Item::Tensor(tensor), Format::Png) => {
            let bytes = pngfile::from_tensor(tensor, layout)?;
            Ok(out.write_all(&bytes)?)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = include_bytes!("../../fixtures/png/rgb8.png");

    fn read_png(bytes: &[u8], limit: u64) -> Result<Vec<u8>> {
        match read_binary_within(bytes, limit)? {
            Item::Image(image) => Ok(image.bytes),
            Item::Tensor(_) => panic!("a PNG read as a tensor"),
        }
    }

    #[test]
    fn a_png_over_the_limit_is_refused_not_cut() {
        let limit = PNG.len() as u64 - 1;
        let error = read_png(PNG, limit).unwrap_err();
        let expected = format!("the PNG file is larger than the limit of {limit} bytes");
        assert!(error.to_string().starts_with(&expected), "{error}");
        assert_eq!(read_png(PNG, PNG.len() as u64).unwrap(), PNG);
    }

    #[test]
    fn bytes_after_iend_are_neither_read_nor_kept() {
        let mut input = PNG.to_vec();
        input.extend_from_slice(&[0xff; 100]);
        assert_eq!(read_png(&input, PNG.len() as u64).unwrap(), PNG);
    }
}
