//! PNG images: reading a file into the model, its pixels as a tensor, and tensors as PNG.
//! (Named so as not to shadow the `png` and `image` crates.)

use std::io::{Cursor, Read};

use image::codecs::png::PngEncoder;
use image::{ExtendedColorType, ImageEncoder};
use png::{BitDepth, ColorType, Transformations};

use crate::codec::dtype::Dtype;
use crate::codec::model::{Color, Image, Tensor, TensorHeader};
use crate::error::{Error, Result};

/// The eight bytes every PNG file starts with.
pub const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// Largest PNG file read whole, from a file or from base64 in JSON.
pub const MAX_FILE_BYTES: u64 = 1 << 30;

/// Largest length a chunk may declare (PNG specification, section 5.3).
const MAX_CHUNK_LENGTH: u32 = (1 << 31) - 1;

/// Largest decoded image accepted, checked from the header before any pixel is decoded.
pub const MAX_PIXEL_BYTES: usize = 1 << 30;

/// Where a tensor's channel axis is when it becomes an image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Layout {
    /// `(H, W)` or `(H, W, C)`, as numpy and Pillow use.
    #[default]
    Hwc,
    /// `(C, H, W)`, as PyTorch uses.
    Chw,
}

impl Layout {
    pub fn name(self) -> &'static str {
        match self {
            Layout::Hwc => "hwc",
            Layout::Chw => "chw",
        }
    }
}

struct Decoded {
    width: u32,
    height: u32,
    color: Color,
    /// Samples in PNG order: 16-bit samples big-endian.
    pixels: Vec<u8>,
}

fn png_error(error: png::DecodingError) -> Error {
    Error::Png(error.to_string())
}

type PngReader<'b> = png::Reader<Cursor<&'b [u8]>>;

/// Reads the chunks before the pixels, choosing to expand what numpy users expect expanded:
/// palettes to RGB(A) by the decoder, gray below 8 bits to 8 bits by [`unpack_gray`]. tRNS on
/// gray or RGB is left alone, as Pillow leaves it.
fn open(bytes: &[u8]) -> Result<(PngReader<'_>, Color)> {
    if !bytes.starts_with(SIGNATURE) {
        return Err(Error::Png(
            "does not start with the PNG signature".to_string(),
        ));
    }
    let mut decoder = png::Decoder::new(Cursor::new(bytes));
    decoder.set_limits(png::Limits {
        bytes: MAX_PIXEL_BYTES,
    });
    let info = decoder.read_header_info().map_err(png_error)?;
    check_dimensions(info)?;
    // Not gray below 8 bits: the decoder's expansion would turn its tRNS into an alpha channel.
    let expand = info.color_type == ColorType::Indexed;
    decoder.set_transformations(if expand {
        Transformations::EXPAND
    } else {
        Transformations::IDENTITY
    });
    let reader = decoder.read_info().map_err(png_error)?;
    // png 0.18.1 panics on a palette that is not whole RGB triples (fixed upstream, not yet
    // released).
    if let Some(palette) = &reader.info().palette {
        if palette.len() % 3 != 0 {
            let message = format!("PLTE chunk of {} bytes is not RGB triples", palette.len());
            return Err(Error::Png(message));
        }
    }
    let (color_type, depth) = reader.output_color_type();
    let color = color_of(color_type, depth)?;
    Ok((reader, color))
}

/// Refuses an image whose pixels, once expanded as [`open`] expands them, would take more
/// than [`MAX_PIXEL_BYTES`]: from the header alone, before anything is decoded.
fn check_dimensions(info: &png::Info) -> Result<()> {
    let (width, height) = info.size();
    let channels = match info.color_type {
        // Gray of any depth, tRNS or not, gives one byte or two a pixel.
        ColorType::Grayscale => 1,
        ColorType::GrayscaleAlpha => 2,
        ColorType::Rgb => 3,
        ColorType::Rgba | ColorType::Indexed => 4,
    };
    let sample_bytes = if info.bit_depth == BitDepth::Sixteen {
        2
    } else {
        1
    };
    // Up to (2^32)^2 * 8 bytes: past u64, within u128.
    let bytes = u128::from(width) * u128::from(height) * channels * sample_bytes;
    if bytes > MAX_PIXEL_BYTES as u128 {
        return Err(too_many_pixels(width, height, Some(bytes)));
    }
    Ok(())
}

