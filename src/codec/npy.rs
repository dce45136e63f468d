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
    let header_len = match prefix[6] {
        1 => u16::from_le_bytes([prefix[8], prefix[9]]) as usize,
        2 | 3 => {
            read_header_bytes(reader, &mut prefix[10..12])?;
            let len = u32::from_le_bytes([prefix[8], prefix[9], prefix[10], prefix[11]]);
            len as usize
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
    let text = python_literal(&text, prefix[6] < 3);
    // Handed over as version 2.0 (3.0 stays 3.0): the text may have grown by the newline
    // the parser wants at its end, past what a 2-byte length holds.
    let mut whole = MAGIC.to_vec();
    whole.extend_from_slice(&[prefix[6].max(2), 0]);
    whole.extend_from_slice(&(text.len() as u32).to_le_bytes());
    whole.extend_from_slice(&text);
    let mut whole = whole.as_slice();
    let header = Header::from_reader(&mut whole).map_err(header_error)?;
    describe(header)
}

/// The header dict in the subset of Python's literal syntax that the parser reads. numpy
/// reads the header with `ast.literal_eval`, which also takes line breaks (and comments and
/// backslash line continuations) between tokens, `u`/`U` string prefixes, a missing final
/// newline and, in versions 1.0 and 2.0, Python 2's `L` after an integer; outside string
/// literals these become spaces (or go), and the text gets its final newline. String
/// literals are copied as they are, so no change reaches inside one.
fn python_literal(text: &[u8], python2_longs: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + 1);
    let mut index = 0;
    while index < text.len() {
        let byte = text[index];
        let next = text.get(index + 1).copied();
        let after_name = out
            .last()
            .is_some_and(|&last: &u8| last.is_ascii_alphanumeric() || last == b'_');
        match byte {
            b'\'' | b'"' => {
                let end = string_end(text, index);
                out.extend_from_slice(&text[index..end]);
                index = end;
                continue;
            }
            b'#' => {
                let line = text[index..].iter().position(|&b| b == b'\n' || b == b'\r');
                let end = line.map_or(text.len(), |line| index + line);
                out.resize(out.len() + end - index, b' ');
                index = end;
                continue;
            }
            b'\\' if matches!(next, Some(b'\n' | b'\r')) => out.push(b' '),
            b'u' | b'U' if matches!(next, Some(b'\'' | b'"')) && !after_name => {}
            b'L' if python2_longs && out.last().is_some_and(u8::is_ascii_digit) => {}
            b'\n' | b'\r' | b'\x0c' => out.push(b' '),
            other => out.push(other),
        }
        index += 1;
    }
    out.push(b'\n');
    out
}

/// Where the string literal opening at `start` ends (one past its closing quote, or the end
/// of the text). A backslash escapes the byte after it.
fn string_end(text: &[u8], start: usize) -> usize {
    let quote = text[start];
    let mut index = start + 1;
    while index < text.len() {
        match text[index] {
            b'\\' => index += 2,
            byte if byte == quote => return index + 1,
            _ => index += 1,
        }
    }
    text.len()
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

/// Reads an `.npy` file into the model (see [`crate::codec::layout::normalise`] for what streams).
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

    fn literal(text: &str, python2_longs: bool) -> String {
        String::from_utf8(python_literal(text.as_bytes(), python2_longs)).unwrap()
    }

    #[test]
    fn python_literal_changes_nothing_inside_strings() {
        let text = "{u'a\\'u#\\n': U\"b'L\", 'c': (2L, 3),#x\n 'u': 1, \\\r\n}";
        let expected = "{'a\\'u#\\n': \"b'L\", 'c': (2, 3),    'u': 1,    }\n";
        assert_eq!(literal(text, true), expected);
        assert_eq!(literal("(2L,)", false), "(2L,)\n");
        // A `u` ending a name is not a prefix, nor an `L` after one.
        assert_eq!(literal("Trueu'x' xL", true), "Trueu'x' xL\n");
    }

    fn header_of(text: &str) -> Result<NpyHeader> {
        let mut file = b"\x93NUMPY\x01\x00".to_vec();
        file.extend_from_slice(&(text.len() as u16).to_le_bytes());
        file.extend_from_slice(text.as_bytes());
        read_header(&mut file.as_slice())
    }

    #[test]
    fn headers_numpy_reads_are_read() {
        for text in [
            "{'descr':\n'<i4',\r\n'fortran_order': False, 'shape': (2,\n3), }\n",
            "{u'descr': U\"<i4\", u'fortran_order': False, u'shape': (2, 3)}",
            "{'descr': '<i4', # why\n 'fortran_order': False, \\\n 'shape': (2L, 3)}  \n",
        ] {
            let header = header_of(text).unwrap_or_else(|error| panic!("{text:?}: {error}"));
            assert_eq!(header.tensor.shape, [2, 3], "{text:?}");
            assert_eq!(header.tensor.dtype, Dtype::Int32, "{text:?}");
        }
    }

    #[test]
    fn python_only_forms_no_writer_uses_are_refused() {
        // numpy reads these too; tensorjson does not (README, "Limits and errors").
        for text in [
            "{'descr': '<' 'i4', 'fortran_order': False, 'shape': (2, 3)}\n",
            "{'descr': r'<i4', 'fortran_order': False, 'shape': (2, 3)}\n",
        ] {
            let error = header_of(text).err().unwrap();
            assert!(
                error.to_string().contains("bad .npy header"),
                "{text:?}: {error}"
            );
        }
    }

    #[test]
    fn hostile_header_length_is_refused_before_allocating() {
        let mut file = b"\x93NUMPY\x02\x00".to_vec();
        file.extend_from_slice(&u32::MAX.to_le_bytes());
        let error = read_header(&mut file.as_slice()).err().unwrap();
        assert!(error.to_string().contains("over the limit"), "{error}");
    }
}
