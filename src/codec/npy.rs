//! `.npy` files: header, reading (any byte order, either memory order) and writing.

use std::io::{self, Read, Write};

use ndarray_npy::npy::header::{Header, ReadHeaderError};
use py_literal::Value as PyValue;

use crate::codec::dtype::{ByteOrder, Dtype, UnknownDtype};
use crate::codec::io::{read_full, Payload};
use crate::codec::layout::{normalise, Arrangement};
use crate::codec::model::{Tensor, TensorHeader};
use crate::error::{Error, Result};

/// The first bytes of every `.npy` file.
pub const MAGIC: &[u8] = b"\x93NUMPY";

/// numpy itself refuses headers over 10 000 bytes unless told otherwise; this leaves room for
/// very high ranks while keeping a hostile length from allocating gigabytes.
const MAX_HEADER_LEN: usize = 1 << 20;
/// Deepest bracket nesting, and most brackets, accepted in a header: room for structured
/// dtypes (refused later, with a clearer message) of a few fields.
const MAX_NESTING: usize = 4;
const MAX_BRACKETS: usize = 64;

/// What an `.npy` header says about the data that follows it.
pub struct NpyHeader {
    pub tensor: TensorHeader,
    pub byte_order: ByteOrder,
    pub fortran_order: bool,
}

/// Reads and checks the header, leaving `reader` at the first data byte.
pub fn read_header(reader: &mut impl Read) -> Result<NpyHeader> {
    let mut prefix = [0u8; 12];
    read_header_bytes(reader, &mut prefix[..10])?;
    if &prefix[..6] != MAGIC {
        return Err(Error::NpyHeader(
            "does not start with the magic \\x93NUMPY".to_string(),
        ));
    }
    let (prefix_len, header_len) = match prefix[6] {
        1 => (10, u16::from_le_bytes([prefix[8], prefix[9]]) as usize),
        2 | 3 => {
            read_header_bytes(reader, &mut prefix[10..12])?;
            let len = u32::from_le_bytes([prefix[8], prefix[9], prefix[10], prefix[11]]);
            (12, len as usize)
        }
        major => {
            let message = format!("version {major}.{} is not one of 1.0, 2.0, 3.0", prefix[7]);
            return Err(Error::NpyHeader(message));
        }
    };
    if header_len > MAX_HEADER_LEN {
        let message = format!("header length {header_len} is over the limit of {MAX_HEADER_LEN}");
        return Err(Error::NpyHeader(message));
    }
    let mut text = Vec::with_capacity(header_len);
    reader.take(header_len as u64).read_to_end(&mut text)?;
    if text.len() < header_len {
        return Err(Error::NpyHeader(
            "the file ends inside the header".to_string(),
        ));
    }
    check_brackets(&text)?;
    let mut whole = (&prefix[..prefix_len]).chain(text.as_slice());
    let header = Header::from_reader(&mut whole).map_err(header_error)?;
    describe(header)
}

/// Refuses headers with more brackets than a supported one has, before they are parsed: the
/// parser's time grows exponentially with nesting (a 5000-deep header ran for minutes, and
/// 20 000 groups of six nested braces for a minute). A header of a supported dtype has two
/// pairs, `{}` and the shape's `()`.
fn check_brackets(text: &[u8]) -> Result<()> {
    let (mut depth, mut opened) = (0usize, 0usize);
    for &byte in text {
        match byte {
            b'(' | b'[' | b'{' => {
                depth += 1;
                opened += 1;
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            _ => continue,
        }
        if depth > MAX_NESTING || opened > MAX_BRACKETS {
            let message = format!(
                "more than {MAX_BRACKETS} brackets, or brackets nested deeper than \
                 {MAX_NESTING} levels (a header of a supported dtype has two pairs)"
            );
            return Err(Error::NpyHeader(message));
        }
    }
    Ok(())
}

fn read_header_bytes(reader: &mut impl Read, buf: &mut [u8]) -> Result<()> {
    if read_full(reader, buf)? < buf.len() {
        return Err(Error::NpyHeader(
            "the file ends inside the header".to_string(),
        ));
    }
    Ok(())
}

fn header_error(error: ReadHeaderError) -> Error {
    match error {
        ReadHeaderError::Io(error) if error.kind() == io::ErrorKind::UnexpectedEof => {
            Error::NpyHeader("the file ends inside the header".to_string())
        }
        ReadHeaderError::Io(error) => Error::Io(error),
        ReadHeaderError::Parse(error) => Error::NpyHeader(error.to_string()),
    }
}

fn describe(header: Header) -> Result<NpyHeader> {
    let (dtype, byte_order) = match &header.type_descriptor {
        PyValue::String(descr) => Dtype::parse(descr)?,
        other => return Err(UnknownDtype(format!("{other}")).into()),
    };
    let shape = header.shape.iter().map(|&dim| dim as u64).collect();
    Ok(NpyHeader {
        tensor: TensorHeader::new(dtype, shape)?,
        byte_order,
        fortran_order: header.layout.is_fortran(),
    })
}

/// Reads an `.npy` file into the model (see [`layout::normalise`] for what streams).
pub fn read<'a>(mut reader: impl Payload + 'a) -> Result<Tensor<'a>> {
    let header = read_header(&mut reader)?;
    open(header, reader)
}

