//! A NumPy `.npy` file read by ranges (`pread`), never whole: the header is parsed, and
//! a window of rows and columns is gathered from the file with one read per line of the
//! window along its fastest-varying axis. C and Fortran order, any byte order, and the
//! numeric dtypes numpy writes (64-bit integers become float64, float16 becomes
//! float32, bool becomes uint8).
//!
//! Why not the `npyz` crate: it reads arrays as a stream of elements from the start,
//! while a tile needs a small window of a file that may be larger than memory.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use crate::array::{Buffer, DataType, Sample};
use crate::error::{Error, Result};

/// How a file's samples are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Bool,
    Uint(usize),
    Int(usize),
    Float(usize),
}

/// The axes of an array as an image: bands, rows, columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// `(rows, cols)`: one band.
    Gray,
    /// `(bands, rows, cols)`, rasterio's order.
    BandsFirst,
    /// `(rows, cols, bands)`, image libraries' order (PIL, OpenCV, matplotlib).
    BandsLast,
}

/// An opened `.npy` file.
#[derive(Debug)]
pub struct ArrayFile {
    file: File,
    id: String,
    kind: Kind,
    big_endian: bool,
    /// Where the samples start.
    offset: u64,
    pub width: usize,
    pub height: usize,
    pub count: usize,
    pub layout: Layout,
    pub fortran_order: bool,
    /// Strides in samples of (band, row, column).
    strides: [usize; 3],
}

/// True when the bytes start like an `.npy` file.
pub fn is_npy(head: &[u8]) -> bool {
    head.starts_with(b"\x93NUMPY")
}

/// Largest header read (numpy itself caps headers at 10,000 bytes by default).
const MAX_HEADER: usize = 1 << 16;

impl ArrayFile {
    pub fn open(path: &Path, id: &str) -> Result<ArrayFile> {
        let file = File::open(path).map_err(|e| Error::NotFound { what: format!("{id} ({e})") })?;
        ArrayFile::from_file(file, id, None)
    }

    /// Read an opened file; `layout` decides how a 3-D array's axes are read (else the
    /// shape does: see [`Layout`]).
    pub fn from_file(file: File, id: &str, layout: Option<Layout>) -> Result<ArrayFile> {
        let size = file.metadata().map_err(|e| Error::corrupt(id, e.to_string()))?.len();
        let mut pre = [0u8; 12];
        read_at(&file, &mut pre, 0, id)?;
        if !is_npy(&pre) {
            return Err(Error::corrupt(id, "not an .npy file"));
        }
        let (len, start) = match pre[6] {
            1 => (u16::from_le_bytes([pre[8], pre[9]]) as usize, 10),
            2 | 3 => (u32::from_le_bytes([pre[8], pre[9], pre[10], pre[11]]) as usize, 12),
            v => return Err(Error::corrupt(id, format!(".npy format version {v} is not supported"))),
        };
        if len > MAX_HEADER {
            return Err(Error::corrupt(id, format!(".npy header of {len} bytes")));
        }
        let mut text = vec![0u8; len];
        read_at(&file, &mut text, start as u64, id)?;
        let text = String::from_utf8_lossy(&text);
        let header = parse_header(&text).map_err(|e| Error::corrupt(id, format!(".npy header: {e}")))?;
        let (kind, big_endian) = parse_descr(&header.descr).map_err(|e| Error::corrupt(id, e))?;
        let (layout, count, height, width) = match (header.shape.as_slice(), layout) {
            (&[h, w], _) => (Layout::Gray, 1, h, w),
            (&[a, b, c], Some(Layout::BandsLast)) => (Layout::BandsLast, c, a, b),
            (&[c, h, w], Some(Layout::BandsFirst)) => (Layout::BandsFirst, c, h, w),
            // A last axis of 1-4 after a longer first one is a pixel's colour (RGB, RGBA).
            (&[a, b, c], _) if (1..=4).contains(&c) && a > 4 => (Layout::BandsLast, c, a, b),
            (&[c, h, w], _) => (Layout::BandsFirst, c, h, w),
            _ => {
                return Err(Error::unsupported(format!(
                    "{id}: an image array has 2 or 3 dimensions, this one has shape {:?}",
                    header.shape
                )));
            }
        };
        if width == 0 || height == 0 || count == 0 {
            return Err(Error::corrupt(id, "empty array"));
        }
        // The size first: it bounds every stride below (no product can overflow then).
        let shape = &header.shape;
        let offset = (start + len) as u64;
        let samples = shape.iter().try_fold(1u64, |a, &d| a.checked_mul(d as u64));
        let need = samples.and_then(|s| s.checked_mul(kind.size() as u64)).and_then(|b| b.checked_add(offset));
        if need.is_none_or(|n| n > size) {
            return Err(Error::corrupt(id, format!("shape {shape:?} needs more bytes than the file's {size}")));
        }
        // Strides of the stored axes, then put in (band, row, column) order.
        let mut axis_strides = vec![1usize; shape.len()];
        if header.fortran_order {
            for i in 1..shape.len() {
                axis_strides[i] = axis_strides[i - 1] * shape[i - 1];
            }
        } else {
            for i in (0..shape.len() - 1).rev() {
                axis_strides[i] = axis_strides[i + 1] * shape[i + 1];
            }
        }
        let strides = match layout {
            Layout::Gray => [0, axis_strides[0], axis_strides[1]],
            Layout::BandsFirst => [axis_strides[0], axis_strides[1], axis_strides[2]],
            Layout::BandsLast => [axis_strides[2], axis_strides[0], axis_strides[1]],
        };
        Ok(ArrayFile {
            file,
            id: id.to_string(),
            kind,
            big_endian,
            offset,
            width,
            height,
            count,
            layout,
            fortran_order: header.fortran_order,
            strides,
        })
    }

