//! GDAL's approximate transformer: exact transforms at the start, middle and end of a row,
//! linear interpolation in between when the middle point is within the error bound, and
//! recursive halving where it is not. Reproducing its exact subdivision (and its use of
//! the *interpolated* value even for the probe points) is what makes nearest-neighbour
//! picks agree with GDAL's.

use imbrex_tms::GenImgProj;

/// rasterio's `WarpedVRT(tolerance=0.125)`: in source pixels.
pub const DEFAULT_MAX_ERROR: f64 = 0.125;

/// Approximate destination-pixel → source-pixel transformer.
#[derive(Clone, Debug)]
pub struct ApproxTransformer<'a> {
    exact: &'a GenImgProj,
    max_error: f64,
}

impl<'a> ApproxTransformer<'a> {
    pub fn new(exact: &'a GenImgProj, max_error: f64) -> ApproxTransformer<'a> {
        ApproxTransformer { exact, max_error }
    }

    /// The exact transformer underneath.
    pub fn exact(&self) -> &GenImgProj {
        self.exact
    }

    /// Exact transform of points (destination → source), success flags per point.
    pub fn exact_points(&self, xs: &mut [f64], ys: &mut [f64], ok: &mut [bool]) {
        self.exact.transform(true, xs, ys);
        for ((x, y), o) in xs.iter().zip(ys.iter()).zip(ok.iter_mut()) {
            *o = x.is_finite() && y.is_finite();
        }
    }

    /// Transform points destination → source, approximating along rows like GDAL.
    pub fn transform(&self, xs: &mut [f64], ys: &mut [f64], ok: &mut [bool]) {
        let n = xs.len();
        if n == 0 {
            return;
        }
        let mid = (n - 1) / 2;
        if ys[0] != ys[n - 1]
            || ys[0] != ys[mid]
            || xs[0] == xs[n - 1]
            || xs[0] == xs[mid]
            || self.max_error == 0.0
            || n <= 5
        {
            self.exact_points(xs, ys, ok);
            return;
        }
        let mut sx = [xs[0], xs[mid], xs[n - 1]];
        let mut sy = [ys[0], ys[mid], ys[n - 1]];
        let mut sok = [false; 3];
        self.exact_points(&mut sx, &mut sy, &mut sok);
        if !sok.iter().all(|&o| o) {
            self.exact_points(xs, ys, ok);
            return;
        }
        self.internal(xs, ys, ok, sx, sy);
    }

    /// `GDALApproxTransformInternal`: `sme` holds the exact transforms of the start,
    /// middle and end points of this segment.
    fn internal(&self, xs: &mut [f64], ys: &mut [f64], ok: &mut [bool], smx: [f64; 3], smy: [f64; 3]) -> bool {
        let n = xs.len();
        let mid = (n - 1) / 2;
        let span = xs[n - 1] - xs[0];
        let dx = (smx[2] - smx[0]) / span;
        let dy = (smy[2] - smy[0]) / span;
        let err =
            ((smx[0] + dx * (xs[mid] - xs[0])) - smx[1]).abs() + ((smy[0] + dy * (xs[mid] - xs[0])) - smy[1]).abs();
        if err > self.max_error {
            let i0 = (mid - 1) / 2;
            let i1 = mid - 1;
            let i2 = mid + (n - mid - 1) / 2;
            let mut mx = [xs[i0], xs[i1], xs[i2]];
            let mut my = [ys[i0], ys[i1], ys[i2]];
            let base1 = mid <= 5 || ys[0] != ys[i1] || ys[0] != ys[i0] || xs[0] == xs[i1] || xs[0] == xs[i0];
            let base2 =
                n - mid <= 5 || ys[mid] != ys[n - 1] || ys[mid] != ys[i2] || xs[mid] == xs[n - 1] || xs[mid] == xs[i2];
            let mut mok = [true; 3];
            if !base1 && !base2 {
                self.exact_points(&mut mx, &mut my, &mut mok);
            } else if !base1 {
                self.exact_points(&mut mx[..2], &mut my[..2], &mut mok[..2]);
            } else if !base2 {
                self.exact_points(&mut mx[2..], &mut my[2..], &mut mok[2..]);
            }
            if !mok.iter().all(|&o| o) {
                // A probe failed: transform this whole segment exactly, keeping the known ends.
                self.exact_points(&mut xs[1..mid], &mut ys[1..mid], &mut ok[1..mid]);
                self.exact_points(&mut xs[mid + 1..n - 1], &mut ys[mid + 1..n - 1], &mut ok[mid + 1..n - 1]);
                set(xs, ys, ok, 0, smx[0], smy[0]);
                set(xs, ys, ok, mid, smx[1], smy[1]);
                set(xs, ys, ok, n - 1, smx[2], smy[2]);
                return true;
            }
            if !base1 {
                let (ax, bx) = xs.split_at_mut(mid);
                let (ay, _) = ys.split_at_mut(mid);
                let (aok, _) = ok.split_at_mut(mid);
                let _ = bx;
                self.internal(ax, ay, aok, [smx[0], mx[0], mx[1]], [smy[0], my[0], my[1]]);
            } else {
                self.exact_points(&mut xs[1..mid], &mut ys[1..mid], &mut ok[1..mid]);
                set(xs, ys, ok, 0, smx[0], smy[0]);
            }
            if !base2 {
                self.internal(
                    &mut xs[mid..],
                    &mut ys[mid..],
                    &mut ok[mid..],
                    [smx[1], mx[2], smx[2]],
                    [smy[1], my[2], smy[2]],
                );
            } else {
                self.exact_points(&mut xs[mid + 1..n - 1], &mut ys[mid + 1..n - 1], &mut ok[mid + 1..n - 1]);
                set(xs, ys, ok, mid, smx[1], smy[1]);
                set(xs, ys, ok, n - 1, smx[2], smy[2]);
            }
            return true;
        }
        let x0 = xs[0];
        for i in (0..n).rev() {
            let dist = xs[i] - x0;
            xs[i] = smx[0] + dx * dist;
            ys[i] = smy[0] + dy * dist;
            ok[i] = true;
        }
        true
    }
}

fn set(xs: &mut [f64], ys: &mut [f64], ok: &mut [bool], i: usize, x: f64, y: f64) {
    xs[i] = x;
    ys[i] = y;
    ok[i] = true;
}
