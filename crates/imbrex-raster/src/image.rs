//! `ImageData`: pixels, their validity and their place, travelling together (rio-tiler's
//! `ImageData`).

use imbrex_tms::{Bounds, Crs};

use crate::array::{Buffer, DataType, Sample};

/// A read result: `count` bands of `height` x `width` samples in the source type, a
/// validity mask per band (255 valid, 0 masked), and where the pixels are.
#[derive(Clone, Debug)]
pub struct ImageData {
    pub width: usize,
    pub height: usize,
    pub count: usize,
    /// Band-sequential samples: `count` x `height` x `width`.
    pub data: Buffer,
    /// Band-sequential validity (255 valid, 0 masked), same layout as `data`.
    pub band_mask: Vec<u8>,
    pub bounds: Bounds,
    /// `None` for pixel-space images.
    pub crs: Option<Crs>,
    pub band_names: Vec<String>,
    /// Band descriptions (the dataset's, or the band name).
    pub band_descriptions: Vec<String>,
    pub nodata: Option<f64>,
    pub scales: Vec<f64>,
    pub offsets: Vec<f64>,
    /// The dataset's own alpha band, as read with the data (rio-tiler's `alpha_mask`): when
    /// present it, not the validity, is the image's mask (partly transparent pixels stay
    /// partly transparent).
    pub alpha_mask: Option<Buffer>,
}

impl ImageData {
    /// One band named `b1`, without a CRS or nodata (legend swatches, a band evaluated on
    /// its own).
    pub fn one_band(width: usize, height: usize, data: Buffer, band_mask: Vec<u8>, bounds: Bounds) -> ImageData {
        ImageData {
            width,
            height,
            count: 1,
            data,
            band_mask,
            bounds,
            crs: None,
            band_names: vec!["b1".into()],
            band_descriptions: vec!["b1".into()],
            nodata: None,
            scales: vec![1.0],
            offsets: vec![0.0],
            alpha_mask: None,
        }
    }

    pub fn dtype(&self) -> DataType {
        self.data.dtype()
    }

    /// 255 where a pixel is valid in every band (rio-tiler masks a band-math result there,
    /// and the shared oracle's tile masks are these).
    pub fn valid_all(&self) -> Vec<u8> {
        let n = self.width * self.height;
        let mut out = vec![255u8; n];
        for b in 0..self.count {
            for (o, m) in out.iter_mut().zip(&self.band_mask[b * n..(b + 1) * n]) {
                if *m == 0 {
                    *o = 0;
                }
            }
        }
        out
    }

    /// 255 where a pixel is valid in at least one band: rio-tiler's merged mask
    /// (`numpy.logical_or.reduce(~array.mask)`), what TiTiler draws as opaque.
    pub fn valid_any(&self) -> Vec<u8> {
        let n = self.width * self.height;
        let mut out = vec![0u8; n];
        for b in 0..self.count {
            for (o, m) in out.iter_mut().zip(&self.band_mask[b * n..(b + 1) * n]) {
                if *m != 0 {
                    *o = 255;
                }
            }
        }
        out
    }

    /// The image's mask on 0-255 (rio-tiler's `ImageData.mask` brought to 8 bits): the alpha
    /// band when the dataset has one, else 255 where any band is valid.
    pub fn mask(&self) -> Vec<u8> {
        match &self.alpha_mask {
            Some(alpha) => {
                let (lo, hi) = (alpha.dtype().min_value(), alpha.dtype().max_value());
                (0..alpha.len())
                    .map(|i| {
                        let v = alpha.get_f64(i);
                        if alpha.dtype() == DataType::Uint8 {
                            v as u8
                        } else {
                            crate::render::colormap::cast_u8((v.clamp(lo, hi) - lo) / (hi - lo) * 255.0)
                        }
                    })
                    .collect()
            }
            None => self.valid_any(),
        }
    }

    /// rio-tiler's `ImageData.mask` in its own type, as TiTiler appends it to NPY output:
    /// the alpha band when there is one, else the type's maximum where any band is valid
    /// and its minimum elsewhere.
    pub fn typed_mask(&self) -> Buffer {
        match &self.alpha_mask {
            Some(alpha) => alpha.clone(),
            None => {
                let dtype = self.dtype();
                let (lo, hi) = (dtype.min_value(), dtype.max_value());
                let any = self.valid_any();
                crate::with_dtype!(dtype, T => {
                    let (lo, hi) = (T::from_f64(lo), T::from_f64(hi));
                    T::wrap(any.iter().map(|&m| if m != 0 { hi } else { lo }).collect())
                })
            }
        }
    }

