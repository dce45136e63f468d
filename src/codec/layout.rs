//! Putting data in the model's layout: little-endian, C order, whatever the source used.

use std::io::{self, Read};

use ndarray::{ArrayViewD, IxDyn, ShapeBuilder};

use crate::codec::dtype::ByteOrder;
use crate::codec::io::{read_full, AlignedBuf, Payload, BUFFER};
use crate::codec::model::{Tensor, TensorHeader};
use crate::error::Result;

/// How a source lays its elements out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arrangement {
    pub byte_order: ByteOrder,
    pub fortran_order: bool,
    /// Complex numbers stored as all real parts, then all imaginary parts (JData).
    pub planar_complex: bool,
}

impl Arrangement {
    /// The model's own: little-endian, C order, interleaved complex.
    pub const MODEL: Arrangement = Arrangement {
        byte_order: ByteOrder::Little,
        fortran_order: false,
        planar_complex: false,
    };
}

/// Wraps a payload in the source's arrangement as a model tensor. Little-endian C-order
/// data streams straight through; big-endian data is swapped chunk by chunk; Fortran-order
/// and planar complex data is read whole, because reordering needs every element of it.
pub fn normalise<'a>(
    header: TensorHeader,
    payload: Box<dyn Payload + 'a>,
    arrangement: Arrangement,
) -> Result<Tensor<'a>> {
    let swap_unit = header.dtype.swap_unit();
    let payload: Box<dyn Payload + 'a> = match arrangement.byte_order {
        ByteOrder::Big if swap_unit > 1 => Box::new(SwapReader::new(payload, swap_unit)),
        ByteOrder::Big | ByteOrder::Little => payload,
    };
    let (fortran, planar) = reordering(&header, arrangement);
    let tensor = Tensor::new(header, payload);
    if !fortran && !planar {
        return Ok(tensor);
    }
    let header = tensor.header.clone();
    let mut bytes = tensor.into_bytes()?;
    if planar {
        bytes = planar_to_interleaved(&bytes, header.dtype.swap_unit());
    }
    if fortran {
        bytes = fortran_to_c(&bytes, &header.shape, header.dtype.itemsize());
    }
    Ok(Tensor::new(header, Box::new(io::Cursor::new(bytes))))
}

/// Whether [`normalise`] reads data in this arrangement whole, to reorder it in memory.
pub fn reorders_in_memory(header: &TensorHeader, arrangement: Arrangement) -> bool {
    let (fortran, planar) = reordering(header, arrangement);
    fortran || planar
}

/// Which reorderings the data needs: Fortran to C order, planar to interleaved complex.
fn reordering(header: &TensorHeader, arrangement: Arrangement) -> (bool, bool) {
    let fortran = arrangement.fortran_order && header.shape.len() > 1;
    let planar = arrangement.planar_complex && header.dtype.is_complex();
    (fortran, planar)
}

/// `[re0, re1, .., im0, im1, ..]` to `[re0, im0, re1, im1, ..]`, parts of `part` bytes.
pub fn planar_to_interleaved(bytes: &[u8], part: usize) -> Vec<u8> {
    let (real, imaginary) = bytes.split_at(bytes.len() / 2);
    real.chunks(part)
        .zip(imaginary.chunks(part))
        .flat_map(|(re, im)| re.iter().chain(im).copied())
        .collect()
}

/// Puts Fortran-order elements in C order, moving whole elements of `itemsize` bytes.
pub fn fortran_to_c(bytes: &[u8], shape: &[usize], itemsize: usize) -> Vec<u8> {
    if bytes.is_empty() {
        return Vec::new();
    }
    // The element bytes form one more, innermost axis, so the view iterates byte by byte.
    let mut dims = shape.to_vec();
    dims.push(itemsize);
    let mut strides = Vec::with_capacity(dims.len());
    let mut stride = itemsize;
    for &dim in shape {
        strides.push(stride);
        stride *= dim;
    }
    strides.push(1);
    let view = ArrayViewD::from_shape(IxDyn(&dims).strides(IxDyn(&strides)), bytes)
        .expect("strides of a Fortran-order array fit its bytes");
    view.iter().copied().collect()
}

/// Reverses the byte order of each `unit`-byte scalar as the data streams through.
pub struct SwapReader<R> {
    inner: R,
    unit: usize,
    buffer: AlignedBuf,
    position: usize,
    filled: usize,
}

impl<R: Read> SwapReader<R> {
    pub fn new(inner: R, unit: usize) -> Self {
        SwapReader {
            inner,
            unit,
            buffer: AlignedBuf::new(BUFFER),
            position: 0,
            filled: 0,
        }
    }
}

impl<R: Read> Read for SwapReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.position == self.filled {
            // Filling the buffer whole keeps scalars from straddling two reads.
            self.filled = read_full(&mut self.inner, &mut self.buffer)?;
            self.position = 0;
            let whole = self.filled / self.unit * self.unit;
            for scalar in self.buffer[..whole].chunks_exact_mut(self.unit) {
                scalar.reverse();
            }
        }
        let count = buf.len().min(self.filled - self.position);
        buf[..count].copy_from_slice(&self.buffer[self.position..self.position + count]);
        self.position += count;
        Ok(count)
    }
}

impl<R: Payload> Payload for SwapReader<R> {
    fn finish(&mut self) -> Result<()> {
        self.inner.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fortran_order_becomes_c_order() {
        // A 2x3 int16 array [[1,2,3],[4,5,6]] stored column by column.
        let fortran: Vec<u8> = [1i16, 4, 2, 5, 3, 6]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let c: Vec<u8> = (1i16..=6).flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(fortran_to_c(&fortran, &[2, 3], 2), c);
    }

    #[test]
    fn planar_complex_becomes_interleaved() {
        assert_eq!(
            planar_to_interleaved(&[1, 2, 3, 4, 5, 6, 7, 8], 2),
            [1, 2, 5, 6, 3, 4, 7, 8]
        );
    }

    #[test]
    fn swap_reader_reverses_each_scalar() {
        let data: Vec<u8> = (0u8..16).collect();
        let mut out = Vec::new();
        SwapReader::new(data.as_slice(), 4)
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(&out[..8], &[3, 2, 1, 0, 7, 6, 5, 4]);
    }
}
