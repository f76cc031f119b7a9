//! A reader for the `.npy` arrays of the oracle (NumPy format 1.0/2.0, little-endian, C order).

use std::path::Path;

/// An array read from `.npy`: its shape, dtype string and values widened to f64.
#[derive(Clone, Debug)]
pub struct Npy {
    pub shape: Vec<usize>,
    /// NumPy's descr, e.g. `<i2`, `|u1`, `<f4`.
    pub descr: String,
    pub values: Vec<f64>,
}

impl Npy {
    /// Read a file, panicking with its path on anything unexpected.
    pub fn read(path: &Path) -> Npy {
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        Npy::parse(&bytes).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
    }

    /// Parse `.npy` bytes.
    pub fn parse(b: &[u8]) -> Result<Npy, String> {
        if b.len() < 10 || &b[..6] != b"\x93NUMPY" {
            return Err("not an npy file".into());
        }
        let (header_len, start) = match b[6] {
            1 => (u16::from_le_bytes([b[8], b[9]]) as usize, 10),
            2 | 3 => (u32::from_le_bytes([b[8], b[9], b[10], b[11]]) as usize, 12),
            v => return Err(format!("npy version {v}")),
        };
        let header =
            std::str::from_utf8(b.get(start..start + header_len).ok_or("short header")?).map_err(|e| e.to_string())?;
        let field = |key: &str| -> Result<&str, String> {
            let i = header.find(&format!("'{key}':")).ok_or(format!("no {key}"))? + key.len() + 3;
            Ok(header[i..].trim_start())
        };
        let descr_field = field("descr")?;
        let descr = descr_field[1..].split('\'').next().ok_or("descr")?.to_string();
        if field("fortran_order")?.starts_with("True") {
            return Err("Fortran order".into());
        }
        let shape_field = field("shape")?;
        let shape_text = &shape_field[1..shape_field.find(')').ok_or("shape")?];
        let shape: Vec<usize> = shape_text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().map_err(|_| format!("shape {s}")))
            .collect::<Result<_, _>>()?;
        let data = &b[start + header_len..];
        let n: usize = shape.iter().product();
        let kind = &descr[1..];
        let width: usize = kind[1..].parse().map_err(|_| format!("dtype {descr}"))?;
        if descr.starts_with('>') {
            return Err("big-endian npy".into());
        }
        if data.len() < n * width {
            return Err("truncated data".into());
        }
        let values = (0..n)
            .map(|i| {
                let c = &data[i * width..(i + 1) * width];
                match kind {
                    "u1" | "b1" => c[0] as f64,
                    "i1" => c[0] as i8 as f64,
                    "u2" => u16::from_le_bytes([c[0], c[1]]) as f64,
                    "i2" => i16::from_le_bytes([c[0], c[1]]) as f64,
                    "u4" => u32::from_le_bytes(c.try_into().unwrap()) as f64,
                    "i4" => i32::from_le_bytes(c.try_into().unwrap()) as f64,
                    "u8" => u64::from_le_bytes(c.try_into().unwrap()) as f64,
                    "i8" => i64::from_le_bytes(c.try_into().unwrap()) as f64,
                    "f4" => f32::from_le_bytes(c.try_into().unwrap()) as f64,
                    "f8" => f64::from_le_bytes(c.try_into().unwrap()),
                    _ => f64::NAN,
                }
            })
            .collect();
        Ok(Npy { shape, descr, values })
    }

    /// The last band of a TiTiler `.npy` tile as a 0-255 mask. TiTiler appends rio-tiler's
    /// mask in the data's own type: the type's maximum where valid and its minimum where
    /// masked (or the dataset's alpha band, kept as it is).
    pub fn mask_0_255(&self) -> Vec<f64> {
        let n: usize = self.shape[1..].iter().product();
        let (lo, hi) = match &self.descr[1..] {
            "u1" | "b1" => return self.values[self.values.len() - n..].to_vec(),
            "i1" => (i8::MIN as f64, i8::MAX as f64),
            "u2" => (0.0, u16::MAX as f64),
            "i2" => (i16::MIN as f64, i16::MAX as f64),
            "u4" => (0.0, u32::MAX as f64),
            "i4" => (i32::MIN as f64, i32::MAX as f64),
            "f4" => (f32::MIN as f64, f32::MAX as f64),
            _ => (f64::MIN, f64::MAX),
        };
        self.values[self.values.len() - n..]
            .iter()
            .map(|&v| {
                if v == lo {
                    0.0
                } else if v == hi {
                    255.0
                } else {
                    v
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_small_array() {
        let header = "{'descr': '<i2', 'fortran_order': False, 'shape': (2, 3), }";
        let mut h = header.to_string();
        while !(10 + h.len() + 1).is_multiple_of(64) {
            h.push(' ');
        }
        h.push('\n');
        let mut b = b"\x93NUMPY\x01\x00".to_vec();
        b.extend_from_slice(&(h.len() as u16).to_le_bytes());
        b.extend_from_slice(h.as_bytes());
        for v in [1i16, -2, 3, 4, 5, -6] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        let a = Npy::parse(&b).unwrap();
        assert_eq!(a.shape, vec![2, 3]);
        assert_eq!(a.values, vec![1.0, -2.0, 3.0, 4.0, 5.0, -6.0]);
        assert!(Npy::parse(b"nope").is_err());
    }
}
