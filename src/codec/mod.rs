//! The one codec: readers produce the model ([`model`]), writers consume it.

pub mod aside;
pub mod b64;
pub mod bundle;
pub mod cast;
pub mod dialect;
pub mod document;
pub mod dtype;
pub mod io;
pub mod json;
pub mod layout;
pub mod model;
pub mod npy;
pub mod npz;
pub mod numbers;
pub mod pngfile;
pub mod pool;
pub mod safetensors;
pub mod search;
pub mod sniff;
pub mod stream;
pub mod zlib;

use std::fs::File;
use std::io::{BufRead, Cursor, Read, Write};

use crate::codec::aside::Reread;
use crate::codec::dialect::{ReadOptions, WriteOptions};
use crate::codec::dtype::Dtype;
use crate::codec::io::{read_head, AlignedReader, Counting, Plain, BUFFER};
use crate::codec::model::{Bundle, Item, Named, One};
use crate::codec::pngfile::Layout;
use crate::codec::sniff::{Expected, Kind};
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

    /// Whether `--pretty` indents the style's JSON. The protocol styles and bare values are
    /// written on one line, as services send them.
    pub fn indents(self) -> bool {
        match self {
            Style::Native
            | Style::JsonNumpy
            | Style::JsonTricks
            | Style::Openai
            | Style::Anthropic
            | Style::Gemini
            | Style::HandRolled => true,
            Style::Kserve | Style::TfServing | Style::NpyBase64 | Style::List | Style::DataUrl => {
                false
            }
        }
    }

    /// Whether the style names the tensor it holds (`--name`).
    pub fn names_tensors(self) -> bool {
        match self {
            Style::Kserve => true,
            Style::Native
            | Style::JsonNumpy
            | Style::JsonTricks
            | Style::TfServing
            | Style::NpyBase64
            | Style::List
            | Style::DataUrl
            | Style::Openai
            | Style::Anthropic
            | Style::Gemini
            | Style::HandRolled => false,
        }
    }

    /// Whether the style may write values as JSON numbers, which `--allow-nan` is about
    /// (json-tricks only for a 0-d array).
    pub fn writes_numbers(self) -> bool {
        match self {
            Style::JsonTricks | Style::Kserve | Style::TfServing | Style::List => true,
            Style::Native
            | Style::JsonNumpy
            | Style::NpyBase64
            | Style::DataUrl
            | Style::Openai
            | Style::Anthropic
            | Style::Gemini
            | Style::HandRolled => false,
        }
    }

    /// Whether the style has a compressed form (`--compress`).
    pub fn compresses(self) -> bool {
        match self {
            Style::Native => true,
            Style::JsonNumpy
            | Style::JsonTricks
            | Style::Kserve
            | Style::TfServing
            | Style::NpyBase64
            | Style::List
            | Style::DataUrl
            | Style::Openai
            | Style::Anthropic
            | Style::Gemini
            | Style::HandRolled => false,
        }
    }

    /// Whether the style can be written as bare text rather than JSON (`--raw`).
    pub fn has_bare_form(self) -> bool {
        match self {
            Style::DataUrl => true,
            Style::Native
            | Style::JsonNumpy
            | Style::JsonTricks
            | Style::Kserve
            | Style::TfServing
            | Style::NpyBase64
            | Style::List
            | Style::Openai
            | Style::Anthropic
            | Style::Gemini
            | Style::HandRolled => false,
        }
    }

    pub(crate) fn write(
        self,
        item: Item,
        out: &mut dyn Write,
        options: &WriteOptions,
    ) -> Result<()> {
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
    /// Files of named tensors: every item as one.
    Npz,
    Safetensors,
}

impl Format {
    pub const ALL: [Format; 4] = [Format::Npy, Format::Png, Format::Npz, Format::Safetensors];

