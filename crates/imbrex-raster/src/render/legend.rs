//! Legends (django-raster's role): classes defined by expressions over the pixel value
//! `x`, or a continuous colour ramp; applied to one-band data like a colormap, counted
//! per class, and drawn as an image with labels.
//!
//! Classes are evaluated with the band-math engine ([`Expression`], numexpr's
//! semantics): `x` is the pixel value as float64, a bare number means `x == number`, and
//! an expression must give true or false. The first class that matches a pixel colours
//! it; a pixel no class matches is transparent.

use std::fmt::Write as _;

use serde_json::{Value, json};

use super::colormap::{ColorMap, Rgba, parse_color};
use crate::array::Buffer;
use crate::error::{Error, Result};
use crate::expr::{ExprType, Expression};
use crate::image::ImageData;

/// The most classes a legend may have.
pub const MAX_CLASSES: usize = 256;
/// Longest class expression.
const MAX_EXPRESSION: usize = 1024;
/// Longest class name (legend images are as wide as it).
const MAX_NAME: usize = 64;

/// A legend: classes, or a ramp.
#[derive(Clone, Debug)]
pub enum Legend {
    Classes(Vec<Class>),
    Ramp(Ramp),
}

/// One class: the pixels its expression is true for get its colour.
#[derive(Clone, Debug)]
pub struct Class {
    pub name: String,
    /// As given (`x < 0.5`, `3`).
    pub expression: String,
    pub color: Rgba,
    compiled: Expression,
}

/// A continuous ramp from `from` (at `range.0`) through `over` (half-way) to `to`.
#[derive(Clone, Debug, PartialEq)]
pub struct Ramp {
    pub from: Rgba,
    pub over: Option<Rgba>,
    pub to: Rgba,
    /// `None`: the dataset's statistics decide.
    pub range: Option<(f64, f64)>,
}

fn invalid(reason: impl Into<String>) -> Error {
    Error::InvalidParameter { name: "legend", reason: reason.into() }
}

impl Legend {
    /// `[{"name", "expression", "color"}, ...]`, `{"classes": [...]}`, or a ramp
    /// `{"from", "over"?, "to", "range"?}`.
    pub fn from_json(text: &str) -> Result<Legend> {
        let v: Value = serde_json::from_str(text).map_err(|e| invalid(format!("invalid JSON: {e}")))?;
        Legend::from_value(&v)
    }

    pub fn from_value(v: &Value) -> Result<Legend> {
        let color = |v: &Value, what: &str| parse_color(v).map_err(|e| invalid(format!("{what}: {e}")));
        match v {
            Value::Array(classes) => Legend::classes(classes),
            Value::Object(o) if o.contains_key("classes") => match &o["classes"] {
                Value::Array(classes) => Legend::classes(classes),
                _ => Err(invalid("'classes' is a list")),
            },
            Value::Object(o) => {
                if let Some(k) = o.keys().find(|k| !["from", "over", "to", "range"].contains(&k.as_str())) {
                    return Err(invalid(format!("unknown key '{k}' (a ramp has from, over, to and range)")));
                }
                let from = color(o.get("from").ok_or_else(|| invalid("a ramp needs 'from'"))?, "from")?;
                let to = color(o.get("to").ok_or_else(|| invalid("a ramp needs 'to'"))?, "to")?;
                let over = o.get("over").map(|c| color(c, "over")).transpose()?;
                let range = match o.get("range") {
                    None | Some(Value::Null) => None,
                    Some(Value::Array(r)) if r.len() == 2 => {
                        let lo = r[0].as_f64().ok_or_else(|| invalid("range holds two numbers"))?;
                        let hi = r[1].as_f64().ok_or_else(|| invalid("range holds two numbers"))?;
                        if lo.partial_cmp(&hi) != Some(std::cmp::Ordering::Less) {
                            return Err(invalid(format!("range [{lo}, {hi}] is empty")));
                        }
                        Some((lo, hi))
                    }
                    Some(_) => return Err(invalid("range is [min, max]")),
                };
                Ok(Legend::Ramp(Ramp { from, over, to, range }))
            }
            _ => Err(invalid("a legend is a list of classes or a ramp object")),
        }
    }