    /// The type samples are read as.
    pub fn dtype(&self) -> DataType {
        match self.kind {
            Kind::Bool | Kind::Uint(1) => DataType::Uint8,
            Kind::Int(1) => DataType::Int8,
            Kind::Uint(2) => DataType::Uint16,
            Kind::Int(2) => DataType::Int16,
            Kind::Uint(4) => DataType::Uint32,
            Kind::Int(4) => DataType::Int32,
            Kind::Float(2) | Kind::Float(4) => DataType::Float32,
            _ => DataType::Float64,
        }
    }

    /// A window of every band, band-sequential, in [`ArrayFile::dtype`].
    pub fn read_window(&self, x0: usize, y0: usize, w: usize, h: usize) -> Result<Buffer> {
        if x0 + w > self.width || y0 + h > self.height || w == 0 || h == 0 {
            return Err(Error::InvalidParameter { name: "window", reason: "outside the array".into() });
        }
        crate::with_dtype!(self.dtype(), T => self.gather::<T>(x0, y0, w, h).map(T::wrap))
    }

    fn gather<T: Sample>(&self, x0: usize, y0: usize, w: usize, h: usize) -> Result<Vec<T>> {
        let [sb, sr, sc] = self.strides;
        let size = self.kind.size();
        let mut out = vec![T::default(); self.count * w * h];
        // Lines run along the axis with the smaller stride; one read per line, covering
        // every band when the bands are closer together than the lines.
        let rows_outer = sc <= sr;
        let (outer, inner, so, si) = if rows_outer { (h, w, sr, sc) } else { (w, h, sc, sr) };
        let (o0, i0) = if rows_outer { (y0, x0) } else { (x0, y0) };
        let bands_in_line = self.count == 1 || sb < so;
        let groups: Vec<Vec<usize>> =
            if bands_in_line { vec![(0..self.count).collect()] } else { (0..self.count).map(|b| vec![b]).collect() };
        let mut buf = Vec::new();
        for o in 0..outer {
            for group in &groups {
                let first = group[0] * sb + (o0 + o) * so + i0 * si;
                let last = group[group.len() - 1] * sb + (o0 + o) * so + (i0 + inner - 1) * si;
                buf.resize((last - first + 1) * size, 0);
                read_at(&self.file, &mut buf, self.offset + (first * size) as u64, &self.id)?;
                for &b in group {
                    for i in 0..inner {
                        let at = (b * sb + (o0 + o) * so + (i0 + i) * si - first) * size;
                        let (x, y) = if rows_outer { (i, o) } else { (o, i) };
                        out[b * w * h + y * w + x] = self.sample(&buf[at..at + size]);
                    }
                }
            }
        }
        Ok(out)
    }

