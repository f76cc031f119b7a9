//! rio-tiler's pixel selection methods: how the images of several assets become one.
//!
//! Each method is fed the assets' images in the mosaic's order and follows numpy's
//! masked-array semantics element by element (a pixel of a band is valid or masked on its
//! own), so the results equal rio-tiler's `mosaic_reader` output.

use std::str::FromStr;

use crate::array::{Buffer, DataType};
use crate::error::{Error, Result};
use crate::image::ImageData;

/// A pixel selection method (TiTiler's `pixel_selection=`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PixelSelection {
    /// The first valid pixel; reading stops once the tile is full.
    #[default]
    First,
    Highest,
    Lowest,
    Mean,
    Median,
    Stdev,
    /// The bands of the asset whose last band is lowest (the last band is dropped).
    LastBandLow,
    LastBandHigh,
    /// How many assets have a valid pixel (of the first band).
    Count,
}

impl PixelSelection {
    pub const NAMES: [&'static str; 9] =
        ["first", "highest", "lowest", "mean", "median", "stdev", "lastbandlow", "lastbandhigh", "count"];
}

impl FromStr for PixelSelection {
    type Err = Error;
    fn from_str(s: &str) -> Result<PixelSelection> {
        use PixelSelection::*;
        Ok(match s {
            "first" => First,
            "highest" => Highest,
            "lowest" => Lowest,
            "mean" => Mean,
            "median" => Median,
            "stdev" => Stdev,
            "lastbandlow" => LastBandLow,
            "lastbandhigh" => LastBandHigh,
            "count" => Count,
            _ => {
                return Err(Error::InvalidParameter {
                    name: "pixel_selection",
                    reason: format!("'{s}' is not one of {}", PixelSelection::NAMES.join(", ")),
                });
            }
        })
    }
}

/// The most bytes the `median` method keeps of the images it is fed (every value of every
/// image is needed to the end): a request above it is refused.
pub const MEDIAN_BYTES: usize = 1 << 30;

/// Images fed one by one, combined by a [`PixelSelection`].
#[derive(Debug)]
pub struct Selector {
    method: PixelSelection,
    /// The first image: its grid, type and names.
    head: Option<ImageData>,
    /// first/highest/lowest/lastband*: the mosaic so far. mean: the running sums.
    /// stdev: the running means (Welford's).
    values: Vec<f64>,
    valid: Vec<bool>,
    /// mean, stdev, count: how many valid values each element has had.
    counts: Vec<u32>,
    /// stdev: the running sums of squared differences (Welford's).
    m2: Vec<f64>,
    /// median: every image's values and validity.
    stack: Vec<(Vec<f64>, Vec<bool>)>,
    /// Images fed.
    fed: usize,
    /// The images' promoted type (numpy's `where` and `stack` promote).
    dtype: Option<DataType>,
    /// The most bytes the running arrays may hold (see [`ReadOptions::max_bytes`]).
    max_bytes: u64,
}

impl Selector {
    /// A selector whose running arrays stay within `max_bytes`.
    pub fn new(method: PixelSelection, max_bytes: u64) -> Selector {
        Selector {
            max_bytes,
            method,
            head: None,
            values: Vec::new(),
            valid: Vec::new(),
            counts: Vec::new(),
            m2: Vec::new(),
            stack: Vec::new(),
            fed: 0,
            dtype: None,
        }
    }