    fn classes(list: &[Value]) -> Result<Legend> {
        if list.is_empty() || list.len() > MAX_CLASSES {
            return Err(invalid(format!("a legend has 1 to {MAX_CLASSES} classes")));
        }
        let mut out = Vec::with_capacity(list.len());
        for (i, c) in list.iter().enumerate() {
            let o = c.as_object().ok_or_else(|| invalid(format!("class {} is not an object", i + 1)))?;
            let text = |key: &str| match o.get(key) {
                Some(Value::String(s)) => Ok(s.clone()),
                Some(Value::Number(n)) => Ok(n.to_string()),
                _ => Err(invalid(format!("class {} needs '{key}'", i + 1))),
            };
            let expression = text("expression")?;
            let name = text("name").unwrap_or_else(|_| expression.clone());
            let color = parse_color(o.get("color").ok_or_else(|| invalid(format!("class {} needs 'color'", i + 1)))?)
                .map_err(|e| invalid(format!("class '{name}': {e}")))?;
            if name.chars().count() > MAX_NAME {
                return Err(invalid(format!("class {}: a name has at most {MAX_NAME} characters", i + 1)));
            }
            if out.iter().any(|c: &Class| c.name == name) {
                return Err(invalid(format!("two classes are named '{name}'")));
            }
            let compiled = compile(&expression).map_err(|e| invalid(format!("class '{name}': {e}")))?;
            out.push(Class { name, expression, color, compiled });
        }
        Ok(Legend::Classes(out))
    }

    /// A ramp without a range takes it from the dataset.
    pub fn needs_range(&self) -> bool {
        matches!(self, Legend::Ramp(Ramp { range: None, .. }))
    }

    /// The class of each valid pixel of band 1 (`None`: masked or no class matches).
    pub fn classify(&self, img: &ImageData) -> Result<Vec<Option<u16>>> {
        let Legend::Classes(classes) = self else {
            return Err(invalid("a ramp has no classes"));
        };
        let n = img.width * img.height;
        let (data, mask) = (Buffer::Float64(img.band_f64(0)), img.band_mask[..n].to_vec());
        let values = ImageData::one_band(img.width, img.height, data, mask, img.bounds);
        let mut out: Vec<Option<u16>> = vec![None; n];
        let mut open = values.band_mask.iter().filter(|&&m| m != 0).count();
        for (k, class) in classes.iter().enumerate() {
            if open == 0 {
                break;
            }
            let hit = class.compiled.apply(&values)?;
            for (i, o) in out.iter_mut().enumerate() {
                if o.is_none() && values.band_mask[i] != 0 && hit.data.get_f64(i) != 0.0 {
                    *o = Some(k as u16);
                    open -= 1;
                }
            }
        }
        Ok(out)
    }

    /// Colour band 1: an RGB image whose alpha is the class's (or the ramp's) alpha where
    /// a class matches, 0 elsewhere, and the pixels per class (classes in order; a ramp
    /// counts its valid pixels as one class), from one evaluation of the classes. `range`
    /// is the ramp's when it has none of its own.
    pub fn paint(&self, img: &ImageData, range: Option<(f64, f64)>) -> Result<(ImageData, Vec<(String, u64)>)> {
        let n = img.width * img.height;
        let (colors, counts): (Vec<Rgba>, _) = match self {
            Legend::Classes(classes) => {
                let mut counts = vec![0u64; classes.len()];
                let colors = self
                    .classify(img)?
                    .into_iter()
                    .map(|c| {
                        c.map_or([0; 4], |c| {
                            counts[c as usize] += 1;
                            classes[c as usize].color
                        })
                    })
                    .collect();
                (colors, classes.iter().zip(counts).map(|(c, n)| (c.name.clone(), n)).collect())
            }
            Legend::Ramp(r) => {
                let (lo, hi) = r.range.or(range).unwrap_or((0.0, 255.0));
                let colors = (0..n)
                    .map(|i| {
                        let v = img.data.get_f64(i);
                        if img.band_mask[i] == 0 || v.is_nan() { [0; 4] } else { r.color((v - lo) / (hi - lo)) }
                    })
                    .collect();
                (colors, vec![("ramp".into(), img.band_mask[..n].iter().filter(|&&m| m != 0).count() as u64)])
            }
        };
        let mut data = vec![0u8; 3 * n];
        let mut alpha = vec![0u8; n];
        for (i, c) in colors.iter().enumerate() {
            for b in 0..3 {
                data[b * n + i] = c[b];
            }
            alpha[i] = c[3];
        }
        let painted = ImageData {
            width: img.width,
            height: img.height,
            count: 3,
            data: Buffer::Uint8(data),
            bounds: img.bounds,
            crs: img.crs.clone(),
            band_mask: alpha.iter().map(|&a| if a > 0 { 255 } else { 0 }).cycle().take(3 * n).collect(),
            band_names: vec!["red".into(), "green".into(), "blue".into()],
            band_descriptions: vec!["red".into(), "green".into(), "blue".into()],
            nodata: None,
            scales: vec![1.0; 3],
            offsets: vec![0.0; 3],
            alpha_mask: Some(Buffer::Uint8(alpha)),
        };
        Ok((painted, counts))
    }

