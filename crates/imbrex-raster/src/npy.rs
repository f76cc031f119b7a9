//! NumPy `.npy` output: TiTiler's raw tile format (data bands, then rio-tiler's mask as one
//! more band, in numpy's promoted type).

use crate::array::{Buffer, DataType};
use crate::image::ImageData;
use crate::with_buffer;

fn descr(dtype: DataType) -> &'static str {
    match dtype {
        DataType::Uint8 => "|u1",
        DataType::Int8 => "|i1",
        DataType::Uint16 => "<u2",
        DataType::Int16 => "<i2",
        DataType::Uint32 => "<u4",
        DataType::Int32 => "<i4",
        DataType::Float32 => "<f4",
        DataType::Float64 => "<f8",
    }
}

/// The NPY 1.0 header of a C-order little-endian array of `dtype` and `shape`.
pub fn header(dtype: DataType, shape: &[usize]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape_text = if dims.len() == 1 { format!("({},)", dims[0]) } else { format!("({})", dims.join(", ")) };
    let mut header = format!("{{'descr': '{}', 'fortran_order': False, 'shape': {shape_text}, }}", descr(dtype));
    // Header padded with spaces so the data starts on a 64-byte boundary, ending in '\n'.
    while !(10 + header.len() + 1).is_multiple_of(64) {
        header.push(' ');
    }
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len());
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out
}

/// Serialise a C-order array of `shape` (NPY format 1.0, little-endian).
pub fn encode(data: &Buffer, shape: &[usize]) -> Vec<u8> {
    let mut out = header(data.dtype(), shape);
    out.reserve(data.len() * data.dtype().size());
    with_buffer!(data, v, T => {
        for s in v {
            out.extend_from_slice(&s.to_le_bytes());
        }
    });
    out
}

/// `(bands + 1, height, width)`: `bands` planes followed by a mask plane, in the type numpy
/// gives their concatenation.
pub fn with_mask(data: &Buffer, bands: usize, height: usize, width: usize, mask: &Buffer) -> Vec<u8> {
    let dtype = DataType::promote(data.dtype(), mask.dtype());
    let mut all = data.cast(dtype);
    let mask = mask.cast(dtype);
    with_buffer!(&mut all, v, T => {
        if let Some(m) = mask.as_slice::<T>() {
            v.extend_from_slice(m);
        }
    });
    encode(&all, &[bands + 1, height, width])
}

impl ImageData {
    /// `(count + 1, height, width)`: the bands followed by rio-tiler's mask (see
    /// [`ImageData::typed_mask`]), as TiTiler's NPY output.
    pub fn to_npy(&self) -> Vec<u8> {
        with_mask(&self.data, self.count, self.height, self.width, &self.typed_mask())
    }
}