fn too_many_pixels(width: u32, height: u32, bytes: Option<u128>) -> Error {
    Error::TooLarge {
        what: format!("the decoded {width}x{height} image"),
        size: bytes,
        limit: MAX_PIXEL_BYTES as u64,
        hint: " (images are decoded in memory)",
    }
}

/// Decodes the pixels: the one full decode each path makes.
fn decode(bytes: &[u8]) -> Result<Decoded> {
    let (mut reader, color) = open(bytes)?;
    let (width, height) = reader.info().size();
    // The header check counts conservatively; this is the decoder's own count.
    let size = match reader.output_buffer_size() {
        Some(size) if size <= MAX_PIXEL_BYTES => size,
        size => {
            return Err(too_many_pixels(
                width,
                height,
                size.map(|size| size as u128),
            ))
        }
    };
    let mut pixels = vec![0u8; size];
    let frame = reader.next_frame(&mut pixels).map_err(png_error)?;
    pixels.truncate(frame.buffer_size());
    if let Some(depth) = low_gray_depth(frame.color_type, frame.bit_depth) {
        pixels = unpack_gray(&pixels, frame.width as usize, frame.line_size, depth);
    }
    Ok(Decoded {
        width: frame.width,
        height: frame.height,
        color,
        pixels,
    })
}

/// The bits a sample of gray below 8 bits has, which [`unpack_gray`] unpacks.
fn low_gray_depth(color_type: ColorType, depth: BitDepth) -> Option<u8> {
    match (color_type, depth) {
        (ColorType::Grayscale, BitDepth::One | BitDepth::Two | BitDepth::Four) => Some(depth as u8),
        _ => None,
    }
}

/// Unpacks rows of gray samples of `depth` bits (1, 2 or 4), `line_size` bytes a row, to one
/// byte a pixel, scaled to 0..=255 as Pillow scales them (by 255, 85 or 17). The decoder's own
/// expansion would also add an alpha channel for a tRNS chunk, which Pillow does not.
fn unpack_gray(packed: &[u8], width: usize, line_size: usize, depth: u8) -> Vec<u8> {
    let max = (1u8 << depth) - 1;
    let scale = 255 / max;
    let per_byte = usize::from(8 / depth);
    let mut pixels = Vec::with_capacity(width * (packed.len() / line_size.max(1)));
    for row in packed.chunks_exact(line_size) {
        pixels.extend((0..width).map(|x| {
            // The first pixel of a byte is in its high bits.
            let shift = 8 - depth * (x % per_byte + 1) as u8;
            (row[x / per_byte] >> shift & max) * scale
        }));
    }
    pixels
}

fn color_of(color_type: ColorType, depth: BitDepth) -> Result<Color> {
    let channels = match color_type {
        ColorType::Grayscale => 1,
        ColorType::GrayscaleAlpha => 2,
        ColorType::Rgb => 3,
        ColorType::Rgba => 4,
        ColorType::Indexed => return Err(Error::Png("palette was not expanded".to_string())),
    };
    let sixteen = match depth {
        BitDepth::Eight => false,
        BitDepth::Sixteen => true,
        BitDepth::One | BitDepth::Two | BitDepth::Four => {
            if low_gray_depth(color_type, depth).is_none() {
                return Err(Error::Png("low bit depth was not expanded".to_string()));
            }
            false
        }
    };
    Ok(Color::from_channels(channels, sixteen).expect("every channel count has a color"))
}

/// Reads a PNG file from `input` chunk by chunk up to its IEND chunk, checking each chunk's
/// frame before reading its data, so that a file that is not one fails at once instead of
/// being read whole: a length over 2^31-1, a type that is not 4 ASCII letters, or a chunk that
/// would take the file past `limit` bytes (then `too_large()` is the error). Whatever follows
/// IEND is not read, as Pillow ignores it. A file that ends early is returned as it is, for
/// the decoder to say where it ends.
pub fn read_file(input: impl Read, limit: u64, too_large: impl Fn() -> Error) -> Result<Vec<u8>> {
    let mut file = FileReader {
        input,
        bytes: Vec::new(),
        limit,
    };
    if !file.append(SIGNATURE.len() as u64, &too_large)? || file.bytes != SIGNATURE {
        return Err(Error::Png(
            "does not start with the PNG signature".to_string(),
        ));
    }
    loop {
        let start = file.bytes.len();
        if !file.append(8, &too_large)? {
            break;
        }
        let (length, kind) = chunk_frame(&file.bytes[start..], start)?;
        // The data, then its CRC, which the decoder checks.
        if !file.append(u64::from(length) + 4, &too_large)? || kind == *b"IEND" {
            break;
        }
    }
    Ok(file.bytes)
}