/// The tensor whose header has been read from `reader`, which is left at the first data byte.
pub fn open<'a>(header: NpyHeader, reader: impl Payload + 'a) -> Result<Tensor<'a>> {
    let arrangement = header.arrangement();
    normalise(header.tensor, Box::new(reader), arrangement)
}

impl NpyHeader {
    /// How the data is stored.
    pub fn arrangement(&self) -> Arrangement {
        Arrangement {
            byte_order: self.byte_order,
            fortran_order: self.fortran_order,
            planar_complex: false,
        }
    }
}

/// numpy pads a header so the first axis can grow in place to this many digits.
const GROWTH_AXIS_MAX_DIGITS: usize = 21;

/// The header of an `.npy` file for the model's layout, byte for byte as `numpy.save`
/// writes it: the same dict text, growth room and padding to a multiple of 64.
pub fn header_bytes(tensor: &TensorHeader) -> Vec<u8> {
    let dims: Vec<String> = tensor.shape.iter().map(ToString::to_string).collect();
    let shape = match dims.as_slice() {
        [one] => format!("({one},)"),
        dims => format!("({})", dims.join(", ")),
    };
    let descr = tensor.dtype.descr();
    let mut dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    if let Some(first) = dims.first() {
        dict.push_str(&" ".repeat(GROWTH_AXIS_MAX_DIGITS.saturating_sub(first.len())));
    }
    // numpy always pads, by 1 to 64 bytes: a header already a multiple of 64 gets 64 more.
    let padded = |length_bytes: usize| {
        (MAGIC.len() + 2 + length_bytes + dict.len() + 1 + 1).next_multiple_of(64)
    };
    let (version, length_bytes) = if padded(2) - MAGIC.len() - 4 <= u16::MAX as usize {
        (1u8, 2)
    } else {
        (2u8, 4)
    };
    let total = padded(length_bytes);
    let header_len = total - MAGIC.len() - 2 - length_bytes;
    let mut bytes = Vec::with_capacity(total);
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&[version, 0]);
    match version {
        1 => bytes.extend_from_slice(&(header_len as u16).to_le_bytes()),
        _ => bytes.extend_from_slice(&(header_len as u32).to_le_bytes()),
    }
    bytes.extend_from_slice(dict.as_bytes());
    bytes.resize(total - 1, b' ');
    bytes.push(b'\n');
    bytes
}

/// Writes the model as an `.npy` file that `numpy.load` reads back.
pub fn write(tensor: &mut Tensor, out: &mut dyn Write) -> Result<()> {
    out.write_all(&header_bytes(&tensor.header))?;
    crate::codec::io::copy(tensor, out)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_header_length_is_refused_before_allocating() {
        let mut file = b"\x93NUMPY\x02\x00".to_vec();
        file.extend_from_slice(&u32::MAX.to_le_bytes());
        let error = read_header(&mut file.as_slice()).err().unwrap();
        assert!(error.to_string().contains("over the limit"), "{error}");
    }
}
