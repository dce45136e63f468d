//! Opening a plan: the payload it points at, read as the plan says (base64, compression,
//! byte order, memory order, a view), into the model.

use std::io::{self, Cursor, Read};

use serde_json::Value;

use crate::codec::b64::DecodeReader;
use crate::codec::dialect::list_stream::{self, Reopen};
use crate::codec::dialect::{fields, list, Compression, Path, Plan, ReadOptions, RAISE_HINT};
use crate::codec::dtype::ByteOrder;
use crate::codec::io::{read_head, AlignedReader, Payload};
use crate::codec::layout::{self, Arrangement};
use crate::codec::model::{Item, Tensor, TensorHeader};
use crate::codec::{npy, pngfile, search};
use crate::error::{Error, Result};

/// Where a plan's payload comes from.
pub enum Source<'a> {
    /// The text of a string, unescaped.
    Text(Box<dyn Payload + 'a>),
    /// A string's base64, decoded as it was read: the bytes after its first `skip` characters.
    Decoded {
        skip: usize,
        bytes: Box<dyn Payload + 'a>,
    },
    /// The JSON text of a long list of numbers, to be read as it streams.
    Numbers(Box<dyn Reopen + 'a>),
    /// A parsed value.
    Value(Value),
}

/// How messages name the value at `path`: its keys in backticks, or the whole document.
pub fn field_name(path: &Path) -> String {
    if path.is_empty() {
        "the document".to_string()
    } else {
        format!("`{}`", path.join("/"))
    }
}

/// Opens the plan of the payload picked, once the options it does not use are refused.
pub fn open_plan<'a>(plan: Plan, source: Source<'a>, options: &ReadOptions) -> Result<Item<'a>> {
    check_dtype_used(&plan, options)?;
    open_any(plan, source, options)
}

/// Refuses `--dtype` where the payload states its own dtype ([`Error::Usage`]). It applies
/// to numbers whose JSON says nothing of their type (plain lists, TF Serving), and to raw
/// data at `--path`, which `--shape` marks: `--shape` gets this far only when `--path`
/// points at a string ([`super::check_at_path`]), which is then read with `--dtype`.
fn check_dtype_used(plan: &Plan, options: &ReadOptions) -> Result<()> {
    let Some(given) = options.dtype else {
        return Ok(());
    };
    if options.shape.is_some() {
        return Ok(());
    }
    let stated = match plan {
        Plan::List { dtype: None, .. } => return Ok(()),
        Plan::List {
            dtype: Some(dtype), ..
        } => format!("states its own dtype, {dtype}"),
        Plan::Tensor { header, .. } | Plan::View { header, .. } => {
            format!("states its own dtype, {}", header.dtype)
        }
        Plan::Npy { .. } => "is a .npy file, whose header states its dtype".to_string(),
        Plan::Image { .. } => {
            "is a PNG image, whose pixels are uint8 or uint16 as its header states".to_string()
        }
    };
    Err(Error::Usage(format!(
        "--dtype {given} does not apply here: the payload at {} {stated}. --dtype is for \
         numbers whose JSON does not say (plain lists, TF Serving) and for raw data at --path \
         with --shape; to convert the values, use --cast {given}",
        search::pointer(plan.path())
    )))
}

