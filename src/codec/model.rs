//! The in-memory model every reader produces and every writer consumes.

use std::fmt;
use std::io::{self, Read};

use crate::codec::dtype::Dtype;
use crate::codec::io::Payload;
use crate::error::{Error, Result};

/// Most dimensions an array may have: numpy's limit (`NPY_MAXDIMS`).
pub const MAX_RANK: usize = 64;

/// What a tensor is: its element type and shape. Its data is C order, little-endian.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorHeader {
    pub dtype: Dtype,
    pub shape: Vec<usize>,
    byte_len: u64,
}

impl TensorHeader {
    /// Checks up front what numpy checks of a shape: at most [`MAX_RANK`] dimensions, and
    /// `itemsize` times the product of the non-zero dimensions within `isize` (so that an
    /// empty array's other dimensions are bounded too, as `numpy.empty` bounds them).
    pub fn new(dtype: Dtype, shape: Vec<u64>) -> Result<Self> {
        if shape.len() > MAX_RANK {
            return Err(Error::TooManyDimensions { rank: shape.len() });
        }
        let overflow = || Error::ShapeOverflow {
            shape: shape.clone(),
            dtype: dtype.name(),
        };
        shape
            .iter()
            .filter(|&&dim| dim != 0)
            .try_fold(dtype.itemsize() as u64, |total, &dim| {
                total.checked_mul(dim)
            })
            .filter(|&total| total <= isize::MAX as u64)
            .ok_or_else(overflow)?;
        let byte_len = shape.iter().product::<u64>() * dtype.itemsize() as u64;
        let dims = shape.iter().map(|&dim| dim as usize).collect();
        Ok(TensorHeader {
            dtype,
            shape: dims,
            byte_len,
        })
    }

    /// Size of the data in bytes.
    pub fn byte_len(&self) -> u64 {
        self.byte_len
    }

    pub(crate) fn length_error(&self, found: String) -> Error {
        Error::DataLength {
            shape: self.shape.clone(),
            dtype: self.dtype.name(),
            expected: self.byte_len,
            found,
        }
    }
}

/// A tensor whose data streams from its source. Reading it yields exactly
/// `header.byte_len()` bytes, or fails if the source holds fewer or more.
pub struct Tensor<'a> {
    pub header: TensorHeader,
    payload: Box<dyn Payload + 'a>,
    remaining: u64,
    finished: bool,
}

impl<'a> Tensor<'a> {
    pub fn new(header: TensorHeader, payload: Box<dyn Payload + 'a>) -> Self {
        let remaining = header.byte_len;
        Tensor {
            header,
            payload,
            remaining,
            finished: false,
        }
    }

    /// Reads the whole data into memory.
    pub fn into_bytes(mut self) -> Result<Vec<u8>> {
        // Reserve no more than a modest amount up front: a declared size is a claim, and the
        // data may never arrive.
        let reserve = self.header.byte_len.min(64 << 20) as usize;
        let mut bytes = Vec::with_capacity(reserve);
        self.read_to_end(&mut bytes)?;
        Ok(bytes)
    }

    fn check_end(&mut self) -> io::Result<()> {
        let mut extra = [0u8; 1];
        if crate::codec::io::read_full(&mut self.payload, &mut extra)? > 0 {
            return Err(self.length_mismatch("longer".to_string()));
        }
        self.finished = true;
        self.payload.finish().map_err(io::Error::from)
    }
}

impl Tensor<'_> {
    /// The data is not as long as the header says. What follows it in its source may say why
    /// (keys after a streamed `data` that change how it is read): that error comes first.
    fn length_mismatch(&mut self, found: String) -> io::Error {
        self.finished = true;
        match self.payload.finish() {
            Err(error) => error.into(),
            Ok(()) => self.header.length_error(found).into(),
        }
    }
}

impl Read for Tensor<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 {
            if !self.finished {
                self.check_end()?;
            }
            return Ok(0);
        }
        let limit = buf
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let count = self.payload.read(&mut buf[..limit])?;
        if count == 0 && limit > 0 {
            let found = self.header.byte_len - self.remaining;
            return Err(self.length_mismatch(format!("shorter ({found} bytes)")));
        }
        self.remaining -= count as u64;
        Ok(count)
    }
}

impl Payload for Tensor<'_> {
    fn finish(&mut self) -> Result<()> {
        if !self.finished {
            io::copy(self, &mut io::sink())?;
        }
        Ok(())
    }
}