    pub fn feed(&mut self, img: ImageData) -> Result<()> {
        use PixelSelection::*;
        if matches!(self.method, LastBandLow | LastBandHigh) && img.count < 2 {
            return Err(Error::InvalidParameter {
                name: "pixel_selection",
                reason: format!(
                    "{:?} decides by the last band and returns the others: the assets give {} band(s)",
                    self.method, img.count
                )
                .to_lowercase(),
            });
        }
        if let Some(h) = &self.head
            && (h.count != img.count || h.width != img.width || h.height != img.height)
        {
            return Err(Error::Unsupported {
                reason: format!("the mosaic's assets disagree: {} band(s) and {} band(s)", h.count, img.count),
            });
        }
        let img = img.alpha_into_masks();
        self.dtype = Some(self.dtype.map_or(img.dtype(), |d| d.promote(img.dtype())));
        let keeps_one = matches!(self.method, First | Highest | Lowest | LastBandLow | LastBandHigh);
        if keeps_one && self.head.is_none() {
            // Converted only if a second image comes: one image is its own mosaic.
            self.fed = 1;
            self.head = Some(img);
            return Ok(());
        }
        if keeps_one && self.values.is_empty() {
            let head = self.head.as_ref().expect("fed once");
            self.values = head.data.to_f64_vec();
            self.valid = head.band_mask.iter().map(|&m| m != 0).collect();
        }
        let values = img.data.to_f64_vec();
        let valid: Vec<bool> = img.band_mask.iter().map(|&m| m != 0).collect();
        let len = values.len();
        if self.fed <= 1 {
            // The running arrays, per sample: a float64 and a validity byte, plus a count
            // (mean, stdev, count) and a float64 of squares (stdev); median keeps them all.
            let per_sample: u64 = match self.method {
                Mean | Count => 13,
                Stdev => 21,
                Median => 9,
                _ => 9,
            };
            let bytes = (len as u64).saturating_mul(per_sample);
            if bytes > self.max_bytes {
                return Err(Error::LimitExceeded {
                    limit: crate::reader::OUTPUT_BYTES,
                    value: bytes,
                    max: self.max_bytes,
                });
            }
        }
        if self.head.is_none() {
            self.counts = vec![0; if matches!(self.method, Mean | Stdev | Count) { len } else { 0 }];
            self.m2 = vec![0.0; if self.method == Stdev { len } else { 0 }];
            match self.method {
                Mean | Stdev | Count => {
                    self.values = vec![0.0; len];
                    self.valid = vec![false; len];
                }
                _ => {}
            }
        }
        self.fed += 1;
        match self.method {
            Median => {
                let bytes = (self.stack.len() + 1) * len * 9;
                if bytes as u64 > self.max_bytes {
                    return Err(Error::LimitExceeded {
                        limit: crate::reader::OUTPUT_BYTES,
                        value: bytes as u64,
                        max: self.max_bytes,
                    });
                }
                if bytes > MEDIAN_BYTES {
                    return Err(Error::LimitExceeded {
                        limit: "median bytes",
                        value: bytes as u64,
                        max: MEDIAN_BYTES as u64,
                    });
                }
                self.stack.push((values, valid));
            }
            Mean | Count => {
                for i in 0..len {
                    if valid[i] {
                        self.counts[i] += 1;
                        self.values[i] += values[i];
                    }
                }
            }
            Stdev => {
                for i in 0..len {
                    if valid[i] {
                        self.counts[i] += 1;
                        let d = values[i] - self.values[i];
                        self.values[i] += d / self.counts[i] as f64;
                        self.m2[i] += d * (values[i] - self.values[i]);
                    }
                }
            }
            _ => self.merge(&values, &valid, &img),
        }
        if self.head.is_none() {
            self.head = Some(img);
        }
        Ok(())
    }

    /// rio-tiler's `feed` of the methods that keep one mosaic.
    fn merge(&mut self, a: &[f64], av: &[bool], img: &ImageData) {
        let n = img.width * img.height;
        let last = img.count - 1;
        for i in 0..a.len() {
            let (m, mv) = (self.values[i], self.valid[i]);
            let take = match self.method {
                PixelSelection::First => !mv && av[i],
                PixelSelection::Highest => (a[i] > m && av[i]) || !mv,
                PixelSelection::Lowest => (a[i] < m && av[i]) || !mv,
                PixelSelection::LastBandHigh | PixelSelection::LastBandLow => {
                    let p = i % n;
                    let (al, ml) = (a[last * n + p], self.values[last * n + p]);
                    let better = if self.method == PixelSelection::LastBandHigh { al > ml } else { al < ml };
                    (better && av[i]) || !mv
                }
                _ => unreachable!("only the methods that keep one mosaic merge"),
            };
            if take {
                self.values[i] = a[i];
                self.valid[i] = av[i];
            }
        }
    }