    /// The JSON document of `GET /legends/{name}`.
    pub fn document(&self, name: &str) -> Value {
        match self {
            Legend::Classes(classes) => json!({
                "name": name,
                "type": "classes",
                "classes": classes.iter().map(|c| json!({
                    "name": c.name, "expression": c.expression, "color": hex(c.color),
                })).collect::<Vec<_>>(),
            }),
            Legend::Ramp(r) => {
                let mut doc = json!({"name": name, "type": "ramp", "from": hex(r.from), "to": hex(r.to)});
                if let Some(o) = r.over {
                    doc["over"] = json!(hex(o));
                }
                if let Some((lo, hi)) = r.range {
                    doc["range"] = json!([lo, hi]);
                    doc["stops"] = json!(
                        r.stops(lo, hi).iter().map(|(v, c)| json!({"value": v, "color": hex(*c)})).collect::<Vec<_>>()
                    );
                }
                doc
            }
        }
    }

    /// Swatches and labels (what the PNG and SVG draw): `(colour, label)` per row.
    fn rows(&self, range: Option<(f64, f64)>) -> Vec<(Rgba, String)> {
        match self {
            Legend::Classes(classes) => classes.iter().map(|c| (c.color, c.name.clone())).collect(),
            Legend::Ramp(r) => match r.range.or(range) {
                Some((lo, hi)) => r.stops(lo, hi).into_iter().map(|(v, c)| (c, tick_label(v))).collect(),
                None => {
                    let mut rows = vec![(r.from, "min".to_string())];
                    rows.extend(r.over.map(|o| (o, "mid".to_string())));
                    rows.push((r.to, "max".into()));
                    rows
                }
            },
        }
    }

    /// The legend as a PNG: one swatch and label per class (a ramp: its stops).
    pub fn png(&self, range: Option<(f64, f64)>) -> Result<Vec<u8>> {
        let rows = self.rows(range);
        let longest = rows.iter().map(|(_, l)| l.chars().count()).max().unwrap_or(0);
        let mut c = Canvas::new(ROW + 8 + longest * GLYPH + 8, rows.len() * ROW + 8);
        for (i, (color, label)) in rows.iter().enumerate() {
            let y = 4 + i * ROW;
            // A black frame, then the colour over white inside it.
            c.rect(4, y + 2, ROW - 4, ROW - 4, [0, 0, 0, 255]);
            c.rect(5, y + 3, ROW - 6, ROW - 6, [255, 255, 255, 255]);
            c.rect(5, y + 3, ROW - 6, ROW - 6, *color);
            c.text(ROW + 8, y + (ROW - GLYPH) / 2, label, [0, 0, 0, 255]);
        }
        c.png()
    }