    fn sample<T: Sample>(&self, b: &[u8]) -> T {
        let be = self.big_endian;
        macro_rules! num {
            ($t:ty) => {{
                let a = b.try_into().expect("sample size");
                if be { <$t>::from_be_bytes(a) } else { <$t>::from_le_bytes(a) }
            }};
        }
        let v = match (self.kind, b.len()) {
            (Kind::Bool, _) => (b[0] != 0) as u8 as f64,
            (Kind::Uint(1), _) => b[0] as f64,
            (Kind::Int(1), _) => b[0] as i8 as f64,
            (Kind::Uint(2), _) => num!(u16) as f64,
            (Kind::Int(2), _) => num!(i16) as f64,
            (Kind::Uint(4), _) => num!(u32) as f64,
            (Kind::Int(4), _) => num!(i32) as f64,
            (Kind::Uint(_), _) => num!(u64) as f64,
            (Kind::Int(_), _) => num!(i64) as f64,
            (Kind::Float(2), _) => f16_to_f64(num!(u16)),
            (Kind::Float(4), _) => num!(f32) as f64,
            (Kind::Float(_), _) => num!(f64),
        };
        // Every sample fits its target type exactly, so this is a plain conversion.
        T::from_f64(v)
    }
}

impl Kind {
    fn size(self) -> usize {
        match self {
            Kind::Bool => 1,
            Kind::Uint(n) | Kind::Int(n) | Kind::Float(n) => n,
        }
    }
}

fn read_at(file: &File, buf: &mut [u8], at: u64, id: &str) -> Result<()> {
    file.read_exact_at(buf, at).map_err(|e| Error::corrupt(id, format!("reading {} bytes at {at}: {e}", buf.len())))
}

/// IEEE half precision to double.
fn f16_to_f64(h: u16) -> f64 {
    let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = ((h >> 10) & 0x1f) as i32;
    let frac = (h & 0x3ff) as f64;
    sign * match exp {
        0 => frac * 2f64.powi(-24),
        31 if frac == 0.0 => f64::INFINITY,
        31 => f64::NAN,
        e => (1.0 + frac / 1024.0) * 2f64.powi(e - 15),
    }
}

struct Header {
    descr: String,
    fortran_order: bool,
    shape: Vec<usize>,
}

/// The header: a Python dict literal with `descr`, `fortran_order` and `shape`.
fn parse_header(text: &str) -> std::result::Result<Header, String> {
    let value = |key: &str| -> std::result::Result<&str, String> {
        let at = text.find(&format!("'{key}'")).ok_or_else(|| format!("no '{key}'"))?;
        let rest = text[at + key.len() + 2..].trim_start();
        Ok(rest.strip_prefix(':').ok_or_else(|| format!("no value for '{key}'"))?.trim_start())
    };
    let descr = value("descr")?;
    let descr = descr
        .strip_prefix('\'')
        .and_then(|d| d.split_once('\''))
        .map(|(d, _)| d.to_string())
        .ok_or("a structured dtype is not an image")?;
    let fortran_order = value("fortran_order")?.starts_with("True");
    let shape = value("shape")?;
    let inner =
        shape.strip_prefix('(').and_then(|s| s.split_once(')')).map(|(s, _)| s).ok_or("shape is not a tuple")?;
    let shape = inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.trim_end_matches('L').parse::<usize>().map_err(|_| format!("shape entry '{s}'")))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(Header { descr, fortran_order, shape })
}