/// A PNG file being read, and how far it may grow.
struct FileReader<R> {
    input: R,
    bytes: Vec<u8>,
    limit: u64,
}

impl<R: Read> FileReader<R> {
    /// Reads `count` more bytes, refusing before reading any that would pass the limit;
    /// returns whether they all came.
    fn append(&mut self, count: u64, too_large: &impl Fn() -> Error) -> Result<bool> {
        if self.bytes.len() as u64 + count > self.limit {
            return Err(too_large());
        }
        // Memory grows as the bytes arrive, never by what a length claims.
        let read = (&mut self.input).take(count).read_to_end(&mut self.bytes)?;
        Ok(read as u64 == count)
    }
}

/// The length and type of the chunk whose first 8 bytes are `frame`, found at byte `at`.
fn chunk_frame(frame: &[u8], at: usize) -> Result<(u32, [u8; 4])> {
    let length = u32::from_be_bytes(frame[..4].try_into().expect("8 bytes"));
    let kind: [u8; 4] = frame[4..8].try_into().expect("8 bytes");
    if !kind.iter().all(u8::is_ascii_alphabetic) {
        return Err(Error::Png(format!(
            "the chunk at byte {at} has type \"{}\", not 4 ASCII letters",
            kind.escape_ascii()
        )));
    }
    if length > MAX_CHUNK_LENGTH {
        return Err(Error::Png(format!(
            "the {} chunk at byte {at} declares {length} bytes, over the 2^31-1 a chunk may hold",
            kind.escape_ascii()
        )));
    }
    Ok((length, kind))
}

/// Reads a PNG file into the model, keeping its bytes; decodes it once to check it.
pub fn read(bytes: Vec<u8>) -> Result<Image> {
    let decoded = decode(&bytes)?;
    Ok(Image {
        width: decoded.width,
        height: decoded.height,
        color: decoded.color,
        bytes,
    })
}

/// Reads a PNG file into the model from its chunks alone, without decoding the pixels: for
/// images that will be decoded or checked once they are written anyway.
pub fn read_header(bytes: Vec<u8>) -> Result<Image> {
    let (reader, color) = open(&bytes)?;
    let (width, height) = reader.info().size();
    Ok(Image {
        width,
        height,
        color,
        bytes,
    })
}

/// Checks that the whole image decodes.
pub fn check(image: &Image) -> Result<()> {
    decode(&image.bytes).map(|_| ())
}

/// The pixels as numpy gives them for `numpy.asarray(PIL.Image.open(path))`: `(H, W)` for
/// gray, `(H, W, C)` otherwise, uint8 or little-endian uint16. With [`Layout::Chw`],
/// `(C, H, W)`, gray included as `(1, H, W)`, as torchvision's `pil_to_tensor` gives it, so
/// that every image has its channel axis first and writes back with the same layout.
pub fn to_tensor(image: &Image, layout: Layout) -> Result<Tensor<'static>> {
    let decoded = decode(&image.bytes)?;
    let mut pixels = decoded.pixels;
    let dtype = if decoded.color.is_16_bit() {
        for sample in pixels.chunks_exact_mut(2) {
            sample.swap(0, 1);
        }
        Dtype::Uint16
    } else {
        Dtype::Uint8
    };
    let (height, width) = (decoded.height as u64, decoded.width as u64);
    let channels = decoded.color.channels();
    let shape = match layout {
        Layout::Hwc if channels == 1 => vec![height, width],
        Layout::Hwc => vec![height, width, channels as u64],
        Layout::Chw => {
            if channels > 1 {
                let pixels_count = (height * width) as usize;
                pixels = hwc_to_chw(&pixels, channels, pixels_count, dtype.itemsize());
            }
            vec![channels as u64, height, width]
        }
    };
    let header = TensorHeader::new(dtype, shape)?;
    Ok(Tensor::new(header, Box::new(Cursor::new(pixels))))
}

/// What shapes and dtypes can become a PNG, for error messages.
fn accepted(layout: Layout) -> &'static str {
    match layout {
        Layout::Hwc => "uint8, uint16 or bool of shape (H, W) or (H, W, C) with C in 1..=4 (or --layout chw for (C, H, W))",
        Layout::Chw => "uint8, uint16 or bool of shape (C, H, W) with C in 1..=4",
    }
}

