//! Band statistics as rio-tiler computes them (`get_array_statistics`, numpy semantics):
//! NaN and infinities are masked, percentiles are the "lower" weighted quantiles, the
//! standard deviation is the population one, histograms follow `numpy.histogram`.

use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::array::{Buffer, DataType, Sample};
use crate::image::ImageData;
use crate::with_buffer;

/// Statistics of one band (rio-tiler's `BandStatistics`).
#[derive(Clone, Debug, PartialEq)]
pub struct Statistics {
    pub min: f64,
    pub max: f64,
    pub mean: f64,
    pub count: f64,
    pub sum: f64,
    pub std: f64,
    pub median: f64,
    pub majority: f64,
    pub minority: f64,
    pub unique: f64,
    /// `[counts, edges]` (edges are the categories for categorical statistics).
    pub histogram: (Vec<u64>, Vec<f64>),
    pub valid_percent: f64,
    pub masked_pixels: f64,
    pub valid_pixels: f64,
    pub description: String,
    /// `(percentile, value)` in request order, serialised as `percentile_<p>`.
    pub percentiles: Vec<(f64, f64)>,
}

impl Serialize for Statistics {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("min", &self.min)?;
        m.serialize_entry("max", &self.max)?;
        m.serialize_entry("mean", &self.mean)?;
        m.serialize_entry("count", &self.count)?;
        m.serialize_entry("sum", &self.sum)?;
        m.serialize_entry("std", &self.std)?;
        m.serialize_entry("median", &self.median)?;
        m.serialize_entry("majority", &self.majority)?;
        m.serialize_entry("minority", &self.minority)?;
        m.serialize_entry("unique", &self.unique)?;
        m.serialize_entry("histogram", &(&self.histogram.0, &self.histogram.1))?;
        m.serialize_entry("valid_percent", &self.valid_percent)?;
        m.serialize_entry("masked_pixels", &self.masked_pixels)?;
        m.serialize_entry("valid_pixels", &self.valid_pixels)?;
        m.serialize_entry("description", &self.description)?;
        for (p, v) in &self.percentiles {
            m.serialize_entry(&format!("percentile_{}", *p as i64), v)?;
        }
        m.end()
    }
}

/// How to build histograms (`numpy.histogram`'s `bins` and `range`).
#[derive(Clone, Debug, PartialEq, Default)]
pub enum Bins {
    /// `n` equal bins (10 by default) over `range` or the data's min/max.
    #[default]
    Default,
    Count(usize),
    /// Explicit, increasing edges.
    Edges(Vec<f64>),
}

/// Statistics options (TiTiler's `categorical`, `c`, `p`, `histogram_bins`, `histogram_range`).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct StatisticsOptions {
    pub categorical: bool,
    pub categories: Option<Vec<f64>>,
    /// Percentiles (default 2 and 98).
    pub percentiles: Option<Vec<f64>>,
    pub bins: Bins,
    pub range: Option<(f64, f64)>,
}

impl ImageData {
    /// Per-band statistics of the valid pixels.
    pub fn statistics(&self, opts: &StatisticsOptions) -> Vec<(String, Statistics)> {
        self.statistics_with_coverage(opts, None)
    }

    /// Per-band statistics weighted by a coverage array (the fraction of each pixel inside
    /// a feature, from [`crate::feature::coverage`]), as rio-tiler's zonal statistics.
    pub fn statistics_with_coverage(
        &self,
        opts: &StatisticsOptions,
        coverage: Option<&[f32]>,
    ) -> Vec<(String, Statistics)> {
        let n = self.width * self.height;
        (0..self.count)
            // A pool job no one waits for stops between bands (its result is thrown away).
            .take_while(|_| !crate::cpu::abandoned())
            .map(|b| {
                let mask = &self.band_mask[b * n..(b + 1) * n];
                let mut stats =
                    with_buffer!(&self.data, v, T => band_statistics::<T>(&v[b * n..(b + 1) * n], mask, coverage, opts));
                stats.description = self.band_descriptions.get(b).cloned().unwrap_or_else(|| self.band_names[b].clone());
                (self.band_names[b].clone(), stats)
            })
            .collect()
    }
}

/// The float type numpy computes in: float64, or float32 when a float32 coverage meets
/// data of at most 16 bits or float32 (numpy's type promotion).
trait Real:
    Copy
    + PartialOrd
    + std::ops::Add<Output = Self>
    + std::ops::Sub<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::Div<Output = Self>
{
    const ZERO: Self;
    fn of(v: f64) -> Self;
    fn f64(self) -> f64;
}

impl Real for f32 {
    const ZERO: f32 = 0.0;
    fn of(v: f64) -> f32 {
        v as f32
    }
    fn f64(self) -> f64 {
        self as f64
    }
}

