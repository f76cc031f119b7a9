//! Which pixels are valid, as GDAL and rio-tiler decide it: the source of validity
//! (nodata, alpha band, mask band), the masks built from it, and the band planes a read
//! returns beside them.

use crate::array::{Buffer, DataType, Sample};
use crate::with_buffer;

/// How the validity of pixels is known, in rio-tiler's order of preference.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Validity {
    /// A nodata value (the dataset's or the caller's).
    Nodata(f64),
    /// An alpha band (0-based index).
    Alpha(usize),
    /// A per-dataset mask (internal mask or `.msk`).
    Mask,
    /// Everything inside the data is valid.
    None,
}

impl Validity {
    /// The validity of `ds` read with `nodata` (the dataset's or the caller's).
    pub(crate) fn of(ds: &crate::Dataset, nodata: Option<f64>) -> Validity {
        match (nodata, ds.alpha_band()) {
            (Some(nd), _) => Validity::Nodata(nd),
            (None, Some(a)) => Validity::Alpha(a),
            _ if ds.level_has_mask(0) => Validity::Mask,
            _ => Validity::None,
        }
    }

    /// What a warp's destination starts as: the nodata value (0 for a NaN an integer type
    /// cannot hold), else 0.
    pub(super) fn warp_init(self, dtype: DataType) -> f64 {
        match self {
            Validity::Nodata(nd) if !nd.is_nan() || dtype.is_float() => nd,
            _ => 0.0,
        }
    }
}

/// GDAL's nodata mask band (`GDALNoDataMaskBand`): integer data compares with the nodata
/// value when the type can hold it (else nothing is nodata), Float32 in single precision,
/// NaN nodata matches NaN.
pub(super) fn gdal_is_nodata<T: Sample>(v: T, nd: f64, dtype: DataType) -> bool {
    let x = v.to_f64();
    if nd.is_nan() {
        return x.is_nan();
    }
    match dtype {
        DataType::Float32 => x as f32 == nd as f32,
        DataType::Float64 => x == nd,
        _ => dtype.holds(nd) && x == nd,
    }
}

/// An alpha sample as GDAL's mask band gives it: Byte as is, UInt16 through
/// `GDALRescaledAlphaBand` (any non-zero value below 257 stays visible as 1).
pub(super) fn alpha_mask_byte(v: f64, rescaled_u16: bool) -> u8 {
    if v.is_nan() {
        0
    } else if rescaled_u16 {
        let v = v as u32;
        if v > 0 && v < 257 { 1 } else { (v / 257).min(255) as u8 }
    } else {
        (v + 0.5).clamp(0.0, 255.0) as u8
    }
}

/// rio-tiler's nodata mask: per band, `data == nodata` (or NaN) is masked.
pub(super) fn nodata_mask(data: &Buffer, bands: usize, n: usize, nd: f64) -> Vec<u8> {
    let f32_cmp = data.dtype() == DataType::Float32;
    with_buffer!(data, v, T => {
        v[..bands * n]
            .iter()
            .map(|s| {
                let x = s.to_f64();
                let masked = if nd.is_nan() { x.is_nan() } else if f32_cmp { x as f32 == nd as f32 } else { x == nd };
                if masked { 0 } else { 255 }
            })
            .collect()
    })
}

/// rio-tiler's alpha mask: pixels whose alpha is not fully opaque are masked. The alpha
/// plane is the one after the `bands` data planes.
pub(super) fn alpha_mask(data: &Buffer, bands: usize, n: usize, dtype: DataType) -> Vec<u8> {
    let opaque = dtype.max_value();
    let m: Vec<u8> = (0..n).map(|i| if data.get_f64(bands * n + i) == opaque { 255 } else { 0 }).collect();
    (0..bands).flat_map(|_| m.iter().copied()).collect()
}

/// The first `len` samples (the data planes in front of an alpha plane).
pub(super) fn take_bands(b: Buffer, len: usize) -> Buffer {
    if b.len() == len {
        return b;
    }
    with_buffer!(b, v, T => {
        let mut v = v;
        v.truncate(len);
        T::wrap(v)
    })
}

/// Planes `picked` of a band-sequential buffer.
pub(super) fn select_planes(b: &Buffer, picked: &[usize], n: usize) -> Buffer {
    with_buffer!(b, v, T => {
        let mut out = Vec::with_capacity(picked.len() * n);
        for &p in picked {
            out.extend_from_slice(&v[p * n..(p + 1) * n]);
        }
        T::wrap(out)
    })
}
