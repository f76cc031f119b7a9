//! TiTiler's `color_formula=`: rio-tiler's `ImageData.apply_color_formula`, i.e. the
//! `color_operations` package (ported from rio-color, MIT, Mapbox): `gamma`, `sigmoidal`
//! and `saturation` (in CIE LCH) on values scaled to 0..1, each step's result truncated to
//! uint8.
//!
//! - Negative samples become 0, then each operation sees `value / dtype max` (integer data
//!   only: rio-tiler fails on float data, and imbrex refuses it; rescale first).
//! - After every operation the image is `(x * 255).astype(uint8)` (truncation, numpy's
//!   float to uint8 cast), so the next operation divides by 255.
//! - The mask is kept; every band goes through the scaling, operated on or not.
//!
//! Parsing follows `parse_operations` (tokens split on single spaces, commas dropped,
//! operation names case-insensitive, bands `r`/`g`/`b`/`1`-`3`). Formulas that TiTiler's
//! validator accepts but that fail on every image when applied (a missing argument,
//! `gamma <= 0`, a sigmoidal bias outside 0..1) are refused when parsed.

use crate::array::{Buffer, DataType};
use crate::error::{Error, Result};
use crate::image::ImageData;

/// `numpy.finfo(float64).eps`.
const EPS: f64 = f64::EPSILON;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Op {
    Gamma(f64),
    Sigmoidal { contrast: f64, bias: f64 },
    Saturation(f64),
}

#[derive(Clone, Debug, PartialEq)]
struct Step {
    op: Op,
    /// 0-based bands (ignored by saturation, which works on the first three).
    bands: Vec<usize>,
}

/// A parsed colour formula.
#[derive(Clone, Debug, PartialEq)]
pub struct ColorFormula {
    steps: Vec<Step>,
}

fn bad(reason: impl Into<String>) -> Error {
    Error::InvalidParameter { name: "color_formula", reason: reason.into() }
}

/// Python's `float()`: decimal or exponent notation, `inf`/`infinity`/`nan` in any case,
/// underscores between digits.
fn py_float(s: &str) -> Option<f64> {
    let s = s.trim();
    let b = s.as_bytes();
    let mut clean = String::with_capacity(s.len());
    for (i, &c) in b.iter().enumerate() {
        if c == b'_' {
            let ok = i > 0 && i + 1 < b.len() && b[i - 1].is_ascii_digit() && b[i + 1].is_ascii_digit();
            if !ok {
                return None;
            }
        } else {
            clean.push(c as char);
        }
    }
    let body = clean.trim_start_matches(['+', '-']);
    let lower = body.to_ascii_lowercase();
    if !matches!(lower.as_str(), "inf" | "infinity" | "nan") && !body.bytes().any(|c| c.is_ascii_digit()) {
        return None;
    }
    clean.parse::<f64>().ok()
}

