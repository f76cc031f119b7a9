//! GDAL's "average" resampling of a window (`GDALResampleChunk_AverageOrRMS`): every
//! source pixel under a destination pixel, the partly covered ones at the edges weighted by
//! the part they cover, in the work type GDAL picks for the data type — including the
//! integer and SIMD shortcuts it takes for an exact 2x2 reduction, whose roundings differ.

use super::resample::{Chunk, ChunkMask, Plan, copy_word, replacement};
use crate::array::{DataType, Sample};

/// The type GDAL averages in (`GDALGetOvrWorkDataType`): Byte and UInt16 stay integers,
/// Int8, Int16 and Float32 become Float32, the rest Float64.
#[derive(Clone, Copy, PartialEq)]
enum Work {
    Byte,
    UInt16,
    Float32,
    Float64,
}

impl Work {
    fn of(dt: DataType) -> Work {
        match dt {
            DataType::Uint8 => Work::Byte,
            DataType::Uint16 => Work::UInt16,
            DataType::Int8 | DataType::Int16 | DataType::Float32 => Work::Float32,
            _ => Work::Float64,
        }
    }

    /// A source value read into the work type.
    fn load(self, v: f64) -> f64 {
        if self == Work::Float32 { v as f32 as f64 } else { v }
    }
}

/// One destination column (or row): the source span and the weights of its ends.
#[derive(Clone, Copy)]
struct Span {
    left: i64,
    right: i64,
    left_weight: f64,
    right_weight: f64,
    full_weight: f64,
}

fn span(delta: f64, i: i64, ratio: f64, lo: i64, hi: i64) -> (Span, f64) {
    let off = delta + i as f64 * ratio;
    // An epsilon against numerical noise, as GDAL.
    let mut left = (off + 1e-8) as i64;
    if left < lo {
        left = lo;
    }
    let off2 = delta + (i + 1) as f64 * ratio;
    let mut right = (off2 - 1e-8).ceil() as i64;
    if right == left {
        right += 1;
    }
    if right > hi {
        right = hi;
    }
    let left_weight = if right == left + 1 { 1.0 } else { 1.0 - (off - left as f64) };
    let right_weight = 1.0 - (right as f64 - off2);
    let mut full_weight = left_weight;
    if left + 1 < right {
        full_weight += (right - left - 2) as f64;
        full_weight += right_weight;
    }
    (Span { left, right, left_weight, right_weight, full_weight }, off)
}