impl Real for f64 {
    const ZERO: f64 = 0.0;
    fn of(v: f64) -> f64 {
        v
    }
    fn f64(self) -> f64 {
        self
    }
}

/// Sum, count, mean and std the way rio-tiler gets them (`(data * coverage).sum()` over the
/// whole band with masked pixels as zero; `numpy.ma.average` for the std).
fn moments<R: Real>(data: &[f64], valid: &[bool], weights: &[f64]) -> (f64, f64, f64, f64) {
    let filled: Vec<R> = data
        .iter()
        .zip(valid)
        .zip(weights)
        .map(|((v, ok), w)| if *ok { R::of(*v) * R::of(*w) } else { R::ZERO })
        .collect();
    let cov: Vec<R> = valid.iter().zip(weights).map(|(ok, w)| if *ok { R::of(*w) } else { R::ZERO }).collect();
    let sum = pairwise_sum(&filled);
    let count = pairwise_sum(&cov);
    let mean = (sum / count).f64();
    let comp: Vec<(R, R)> = data
        .iter()
        .zip(valid)
        .zip(weights)
        .filter(|((_, ok), _)| **ok)
        .map(|((v, _), w)| (R::of(*v), R::of(*w)))
        .collect();
    let wsum = pairwise_sum(&comp.iter().map(|p| p.1).collect::<Vec<R>>());
    let avg = pairwise_sum(&comp.iter().map(|&(v, w)| v * w).collect::<Vec<R>>()) / wsum;
    let var = pairwise_sum(&comp.iter().map(|&(v, w)| (v - avg) * (v - avg) * w).collect::<Vec<R>>()) / wsum;
    (sum.f64(), count.f64(), mean, var.f64().sqrt())
}

fn band_statistics<T: Sample>(
    data: &[T],
    mask: &[u8],
    coverage: Option<&[f32]>,
    opts: &StatisticsOptions,
) -> Statistics {
    let total = data.len();
    // numpy.ma.fix_invalid: NaN and infinities join the mask.
    let valid_flags: Vec<bool> = data.iter().zip(mask).map(|(v, m)| *m != 0 && v.to_f64().is_finite()).collect();
    let weights: Vec<f64> = match coverage {
        Some(c) => c.iter().map(|&w| w as f64).collect(),
        None => vec![1.0; total],
    };
    let coverage_pixels = weights.iter().filter(|&&w| w != 0.0).count();
    // (value, weight) of valid pixels, sorted by value.
    let mut valid: Vec<(T, f64)> =
        data.iter().zip(&valid_flags).zip(&weights).filter(|((_, ok), _)| **ok).map(|((v, _), w)| (*v, *w)).collect();
    let nvalid = valid.len();
    valid.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
    let sorted: Vec<T> = valid.iter().map(|p| p.0).collect();
    // numpy.unique(return_counts=True): sorted keys and their counts.
    let mut keys: Vec<f64> = Vec::new();
    let mut counts: Vec<u64> = Vec::new();
    for v in &sorted {
        let x = v.to_f64();
        if keys.last() == Some(&x) {
            *counts.last_mut().expect("a count per key") += 1;
        } else {
            keys.push(x);
            counts.push(1);
        }
    }
    let valid_percent = round2((nvalid as f64 / coverage_pixels.max(1) as f64).min(1.0) * 100.0);
    let histogram = if opts.categorical {
        let cats: Vec<f64> = match &opts.categories {
            Some(c) => c.iter().map(|&c| T::from_f64(c).to_f64()).collect(),
            None => keys.clone(),
        };
        let hc = cats.iter().map(|c| keys.iter().position(|k| k == c).map_or(0, |i| counts[i])).collect();
        (hc, cats)
    } else {
        histogram::<T>(&sorted, opts)
    };
    let percentiles = opts.percentiles.clone().unwrap_or_else(|| vec![2.0, 98.0]);
    if nvalid == 0 {
        return Statistics {
            min: f64::NAN,
            max: f64::NAN,
            mean: f64::NAN,
            count: 0.0,
            sum: 0.0,
            std: f64::NAN,
            median: f64::NAN,
            majority: f64::NAN,
            minority: f64::NAN,
            unique: 0.0,
            histogram,
            valid_percent,
            masked_pixels: total as f64,
            valid_pixels: 0.0,
            description: String::new(),
            percentiles: percentiles.iter().map(|&p| (p, f64::NAN)).collect(),
        };
    }
    // _weighted_quantiles: the first value whose cumulative weight reaches q * total weight
    // (cumulated in the weights' own type: float32 for a coverage array).
    let cumulative: Vec<f64> = if coverage.is_some() {
        let mut acc = 0f32;
        valid
            .iter()
            .map(|p| {
                acc += p.1 as f32;
                acc as f64
            })
            .collect()
    } else {
        (1..=nvalid).map(|k| k as f64).collect()
    };
    let quantile = |q: f64| {
        let target = q * cumulative[nvalid - 1];
        let idx = cumulative.partition_point(|&c| c < target);
        sorted[idx.min(nvalid - 1)].to_f64()
    };
    let values: Vec<f64> = data.iter().map(|v| v.to_f64()).collect();
    let small =
        matches!(T::DTYPE, DataType::Uint8 | DataType::Int8 | DataType::Uint16 | DataType::Int16 | DataType::Float32);
    let (sum, count, mean, std) = if coverage.is_some() && small {
        moments::<f32>(&values, &valid_flags, &weights)
    } else {
        let (sum, _, _, std) = moments::<f64>(&values, &valid_flags, &weights);
        let count = if coverage.is_some() {
            pairwise_sum(
                &valid_flags.iter().zip(&weights).map(|(ok, w)| if *ok { *w } else { 0.0 }).collect::<Vec<f64>>(),
            )
        } else {
            nvalid as f64
        };
        (sum, count, sum / count, std)
    };
    let (mut majority, mut minority) = (0, 0);
    for i in 0..counts.len() {
        if counts[i] > counts[majority] {
            majority = i;
        }
        if counts[i] < counts[minority] {
            minority = i;
        }
    }
    Statistics {
        min: sorted[0].to_f64(),
        max: sorted[nvalid - 1].to_f64(),
        mean,
        count,
        sum,
        std,
        median: quantile(0.5),
        majority: keys[majority],
        minority: keys[minority],
        unique: keys.len() as f64,
        histogram,
        valid_percent,
        masked_pixels: (total - nvalid) as f64,
        valid_pixels: nvalid as f64,
        description: String::new(),
        percentiles: percentiles.iter().map(|&p| (p, quantile(p / 100.0))).collect(),
    }
}