/// Encodes a uint8/uint16/bool tensor as a PNG file.
pub fn from_tensor(tensor: Tensor, layout: Layout) -> Result<Vec<u8>> {
    let header = tensor.header.clone();
    let refuse =
        |what: String| Error::NotAnImage(format!("{what}; a PNG needs {}", accepted(layout)));
    let sixteen = match header.dtype {
        Dtype::Uint8 | Dtype::Bool => false,
        Dtype::Uint16 => true,
        other => return Err(refuse(format!("dtype is {other}"))),
    };
    let (height, width, channels) = match (layout, header.shape.as_slice()) {
        (Layout::Hwc, &[h, w]) => (h, w, 1),
        (Layout::Hwc, &[h, w, c]) | (Layout::Chw, &[c, h, w]) => (h, w, c),
        (_, shape) => return Err(refuse(format!("shape is {shape:?}"))),
    };
    let color = Color::from_channels(channels, sixteen)
        .ok_or_else(|| refuse(format!("shape {:?} has {channels} channels", header.shape)))?;
    if height == 0 || width == 0 || height > u32::MAX as usize || width > u32::MAX as usize {
        return Err(refuse(format!(
            "shape {:?} has no pixels or too many",
            header.shape
        )));
    }
    let mut samples = tensor.into_bytes()?;
    if header.dtype == Dtype::Bool {
        samples
            .iter_mut()
            .for_each(|sample| *sample = sample_from_bool(*sample));
    }
    if layout == Layout::Chw && channels > 1 {
        samples = chw_to_hwc(&samples, channels, height * width, header.dtype.itemsize());
    }
    if sixteen {
        for sample in samples.chunks_exact_mut(2) {
            let value = u16::from_le_bytes([sample[0], sample[1]]);
            sample.copy_from_slice(&value.to_ne_bytes());
        }
    }
    let mut out = Vec::new();
    PngEncoder::new(&mut out)
        .write_image(&samples, width as u32, height as u32, extended(color))
        .map_err(|error| Error::Png(error.to_string()))?;
    Ok(out)
}

fn sample_from_bool(value: u8) -> u8 {
    if value == 0 {
        0
    } else {
        255
    }
}

fn extended(color: Color) -> ExtendedColorType {
    match color {
        Color::L8 => ExtendedColorType::L8,
        Color::La8 => ExtendedColorType::La8,
        Color::Rgb8 => ExtendedColorType::Rgb8,
        Color::Rgba8 => ExtendedColorType::Rgba8,
        Color::L16 => ExtendedColorType::L16,
        Color::La16 => ExtendedColorType::La16,
        Color::Rgb16 => ExtendedColorType::Rgb16,
        Color::Rgba16 => ExtendedColorType::Rgba16,
    }
}

/// Moves interleaved pixels `(H*W, C)` to planes `(C, H*W)`, element by element.
fn hwc_to_chw(samples: &[u8], channels: usize, pixels: usize, itemsize: usize) -> Vec<u8> {
    let view = ndarray::ArrayView3::from_shape((pixels, channels, itemsize), samples)
        .expect("sample count is pixels x channels x itemsize");
    view.permuted_axes([1, 0, 2]).iter().copied().collect()
}

