//! Polygon rasterization as GDAL's `GDALRasterizeGeometries` does it with `ALL_TOUCHED=TRUE`
//! (what rasterio's `rasterize(all_touched=True)` runs for rio-tiler's feature cutlines and
//! coverage arrays): a scanline fill of pixel centres plus every pixel the rings touch.
//!
//! Ported from GDAL's `llrasterize.cpp` (`GDALdllImageFilledPolygon`,
//! `GDALdllImageLineAllTouched` with `bIntersectOnly`), MIT licensed.

/// A horizontal run of burnt pixels: row `y`, columns `x0..=x1`.
pub type Span = (i64, i64, i64);

/// Rasterize one polygon (rings in pixel coordinates, outer ring first) on a `w` x `h`
/// grid, with GDAL's all-touched rule. Spans may overlap; [`union_rows`] merges them.
pub fn polygon_all_touched(rings: &[Vec<(f64, f64)>], w: usize, h: usize, out: &mut Vec<Span>) {
    let rings: Vec<&Vec<(f64, f64)>> = rings.iter().filter(|r| !r.is_empty()).collect();
    if rings.is_empty() {
        return;
    }
    for ring in &rings {
        line_all_touched(ring, w as i64, h as i64, out);
    }
    filled_polygon(&rings, w as i64, h as i64, out);
}

/// `GDALdllImageFilledPolygon`: pixels whose centre is inside (even-odd over all rings).
fn filled_polygon(rings: &[&Vec<(f64, f64)>], w: i64, h: i64, out: &mut Vec<Span>) {
    let points: Vec<(f64, f64)> = rings.iter().flat_map(|r| r.iter().copied()).collect();
    let (mut dminy, mut dmaxy) = (points[0].1, points[0].1);
    for p in &points[1..] {
        dminy = dminy.min(p.1);
        dmaxy = dmaxy.max(p.1);
    }
    if !(dminy.is_finite() && dmaxy.is_finite()) {
        return;
    }
    let miny = (dminy as i64).max(0);
    let maxy = (dmaxy as i64).min(h - 1);
    let (minx, maxx) = (0, w - 1);
    let mut ints: Vec<i64> = Vec::new();
    let mut ints2: Vec<i64> = Vec::new();
    for y in miny..=maxy {
        let dy = y as f64 + 0.5;
        ints.clear();
        ints2.clear();
        for ring in rings {
            let n = ring.len();
            for i in 0..n {
                let (ind1, ind2) = if i == 0 { (n - 1, 0) } else { (i - 1, i) };
                let (mut dy1, mut dy2) = (ring[ind1].1, ring[ind2].1);
                if (dy1 < dy && dy2 < dy) || (dy1 > dy && dy2 > dy) {
                    continue;
                }
                let (dx1, dx2);
                if dy1 < dy2 {
                    dx1 = ring[ind1].0;
                    dx2 = ring[ind2].0;
                } else if dy1 > dy2 {
                    std::mem::swap(&mut dy1, &mut dy2);
                    dx2 = ring[ind1].0;
                    dx1 = ring[ind2].0;
                } else {
                    // Horizontal edge on the scanline: burnt unless already covered.
                    if ring[ind1].0 > ring[ind2].0 {
                        let hx1 = (ring[ind2].0 + 0.5).floor() as i64;
                        let hx2 = (ring[ind1].0 + 0.5).floor() as i64;
                        if hx1 > maxx || hx2 <= minx {
                            continue;
                        }
                        ints2.push(hx1);
                        ints2.push(hx2);
                    }
                    continue;
                }
                if dy < dy2 && dy >= dy1 {
                    let x = (dy - dy1) * (dx2 - dx1) / (dy2 - dy1) + dx1;
                    ints.push((x + 0.5).floor() as i64);
                }
            }
        }
        ints.sort_unstable();
        ints2.sort_unstable();
        let mut i = 0;
        while i + 1 < ints.len() {
            if ints[i] <= maxx && ints[i + 1] > minx {
                push_span(out, y, ints[i], ints[i + 1] - 1, w);
            }
            i += 2;
        }
        // Horizontal edges not already burnt by a span starting at the same pixel.
        let (mut i2, mut i) = (0, 0);
        while i2 + 1 < ints2.len() {
            if ints2[i2] <= maxx && ints2[i2 + 1] > minx {
                while i + 1 < ints.len() && ints[i] < ints2[i2] {
                    i += 2;
                }
                if i + 1 >= ints.len() || ints[i] != ints2[i2] {
                    push_span(out, y, ints2[i2], ints2[i2 + 1] - 1, w);
                }
            }
            i2 += 2;
        }
    }
}

fn push_span(out: &mut Vec<Span>, y: i64, x0: i64, x1: i64, w: i64) {
    let (a, b) = (x0.max(0), x1.min(w - 1));
    if a <= b {
        out.push((y, a, b));
    }
}