/// `numpy.histogram` of sorted, finite values.
fn histogram<T: Sample>(sorted: &[T], opts: &StatisticsOptions) -> (Vec<u64>, Vec<f64>) {
    if let Bins::Edges(edges) = &opts.bins {
        // Explicit edges: [e_i, e_i+1) and the last bin closed.
        let last = edges.len().saturating_sub(1);
        let mut counts = vec![0u64; last];
        for v in sorted {
            let x = v.to_f64();
            for i in 0..last {
                if x >= edges[i] && (x < edges[i + 1] || (i + 1 == last && x <= edges[i + 1])) {
                    counts[i] += 1;
                    break;
                }
            }
        }
        return (counts, edges.clone());
    }
    let bins = match opts.bins {
        Bins::Count(n) => n.max(1),
        _ => 10,
    };
    let (mut first, mut last) = match (opts.range, sorted.first(), sorted.last()) {
        (Some(r), _, _) => r,
        (None, Some(a), Some(b)) => (a.to_f64(), b.to_f64()),
        // No data: numpy's (0, 1) are Python ints, so the edges are computed in float64
        // and only then cast to the bin type.
        _ => {
            let edges: Vec<f64> =
                (0..=bins).map(|i| if i == bins { 1.0 } else { i as f64 * (1.0 / bins as f64) }).collect();
            let edges =
                if T::DTYPE == DataType::Float32 { edges.iter().map(|&e| e as f32 as f64).collect() } else { edges };
            return (vec![0; bins], edges);
        }
    };
    if first == last {
        first -= 0.5;
        last += 0.5;
    }
    // Edges and bin indices in numpy's bin dtype: float32 data keeps float32 arithmetic.
    if T::DTYPE == DataType::Float32 {
        let (f, l) = (first as f32, last as f32);
        let step = (l - f) / bins as f32;
        let mut edges: Vec<f32> = (0..=bins).map(|i| i as f32 * step + f).collect();
        edges[bins] = l;
        let counts =
            bin_counts(sorted.iter().map(|v| v.to_f64() as f32), &edges, |x| ((x - f) / (l - f)) * bins as f32);
        return (counts, edges.iter().map(|&e| e as f64).collect());
    }
    let step = (last - first) / bins as f64;
    let mut edges: Vec<f64> = (0..=bins).map(|i| i as f64 * step + first).collect();
    edges[bins] = last;
    let counts =
        bin_counts(sorted.iter().map(|v| v.to_f64()), &edges, |x| ((x - first) / (last - first)) * bins as f64);
    (counts, edges)
}