    /// True when more images cannot change the result (`first` with every pixel valid).
    pub fn is_done(&self) -> bool {
        if self.method != PixelSelection::First {
            return false;
        }
        match (&self.head, self.fed) {
            (None, _) => false,
            (Some(h), 1) => h.band_mask.iter().all(|&m| m != 0),
            _ => self.valid.iter().all(|&v| v),
        }
    }

    /// The combined image, or `None` when nothing was fed.
    pub fn finish(self) -> Option<ImageData> {
        use PixelSelection::*;
        let Selector { method, head, mut values, mut valid, counts, m2, stack, fed, dtype: promoted, max_bytes: _ } =
            self;
        let mut head = head?;
        if fed == 1 && matches!(method, First | Highest | Lowest | Mean | Median) {
            // One image: its own first, highest, lowest, mean and median.
            head.band_names = (1..=head.count).map(|i| format!("b{i}")).collect();
            return Some(head);
        }
        if values.is_empty() && matches!(method, LastBandHigh | LastBandLow) {
            values = head.data.to_f64_vec();
            valid = head.band_mask.iter().map(|&m| m != 0).collect();
        }
        let n = head.width * head.height;
        // Mean and median keep the first image's type (rio-tiler's `astype(stack[0].dtype)`);
        // the others the promoted type of all.
        let dtype = head.dtype();
        let promoted = promoted.unwrap_or(dtype);
        let len = head.count * n;
        let (values, valid, dtype, count) = match method {
            First | Highest | Lowest => (values, valid, promoted, head.count),
            LastBandHigh | LastBandLow => {
                let keep = (head.count - 1) * n;
                (values[..keep].to_vec(), valid[..keep].to_vec(), promoted, head.count - 1)
            }
            Count => {
                // numpy: uint8 below 256 images, else its default integer; one band.
                let t = if fed < 256 { DataType::Uint8 } else { DataType::Int32 };
                (counts[..n].iter().map(|&c| c as f64).collect(), vec![true; n], t, 1)
            }
            Mean => {
                let values = (0..len).map(|i| if counts[i] > 0 { values[i] / counts[i] as f64 } else { 0.0 });
                (values.collect(), counts.iter().map(|&c| c > 0).collect(), dtype, head.count)
            }
            // The standard deviation of integers is float64 (numpy's `std`).
            Stdev => {
                let values = (0..len).map(|i| if counts[i] > 0 { (m2[i] / counts[i] as f64).sqrt() } else { 0.0 });
                let t = if promoted.is_float() { promoted } else { DataType::Float64 };
                (values.collect(), counts.iter().map(|&c| c > 0).collect(), t, head.count)
            }
            Median => {
                let (mut values, mut valid) = (vec![0.0; len], vec![false; len]);
                let mut column = Vec::with_capacity(stack.len());
                for i in 0..len {
                    column.clear();
                    column.extend(stack.iter().filter(|(_, v)| v[i]).map(|(d, _)| d[i]));
                    if !column.is_empty() {
                        valid[i] = true;
                        values[i] = median(&mut column);
                    }
                }
                (values, valid, dtype, head.count)
            }
        };
        // Mean and median keep the assets' type (numpy's `astype`: truncation).
        let data = to_type(&values, dtype);
        let band_mask = valid.iter().map(|&v| if v { 255 } else { 0 }).collect();
        Some(ImageData {
            count,
            data,
            band_mask,
            band_names: (1..=count).map(|i| format!("b{i}")).collect(),
            band_descriptions: head.band_descriptions.iter().take(count).cloned().collect(),
            scales: head.scales.iter().take(count).cloned().collect(),
            offsets: head.offsets.iter().take(count).cloned().collect(),
            alpha_mask: None,
            ..head
        })
    }
}

/// numpy's median: the middle value, or the mean of the two middle values.
fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let k = v.len();
    if k % 2 == 1 { v[k / 2] } else { (v[k / 2 - 1] + v[k / 2]) / 2.0 }
}

