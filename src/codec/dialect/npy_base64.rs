//! A JSON string holding base64 of a whole `.npy` file: `"k05VTVBZ..."`.

use std::io::{Read, Write};

use crate::codec::dialect::writer::write_base64_string;
use crate::codec::dialect::WriteOptions;
use crate::codec::model::Item;
use crate::codec::npy;
use crate::error::{Error, Result};

/// base64 of the `.npy` magic `\x93NUMPY`.
const PREFIX: &[u8] = b"k05VTVBZ";

pub const LOOKS_FOR: &str = "a string starting \"k05VTVBZ\"";

pub fn matches(head: &[u8]) -> bool {
    head.starts_with(PREFIX)
}

/// Writes `"<base64 of the .npy file>"`.
pub fn write(item: Item, out: &mut dyn Write, options: &WriteOptions) -> Result<()> {
    let Item::Tensor(mut tensor) = item else {
        return Err(Error::Envelope(
            "style npy-base64 holds tensors; an image needs an image style".to_string(),
        ));
    };
    let header = npy::header_bytes(&tensor.header);
    write_base64_string(
        out,
        "",
        &mut header.as_slice().chain(&mut tensor),
        options.base64_threads(),
    )
}