/// numpy's equal-bin counting, including its one-ulp corrections at the edges.
fn bin_counts<F: Copy + PartialOrd + Into<f64>>(
    values: impl Iterator<Item = F>,
    edges: &[F],
    index: impl Fn(F) -> F,
) -> Vec<u64> {
    let bins = edges.len() - 1;
    let mut counts = vec![0u64; bins];
    for x in values {
        if x < edges[0] || x > edges[bins] {
            continue;
        }
        let mut i = (index(x).into() as i64).clamp(0, bins as i64) as usize;
        if i == bins {
            i -= 1;
        }
        if x < edges[i] && i > 0 {
            i -= 1;
        }
        if x >= edges[i + 1] && i != bins - 1 {
            i += 1;
        }
        counts[i] += 1;
    }
    counts
}

/// numpy's pairwise summation (blocks of 8, split above 128), so sums and means agree with
/// numpy's to the last bit more often than a naive loop would.
fn pairwise_sum<R: Real>(a: &[R]) -> R {
    let n = a.len();
    if n < 8 {
        return a.iter().fold(R::ZERO, |s, &v| s + v);
    }
    if n <= 128 {
        let mut r = [a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]];
        let mut i = 8;
        while i < n - n % 8 {
            for j in 0..8 {
                r[j] = r[j] + a[i + j];
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        while i < n {
            res = res + a[i];
            i += 1;
        }
        return res;
    }
    let mut n2 = n / 2;
    n2 -= n2 % 8;
    pairwise_sum(&a[..n2]) + pairwise_sum(&a[n2..])
}

/// Python's `round(x, 2)`.
fn round2(x: f64) -> f64 {
    format!("{x:.2}").parse().unwrap_or(x)
}

/// Statistics of a buffer with no mask (helper for callers holding raw arrays).
pub fn buffer_statistics(data: &Buffer, opts: &StatisticsOptions) -> Statistics {
    let mask = vec![255u8; data.len()];
    with_buffer!(data, v, T => band_statistics::<T>(v, &mask, None, opts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zeros_like_the_rio_tiler_docstring() {
        let s = buffer_statistics(&Buffer::Float64(vec![0.0; 65536]), &StatisticsOptions::default());
        assert_eq!((s.min, s.max, s.mean, s.count, s.std, s.unique), (0.0, 0.0, 0.0, 65536.0, 0.0, 1.0));
        assert_eq!(s.histogram.0, vec![0, 0, 0, 0, 0, 65536, 0, 0, 0, 0]);
        assert_eq!(
            s.histogram.1,
            vec![
                -0.5,
                -0.4,
                -0.3,
                -0.19999999999999996,
                -0.09999999999999998,
                0.0,
                0.10000000000000009,
                0.20000000000000007,
                0.30000000000000004,
                0.4,
                0.5
            ]
        );
        assert_eq!(s.valid_percent, 100.0);
    }

    #[test]
    fn percentiles_are_lower_quantiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        let opts = StatisticsOptions { percentiles: Some(vec![2.0, 7.0, 98.0]), ..Default::default() };
        let s = buffer_statistics(&Buffer::Float64(v), &opts);
        // 0.02 * 100 = 2 -> the 2nd value; 0.07 * 100 = 7.000000000000001 in floating
        // point -> numpy's searchsorted lands on the 8th value.
        assert_eq!(s.percentiles, vec![(2.0, 2.0), (7.0, 8.0), (98.0, 98.0)]);
        assert_eq!(s.median, 50.0);
        assert_eq!((s.majority, s.minority), (1.0, 1.0));
    }

    #[test]
    fn nan_is_masked_and_categories_counted() {
        let data = Buffer::Float32(vec![1.0, 2.0, 2.0, f32::NAN, 3.0]);
        let opts = StatisticsOptions { categorical: true, categories: Some(vec![2.0, 5.0]), ..Default::default() };
        let s = buffer_statistics(&data, &opts);
        assert_eq!((s.valid_pixels, s.masked_pixels, s.valid_percent), (4.0, 1.0, 80.0));
        assert_eq!(s.histogram, (vec![2, 0], vec![2.0, 5.0]));
        assert_eq!(s.majority, 2.0);
    }

    #[test]
    fn pairwise_matches_exact_sums_of_integers() {
        let v: Vec<f64> = (0..10_000).map(f64::from).collect();
        assert_eq!(pairwise_sum(&v), 49_995_000.0);
        // float32 accumulates in float32 pairwise, as numpy's FLOAT_add does: numpy says
        // 100.00001525878906 where a sequential float32 loop gives 99.9990463256836.
        let w: Vec<f32> = vec![0.1; 1000];
        assert_eq!(pairwise_sum(&w) as f64, 100.00001525878906);
    }
}