fn parse_descr(d: &str) -> std::result::Result<(Kind, bool), String> {
    if !d.is_ascii() {
        return Err(format!("dtype '{d}' is not a real number type"));
    }
    let (order, rest) = d.split_at(d.chars().next().filter(|c| "<>|=".contains(*c)).map_or(0, |_| 1));
    let big_endian = order == ">" || (order == "=" && cfg!(target_endian = "big"));
    let (code, size) = rest.split_at(1.min(rest.len()));
    let size: usize = size.parse().map_err(|_| format!("dtype '{d}' is not numeric"))?;
    let kind = match (code, size) {
        ("b", 1) => Kind::Bool,
        ("u", 1 | 2 | 4 | 8) => Kind::Uint(size),
        ("i", 1 | 2 | 4 | 8) => Kind::Int(size),
        ("f", 2 | 4 | 8) => Kind::Float(size),
        _ => return Err(format!("dtype '{d}' is not a real number type")),
    };
    Ok((kind, big_endian))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, header: &str, data: &[u8]) -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!("imbrex-array-{}-{name}.npy", std::process::id()));
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
        bytes.extend_from_slice(header.as_bytes());
        bytes.extend_from_slice(data);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    #[test]
    fn fortran_and_c_order_give_the_same_window() {
        // a[b, r, c] = 100 b + 10 r + c for shape (2, 3, 4).
        let value = |b: usize, r: usize, c: usize| (100 * b + 10 * r + c) as i16;
        let mut c_order = Vec::new();
        let mut f_order = Vec::new();
        for b in 0..2 {
            for r in 0..3 {
                for c in 0..4 {
                    c_order.extend_from_slice(&value(b, r, c).to_le_bytes());
                }
            }
        }
        for c in 0..4 {
            for r in 0..3 {
                for b in 0..2 {
                    f_order.extend_from_slice(&value(b, r, c).to_be_bytes());
                }
            }
        }
        let a = write("c", "{'descr': '<i2', 'fortran_order': False, 'shape': (2, 3, 4), }\n", &c_order);
        let f = write("f", "{'descr': '>i2', 'fortran_order': True, 'shape': (2, 3, 4), }\n", &f_order);
        let (a, f) = (ArrayFile::open(&a, "c").unwrap(), ArrayFile::open(&f, "f").unwrap());
        assert_eq!((a.count, a.height, a.width, a.layout), (2, 3, 4, Layout::BandsFirst));
        let want: Vec<i16> =
            (0..2).flat_map(|b| (1..3).flat_map(move |r| (1..4).map(move |c| value(b, r, c)))).collect();
        for file in [a, f] {
            assert_eq!(file.read_window(1, 1, 3, 2).unwrap().as_slice::<i16>().unwrap(), &want[..]);
        }
    }

    #[test]
    fn rgb_arrays_are_bands_last_and_odd_dtypes_widen() {
        let data: Vec<u8> = (0..5 * 2 * 3).map(|i| i as u8).collect();
        let p = write("rgb", "{'descr': '|u1', 'fortran_order': False, 'shape': (5, 2, 3), }\n", &data);
        let a = ArrayFile::open(&p, "rgb").unwrap();
        assert_eq!((a.count, a.height, a.width, a.layout), (3, 5, 2, Layout::BandsLast));
        // Band 1 (green) of rows 3..5, column 1.
        let w = a.read_window(1, 3, 1, 2).unwrap();
        assert_eq!(w.as_slice::<u8>().unwrap(), &[21, 27, 22, 28, 23, 29]);
        let halves: Vec<u8> = [0x3c00u16, 0xc000].iter().flat_map(|h| h.to_le_bytes()).collect();
        let p = write("f2", "{'descr': '<f2', 'fortran_order': False, 'shape': (1, 2), }\n", &halves);
        let a = ArrayFile::open(&p, "f2").unwrap();
        assert_eq!(a.read_window(0, 0, 2, 1).unwrap().as_slice::<f32>().unwrap(), &[1.0, -2.0]);
        let p = write("c8", "{'descr': '<c8', 'fortran_order': False, 'shape': (1, 1), }\n", &[0; 8]);
        assert!(ArrayFile::open(&p, "c8").is_err());
        let p = write("short", "{'descr': '<f8', 'fortran_order': False, 'shape': (10, 10), }\n", &[0; 8]);
        assert!(ArrayFile::open(&p, "short").is_err());
    }
}