    pub fn extension(self) -> &'static str {
        match self {
            Format::Npy => "npy",
            Format::Png => "png",
            Format::Npz => "npz",
            Format::Safetensors => "safetensors",
        }
    }

    /// Whether a file of the format holds several items.
    pub fn holds_several(self) -> bool {
        match self {
            Format::Npy | Format::Png => false,
            Format::Npz | Format::Safetensors => true,
        }
    }

    /// The format a file name's extension implies, if any.
    pub fn from_extension(extension: &str) -> Option<Format> {
        Format::ALL
            .into_iter()
            .find(|format| extension.eq_ignore_ascii_case(format.extension()))
    }
}

/// What a binary input holds: one item (a `.npy` file, a PNG image) or several (an `.npz`
/// or a `.safetensors` file).
pub enum Opened<'a> {
    One(Item<'a>),
    Several(Box<dyn Bundle + 'a>),
}

/// Opens a binary input of any kind `encode` reads, told apart by its first bytes; the data
/// of several items together may hold no more than `max_bytes`. An `.npz` is read from
/// `file`, the whole input as a file to read at offsets, if there is one; else it is copied
/// to a temporary file first (a zip archive lists its members at its end).
pub fn open_binary<'a>(
    input: impl Read + Send + 'a,
    size: Option<u64>,
    file: Option<File>,
    max_bytes: u64,
) -> Result<Opened<'a>> {
    let mut input = input;
    let head = read_head(&mut input, sniff::HEAD)?;
    let mut whole = Cursor::new(head.clone()).chain(input);
    match sniff::sniff(&head) {
        Some(Kind::Safetensors) => {
            let reader = safetensors::SafetensorsReader::new(whole, size, max_bytes)?;
            Ok(Opened::Several(Box::new(reader)))
        }
        Some(Kind::Zip) => {
            let file = match file {
                Some(file) => file,
                None => {
                    let mut spill = aside::Spill::new()?;
                    io::copy(&mut whole, &mut spill)?;
                    spill.into_file()?
                }
            };
            let reader =
                npz::NpzReader::new(AlignedReader::with_capacity(BUFFER, file), max_bytes)?;
            Ok(Opened::Several(Box::new(reader)))
        }
        Some(_) | None => read_binary_of_size(whole, size).map(Opened::One),
    }
}

/// Reads a `.npy` file or a PNG image, told apart by their first bytes.
pub fn read_binary<'a>(input: impl Read + Send + 'a) -> Result<Item<'a>> {
    read_binary_of_size(input, None)
}

/// [`read_binary`] of an input known to hold `size` bytes (a regular file). A `.npy` file
/// shorter or longer than its header declares then fails as soon as the header is read,
/// before any of it is written anywhere: a truncated file must not become a few megabytes
/// of JSON posted somewhere before the run fails.
pub fn read_binary_of_size<'a>(
    input: impl Read + Send + 'a,
    size: Option<u64>,
) -> Result<Item<'a>> {
    read_binary_within(input, size, pngfile::MAX_FILE_BYTES)
}

/// [`read_binary_of_size`], refusing a PNG file of more than `png_limit` bytes.
fn read_binary_within<'a>(
    input: impl Read + Send + 'a,
    size: Option<u64>,
    png_limit: u64,
) -> Result<Item<'a>> {
    let mut input = input;
    let head = read_head(&mut input, sniff::HEAD)?;
    let kind = sniff::sniff(&head);
    let whole = Cursor::new(head.clone()).chain(input);
    match kind {
        Some(Kind::Npy) => read_npy(whole, size).map(Item::Tensor),
        Some(Kind::Png) => {
            let too_large = || Error::TooLarge {
                what: "the PNG file".to_string(),
                size: None,
                limit: png_limit,
                hint: " (PNG files are read into memory)",
            };
            let bytes = pngfile::read_file(whole, png_limit, too_large)?;
            Ok(Item::Image(pngfile::read(bytes)?))
        }
        Some(other) => Err(Error::UnknownInput {
            found: other.found(Expected::NpyOrPng),
        }),
        None => Err(Error::UnknownInput {
            found: describe_start(&head),
        }),
    }
}