impl ColorFormula {
    /// Parse; errors are `Error::InvalidParameter { name: "color_formula", .. }`.
    pub fn parse(text: &str) -> Result<ColorFormula> {
        const OPS: [&str; 3] = ["saturation", "sigmoidal", "gamma"];
        let text = text.replace(',', "");
        let mut groups: Vec<Vec<String>> = Vec::new();
        let mut current: Vec<String> = Vec::new();
        for token in text.split(' ') {
            let token = token.trim().to_lowercase();
            if OPS.contains(&token.as_str()) && !current.is_empty() {
                groups.push(std::mem::take(&mut current));
            }
            current.push(token);
        }
        if !current.is_empty() {
            groups.push(current);
        }
        let mut steps = Vec::with_capacity(groups.len());
        for parts in groups {
            let name = parts[0].as_str();
            if !OPS.contains(&name) {
                return Err(bad(format!("'{name}' is not a valid operation")));
            }
            let Some(bandstr) = parts.get(1) else {
                return Err(bad(format!("{name} needs bands and arguments")));
            };
            let (bands, args): (Vec<usize>, Vec<&String>) = if name == "saturation" {
                (vec![0, 1, 2], parts[1..].iter().collect())
            } else {
                let mut bands = Vec::new();
                for c in bandstr.chars() {
                    let band = match c {
                        '0'..='9' => c as usize - '0' as usize,
                        'r' => 1,
                        'g' => 2,
                        'b' => 3,
                        _ => return Err(bad(format!("{name}: '{c}' is not a band"))),
                    };
                    if !(1..=3).contains(&band) {
                        return Err(bad(format!("{name} BAND must be between 1 and 3")));
                    }
                    if !bands.contains(&(band - 1)) {
                        bands.push(band - 1);
                    }
                }
                bands.sort_unstable();
                (bands, parts[2..].iter().collect())
            };
            let args: Vec<f64> = args
                .iter()
                .map(|a| py_float(a).ok_or_else(|| bad(format!("{name}: '{a}' is not a number"))))
                .collect::<Result<_>>()?;
            let need = if name == "sigmoidal" { 2 } else { 1 };
            if args.len() < need {
                if bands.is_empty() {
                    // Nothing to apply it to: TiTiler accepts and skips it.
                    continue_with_scaling(&mut steps);
                    continue;
                }
                return Err(bad(format!("{name} takes {need} argument(s)")));
            }
            let op = match name {
                "gamma" => {
                    let g = args[0];
                    if (g <= 0.0 || g.is_nan()) && !bands.is_empty() {
                        return Err(bad("gamma must be greater than 0"));
                    }
                    Op::Gamma(g)
                }
                "sigmoidal" => {
                    let bias = args[1];
                    // Python's comparisons: a NaN bias passes.
                    #[allow(clippy::manual_range_contains)]
                    let outside = bias > 1.0 + EPS || bias < -EPS;
                    if outside && !bands.is_empty() {
                        return Err(bad("bias must be a scalar float between 0 and 1"));
                    }
                    Op::Sigmoidal { contrast: args[0], bias }
                }
                _ => Op::Saturation(args[0]),
            };
            steps.push(Step { op, bands });
        }
        Ok(ColorFormula { steps })
    }

    /// rio-tiler's `apply_color_formula`.
    pub fn apply(&self, img: &ImageData) -> Result<ImageData> {
        let dtype = img.dtype();
        if dtype.is_float() {
            return Err(bad(format!(
                "color_formula applies to integer data, not {dtype} (rio-tiler fails on it); rescale it first"
            )));
        }
        let n = img.width * img.height;
        for s in &self.steps {
            match s.op {
                Op::Saturation(_) if img.count < 3 => return Err(bad("saturation requires a 3-band array")),
                _ => {
                    if let Some(&b) = s.bands.iter().find(|&&b| b >= img.count) {
                        return Err(bad(format!("band {} is not in a {}-band image", b + 1, img.count)));
                    }
                }
            }
        }
        // out[out < 0] = 0
        let mut cur: Vec<f64> = img.data.to_f64_vec().into_iter().map(|v| if v < 0.0 { 0.0 } else { v }).collect();
        let mut max = dtype.max_value();
        for step in &self.steps {
            let mut math: Vec<f64> = cur.iter().map(|&v| v / max).collect();
            match step.op {
                Op::Gamma(g) => {
                    for &b in &step.bands {
                        for v in &mut math[b * n..(b + 1) * n] {
                            *v = gamma(*v, g);
                        }
                    }
                }
                Op::Sigmoidal { contrast, bias } => {
                    let f = Sigmoidal::new(contrast, bias);
                    for &b in &step.bands {
                        for v in &mut math[b * n..(b + 1) * n] {
                            *v = f.apply(*v);
                        }
                    }
                }
                Op::Saturation(p) => {
                    for i in 0..n {
                        let rgb = saturate(math[i], math[n + i], math[2 * n + i], p);
                        math[i] = rgb[0];
                        math[n + i] = rgb[1];
                        math[2 * n + i] = rgb[2];
                    }
                }
            }
            // scale_dtype(..., uint8): (x * 255).astype(uint8)
            cur = math.iter().map(|&v| crate::algorithm::np::cast(v * 255.0, DataType::Uint8, true)).collect();
            max = 255.0;
        }
        Ok(ImageData {
            data: Buffer::Uint8(cur.iter().map(|&v| v as u8).collect()),
            scales: vec![1.0; img.count],
            offsets: vec![0.0; img.count],
            // rio-tiler brings an alpha band of another type to 8 bits too.
            alpha_mask: img.alpha_mask.as_ref().map(|_| Buffer::Uint8(img.mask())),
            ..img.clone()
        })
    }
}