/// Average one chunk of `src` (`chunk.w` x `chunk.h` samples of the level) into its part of
/// the `buf_w`-wide output. `nodata`: the band's nodata value (the fill of pixels with no
/// valid source, kept off valid results).
pub(crate) fn average<T: Sample>(
    plan: &Plan,
    chunk: &Chunk,
    src: &[T],
    mask: &ChunkMask,
    nodata: Option<f64>,
    buf_w: usize,
    out: &mut [T],
) {
    let dt = T::DTYPE;
    let work = Work::of(dt);
    let single = work == Work::Float32;
    let fill = nodata.unwrap_or(0.0);
    if let ChunkMask::Transparent = mask {
        for y in 0..chunk.dst_h {
            for x in 0..chunk.dst_w {
                out[(chunk.dst_y + y) * buf_w + chunk.dst_x + x] = copy_word(fill, single);
            }
        }
        return;
    }
    let m = match mask {
        ChunkMask::Weights(m) => Some(*m),
        _ => None,
    };
    // The work type's view of the nodata value and of its replacement, which is the band
    // type's (`GDALGetNoDataReplacementValue(eOvrDataType)`: UInt32's 2^32-1 becomes 2^32-2
    // even though the work type is Float64; measured on GDAL 3.10.3).
    let (nd_work, replacement_work) = match nodata {
        Some(nd) => (Some(to_work(nd, work)), to_work(replacement(nd, dt), work)),
        None => (None, 0.0),
    };
    let values: Vec<f64> = src.iter().map(|v| work.load(v.to_f64())).collect();
    let (cw, ch) = (chunk.w as i64, chunk.h as i64);
    let cx0 = chunk.x as i64 - plan.origin_x;
    let cy0 = chunk.y as i64 - plan.origin_y;
    let dst_x0 = chunk.dst_x as i64 + plan.virt_x;
    let dst_y0 = chunk.dst_y as i64 + plan.virt_y;
    let dw = chunk.dst_w;

    let mut xs = Vec::with_capacity(dw);
    let mut spacing_two = true;
    let mut last_right = -1;
    for k in 0..dw {
        let (s, _) = span(plan.delta_x, dst_x0 + k as i64, plan.x_ratio, cx0, cx0 + cw);
        if s.right - s.left != 2 || (last_right >= 0 && last_right != s.left) {
            spacing_two = false;
        }
        last_right = s.right;
        xs.push(Span { left: s.left - cx0, right: s.right - cx0, ..s });
    }
    let at = |x: i64, y: i64| values[(y * cw + x) as usize];

    for l in 0..chunk.dst_h {
        let (sy, off_y) = span(plan.delta_y, dst_y0 + l as i64, plan.y_ratio, cy0, cy0 + ch);
        let (top, bottom) = (sy.left - cy0, sy.right - cy0);
        let row_out = (chunk.dst_y + l) * buf_w + chunk.dst_x;
        if spacing_two && bottom == top + 2 && m.is_none() {
            // An exact 2x2 reduction without a mask: GDAL's shortcuts.
            let x0 = xs[0].left;
            for k in 0..dw {
                let x = x0 + 2 * k as i64;
                let (a, b, c, d) = (at(x, top), at(x + 1, top), at(x, top + 1), at(x + 1, top + 1));
                let v = match work {
                    Work::Byte | Work::UInt16 => ((a + b + c + d) as i64 + 2).div_euclid(4) as f64,
                    Work::Float32 => {
                        let (a, b, c, d) = (a as f32, b as f32, c as f32, d as f32);
                        // Groups of four outputs go through SSE2, vertical sums first.
                        let simd = (k / 4) * 4 + 3 < dw;
                        (if simd { ((a + c) + (b + d)) * 0.25 } else { 0.25 * (a + b + c + d) }) as f64
                    }
                    Work::Float64 => 0.25 * (a + b + c + d),
                };
                out[row_out + k] = copy_word(v, single);
            }
            continue;
        }
        let bottom_weight = if top + 1 == bottom { 1.0 } else { 1.0 - (off_y - sy.left as f64) };
        let top_weight = sy.right_weight;
        let mut full_column = bottom_weight;
        if top + 1 < bottom {
            full_column += (bottom - top - 2) as f64;
            full_column += top_weight;
        }
        for (k, s) in xs.iter().enumerate() {
            let (mut total, mut weight) = (0.0, 0.0);
            match m {
                None => {
                    let mut wy = bottom_weight;
                    let mut y = top;
                    let mut counter = bottom - top - 1;
                    loop {
                        let mut line = at(s.left, y) * s.left_weight;
                        if s.left + 1 < s.right {
                            for x in s.left + 1..s.right - 1 {
                                line += at(x, y);
                            }
                            line += at(s.right - 1, y) * s.right_weight;
                        }
                        total += line * wy;
                        counter -= 1;
                        if counter < 0 {
                            break;
                        }
                        y += 1;
                        wy = if counter == 0 { top_weight } else { 1.0 };
                    }
                    weight = s.full_weight * full_column;
                }
                Some(mask) => {
                    let valid = |x: i64, y: i64| mask[(y * cw + x) as usize] != 0;
                    let mut count = 0;
                    for y in top..bottom {
                        let (mut line, mut line_weight) = (0.0, 0.0);
                        if valid(s.left, y) {
                            count += 1;
                            line_weight = s.left_weight;
                            line = at(s.left, y) * s.left_weight;
                        }
                        if s.left + 1 < s.right {
                            for x in s.left + 1..s.right - 1 {
                                if valid(x, y) {
                                    count += 1;
                                    line_weight += 1.0;
                                    line += at(x, y);
                                }
                            }
                            let x = s.right - 1;
                            if valid(x, y) {
                                count += 1;
                                line_weight += s.right_weight;
                                line += at(x, y) * s.right_weight;
                            }
                        }
                        let wy = if y == top {
                            bottom_weight
                        } else if y + 1 == bottom {
                            top_weight
                        } else {
                            1.0
                        };
                        total += line * wy;
                        weight += line_weight * wy;
                    }
                    if count == 0 {
                        out[row_out + k] = copy_word(nd_work.unwrap_or(0.0), single);
                        continue;
                    }
                }
            }
            let mut v = match work {
                // `(T)(total / weight + 0.5)`: truncation.
                Work::Byte | Work::UInt16 => (total / weight + 0.5).trunc(),
                Work::Float32 => (total / weight) as f32 as f64,
                Work::Float64 => total / weight,
            };
            if nd_work.is_some_and(|nd| nd == v) {
                v = replacement_work;
            }
            out[row_out + k] = copy_word(v, single);
        }
    }
}

/// `static_cast<T>(value)` into the work type.
fn to_work(v: f64, w: Work) -> f64 {
    match w {
        Work::Byte => (v as u8) as f64,
        Work::UInt16 => (v as u16) as f64,
        Work::Float32 => v as f32 as f64,
        Work::Float64 => v,
    }
}