/// `GDALdllImageLineAllTouched` with `bIntersectOnly` (polygon rings): every pixel a
/// segment passes through, except segments lying exactly on pixel edges.
fn line_all_touched(ring: &[(f64, f64)], w: i64, h: i64, out: &mut Vec<Span>) {
    const EPS: f64 = 1e-4;
    let (wf, hf) = (w as f64, h as f64);
    for j in 1..ring.len() {
        let (mut x, mut y) = ring[j - 1];
        let (mut xe, mut ye) = ring[j];
        if !(x.is_finite() && y.is_finite() && xe.is_finite() && ye.is_finite()) {
            continue;
        }
        if (y < 0.0 && ye < 0.0) || (y > hf && ye > hf) || (x < 0.0 && xe < 0.0) || (x > wf && xe > wf) {
            continue;
        }
        if x > xe {
            std::mem::swap(&mut x, &mut xe);
            std::mem::swap(&mut y, &mut ye);
        }
        // Vertical.
        if x.floor() == xe.floor() || (x - xe).abs() < 0.01 {
            if (x - x.round()).abs() < EPS && (xe - xe.round()).abs() < EPS {
                continue;
            }
            if ye < y {
                std::mem::swap(&mut y, &mut ye);
            }
            let ix = xe.floor() as i64;
            let mut iy = y.floor() as i64;
            let mut iye = (ye - EPS).floor() as i64;
            if ix < 0 || ix >= w {
                continue;
            }
            iy = iy.max(0);
            iye = iye.min(h - 1);
            for yy in iy..=iye {
                out.push((yy, ix, ix));
            }
            continue;
        }
        // Horizontal.
        if y.floor() == ye.floor() || (y - ye).abs() < 0.01 {
            if (y - y.round()).abs() < EPS && (ye - ye.round()).abs() < EPS {
                continue;
            }
            let ix = (x.floor() as i64).max(0);
            let iy = y.floor() as i64;
            let ixe = ((xe - EPS).floor() as i64).min(w - 1);
            if iy < 0 || iy >= h {
                continue;
            }
            if ix <= ixe {
                out.push((iy, ix, ixe));
            }
            continue;
        }
        // General case, left to right.
        let slope = (ye - y) / (xe - x);
        if xe > wf {
            ye -= (xe - wf) * slope;
            xe = wf;
        }
        if x < 0.0 {
            y += (0.0 - x) * slope;
            x = 0.0;
        }
        if ye > y {
            if y < 0.0 {
                x += (0.0 - y) / slope;
                y = 0.0;
            }
            if ye >= hf {
                xe += (ye - hf) / slope;
                if xe > wf {
                    xe = wf;
                }
            }
        } else {
            if y >= hf {
                x += (hf - y) / slope;
                y = hf;
            }
            if ye < 0.0 {
                xe -= ye / slope;
            }
        }
        while x >= 0.0 && x < xe {
            let ix = x.floor() as i64;
            let iy = y.floor() as i64;
            if iy >= 0 && iy < h {
                out.push((iy, ix, ix));
            }
            let mut step_x = (x + 1.0).floor() - x;
            let mut step_y = step_x * slope;
            if (y + step_y).floor() as i64 == iy {
                x += step_x;
                y += step_y;
            } else if slope < 0.0 {
                step_y = iy as f64 - y;
                if step_y > -1e-9 {
                    step_y = -1e-9;
                }
                step_x = step_y / slope;
                x += step_x;
                y += step_y;
            } else {
                step_y = (iy + 1) as f64 - y;
                if step_y < 1e-9 {
                    step_y = 1e-9;
                }
                step_x = step_y / slope;
                x += step_x;
                y += step_y;
            }
        }
    }
}

/// Merge spans into disjoint, sorted runs per row.
pub fn union_rows(mut spans: Vec<Span>) -> Vec<Span> {
    spans.sort_unstable();
    let mut out: Vec<Span> = Vec::with_capacity(spans.len());
    for s in spans {
        match out.last_mut() {
            Some(last) if last.0 == s.0 && s.1 <= last.2 + 1 => last.2 = last.2.max(s.2),
            _ => out.push(s),
        }
    }
    out
}

/// A `w` x `h` mask (true where burnt) from spans.
pub fn spans_to_mask(spans: &[Span], w: usize, h: usize) -> Vec<bool> {
    let mut m = vec![false; w * h];
    for &(y, x0, x1) in spans {
        if y < 0 || y as usize >= h {
            continue;
        }
        let row = y as usize * w;
        for x in x0.max(0) as usize..=(x1 as usize).min(w - 1) {
            m[row + x] = true;
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask(rings: &[Vec<(f64, f64)>], w: usize, h: usize) -> Vec<bool> {
        let mut s = Vec::new();
        polygon_all_touched(rings, w, h, &mut s);
        spans_to_mask(&union_rows(s), w, h)
    }

    #[test]
    fn a_pixel_aligned_square_burns_its_pixels_only() {
        let sq = vec![(1.0, 1.0), (3.0, 1.0), (3.0, 3.0), (1.0, 3.0), (1.0, 1.0)];
        let m = mask(&[sq], 5, 5);
        let burnt: Vec<usize> = (0..25).filter(|&i| m[i]).collect();
        assert_eq!(burnt, vec![6, 7, 11, 12]);
    }

    #[test]
    fn all_touched_takes_partially_covered_pixels() {
        // A small triangle inside pixel (2, 2) covers no pixel centre: all-touched burns it.
        let tri = vec![(2.1, 2.1), (2.4, 2.1), (2.2, 2.4), (2.1, 2.1)];
        let m = mask(&[tri], 5, 5);
        assert_eq!((0..25).filter(|&i| m[i]).collect::<Vec<_>>(), vec![12]);
    }

    #[test]
    fn holes_stay_empty() {
        let outer = vec![(0.0, 0.0), (6.0, 0.0), (6.0, 6.0), (0.0, 6.0), (0.0, 0.0)];
        let hole = vec![(2.0, 2.0), (4.0, 2.0), (4.0, 4.0), (2.0, 4.0), (2.0, 2.0)];
        let m = mask(&[outer, hole], 6, 6);
        assert!(!m[2 * 6 + 2] && !m[3 * 6 + 3]);
        assert!(m[0] && m[35] && m[6 + 1]);
    }
}