fn open_any<'a>(plan: Plan, source: Source<'a>, options: &ReadOptions) -> Result<Item<'a>> {
    if let Plan::View { .. } = plan {
        return open_view(plan, source, options).map(Item::Tensor);
    }
    let field = field_name(plan.path());
    let text = match (source, &plan) {
        (Source::Value(value), Plan::List { .. }) if !list::is_numbers(&value) => {
            return Err(list::found_a_string(&field));
        }
        (
            numbers @ (Source::Numbers(_) | Source::Value(_)),
            Plan::List {
                dtype,
                shape,
                arrangement,
                null_is_nan,
                ..
            },
        ) => {
            let dtype = dtype.or(options.dtype);
            let tensor = match numbers {
                Source::Numbers(text) => list_stream::open(
                    text,
                    dtype,
                    shape.clone(),
                    *arrangement,
                    *null_is_nan,
                    &field,
                )?,
                Source::Value(mut value) => {
                    if *null_is_nan && dtype.is_some_and(list_stream::is_inexact) {
                        list::nulls_to_nan(&mut value);
                    }
                    list::to_arranged_tensor(&value, dtype, shape.clone(), *arrangement, &field)?
                }
                Source::Text(_) | Source::Decoded { .. } => unreachable!("matched above"),
            };
            options.check_size("the decoded data", tensor.header.byte_len())?;
            return Ok(Item::Tensor(tensor));
        }
        (Source::Numbers(_), _) => {
            return Err(Error::Envelope(format!(
                "{field}: expected a base64 string, found a list of numbers"
            )))
        }
        (Source::Text(_) | Source::Decoded { .. }, Plan::List { .. }) => {
            return Err(list::found_a_string(&field))
        }
        (Source::Value(value), _) => {
            return Err(fields::wrong(&field, "a base64 string", &value));
        }
        (string, _) => string,
    };
    match plan {
        Plan::Tensor {
            header, encoding, ..
        } => {
            options.check_tensor(&header, encoding.arrangement)?;
            let decoded = base64(text, encoding.skip, &field, options)?;
            let bytes: Box<dyn Payload + 'a> = match encoding.compression {
                Some(Compression::Zlib) if encoding.may_be_raw => {
                    let limit = options.max_in_memory.min(options.max_bytes);
                    zlib_or_raw(decoded, header.byte_len(), limit, field)?
                }
                Some(compression) => Box::new(Inflate::new(decoded, compression, field)),
                None => Box::new(decoded),
            };
            let tensor = layout::normalise(header, bytes, encoding.arrangement)?;
            Ok(Item::Tensor(tensor))
        }
        Plan::Npy { skip: count, .. } => {
            // Small: it serves the header; the data's large reads go past it.
            let mut decoded =
                AlignedReader::with_capacity(1 << 16, base64(text, count, &field, options)?);
            let header = npy::read_header(&mut decoded)?;
            options.check_tensor(&header.tensor, header.arrangement())?;
            Ok(Item::Tensor(npy::open(header, decoded)?))
        }
        Plan::Image { skip: count, .. } => {
            let decoded = base64(text, count, &field, options)?;
            let bytes = read_image_file(decoded, options)?;
            // Checked in full where it is written (`write_binary`), which decodes it once.
            let image = pngfile::read_header(bytes)?;
            options.check_size("the decoded image", image.pixel_bytes())?;
            Ok(Item::Image(image))
        }
        Plan::List { .. } | Plan::View { .. } => unreachable!("handled above"),
    }
}

/// The bytes a payload string's base64 holds after its first `count` characters.
fn base64<'a>(
    string: Source<'a>,
    count: usize,
    field: &str,
    options: &ReadOptions,
) -> Result<Box<dyn Payload + 'a>> {
    match string {
        Source::Text(text) => {
            let text = skip(text, count)?;
            let threads = options.base64_threads();
            Ok(Box::new(DecodeReader::with_threads(text, field, threads)))
        }
        Source::Decoded { skip, bytes } if skip == count => Ok(bytes),
        Source::Decoded { skip, .. } => Err(Error::Envelope(format!(
            "{field}: its base64 starts at character {skip}, where its reader expects it at \
             character {count}"
        ))),
        Source::Value(_) | Source::Numbers(_) => unreachable!("values are handled before"),
    }
}

/// The bytes of an image file up to its IEND chunk, up to `--max-bytes` and
/// [`pngfile::MAX_FILE_BYTES`].
fn read_image_file(mut decoded: impl Payload, options: &ReadOptions) -> Result<Vec<u8>> {
    let limit = options.max_bytes.min(pngfile::MAX_FILE_BYTES);
    let too_large = || Error::TooLarge {
        what: "the decoded PNG file".to_string(),
        size: None,
        limit,
        hint: if limit == options.max_bytes {
            RAISE_HINT
        } else {
            " (PNG files are read into memory)"
        },
    };
    let bytes = pngfile::read_file(&mut decoded, limit, too_large)?;
    // Bytes after IEND are ignored, as in a file, but the base64 holding them must be valid.
    io::copy(&mut decoded, &mut io::sink())?;
    decoded.finish()?;
    Ok(bytes)
}

/// Reads the base array with its bytes as stored, then gathers the view's elements from them.
fn open_view<'a>(plan: Plan, source: Source<'a>, options: &ReadOptions) -> Result<Tensor<'a>> {
    let Plan::View {
        base,
        header,
        offset,
        strides,
        swapped,
        fortran_order,
    } = plan
    else {
        unreachable!("called with views only")
    };
    options.check_in_memory("the array view", header.byte_len())?;
    let mut base = *base;
    let base_order = match &mut base {
        Plan::Tensor { encoding, .. } => {
            let stored = encoding.arrangement;
            encoding.arrangement = Arrangement::MODEL;
            stored.byte_order
        }
        _ => ByteOrder::Little,
    };
    let Item::Tensor(base) = open_any(base, source, options)? else {
        unreachable!("array plans give tensors")
    };
    options.check_in_memory("the view's base array", base.header.byte_len())?;
    let memory = base.into_bytes()?;
    let strides = strides.map(|strides| strides.into_iter().map(i128::from).collect());
    let gathered = gather(&memory, &header, offset, strides, fortran_order)?;
    let byte_order = match (base_order, swapped) {
        (order, false) => order,
        (ByteOrder::Little, true) => ByteOrder::Big,
        (ByteOrder::Big, true) => ByteOrder::Little,
    };
    let arrangement = Arrangement {
        byte_order,
        ..Arrangement::MODEL
    };
    layout::normalise(header, Box::new(Cursor::new(gathered)), arrangement)
}