/// Moves planes `(C, H*W)` to interleaved pixels `(H*W, C)`, element by element.
fn chw_to_hwc(samples: &[u8], channels: usize, pixels: usize, itemsize: usize) -> Vec<u8> {
    let view = ndarray::ArrayView3::from_shape((channels, pixels, itemsize), samples)
        .expect("sample count is channels x pixels x itemsize");
    let interleaved = view.permuted_axes([1, 0, 2]);
    interleaved.iter().copied().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tensor(dtype: Dtype, shape: &[u64], bytes: Vec<u8>) -> Tensor<'static> {
        let header = TensorHeader::new(dtype, shape.to_vec()).unwrap();
        Tensor::new(header, Box::new(Cursor::new(bytes)))
    }

    #[test]
    fn gray16_round_trips_through_png() {
        let values: Vec<u8> = [0u16, 1, 256, 65535, 4660, 9]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let png = from_tensor(tensor(Dtype::Uint16, &[2, 3], values.clone()), Layout::Hwc).unwrap();
        let image = read(png).unwrap();
        assert_eq!((image.width, image.height, image.color), (3, 2, Color::L16));
        assert_eq!(
            to_tensor(&image, Layout::Hwc)
                .unwrap()
                .into_bytes()
                .unwrap(),
            values
        );
    }

    #[test]
    fn low_bit_gray_with_trns_gives_gray_alone_scaled_as_pillow_scales_it() {
        // 2-bit gray, 3 pixels a row (6 bits, padded to a byte), gray 1 transparent.
        let mut png = Vec::new();
        let mut encoder = png::Encoder::new(&mut png, 3, 2);
        encoder.set_color(ColorType::Grayscale);
        encoder.set_depth(BitDepth::Two);
        encoder.set_trns(vec![0, 1]);
        let mut writer = encoder.write_header().unwrap();
        writer
            .write_image_data(&[0b0001_1000, 0b1110_0100])
            .unwrap();
        writer.finish().unwrap();
        let image = read(png).unwrap();
        assert_eq!((image.width, image.height, image.color), (3, 2, Color::L8));
        let pixels = to_tensor(&image, Layout::Hwc).unwrap();
        assert_eq!(pixels.header.shape, vec![2, 3]);
        assert_eq!(pixels.into_bytes().unwrap(), vec![0, 85, 170, 255, 170, 85]);
    }

    fn chunk(kind: &[u8; 4], length: u32) -> Vec<u8> {
        let mut frame = length.to_be_bytes().to_vec();
        frame.extend_from_slice(kind);
        frame
    }

    fn read_file_within(bytes: &[u8], limit: u64) -> Result<Vec<u8>> {
        read_file(bytes, limit, || Error::Png("too large".to_string()))
    }

    #[test]
    fn read_file_refuses_a_chunk_frame_at_once() {
        let mut input = SIGNATURE.to_vec();
        input.extend(chunk(b"IH\x00R", 13));
        let error = read_file_within(&input, 1000).unwrap_err().to_string();
        assert!(
            error.contains("chunk at byte 8 has type \"IH\\x00R\""),
            "{error}"
        );
        let mut input = SIGNATURE.to_vec();
        input.extend(chunk(b"IDAT", 1 << 31));
        let error = read_file_within(&input, u64::MAX).unwrap_err().to_string();
        assert!(
            error.contains("IDAT chunk at byte 8 declares 2147483648 bytes"),
            "{error}"
        );
        // 8 + 8 + 85 + 4 bytes would be one past the limit.
        let mut input = SIGNATURE.to_vec();
        input.extend(chunk(b"IDAT", 85));
        let error = read_file_within(&input, 104).unwrap_err().to_string();
        assert_eq!(error, "invalid PNG: too large");
        // Within the limit, a file that ends early is left to the decoder.
        assert_eq!(read_file_within(&input, 105).unwrap(), input);
    }

    #[test]
    fn chw_becomes_interleaved() {
        // Two channels of a 1x2 image: planes [1, 2] and [3, 4].
        let png = from_tensor(
            tensor(Dtype::Uint8, &[2, 1, 2], vec![1, 2, 3, 4]),
            Layout::Chw,
        )
        .unwrap();
        let image = read(png).unwrap();
        let pixels = to_tensor(&image, Layout::Hwc).unwrap();
        assert_eq!(pixels.header.shape, vec![1, 2, 2]);
        assert_eq!(pixels.into_bytes().unwrap(), vec![1, 3, 2, 4]);
        // And back to planes, as they were.
        let planes = to_tensor(&image, Layout::Chw).unwrap();
        assert_eq!(planes.header.shape, vec![2, 1, 2]);
        assert_eq!(planes.into_bytes().unwrap(), vec![1, 2, 3, 4]);
    }

    #[test]
    fn gray_in_chw_layout_has_one_channel_first() {
        let values: Vec<u8> = [1u16, 2, 3, 4, 5, 6]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let png = from_tensor(tensor(Dtype::Uint16, &[2, 3], values.clone()), Layout::Hwc).unwrap();
        let planes = to_tensor(&read(png).unwrap(), Layout::Chw).unwrap();
        assert_eq!(planes.header.shape, vec![1, 2, 3]);
        assert_eq!(planes.into_bytes().unwrap(), values);
    }

    #[test]
    fn refuses_float_and_bad_shapes_saying_what_works() {
        let error =
            from_tensor(tensor(Dtype::Float32, &[1, 1], vec![0; 4]), Layout::Hwc).unwrap_err();
        assert!(error.to_string().contains("dtype is float32"), "{error}");
        assert!(error.to_string().contains("uint8, uint16"), "{error}");
        let error =
            from_tensor(tensor(Dtype::Uint8, &[2, 2, 5], vec![0; 20]), Layout::Hwc).unwrap_err();
        assert!(error.to_string().contains("5 channels"), "{error}");
    }
}