/// A parsed operation with no bands and no arguments still scales the image to uint8.
fn continue_with_scaling(steps: &mut Vec<Step>) {
    steps.push(Step { op: Op::Gamma(1.0), bands: Vec::new() });
}

/// `arr ** (1.0 / g)`, with numpy's fast paths for the exponents 1, 2, 0.5 and 0.
fn gamma(v: f64, g: f64) -> f64 {
    let e = 1.0 / g;
    if e == 1.0 {
        v
    } else if e == 2.0 {
        v * v
    } else if e == 0.5 {
        v.sqrt()
    } else if e == 0.0 {
        1.0
    } else {
        v.powf(e)
    }
}

/// color_operations' sigmoidal contrast, with its scalar parts precomputed (numpy computes
/// them the same way, as float64 scalars).
struct Sigmoidal {
    alpha: f64,
    beta: f64,
    /// `1 / (1 + exp(beta * alpha))`
    c0: f64,
    /// The denominator of the forward curve.
    den: f64,
    /// `1 + exp(beta * alpha - beta)` (inverse curve).
    e1: f64,
    /// `1 + exp(beta * alpha)` (inverse curve).
    e0: f64,
}

impl Sigmoidal {
    fn new(contrast: f64, bias: f64) -> Sigmoidal {
        let alpha = if bias == 0.0 { EPS } else { bias };
        let beta = contrast;
        let e0 = 1.0 + (beta * alpha).exp();
        let c0 = 1.0 / e0;
        let den = 1.0 / (1.0 + (beta * (alpha - 1.0)).exp()) - 1.0 / (1.0 + (beta * alpha).exp());
        let e1 = 1.0 + (beta * alpha - beta).exp();
        Sigmoidal { alpha, beta, c0, den, e1, e0 }
    }

    fn apply(&self, x: f64) -> f64 {
        let (alpha, beta) = (self.alpha, self.beta);
        if beta == 0.0 {
            x
        } else if beta > 0.0 {
            let num = 1.0 / (1.0 + (beta * (alpha - x)).exp()) - self.c0;
            num / self.den
        } else {
            let inner = (x / self.e1) - (x / self.e0) + (1.0 / self.e0);
            ((beta * alpha) - ((1.0 / inner) - 1.0).ln()) / beta
        }
    }
}

// color_operations' colour space constants (Cython DEFs, computed in Python).
const BINTERCEPT: f64 = 4.0 / 29.0;
const DELTA: f64 = 6.0 / 29.0;
const XN: f64 = 0.95047;
const ZN: f64 = 1.08883;

/// `delta ** 3` and `(delta ** -2) / 3`, as Python computes them.
fn t0_alpha() -> (f64, f64) {
    (DELTA.powf(3.0), DELTA.powf(-2.0) / 3.0)
}

fn srgb_to_linear(c: f64) -> f64 {
    if c <= 0.04045 { c / 12.92 } else { ((c + 0.055) / 1.055).powf(2.4) }
}

fn linear_to_srgb(c: f64) -> f64 {
    let v = if c <= 0.0031308 { 12.92 * c } else { (1.055 * c.powf(1.0 / 2.4)) - 0.055 };
    v.clamp(0.0, 1.0)
}