/// The elements of a strided view over `memory`, in C order. Positions are `i128`, which
/// no `i64` stride times a dimension of a bounded view can overflow.
fn gather(
    memory: &[u8],
    header: &TensorHeader,
    offset: u64,
    strides: Option<Vec<i128>>,
    fortran_order: bool,
) -> Result<Vec<u8>> {
    let shape = &header.shape;
    let itemsize = header.dtype.itemsize();
    if header.byte_len() == 0 {
        return Ok(Vec::new());
    }
    let strides = strides.unwrap_or_else(|| contiguous_strides(shape, itemsize, fortran_order));
    // Every element is in bounds if the nearest and the farthest are.
    let (mut low, mut high) = (i128::from(offset), i128::from(offset));
    for (&dim, &stride) in shape.iter().zip(&strides) {
        let reach = (dim as i128 - 1) * stride;
        if reach < 0 {
            low += reach;
        } else {
            high += reach;
        }
    }
    if low < 0 || high + itemsize as i128 > memory.len() as i128 {
        return Err(Error::Envelope(
            "the view reaches outside its base array".to_string(),
        ));
    }
    let mut gathered = Vec::with_capacity(header.byte_len() as usize);
    let mut index = vec![0usize; shape.len()];
    let mut position = i128::from(offset);
    for _ in 0..header.byte_len() as usize / itemsize {
        let at = position as usize;
        gathered.extend_from_slice(&memory[at..at + itemsize]);
        for axis in (0..shape.len()).rev() {
            index[axis] += 1;
            position += strides[axis];
            if index[axis] < shape[axis] {
                break;
            }
            position -= strides[axis] * shape[axis] as i128;
            index[axis] = 0;
        }
    }
    Ok(gathered)
}

fn contiguous_strides(shape: &[usize], itemsize: usize, fortran_order: bool) -> Vec<i128> {
    let mut strides = vec![0i128; shape.len()];
    let mut stride = itemsize as i128;
    let axes: Vec<usize> = if fortran_order {
        (0..shape.len()).collect()
    } else {
        (0..shape.len()).rev().collect()
    };
    for axis in axes {
        strides[axis] = stride;
        stride *= shape[axis] as i128;
    }
    strides
}

/// Drops the first `count` characters, which the planner has already checked.
fn skip<'a>(mut text: Box<dyn Payload + 'a>, count: usize) -> Result<Box<dyn Payload + 'a>> {
    io::copy(&mut (&mut text).take(count as u64), &mut io::sink())?;
    Ok(text)
}

/// The data of a payload that is either zlib-compressed or the raw bytes, with nothing to say
/// which. It is zlib if it starts with a zlib header and is not exactly `expected` bytes
/// long, or if it is and inflates, checksum and all, to exactly `expected` bytes; otherwise
/// it is raw. Data starting with a zlib header is held in memory, up to `limit` bytes, until
/// its length is known; past that it is taken to be zlib.
fn zlib_or_raw<'a>(
    mut decoded: impl Payload + 'a,
    expected: u64,
    limit: u64,
    field: String,
) -> Result<Box<dyn Payload + 'a>> {
    let mut head = read_head(&mut decoded, 2)?;
    if !is_zlib_header(&head) {
        return Ok(Box::new(Buffered::new(head, decoded)));
    }
    let cap = expected.min(limit) + 1;
    (&mut decoded)
        .take(cap.saturating_sub(head.len() as u64))
        .read_to_end(&mut head)?;
    // Exactly `expected` bytes (and no more: `cap` is past them) can be either.
    if expected <= limit && head.len() as u64 == expected {
        let mut inflated = Vec::new();
        let mut inflater = flate2::read::ZlibDecoder::new(head.as_slice()).take(expected + 1);
        if inflater.read_to_end(&mut inflated).is_ok() && inflated.len() as u64 == expected {
            return Ok(Box::new(Buffered::new(inflated, decoded)));
        }
        return Ok(Box::new(Buffered::new(head, decoded)));
    }
    let buffered = Buffered::new(head, decoded);
    Ok(Box::new(Inflate::new(buffered, Compression::Zlib, field)))
}

/// Whether `bytes` start as a zlib stream does (RFC 1950): deflate with a window of at most
/// 32 KiB, no preset dictionary, and the check bits right.
fn is_zlib_header(bytes: &[u8]) -> bool {
    match bytes {
        [method, flags, ..] => {
            method & 0x0f == 8
                && method >> 4 <= 7
                && flags & 0x20 == 0
                && (u16::from(*method) << 8 | u16::from(*flags)) % 31 == 0
        }
        _ => false,
    }
}