/// A `.npy` file, its length checked against its header when `size` is known.
fn read_npy<'a>(input: impl Read + Send + 'a, size: Option<u64>) -> Result<crate::Tensor<'a>> {
    let mut counted = Counting::new(input);
    let header = npy::read_header(&mut counted)?;
    if let Some(size) = size {
        let data = size.saturating_sub(counted.count());
        let expected = header.tensor.byte_len();
        if data != expected {
            let found = if data < expected {
                format!("shorter ({data} bytes)")
            } else {
                "longer".to_string()
            };
            return Err(header.tensor.length_error(found));
        }
    }
    npy::open(header, Plain(counted.into_inner()))
}

/// The first bytes of an input that is no kind [`sniff`] knows, escaped as Rust escapes
/// byte strings: `\xff\xd8`, not the mojibake a lossy conversion makes of them.
fn describe_start(head: &[u8]) -> String {
    if head.is_empty() {
        return "an empty input".to_string();
    }
    format!("bytes \"{}\"", head.escape_ascii())
}

/// Reads JSON in any dialect `decode` knows.
/// Input that is not JSON (a `.npy` file, an image, an archive, UTF-16 text) is named as
/// what it is; a UTF-8 byte-order mark before the JSON is skipped.
pub fn read_json<'a>(input: impl BufRead + Send + 'a, options: &ReadOptions) -> Result<Item<'a>> {
    read_json_again(input, None, options)
}

/// [`read_json`] of an input that `again` can read again from any offset (a regular file,
/// from where `input` starts reading it): a payload string that comes before the keys saying
/// how to read it (json-numpy's, json-tricks') is then read again from there rather than
/// kept aside.
pub fn read_json_again<'a>(
    input: impl BufRead + Send + 'a,
    again: Option<Reread>,
    options: &ReadOptions,
) -> Result<Item<'a>> {
    let (start, input) = json_input(input)?;
    let again = again.map(|again| again.skipped(start));
    dialect::read(input, again, options)
}

/// The input from where its JSON starts, once it is known to be JSON ([`read_json`]), and
/// how many bytes were skipped before it (a byte-order mark).
pub(crate) fn json_input(mut input: impl BufRead) -> Result<(u64, impl BufRead)> {
    let mut head = read_head(&mut input, sniff::HEAD)?;
    let start = sniff::json_start(&head)?;
    head.drain(..start);
    Ok((start as u64, Cursor::new(head).chain(input)))
}

/// An `encode` option that only some styles use.
struct StyleOption {
    flag: &'static str,
    given: fn(&WriteOptions) -> bool,
    applies: fn(Style) -> bool,
    /// What the styles it applies to do.
    which: &'static str,
}

const STYLE_OPTIONS: [StyleOption; 5] = [
    StyleOption {
        flag: "--compress",
        given: |options| options.compression.is_some(),
        applies: Style::compresses,
        which: "have a compressed form",
    },
    StyleOption {
        flag: "--pretty",
        given: |options| options.pretty,
        applies: Style::indents,
        which: "can be indented",
    },
    StyleOption {
        flag: "--name",
        given: |options| options.name.is_some(),
        applies: Style::names_tensors,
        which: "name the tensor",
    },
    StyleOption {
        flag: "--allow-nan",
        given: |options| options.allow_nan,
        applies: Style::writes_numbers,
        which: "write values as JSON numbers",
    },
    StyleOption {
        flag: "--raw",
        given: |options| options.raw,
        applies: Style::has_bare_form,
        which: "can be written as bare text",
    },
];

/// Refuses an option that `style` would not use ([`Error::Usage`]): an option given is
/// never silently ignored. Needs nothing but the options, so it can run before any input
/// is read.
pub fn check_write_options(style: Style, options: &WriteOptions) -> Result<()> {
    for option in &STYLE_OPTIONS {
        if (option.given)(options) && !(option.applies)(style) {
            let styles: Vec<&str> = Style::ALL
                .into_iter()
                .filter(|&style| (option.applies)(style))
                .map(Style::name)
                .collect();
            return Err(Error::Usage(format!(
                "{} does not apply to --style {}: it applies to styles that {} ({})",
                option.flag,
                style.name(),
                option.which,
                styles.join(", ")
            )));
        }
    }
    Ok(())
}