/// `saturate_rgb` for one pixel: RGB to LCH, chroma times `p`, back to RGB (clamped).
fn saturate(r: f64, g: f64, b: f64, p: f64) -> [f64; 3] {
    let (t0, alpha) = t0_alpha();
    let third = 1.0 / 3.0;
    // RGB -> XYZ
    let (rl, gl, bl) = (srgb_to_linear(r), srgb_to_linear(g), srgb_to_linear(b));
    let x = ((rl * 0.4124564) + (gl * 0.3575761) + (bl * 0.1804375)) / XN;
    let y = (rl * 0.2126729) + (gl * 0.7151522) + (bl * 0.0721750);
    let z = ((rl * 0.0193339) + (gl * 0.1191920) + (bl * 0.9503041)) / ZN;
    // XYZ -> LAB
    let f = |t: f64| if t > t0 { t.powf(third) } else { (alpha * t) + BINTERCEPT };
    let (fx, fy, fz) = (f(x), f(y), f(z));
    let l = (116.0 * fy) - 16.0;
    let a = 500.0 * (fx - fy);
    let bb = 200.0 * (fy - fz);
    // LAB -> LCH, saturate, LCH -> LAB
    let c = ((a * a) + (bb * bb)).powf(0.5) * p;
    let h = bb.atan2(a);
    let (a, bb) = (c * h.cos(), c * h.sin());
    // LAB -> XYZ
    let inv = |t: f64| if t > DELTA { t.powf(3.0) } else { 3.0 * DELTA * DELTA * (t - BINTERCEPT) };
    let x = inv(((l + 16.0) / 116.0) + (a / 500.0)) * XN;
    let y = inv((l + 16.0) / 116.0);
    let z = inv(((l + 16.0) / 116.0) - (bb / 200.0)) * ZN;
    // XYZ -> RGB
    let rlin = (x * 3.2404542) + (y * -1.5371385) + (z * -0.4985314);
    let glin = (x * -0.9692660) + (y * 1.8760108) + (z * 0.0415560);
    let blin = (x * 0.0556434) + (y * -0.2040259) + (z * 1.0572252);
    [linear_to_srgb(rlin), linear_to_srgb(glin), linear_to_srgb(blin)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use imbrex_tms::Bounds;

    fn rgb(vals: Vec<u8>, n: usize) -> ImageData {
        ImageData {
            width: n,
            height: 1,
            count: 3,
            data: Buffer::Uint8(vals),
            band_mask: vec![255; 3 * n],
            bounds: Bounds::new(0.0, 0.0, n as f64, 1.0),
            crs: None,
            band_names: vec!["b1".into(), "b2".into(), "b3".into()],
            band_descriptions: vec!["b1".into(), "b2".into(), "b3".into()],
            nodata: None,
            scales: vec![1.0; 3],
            offsets: vec![0.0; 3],
            alpha_mask: None,
        }
    }

    #[test]
    fn parses_titiler_formulas() {
        let f = ColorFormula::parse("gamma RGB 1.5, sigmoidal RGB 10 0.15, saturation 1.2").unwrap();
        assert_eq!(f.steps.len(), 3);
        assert_eq!(f.steps[1], Step { op: Op::Sigmoidal { contrast: 10.0, bias: 0.15 }, bands: vec![0, 1, 2] });
        assert_eq!(ColorFormula::parse("GAMMA b 2").unwrap().steps[0].bands, vec![2]);
        assert!(ColorFormula::parse("gamma RGB 1_5").is_ok());
        for bad in [
            "",
            "brightness RGB 1",
            "gamma RGBA 1",
            "gamma 4 1",
            "gamma RGB abc",
            " gamma RGB 1",
            "gamma RGB",
            "gamma RGB 0",
            "sigmoidal RGB 10 2",
            "saturation",
        ] {
            match ColorFormula::parse(bad) {
                Err(Error::InvalidParameter { name: "color_formula", .. }) => {}
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn gamma_one_is_identity_and_float_data_is_refused() {
        let img = rgb(vec![0, 128, 255, 1, 2, 3, 10, 20, 30], 3);
        let out = ColorFormula::parse("gamma rgb 1").unwrap().apply(&img).unwrap();
        assert_eq!(out.data, img.data);
        let mut f = img.clone();
        f.data = Buffer::Float32(vec![0.5; 9]);
        assert!(ColorFormula::parse("gamma rgb 1").unwrap().apply(&f).is_err());
    }

    #[test]
    fn known_values_from_rio_tiler() {
        // rio-tiler 9.4.12 (`ImageData.apply_color_formula`) on the same pixels: grey drifts
        // through LCH and is truncated.
        let apply =
            |vals: Vec<u8>, n: usize, f: &str| ColorFormula::parse(f).unwrap().apply(&rgb(vals, n)).unwrap().data;
        assert_eq!(apply(vec![128, 128, 128], 1, "saturation 1"), Buffer::Uint8(vec![127, 128, 127]));
        assert_eq!(
            apply(vec![200, 10, 100, 20, 50, 250], 2, "saturation 1.5"),
            Buffer::Uint8(vec![225, 0, 78, 0, 0, 255])
        );
        assert_eq!(
            apply(vec![200, 10, 100, 20, 50, 250], 2, "sigmoidal RGB 5 0.3, gamma G 0.8"),
            Buffer::Uint8(vec![238, 10, 119, 11, 61, 254])
        );
    }
}