    /// Number of pixels valid in every band.
    pub fn valid_pixels(&self) -> usize {
        self.valid_all().iter().filter(|&&m| m != 0).count()
    }

    /// One band's samples as f64 (for statistics and band math).
    pub fn band_f64(&self, b: usize) -> Vec<f64> {
        let n = self.width * self.height;
        (b * n..(b + 1) * n).map(|i| self.data.get_f64(i)).collect()
    }

    /// Keep only some bands (0-based), in the given order.
    pub fn select_bands(&self, bands: &[usize]) -> ImageData {
        let n = self.width * self.height;
        let data = crate::with_buffer!(&self.data, v, T => {
            let mut out = Vec::with_capacity(bands.len() * n);
            for &b in bands {
                out.extend_from_slice(&v[b * n..(b + 1) * n]);
            }
            <T as crate::array::Sample>::wrap(out)
        });
        let mut band_mask = Vec::with_capacity(bands.len() * n);
        for &b in bands {
            band_mask.extend_from_slice(&self.band_mask[b * n..(b + 1) * n]);
        }
        ImageData {
            width: self.width,
            height: self.height,
            count: bands.len(),
            data,
            band_mask,
            bounds: self.bounds,
            crs: self.crs.clone(),
            band_names: bands.iter().map(|&b| self.band_names[b].clone()).collect(),
            band_descriptions: bands.iter().map(|&b| self.band_descriptions[b].clone()).collect(),
            nodata: self.nodata,
            scales: bands.iter().map(|&b| self.scales.get(b).copied().unwrap_or(1.0)).collect(),
            offsets: bands.iter().map(|&b| self.offsets.get(b).copied().unwrap_or(0.0)).collect(),
            alpha_mask: self.alpha_mask.clone(),
        }
    }

    /// Bands of several images of one grid, one after the other (numpy's `concatenate` of
    /// rio-tiler's multi-asset reads): samples in the promoted type, band names `b1..bN`,
    /// the first image's place. An image's alpha band becomes its bands' masks (what
    /// rasterio's masked read gives rio-tiler), since one alpha cannot speak for all.
    pub fn stack(images: Vec<ImageData>) -> crate::Result<ImageData> {
        let first = images
            .first()
            .ok_or_else(|| crate::Error::InvalidParameter { name: "assets", reason: "nothing to stack".into() })?;
        let (width, height) = (first.width, first.height);
        if let Some(odd) = images.iter().find(|i| i.width != width || i.height != height) {
            return Err(crate::Error::Unsupported {
                reason: format!("stacked reads disagree on size: {width}x{height} and {}x{}", odd.width, odd.height),
            });
        }
        let dtype = images.iter().map(ImageData::dtype).reduce(DataType::promote).expect("at least one image");
        let count: usize = images.iter().map(|i| i.count).sum();
        let (bounds, crs, nodata) = (first.bounds, first.crs.clone(), first.nodata);
        let mut band_mask = Vec::with_capacity(count * width * height);
        let (mut descriptions, mut scales, mut offsets) = (Vec::new(), Vec::new(), Vec::new());
        let data = crate::with_dtype!(dtype, T => {
            let mut out: Vec<T> = Vec::with_capacity(count * width * height);
            for img in &images {
                let cast = if img.dtype() == dtype { std::borrow::Cow::Borrowed(&img.data) } else { std::borrow::Cow::Owned(img.data.cast(dtype)) };
                out.extend_from_slice(cast.as_slice::<T>().expect("cast to the stacked type"));
            }
            T::wrap(out)
        });
        for img in images {
            let img = img.alpha_into_masks();
            band_mask.extend_from_slice(&img.band_mask);
            descriptions.extend(img.band_descriptions);
            scales.extend((0..img.count).map(|b| img.scales.get(b).copied().unwrap_or(1.0)));
            offsets.extend((0..img.count).map(|b| img.offsets.get(b).copied().unwrap_or(0.0)));
        }
        Ok(ImageData {
            width,
            height,
            count,
            data,
            band_mask,
            bounds,
            crs,
            band_names: (1..=count).map(|i| format!("b{i}")).collect(),
            band_descriptions: descriptions,
            nodata,
            scales,
            offsets,
            alpha_mask: None,
        })
    }

