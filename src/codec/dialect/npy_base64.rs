//! A JSON string holding base64 of a whole `.npy` file: `"k05VTVBZ..."`.

use std::io::{Read, Write};

use crate::codec::b64;
use crate::codec::model::Tensor;
use crate::codec::npy;
use crate::error::Result;

/// base64 of the `.npy` magic `\x93NUMPY`.
const PREFIX: &[u8] = b"k05VTVBZ";

pub const LOOKS_FOR: &str = "a string starting \"k05VTVBZ\"";

pub fn matches(head: &[u8]) -> bool {
    head.starts_with(PREFIX)
}

/// Writes `"<base64 of the .npy file>"` and a newline.
pub fn write_tensor(tensor: &mut Tensor, out: &mut dyn Write) -> Result<()> {
    let header = npy::header_bytes(&tensor.header);
    out.write_all(b"\"")?;
    b64::encode_stream(&mut header.as_slice().chain(tensor), out)?;
    out.write_all(b"\"\n")?;
    Ok(())
}