/// Values as `dtype`, as numpy's `astype` casts them (integers truncate toward zero).
fn to_type(values: &[f64], dtype: DataType) -> Buffer {
    let cast: Vec<f64> = if dtype.is_float() { values.to_vec() } else { values.iter().map(|v| v.trunc()).collect() };
    Buffer::Float64(cast).cast(dtype)
}

#[cfg(test)]
mod tests {
    use imbrex_tms::Bounds;

    use super::*;

    fn img(values: &[f64], valid: &[bool]) -> ImageData {
        ImageData::one_band(
            values.len(),
            1,
            Buffer::Uint16(values.iter().map(|&v| v as u16).collect()),
            valid.iter().map(|&v| if v { 255 } else { 0 }).collect(),
            Bounds::new(0.0, 0.0, 1.0, 1.0),
        )
    }

    fn run(method: PixelSelection, imgs: &[ImageData]) -> (Vec<f64>, Vec<u8>) {
        let mut s = Selector::new(method, u64::MAX);
        for i in imgs {
            s.feed(i.clone()).unwrap();
        }
        let out = s.finish().unwrap();
        (out.data.to_f64_vec(), out.band_mask)
    }

    #[test]
    fn methods_follow_masked_arrays() {
        let a = img(&[1.0, 5.0, 0.0, 4.0], &[true, true, false, true]);
        let b = img(&[3.0, 2.0, 7.0, 0.0], &[true, true, true, false]);
        assert_eq!(run(PixelSelection::First, &[a.clone(), b.clone()]).0, vec![1.0, 5.0, 7.0, 4.0]);
        assert_eq!(run(PixelSelection::Highest, &[a.clone(), b.clone()]).0, vec![3.0, 5.0, 7.0, 4.0]);
        assert_eq!(run(PixelSelection::Lowest, &[a.clone(), b.clone()]).0, vec![1.0, 2.0, 7.0, 4.0]);
        let (mean, mask) = run(PixelSelection::Mean, &[a.clone(), b.clone()]);
        assert_eq!(mean, vec![2.0, 3.0, 7.0, 4.0], "3.5 truncates to 3 in uint16");
        assert_eq!(mask, vec![255; 4]);
        assert_eq!(run(PixelSelection::Count, &[a.clone(), b.clone()]).0, vec![2.0, 2.0, 1.0, 1.0]);
        let (sd, _) = run(PixelSelection::Stdev, &[a.clone(), b.clone()]);
        assert_eq!(sd, vec![1.0, 1.5, 0.0, 0.0]);
        let c = img(&[10.0, 0.0, 0.0, 0.0], &[true, false, false, false]);
        assert_eq!(run(PixelSelection::Median, &[a.clone(), b, c]).0[..2], [3.0, 3.0]);
        let mut s = Selector::new(PixelSelection::LastBandHigh, u64::MAX);
        assert!(s.feed(a).is_err(), "lastband methods need two bands");
    }

    #[test]
    fn the_result_takes_the_promoted_type() {
        let mut small = img(&[1.0, 2.0], &[true, true]);
        small.data = Buffer::Uint8(vec![1, 2]);
        let big = img(&[300.0, 1.0], &[true, true]);
        let mut s = Selector::new(PixelSelection::Highest, u64::MAX);
        s.feed(small).unwrap();
        s.feed(big).unwrap();
        let out = s.finish().unwrap();
        assert_eq!(out.dtype(), DataType::Uint16);
        assert_eq!(out.data.to_f64_vec(), vec![300.0, 2.0]);
    }

    #[test]
    fn first_is_done_when_full() {
        let mut s = Selector::new(PixelSelection::First, u64::MAX);
        s.feed(img(&[1.0, 0.0], &[true, false])).unwrap();
        assert!(!s.is_done());
        s.feed(img(&[2.0, 2.0], &[true, true])).unwrap();
        assert!(s.is_done());
    }
}