/// Refuses `--allow-nan` for an item that `style` writes without JSON numbers: json-tricks
/// writes only a 0-d array as a number, TF Serving an image as base64. (List and KServe
/// refuse images, with their own message.)
pub(crate) fn check_numbers_written(
    item: &Item,
    style: Style,
    options: &WriteOptions,
) -> Result<()> {
    let numbers = match item {
        Item::Tensor(tensor) => style != Style::JsonTricks || tensor.header.shape.is_empty(),
        Item::Image(_) => style != Style::TfServing,
    };
    if !options.allow_nan || numbers {
        return Ok(());
    }
    let what = match item {
        Item::Tensor(tensor) => format!(
            "a tensor of shape {:?} as base64 (only a 0-d array is a JSON number there)",
            tensor.header.shape
        ),
        Item::Image(_) => "an image as base64".to_string(),
    };
    Err(Error::Usage(format!(
        "--allow-nan does not apply here: --style {} writes {what}",
        style.name()
    )))
}

/// Writes an item as JSON in the given style, and a newline. An option the style would not
/// use is refused before anything is written ([`check_write_options`]).
pub fn write_json(
    item: Item,
    out: &mut dyn Write,
    style: Style,
    options: &WriteOptions,
) -> Result<()> {
    check_write_options(style, options)?;
    check_numbers_written(&item, style, options)?;
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

/// Refuses a `--layout` given where it changes nothing ([`Error::Usage`]): it orders the
/// axes of a tensor written as PNG and of an image's pixels written as `.npy`, while a
/// tensor written as `.npy` keeps its shape and an image written as PNG is copied as it is
/// (also after `--cast`, whose pixels go out in the order they came in).
pub fn check_layout(item: &Item, format: Format, layout: Option<Layout>) -> Result<()> {
    let Some(layout) = layout else {
        return Ok(());
    };
    let here = match (item, format) {
        (Item::Tensor(_), Format::Png)
        | (Item::Image(_), Format::Npy | Format::Npz | Format::Safetensors) => return Ok(()),
        (Item::Tensor(_), Format::Npy) => "a tensor written as .npy keeps its own shape",
        (Item::Tensor(_), Format::Npz | Format::Safetensors) => {
            "a tensor written into a file of tensors keeps its own shape"
        }
        (Item::Image(_), Format::Png) => "an image written as PNG is copied as it is",
    };
    Err(Error::Usage(format!(
        "--layout {} does not apply here: it orders the axes of a tensor written as PNG, or \
         of an image's pixels written as .npy; {here}",
        layout.name()
    )))
}

/// Makes an item ready to be written as `format`: `--layout` checked against it
/// ([`check_layout`]) and `--cast` applied ([`cast()`]).
pub fn prepare(
    item: Item,
    format: Format,
    layout: Option<Layout>,
    dtype: Option<Dtype>,
) -> Result<Item> {
    check_layout(&item, format, layout)?;
    match dtype {
        Some(dtype) => cast(item, dtype, layout.unwrap_or_default()),
        None => Ok(item),
    }
}

/// The format an item is written as when nothing says: a tensor as `.npy`, an image as PNG.
pub fn own_format(item: &Item) -> Format {
    match item {
        Item::Tensor(_) => Format::Npy,
        Item::Image(_) => Format::Png,
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
        (item, Format::Npz | Format::Safetensors) => {
            let mut one = One::new(Named::new(model::position_name(0), item));
            let files = bundle::Files {
                format: None,
                layout: Some(layout),
                cast: None,
            };
            bundle::write_archive(&mut one, out, format, files, u64::MAX).map(drop)
        }
    }
}

/// A tensor of the item: itself, or an image's pixels in `layout`.
pub fn into_tensor(item: Item, layout: Layout) -> Result<model::Tensor> {
    match item {
        Item::Tensor(tensor) => Ok(tensor),
        Item::Image(image) => pngfile::to_tensor(&image, layout),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = include_bytes!("../../fixtures/png/rgb8.png");

    fn read_png(bytes: &[u8], limit: u64) -> Result<Vec<u8>> {
        match read_binary_within(bytes, None, limit)? {
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