/// Bytes already read from a payload, then the rest of it.
struct Buffered<R> {
    head: Cursor<Vec<u8>>,
    rest: R,
}

impl<R> Buffered<R> {
    fn new(head: Vec<u8>, rest: R) -> Self {
        Buffered {
            head: Cursor::new(head),
            rest,
        }
    }
}

impl<R: Read> Read for Buffered<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.head.read(buf)? {
            0 => self.rest.read(buf),
            count => Ok(count),
        }
    }
}

impl<R: Payload> Payload for Buffered<R> {
    fn finish(&mut self) -> Result<()> {
        self.rest.finish()
    }
}

/// Decompression of a payload, its errors named after the field.
struct Inflate<R: Read> {
    decoder: Decoder<R>,
    compression: Compression,
    field: String,
}

enum Decoder<R: Read> {
    Zlib(flate2::read::ZlibDecoder<R>),
    Gzip(flate2::read::GzDecoder<R>),
}

impl<R: Read> Inflate<R> {
    fn new(inner: R, compression: Compression, field: String) -> Self {
        let decoder = match compression {
            Compression::Zlib => Decoder::Zlib(flate2::read::ZlibDecoder::new(inner)),
            Compression::Gzip => Decoder::Gzip(flate2::read::GzDecoder::new(inner)),
        };
        Inflate {
            decoder,
            compression,
            field,
        }
    }

    fn inner(&mut self) -> &mut R {
        match &mut self.decoder {
            Decoder::Zlib(decoder) => decoder.get_mut(),
            Decoder::Gzip(decoder) => decoder.get_mut(),
        }
    }
}

impl<R: Read> Read for Inflate<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let result = match &mut self.decoder {
            Decoder::Zlib(decoder) => decoder.read(buf),
            Decoder::Gzip(decoder) => decoder.read(buf),
        };
        result.map_err(|error| {
            if error.get_ref().is_some_and(|inner| inner.is::<Error>()) {
                return error;
            }
            Error::Decompress {
                compression: self.compression.name(),
                field: self.field.clone(),
                detail: error.to_string(),
            }
            .into()
        })
    }
}

impl<R: Payload> Payload for Inflate<R> {
    fn finish(&mut self) -> Result<()> {
        // The compressed stream may end before its text does; what follows is still read,
        // so the rest of the document gets checked.
        io::copy(self.inner(), &mut io::sink())?;
        self.inner().finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    fn read(payload: &[u8], expected: u64, limit: u64) -> Result<Vec<u8>> {
        let mut bytes = zlib_or_raw(payload, expected, limit, "`values`".to_string())?;
        let mut out = Vec::new();
        bytes.read_to_end(&mut out)?;
        Ok(out)
    }

    /// Data whose zlib stream is exactly as long as the data itself: scattered bytes, then
    /// zeros, with as many scattered bytes as it takes.
    fn same_length_as_compressed() -> Vec<u8> {
        (16..128usize)
            .flat_map(|length| (0..length).map(move |scattered| (length, scattered)))
            .map(|(length, scattered)| {
                let mut data: Vec<u8> = (0..scattered).map(|i| (i * 97 + 31) as u8).collect();
                data.resize(length, 0);
                data
            })
            .find(|data| zlib(data).len() == data.len())
            .unwrap()
    }

    #[test]
    fn zlib_or_raw_tells_them_apart() {
        let data: Vec<u8> = (0..64u8).collect();
        assert_eq!(read(&zlib(&data), 64, 1 << 20).unwrap(), data);
        assert_eq!(read(&data, 64, 1 << 20).unwrap(), data);
        // Raw data that starts as a zlib stream does, and does not inflate.
        let mut lookalike = data.clone();
        lookalike[..2].copy_from_slice(&[0x78, 0x9c]);
        assert_eq!(read(&lookalike, 64, 1 << 20).unwrap(), lookalike);
        // A zlib stream exactly as long as what it inflates to.
        let data = same_length_as_compressed();
        let length = data.len() as u64;
        assert_eq!(read(&zlib(&data), length, 1 << 20).unwrap(), data);
        // An empty array whose data starts as zlib does (found by fuzzing: the length left to
        // read went below zero).
        assert_eq!(read(&zlib(&[]), 0, 1 << 20).unwrap(), Vec::<u8>::new());
        assert!(read(&[0x78, 0x9c, 0x03], 0, 1 << 20).is_err());
        // Past the in-memory limit, data that starts as zlib does is taken to be zlib.
        assert!(read(&lookalike, 64, 16).is_err());
        assert_eq!(read(&zlib(&data), length, 16).unwrap(), data);
    }
}