    /// The alpha band, when there is one, folded into every band's mask (a pixel whose alpha
    /// is 0 is masked): what rasterio's masked read gives rio-tiler, for code that combines
    /// images and so cannot keep one alpha band for all.
    pub fn alpha_into_masks(mut self) -> ImageData {
        let Some(alpha) = self.alpha_mask.take() else { return self };
        let n = self.width * self.height;
        for (i, m) in self.band_mask.iter_mut().enumerate() {
            if alpha.get_f64(i % n) <= 0.0 {
                *m = 0;
            }
        }
        self
    }

    /// Crop `pad` pixels from every side.
    pub fn crop(&self, pad: usize) -> ImageData {
        let (w, h) = (self.width - 2 * pad, self.height - 2 * pad);
        let n = self.width * self.height;
        let data = crate::with_buffer!(&self.data, v, T => {
            let mut out = Vec::with_capacity(self.count * w * h);
            for b in 0..self.count {
                for y in pad..pad + h {
                    let row = b * n + y * self.width;
                    out.extend_from_slice(&v[row + pad..row + pad + w]);
                }
            }
            <T as crate::array::Sample>::wrap(out)
        });
        let mut band_mask = Vec::with_capacity(self.count * w * h);
        for b in 0..self.count {
            for y in pad..pad + h {
                let row = b * n + y * self.width;
                band_mask.extend_from_slice(&self.band_mask[row + pad..row + pad + w]);
            }
        }
        let alpha_mask = self.alpha_mask.as_ref().map(|a| {
            crate::with_buffer!(a, v, T => {
                let mut out = Vec::with_capacity(w * h);
                for y in pad..pad + h {
                    out.extend_from_slice(&v[y * self.width + pad..y * self.width + pad + w]);
                }
                <T as crate::array::Sample>::wrap(out)
            })
        });
        ImageData { width: w, height: h, data, band_mask, alpha_mask, ..self.clone() }
    }

    /// Apply scale and offset (rio-tiler's `unscale`): float32 samples `v * scale + offset`.
    pub fn unscale(&self) -> ImageData {
        let n = self.width * self.height;
        let mut out = Vec::with_capacity(self.count * n);
        for b in 0..self.count {
            let (s, o) = (self.scales.get(b).copied().unwrap_or(1.0), self.offsets.get(b).copied().unwrap_or(0.0));
            for i in b * n..(b + 1) * n {
                out.push((self.data.get_f64(i) as f32) * s as f32 + o as f32);
            }
        }
        ImageData {
            data: Buffer::Float32(out),
            scales: vec![1.0; self.count],
            offsets: vec![0.0; self.count],
            ..self.clone()
        }
    }
}

/// A value read at one location (rio-tiler's `PointData`).
#[derive(Clone, Debug)]
pub struct PointData {
    pub values: Vec<f64>,
    pub valid: Vec<bool>,
    pub band_names: Vec<String>,
    pub band_descriptions: Vec<String>,
    /// Pixel column and row the value was read from.
    pub pixel_location: (f64, f64),
    /// Coordinates in the dataset CRS.
    pub coordinates: (f64, f64),
    pub crs: Option<Crs>,
}

impl PointData {
    /// A band-math expression over the values, evaluated as over a 1 x 1 image of type
    /// `dtype` (the type the read gave: rio-tiler applies it to the point's array).
    pub fn apply(&self, expression: &crate::expr::Expression, dtype: DataType) -> crate::Result<PointData> {
        let out = expression.apply(&self.to_image(dtype))?;
        Ok(self.clone().with_values_of(out))
    }

    /// The values as a 1 x 1 image of `dtype`, one band per value: what is computed over
    /// images (band math, a mosaic's pixel selection) computed over a point.
    pub fn to_image(&self, dtype: DataType) -> ImageData {
        let n = self.values.len();
        ImageData {
            width: 1,
            height: 1,
            count: n,
            data: Buffer::Float64(self.values.clone()).cast(dtype),
            band_mask: self.valid.iter().map(|&v| if v { 255 } else { 0 }).collect(),
            bounds: Bounds::new(0.0, 0.0, 1.0, 1.0),
            crs: None,
            band_names: self.band_names.clone(),
            band_descriptions: self.band_descriptions.clone(),
            nodata: None,
            scales: vec![1.0; n],
            offsets: vec![0.0; n],
            alpha_mask: None,
        }
    }

    /// This point with the values, validity and names of a 1 x 1 image.
    pub fn with_values_of(self, img: ImageData) -> PointData {
        PointData {
            values: (0..img.count).map(|b| img.data.get_f64(b)).collect(),
            valid: img.band_mask.iter().map(|&m| m != 0).collect(),
            band_names: img.band_names,
            band_descriptions: img.band_descriptions,
            ..self
        }
    }
}