    /// The legend as SVG.
    pub fn svg(&self, range: Option<(f64, f64)>) -> String {
        let rows = self.rows(range);
        let longest = rows.iter().map(|(_, l)| l.chars().count()).max().unwrap_or(0);
        let (w, h) = (ROW + 16 + longest * 9, rows.len() * ROW + 8);
        let mut s = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"14\">\
             <rect width=\"{w}\" height=\"{h}\" fill=\"#ffffff\"/>"
        );
        for (i, (c, label)) in rows.iter().enumerate() {
            let y = 4 + i * ROW;
            let _ = write!(
                s,
                "<rect x=\"4\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\" fill-opacity=\"{:.3}\" stroke=\"#000000\"/>\
                 <text x=\"{}\" y=\"{}\">{}</text>",
                y + 2,
                ROW - 4,
                ROW - 4,
                &hex(*c)[..7],
                c[3] as f64 / 255.0,
                ROW + 8,
                y + ROW / 2 + 5,
                xml_escape(label)
            );
        }
        s.push_str("</svg>");
        s
    }
}

impl Ramp {
    /// Colour at `t` in 0..1 (clamped).
    pub fn color(&self, t: f64) -> Rgba {
        let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
        let mix = |a: Rgba, b: Rgba, t: f64| -> Rgba {
            std::array::from_fn(|i| (a[i] as f64 + (b[i] as f64 - a[i] as f64) * t).round() as u8)
        };
        match self.over {
            Some(o) if t < 0.5 => mix(self.from, o, t * 2.0),
            Some(o) => mix(o, self.to, t * 2.0 - 1.0),
            None => mix(self.from, self.to, t),
        }
    }

    /// Value stops: `from` at `lo`, `over` half-way, `to` at `hi`.
    pub fn stops(&self, lo: f64, hi: f64) -> Vec<(f64, Rgba)> {
        let mut s = vec![(lo, self.from)];
        s.extend(self.over.map(|o| ((lo + hi) / 2.0, o)));
        s.push((hi, self.to));
        s
    }
}

