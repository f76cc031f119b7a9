//! GDAL's interpolation filters, shared by the warper's kernels and the resampled reads
//! (`reader/resample.rs`).

use std::f64::consts::PI;

use super::Resampling;

/// GDAL's filter functions (`GWKBilinear`, `GWKCubic`, `GWKBSpline`, `GWKLanczosSinc`)
/// with their exact arithmetic: results are divided by the weight sum only when it is not
/// within 1e-5 of one, so the last bits of each weight show in the output.
pub(crate) fn weight(r: Resampling, x: f64) -> f64 {
    match r {
        Resampling::Bilinear => {
            let a = x.abs();
            if a <= 1.0 { 1.0 - a } else { 0.0 }
        }
        Resampling::Cubic => cubic_kernel(x),
        Resampling::CubicSpline => bspline(x),
        Resampling::Lanczos => lanczos_sinc(x),
        Resampling::Gauss => {
            if x.abs() >= 1.5 {
                0.0
            } else {
                (-2.0 * x * x).exp()
            }
        }
        _ => 0.0,
    }
}

/// Keys' cubic convolution kernel, a = -0.5.
fn cubic_kernel(x: f64) -> f64 {
    let a = x.abs();
    if a <= 1.0 {
        x * x * (1.5 * a - 2.5) + 1.0
    } else if a <= 2.0 {
        x * x * (-0.5 * a + 2.5) - 4.0 * a + 2.0
    } else {
        0.0
    }
}

/// The cubic B-spline as a sum of truncated powers, times 6 (the factor cancels in the
/// normalisation). Like GDAL's, it drops the `(x-2)^3` term, so it is not zero beyond
/// x = 2: downsampling kernels evaluated there pick up those small weights too.
fn bspline(x: f64) -> f64 {
    let (xp2, xp1, xm1) = (x + 2.0, x + 1.0, x - 1.0);
    if xp2 <= 0.0 {
        return 0.0;
    }
    let inner = if xp1 > 0.0 {
        let centre = if x > 0.0 {
            let right = if xm1 > 0.0 { -4.0 * xm1 * xm1 * xm1 } else { 0.0 };
            right + 6.0 * x * x * x
        } else {
            0.0
        };
        centre + -4.0 * xp1 * xp1 * xp1
    } else {
        0.0
    };
    inner + xp2 * xp2 * xp2
}

/// Lanczos (a = 3) windowed sinc, with sin(pi x) derived from sin(pi x / 3).
pub(super) fn lanczos_sinc(x: f64) -> f64 {
    if x == 0.0 {
        return 1.0;
    }
    let pix = PI * x;
    let pix_3 = pix / 3.0;
    let s = pix_3.sin();
    let s2 = s * s;
    (3.0 - 4.0 * s2) * s2 / (pix * pix_3)
}

/// Four weights at once (GDAL's `*4Values` filters): same values, but the sum is taken
/// over the four before being added to the caller's running total.
pub(crate) fn weight4(r: Resampling, xs: [f64; 4]) -> ([f64; 4], f64) {
    let w = xs.map(|x| weight(r, x));
    (w, w[0] + w[1] + w[2] + w[3])
}

/// `GWKCubicComputeWeights`: the four Keys weights of taps -1..2 at offset `x`.
pub(super) fn cubic_weights(x: f64) -> [f64; 4] {
    let half = 0.5 * x;
    let three = 3.0 * x;
    let half2 = half * x;
    [half * (-1.0 + x * (2.0 - x)), 1.0 + half2 * (-5.0 + three), half * (1.0 + x * (4.0 - three)), half2 * (-1.0 + x)]
}

pub(super) fn convol4(a: &[f64; 4], b: &[f64; 4]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2] + a[3] * b[3]
}