/// Pixel layout of a PNG as it decodes (palette images report what they expand to).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Color {
    L8,
    La8,
    Rgb8,
    Rgba8,
    L16,
    La16,
    Rgb16,
    Rgba16,
}

impl Color {
    pub const ALL: [Color; 8] = [
        Color::L8,
        Color::La8,
        Color::Rgb8,
        Color::Rgba8,
        Color::L16,
        Color::La16,
        Color::Rgb16,
        Color::Rgba16,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Color::L8 => "l8",
            Color::La8 => "la8",
            Color::Rgb8 => "rgb8",
            Color::Rgba8 => "rgba8",
            Color::L16 => "l16",
            Color::La16 => "la16",
            Color::Rgb16 => "rgb16",
            Color::Rgba16 => "rgba16",
        }
    }

    pub fn channels(self) -> usize {
        match self {
            Color::L8 | Color::L16 => 1,
            Color::La8 | Color::La16 => 2,
            Color::Rgb8 | Color::Rgb16 => 3,
            Color::Rgba8 | Color::Rgba16 => 4,
        }
    }

    pub fn is_16_bit(self) -> bool {
        match self {
            Color::L8 | Color::La8 | Color::Rgb8 | Color::Rgba8 => false,
            Color::L16 | Color::La16 | Color::Rgb16 | Color::Rgba16 => true,
        }
    }

    pub fn from_channels(channels: usize, sixteen_bit: bool) -> Option<Color> {
        Color::ALL
            .into_iter()
            .find(|color| color.channels() == channels && color.is_16_bit() == sixteen_bit)
    }

    pub fn parse(name: &str) -> Option<Color> {
        Color::ALL.into_iter().find(|color| color.name() == name)
    }

    pub fn names() -> String {
        Color::ALL.map(Color::name).join(", ")
    }
}

impl fmt::Display for Color {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A PNG image, kept as the file's own bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    pub width: u32,
    pub height: u32,
    pub color: Color,
    pub bytes: Vec<u8>,
}

impl Image {
    /// The dtype of the decoded pixels: uint16 for 16-bit colors, else uint8.
    pub fn pixel_dtype(&self) -> Dtype {
        if self.color.is_16_bit() {
            Dtype::Uint16
        } else {
            Dtype::Uint8
        }
    }

    /// Size of the decoded pixels in bytes, as `decode --to npy` writes them.
    pub fn pixel_bytes(&self) -> u64 {
        let sample = if self.color.is_16_bit() { 2 } else { 1 };
        let channels = self.color.channels() as u128;
        let bytes = u128::from(self.width) * u128::from(self.height) * channels * sample;
        u64::try_from(bytes).unwrap_or(u64::MAX)
    }
}

/// What a reader produced.
pub enum Item<'a> {
    Tensor(Tensor<'a>),
    Image(Image),
}

/// An item with its name: a KServe input's, an `.npz` member's or a safetensors tensor's
/// name, an object's key, a file's stem.
pub struct Named<'a> {
    pub name: String,
    pub item: Item<'a>,
}

impl<'a> Named<'a> {
    pub fn new(name: impl Into<String>, item: Item<'a>) -> Self {
        Named {
            name: name.into(),
            item,
        }
    }
}

/// The name of an item that has none, from its position in its bundle: `arr_0`, `arr_1`,
/// as `numpy.savez` names the arrays it is given without names.
pub fn position_name(index: usize) -> String {
    format!("arr_{index}")
}

/// Several named items, in order, each streaming in turn: the next is read only once the one
/// before it has been read to its end (or dropped), so that items can stream one after the
/// other from one source (members of a zip archive, tensors of a safetensors file, documents
/// of a JSON Lines stream). A single item is a bundle of one ([`One`]).
pub trait Bundle {
    /// The next item, or `None` after the last.
    fn next_item(&mut self) -> Result<Option<Named<'_>>>;

    /// What the bundle says of itself besides its items, as a safetensors file's
    /// `__metadata__` does: kept where the output can hold it.
    fn metadata(&self) -> Option<&Metadata> {
        None
    }
}

/// Text about a bundle, keyed by name (a safetensors file's `__metadata__`).
pub type Metadata = std::collections::BTreeMap<String, String>;

/// A bundle of one item.
pub struct One<'a>(Option<Named<'a>>);

impl<'a> One<'a> {
    pub fn new(named: Named<'a>) -> Self {
        One(Some(named))
    }
}

impl Bundle for One<'_> {
    fn next_item(&mut self) -> Result<Option<Named<'_>>> {
        Ok(self.0.take())
    }
}