/// A class expression as band math over `b1`: a bare number is `x == number`; `x` is the
/// only name; the result must be true or false.
fn compile(text: &str) -> std::result::Result<Expression, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("an empty expression".into());
    }
    let t = if t.parse::<f64>().is_ok() { format!("x == {t}") } else { t.to_string() };
    let mut out = String::with_capacity(t.len());
    let chars: Vec<char> = t.chars().collect();
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut i = 0;
    while i < chars.len() {
        if word(chars[i]) && (i == 0 || !word(chars[i - 1])) {
            let end = (i..chars.len()).find(|&j| !word(chars[j])).unwrap_or(chars.len());
            let token: String = chars[i..end].iter().collect();
            let lower = token.to_ascii_lowercase();
            let is_band = lower.len() > 1 && lower.starts_with('b') && lower[1..].chars().all(|c| c.is_ascii_digit());
            if is_band {
                return Err(format!("'{token}': a class is an expression over x, the pixel value"));
            }
            out.push_str(if lower == "x" { "b1" } else { &token });
            i = end;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    let e = Expression::parse(&out, MAX_EXPRESSION).map_err(|e| e.to_string().replace("b1", "x"))?;
    if e.bands() != [1] {
        return Err(format!("'{text}' does not use x"));
    }
    match e.output_type(crate::array::DataType::Float64).map_err(|e| e.to_string())? {
        ExprType::Bool => Ok(e),
        other => Err(format!("'{text}' gives {} values, not true or false", other.name())),
    }
}

/// `#rrggbbaa` (`#rrggbb` when opaque).
pub fn hex(c: Rgba) -> String {
    if c[3] == 255 {
        format!("#{:02x}{:02x}{:02x}", c[0], c[1], c[2])
    } else {
        format!("#{:02x}{:02x}{:02x}{:02x}", c[0], c[1], c[2], c[3])
    }
}

/// A tick label: up to 4 significant digits, no trailing zeros.
pub fn tick_label(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let digits = (3 - v.abs().log10().floor() as i32).clamp(0, 8) as usize;
    let s = format!("{v:.digits$}");
    let s = if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s };
    if s == "-0" { "0".into() } else { s }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Row height of a legend image, and the width of a glyph (8 x 8 glyphs drawn twice as
/// large, 16 px: readable without a font file).
const ROW: usize = 24;
const GLYPH: usize = 16;

/// A white RGBA canvas for legend images.
struct Canvas {
    w: usize,
    h: usize,
    px: Vec<Rgba>,
}

impl Canvas {
    fn new(w: usize, h: usize) -> Canvas {
        Canvas { w, h, px: vec![[255, 255, 255, 255]; w * h] }
    }

    fn rect(&mut self, x: usize, y: usize, w: usize, h: usize, c: Rgba) {
        for yy in y..(y + h).min(self.h) {
            for xx in x..(x + w).min(self.w) {
                let p = &mut self.px[yy * self.w + xx];
                // Over white: a translucent swatch shows as it would on a white page.
                let a = c[3] as u32;
                for i in 0..3 {
                    p[i] = ((c[i] as u32 * a + p[i] as u32 * (255 - a) + 127) / 255) as u8;
                }
            }
        }
    }

    /// Text in font8x8's glyphs at twice their size.
    fn text(&mut self, x: usize, y: usize, s: &str, c: Rgba) {
        use font8x8::UnicodeFonts;
        for (k, ch) in s.chars().enumerate() {
            let glyph = font8x8::BASIC_FONTS
                .get(ch)
                .or_else(|| font8x8::LATIN_FONTS.get(ch))
                .or_else(|| font8x8::BASIC_FONTS.get('?'))
                .unwrap_or([0; 8]);
            for (gy, row) in glyph.iter().enumerate() {
                for gx in 0..8 {
                    if row & (1 << gx) != 0 {
                        self.rect(x + k * GLYPH + gx * 2, y + gy * 2, 2, 2, c);
                    }
                }
            }
        }
    }

    fn png(&self) -> Result<Vec<u8>> {
        let n = self.w * self.h;
        let mut data = vec![0u8; 3 * n];
        for (i, p) in self.px.iter().enumerate() {
            for b in 0..3 {
                data[b * n + i] = p[b];
            }
        }
        super::encode::png(&Buffer::Uint8(data), 3, self.w, self.h, None)
    }
}

/// A colormap bar with value ticks (`GET /cog/legend`): the 256 colours of `cm` from
/// `lo` (left) to `hi` (right), five labelled ticks underneath.
pub fn colorbar_png(cm: &ColorMap, (lo, hi): (f64, f64)) -> Result<Vec<u8>> {
    let labels: Vec<String> = (0..5).map(|i| tick_label(lo + (hi - lo) * i as f64 / 4.0)).collect();
    let pad = labels.iter().map(|l| l.chars().count()).max().unwrap_or(1) * GLYPH / 2 + 4;
    let (bar_w, bar_h) = (512, 24);
    let mut c = Canvas::new(bar_w + 2 * pad, bar_h + 8 + GLYPH + 8);
    for x in 0..bar_w {
        c.rect(pad + x, 4, 1, bar_h, cm.color((x * 256 / bar_w) as f64));
    }
    for (i, label) in labels.iter().enumerate() {
        let x = pad + (bar_w - 1) * i / 4;
        c.rect(x, 4 + bar_h, 1, 6, [0, 0, 0, 255]);
        let half = label.chars().count() * GLYPH / 2;
        c.text(x.saturating_sub(half), 4 + bar_h + 8, label, [0, 0, 0, 255]);
    }
    c.png()
}

#[cfg(test)]
mod tests {
    use super::*;
    use imbrex_tms::Bounds;

    fn image(values: Vec<f64>, mask: Vec<u8>) -> ImageData {
        let n = values.len();
        ImageData::one_band(n, 1, Buffer::Float64(values), mask, Bounds::new(0.0, 0.0, n as f64, 1.0))
    }

    #[test]
    fn first_matching_class_wins_and_the_rest_is_transparent() {
        let legend = Legend::from_json(
            r##"[{"name": "three", "expression": "3", "color": "#ff0000"},
                {"name": "low", "expression": "(-3.0 < x) & (x <= 1)", "color": [0, 255, 0]},
                {"name": "high", "expression": "X >= 100", "color": "#0000ff80"}]"##,
        )
        .unwrap();
        let img = image(vec![3.0, 0.5, -3.0, 100.0, 1.0, 3.0, 50.0], vec![255, 255, 255, 255, 255, 0, 255]);
        let classes = legend.classify(&img).unwrap();
        assert_eq!(classes, vec![Some(0), Some(1), None, Some(2), Some(1), None, None]);
        let (painted, counts) = legend.paint(&img, None).unwrap();
        assert_eq!(counts, vec![("three".into(), 1), ("low".into(), 2), ("high".into(), 1)]);
        let n = img.width;
        let px = |i: usize| -> Rgba {
            let d = painted.data.as_slice::<u8>().unwrap();
            [d[i], d[n + i], d[2 * n + i], painted.alpha_mask.as_ref().unwrap().as_slice::<u8>().unwrap()[i]]
        };
        assert_eq!(px(0), [255, 0, 0, 255]);
        assert_eq!(px(1), [0, 255, 0, 255]);
        assert_eq!(px(3), [0, 0, 255, 128]);
        assert_eq!(px(2)[3], 0);
        assert_eq!(px(5)[3], 0, "a masked pixel stays transparent even when its value matches");
    }

    #[test]
    fn bad_classes_are_errors_naming_the_legend() {
        for bad in [
            r##"[{"name": "a", "expression": "x + 1", "color": "#fff"}]"##,
            r##"[{"name": "a", "expression": "b2 > 1", "color": "#fff"}]"##,
            r##"[{"name": "a", "expression": "x >", "color": "#fff"}]"##,
            r##"[{"name": "a", "expression": "x > 1", "color": "red"}]"##,
            r##"[{"name": "a", "expression": "x > 1"}]"##,
            r##"[]"##,
            r##"{"from": "#000", "to": "#fff", "range": [1, 1]}"##,
            r##"{"from": "#000"}"##,
            r##"{"from": "#000", "to": "#fff", "ranges": [0, 1]}"##,
            r##"not json"##,
        ] {
            match Legend::from_json(bad) {
                Err(Error::InvalidParameter { name: "legend", .. }) => {}
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn ramps_interpolate_through_over_and_clamp() {
        let legend =
            Legend::from_json(r##"{"from": "#000000", "over": "#ff0000", "to": "#ffffff", "range": [0, 10]}"##)
                .unwrap();
        let Legend::Ramp(r) = &legend else { panic!() };
        assert_eq!(r.color(0.0), [0, 0, 0, 255]);
        assert_eq!(r.color(0.5), [255, 0, 0, 255]);
        assert_eq!(r.color(0.75), [255, 128, 128, 255]);
        assert_eq!(r.color(2.0), [255, 255, 255, 255]);
        let img = image(vec![-5.0, 5.0, 10.0], vec![255; 3]);
        let (painted, _) = legend.paint(&img, Some((100.0, 200.0))).unwrap();
        assert_eq!(painted.data.as_slice::<u8>().unwrap()[..3], [0, 255, 255], "its own range wins");
        assert_eq!(legend.document("r")["stops"][1], json!({"value": 5.0, "color": "#ff0000"}));
    }

    #[test]
    fn legend_images_show_every_class_colour() {
        let legend = Legend::from_json(
            r##"[{"name": "water", "expression": "x == 1", "color": "#1060c0"},
                {"name": "forest", "expression": "x == 2", "color": "#208020"}]"##,
        )
        .unwrap();
        let png = legend.png(None).unwrap();
        let mut reader = png::Decoder::new(std::io::Cursor::new(png)).read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let frame = reader.next_frame(&mut buf).unwrap();
        let px: Vec<&[u8]> = buf[..frame.buffer_size()].chunks_exact(3).collect();
        for c in [[0x10, 0x60, 0xc0], [0x20, 0x80, 0x20]] {
            assert!(px.contains(&&c[..]), "{c:?} drawn");
        }
        // Labels: dark pixels right of the swatches.
        let w = frame.width as usize;
        assert!(px.iter().enumerate().any(|(i, p)| i % w > ROW + 8 && p[0] == 0));
        let svg = legend.svg(None);
        assert!(svg.contains(">water</text>") && svg.contains("#208020"));
        assert_eq!(tick_label(1234.5678), "1235");
        assert_eq!(tick_label(0.012345), "0.01235");
        assert_eq!(tick_label(-2.5), "-2.5");
    }
}
