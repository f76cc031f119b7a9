//! TiTiler's post-processing algorithms (`algorithm=` and `algorithm_params=`), ported from
//! titiler.core 2.4's `algorithm/` package with numpy's numerics: float32 data stays
//! float32 where numpy keeps it, masked arrays follow `numpy.ma` (see [`np`]), casts follow
//! numpy's `astype`.
//!
//! TiTiler applies the algorithm to the image a reader returned, before rendering
//! (`rescale`, then `color_formula`, then the colormap). Hillshade and slope crop `buffer`
//! pixels off each side: TiTiler expects the caller to read the tile with the same
//! `buffer=` (its docs: `?buffer=3&algorithm=hillshade`), otherwise the output is smaller
//! than the tile. [`Algorithm::buffer`] says how many.
//!
//! Where numpy would produce a 64-bit integer array (`sum` of integer bands), imbrex, which
//! has no 64-bit integer type, produces float64 (exact below 2^53).

mod dem;
mod math;
pub mod np;
mod pixel;

use serde_json::{Map, Value, json};

use imbrex_tms::Bounds;
use np::M;

use crate::array::DataType;
use crate::error::{Error, Result};
use crate::image::ImageData;

/// The algorithms, in TiTiler's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Hillshade,
    Slope,
    Contours,
    NormalizedIndex,
    Terrarium,
    TerrainRgb,
    Cast,
    Ceil,
    Floor,
    Min,
    Max,
    Median,
    Mean,
    Std,
    Var,
    Sum,
    Grayscale,
    Bitonal,
}

const KINDS: [(&str, Kind); 18] = [
    ("hillshade", Kind::Hillshade),
    ("slope", Kind::Slope),
    ("contours", Kind::Contours),
    ("normalizedIndex", Kind::NormalizedIndex),
    ("terrarium", Kind::Terrarium),
    ("terrainrgb", Kind::TerrainRgb),
    ("cast", Kind::Cast),
    ("ceil", Kind::Ceil),
    ("floor", Kind::Floor),
    ("min", Kind::Min),
    ("max", Kind::Max),
    ("median", Kind::Median),
    ("mean", Kind::Mean),
    ("std", Kind::Std),
    ("var", Kind::Var),
    ("sum", Kind::Sum),
    ("grayscale", Kind::Grayscale),
    ("bitonal", Kind::Bitonal),
];

/// A parameter's type, default and bounds (pydantic `Field(default, ge=, le=)`).
#[derive(Clone, Copy)]
enum Spec {
    Int(i64, i64, i64),
    Float(f64, f64, f64),
    /// `float | None`, default None.
    OptFloat(f64, f64),
}

struct Param {
    name: &'static str,
    title: &'static str,
    description: Option<&'static str>,
    spec: Spec,
}

const fn param(name: &'static str, title: &'static str, spec: Spec) -> Param {
    Param { name, title, description: None, spec }
}

const Z: Param = param("z_exaggeration", "Z Exaggeration", Spec::Float(1.0, 1e-6, 1e6));
const NODATA_HEIGHT: Param = param("nodata_height", "Nodata Height", Spec::OptFloat(-99999.0, 99999.0));

fn params_of(kind: Kind) -> Vec<Param> {
    match kind {
        Kind::Hillshade => vec![
            param("azimuth", "Azimuth", Spec::Int(45, 0, 360)),
            param("angle_altitude", "Angle Altitude", Spec::Float(45.0, -90.0, 90.0)),
            param("buffer", "Buffer", Spec::Int(3, 0, 99)),
            Z,
        ],
        Kind::Slope => vec![
            Param {
                name: "buffer",
                title: "Buffer",
                description: Some("Buffer size for edge effects"),
                spec: Spec::Int(3, 0, 99),
            },
            Z,
        ],
        Kind::Contours => vec![
            param("increment", "Increment", Spec::Int(35, 0, 999)),
            param("thickness", "Thickness", Spec::Int(1, 0, 10)),
            param("minz", "Minz", Spec::Int(-12000, -99999, 99999)),
            param("maxz", "Maxz", Spec::Int(8000, -99999, 99999)),
        ],
        Kind::Terrarium => vec![NODATA_HEIGHT],
        Kind::TerrainRgb => vec![
            param("interval", "Interval", Spec::Float(0.1, 0.0, 1.0)),
            param("baseval", "Baseval", Spec::Float(-10000.0, -99999.0, 99999.0)),
            NODATA_HEIGHT,
        ],
        _ => vec![],
    }
}

/// Title, description, input bands, output bands, dtype, min, max (the `input_*` and
/// `output_*` class attributes).
fn info(kind: Kind) -> (&'static str, &'static str, Value, Value, Option<&'static str>, Value, Value) {
    let null = Value::Null;
    let uint8_range = (json!([0]), json!([255]));
    match kind {
        Kind::Hillshade => {
            ("Hillshade", "Create hillshade from DEM dataset.", json!(1), json!(1), Some("uint8"), null.clone(), null)
        }
        Kind::Slope => (
            "Slope",
            "Calculate degrees of slope from DEM dataset.",
            json!(1),
            json!(1),
            Some("float32"),
            json!([0.0]),
            json!([90.0]),
        ),
        Kind::Contours => {
            ("Contours", "Create contours from DEM dataset.", json!(1), json!(3), Some("uint8"), null.clone(), null)
        }
        Kind::NormalizedIndex => (
            "Normalized Difference Index",
            "Compute normalized difference index from two bands.",
            json!(2),
            json!(1),
            Some("float32"),
            json!([-1.0]),
            json!([1.0]),
        ),
        Kind::Terrarium => (
            "Terrarium",
            "Encode DEM into RGB (Mapzen Terrarium).",
            json!(1),
            json!(3),
            Some("uint8"),
            null.clone(),
            null,
        ),
        Kind::TerrainRgb => (
            "TerrainRGB",
            "Encode DEM into RGB (Mapbox Terrain RGB).",
            json!(1),
            json!(3),
            Some("uint8"),
            null.clone(),
            null,
        ),
        Kind::Cast => (
            "Cast data to Integer",
            "Cast data to Integer.",
            null.clone(),
            null,
            Some("uint8"),
            uint8_range.0,
            uint8_range.1,
        ),
        Kind::Ceil => (
            "Round data to the smallest integer",
            "Round data to the smallest integer.",
            null.clone(),
            null,
            Some("uint8"),
            uint8_range.0,
            uint8_range.1,
        ),
        Kind::Floor => (
            "Round data to the largest integer",
            "Round data to the largest integer.",
            null.clone(),
            null,
            Some("uint8"),
            uint8_range.0,
            uint8_range.1,
        ),
        Kind::Min => {
            ("Min", "Return Min values along the `bands` axis.", null.clone(), json!(1), None, null.clone(), null)
        }
        Kind::Max => {
            ("Max", "Return Max values along the `bands` axis.", null.clone(), json!(1), None, null.clone(), null)
        }
        Kind::Median => (
            "Median",
            "Return Median values along the `bands` axis.",
            null.clone(),
            json!(1),
            Some("float64"),
            null.clone(),
            null,
        ),
        Kind::Mean => ("Mean", "Return Mean values.", null.clone(), json!(1), Some("float64"), null.clone(), null),
        Kind::Std => (
            "Standard deviation",
            "Return the Standard Deviation along the `bands` axis.",
            null.clone(),
            json!(1),
            Some("float64"),
            null.clone(),
            null,
        ),
        Kind::Var => (
            "Variance",
            "Return Variance along the `bands` axis.",
            null.clone(),
            json!(1),
            Some("float64"),
            null.clone(),
            null,
        ),
        Kind::Sum => {
            ("Sum", "Return Sum values along the `bands` axis.", null.clone(), json!(1), None, null.clone(), null)
        }
        Kind::Grayscale => (
            "Transform a RGB Image to Grayscale",
            "Transform a RGB Image to Grayscale using the ITU-R 601-2 luma.",
            null.clone(),
            json!(1),
            None,
            null.clone(),
            null,
        ),
        Kind::Bitonal => (
            "Transform an Image to Bitonal",
            "All values larger than 127 are set to 255 (white), all other values to 0 (black).",
            null.clone(),
            json!(1),
            Some("uint8"),
            null.clone(),
            null,
        ),
    }
}

/// Parameter values (the union of every algorithm's; defaults where not given).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Params {
    pub azimuth: i64,
    pub angle_altitude: f64,
    pub buffer: usize,
    pub z_exaggeration: f64,
    pub increment: i64,
    pub thickness: i64,
    pub minz: i64,
    pub maxz: i64,
    pub nodata_height: Option<f64>,
    pub interval: f64,
    pub baseval: f64,
    /// An `output_dtype` override (pydantic keeps extra fields, and hillshade, slope,
    /// contours, terrarium, terrainrgb and normalizedIndex cast to `self.output_dtype`).
    pub output_dtype: Option<DataType>,
}

impl Default for Params {
    fn default() -> Params {
        Params {
            azimuth: 45,
            angle_altitude: 45.0,
            buffer: 3,
            z_exaggeration: 1.0,
            increment: 35,
            thickness: 1,
            minz: -12000,
            maxz: 8000,
            nodata_height: None,
            interval: 0.1,
            baseval: -10000.0,
            output_dtype: None,
        }
    }
}

/// One of TiTiler's algorithms with its parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct Algorithm {
    kind: Kind,
    name: &'static str,
    params: Params,
}

fn bad_params(reason: String) -> Error {
    Error::InvalidParameter { name: "algorithm_params", reason }
}

/// A JSON value as pydantic's lax `int`: integers, floats without a fraction, booleans and
/// numeric strings.
fn lax_int(v: &Value) -> std::result::Result<i64, &'static str> {
    const MSG: &str = "Input should be a valid integer";
    let from_f64 = |f: f64| -> std::result::Result<i64, &'static str> {
        if !f.is_finite() || f.fract() != 0.0 {
            return Err("Input should be a valid integer, got a number with a fractional part");
        }
        if f.abs() >= 9.2e18 {
            return Err("Unable to parse input string as an integer, exceeded maximum size");
        }
        Ok(f as i64)
    };
    match v {
        Value::Bool(b) => Ok(*b as i64),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Ok(i),
            None => from_f64(n.as_f64().ok_or(MSG)?),
        },
        Value::String(s) => {
            let s = s.trim();
            s.parse::<i64>().or_else(|_| {
                s.parse::<f64>()
                    .map_err(|_| "Input should be a valid integer, unable to parse string as an integer")
                    .and_then(from_f64)
            })
        }
        _ => Err(MSG),
    }
}

/// A JSON value as pydantic's lax `float`.
fn lax_float(v: &Value) -> std::result::Result<f64, &'static str> {
    match v {
        Value::Bool(b) => Ok(*b as i64 as f64),
        Value::Number(n) => n.as_f64().ok_or("Input should be a valid number"),
        Value::String(s) => {
            s.trim().parse::<f64>().map_err(|_| "Input should be a valid number, unable to parse string as a number")
        }
        _ => Err("Input should be a valid number"),
    }
}

impl Algorithm {
    /// Names, in TiTiler's order.
    pub fn names() -> Vec<&'static str> {
        KINDS.iter().map(|(n, _)| *n).collect()
    }

    fn kind_of(name: &str) -> Option<(&'static str, Kind)> {
        KINDS.iter().find(|(n, _)| *n == name).copied()
    }

    /// `/algorithms/{name}` (TiTiler's `AlgorithmMetadata`).
    pub fn metadata(name: &str) -> Option<Value> {
        let (_, kind) = Self::kind_of(name)?;
        let (title, description, nin, nout, dtype, min, max) = info(kind);
        let mut parameters = Map::new();
        for p in params_of(kind) {
            let mut o = Map::new();
            match p.spec {
                Spec::Int(d, lo, hi) => {
                    o.insert("default".into(), json!(d));
                    if let Some(desc) = p.description {
                        o.insert("description".into(), json!(desc));
                    }
                    o.insert("maximum".into(), json!(hi));
                    o.insert("minimum".into(), json!(lo));
                    o.insert("title".into(), json!(p.title));
                    o.insert("type".into(), json!("integer"));
                }
                Spec::Float(d, lo, hi) => {
                    o.insert("default".into(), json!(d));
                    if let Some(desc) = p.description {
                        o.insert("description".into(), json!(desc));
                    }
                    o.insert("maximum".into(), json!(hi));
                    o.insert("minimum".into(), json!(lo));
                    o.insert("title".into(), json!(p.title));
                    o.insert("type".into(), json!("number"));
                }
                Spec::OptFloat(lo, hi) => {
                    o.insert(
                        "anyOf".into(),
                        json!([{"maximum": hi, "minimum": lo, "type": "number"}, {"type": "null"}]),
                    );
                    o.insert("default".into(), Value::Null);
                    o.insert("title".into(), json!(p.title));
                }
            }
            parameters.insert(p.name.into(), Value::Object(o));
        }
        Some(json!({
            "title": title,
            "description": description,
            "inputs": {"nbands": nin},
            "outputs": {"nbands": nout, "dtype": dtype, "min": min, "max": max},
            "parameters": parameters,
        }))
    }

    /// Build from the name and the `algorithm_params` JSON text, validated as TiTiler's
    /// pydantic models validate: lax types (`"45"`, `45.0` and `true` are integers),
    /// bounds inclusive, unknown keys accepted and ignored.
    pub fn new(name: &str, params: Option<&str>) -> Result<Algorithm> {
        let (name, kind) = Self::kind_of(name).ok_or_else(|| Error::InvalidParameter {
            name: "algorithm",
            reason: format!("'{name}' is not one of {}", Self::names().join(", ")),
        })?;
        let mut out = Params::default();
        let obj = match params.map(str::trim) {
            None | Some("") => Map::new(),
            Some(text) => match serde_json::from_str::<Value>(text) {
                Ok(Value::Object(o)) => o,
                Ok(_) => return Err(bad_params("algorithm parameters are a JSON object".into())),
                Err(_) => return Err(bad_params("invalid JSON content".into())),
            },
        };
        let (_, _, _, _, dtype, _, _) = info(kind);
        for p in params_of(kind) {
            let Some(v) = obj.get(p.name) else { continue };
            let err = |msg: &str| bad_params(format!("{name}: {}: {msg}", p.name));
            match p.spec {
                Spec::Int(_, lo, hi) => {
                    let i = lax_int(v).map_err(err)?;
                    if i < lo {
                        return Err(err(&format!("Input should be greater than or equal to {lo}")));
                    }
                    if i > hi {
                        return Err(err(&format!("Input should be less than or equal to {hi}")));
                    }
                    match p.name {
                        "azimuth" => out.azimuth = i,
                        "buffer" => out.buffer = i as usize,
                        "increment" => out.increment = i,
                        "thickness" => out.thickness = i,
                        "minz" => out.minz = i,
                        _ => out.maxz = i,
                    }
                }
                Spec::Float(_, lo, hi) | Spec::OptFloat(lo, hi) => {
                    if v.is_null() && matches!(p.spec, Spec::OptFloat(..)) {
                        continue;
                    }
                    let f = lax_float(v).map_err(err)?;
                    // NaN fails both bounds, as in pydantic.
                    if f.is_nan() || f < lo {
                        return Err(err(&format!("Input should be greater than or equal to {lo}")));
                    }
                    if f > hi {
                        return Err(err(&format!("Input should be less than or equal to {hi}")));
                    }
                    match p.name {
                        "angle_altitude" => out.angle_altitude = f,
                        "z_exaggeration" => out.z_exaggeration = f,
                        "interval" => out.interval = f,
                        "baseval" => out.baseval = f,
                        _ => out.nodata_height = Some(f),
                    }
                }
            }
        }
        // The metadata attributes are model fields too: pydantic checks their types.
        for key in ["title", "description"] {
            if obj.get(key).is_some_and(|v| !v.is_string()) {
                return Err(bad_params(format!("{name}: {key}: Input should be a valid string")));
            }
        }
        for key in ["input_nbands", "output_nbands"] {
            if obj.get(key).is_some_and(|v| !v.is_null() && lax_int(v).is_err()) {
                return Err(bad_params(format!("{name}: {key}: Input should be a valid integer")));
            }
        }
        for key in ["output_min", "output_max"] {
            if obj.get(key).is_some_and(|v| !v.is_null() && !v.is_array()) {
                return Err(bad_params(format!("{name}: {key}: Input should be a valid sequence")));
            }
        }
        if let Some(v) = obj.get("output_dtype") {
            match v {
                Value::Null if dtype.is_none() => {}
                Value::String(s) => {
                    let dt: DataType = s.parse().map_err(|_| {
                        bad_params(format!("{name}: output_dtype: '{s}' is not a data type imbrex supports"))
                    })?;
                    out.output_dtype = Some(dt);
                }
                _ => return Err(bad_params(format!("{name}: output_dtype: Input should be a valid string"))),
            }
        }
        Ok(Algorithm { kind, name, params: out })
    }

    /// The algorithm's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Pixels cropped off each side of the input (hillshade's and slope's `buffer`): read
    /// the tile with this `buffer` to get a full tile back. 0 for the others.
    pub fn buffer(&self) -> usize {
        match self.kind {
            Kind::Hillshade | Kind::Slope => self.params.buffer,
            _ => 0,
        }
    }

    /// Apply to an image (TiTiler's `post_process`).
    pub fn apply(&self, img: &ImageData) -> Result<ImageData> {
        let p = &self.params;
        match self.kind {
            Kind::Hillshade => dem::hillshade(img, p),
            Kind::Slope => dem::slope(img, p),
            Kind::Contours => dem::contours(img, p),
            Kind::Terrarium => dem::terrarium(img, p),
            Kind::TerrainRgb => dem::terrainrgb(img, p),
            Kind::NormalizedIndex => pixel::normalized_index(img, p),
            Kind::Cast => pixel::to_uint8(img, |v| v),
            Kind::Ceil => pixel::to_uint8(img, f64::ceil),
            Kind::Floor => pixel::to_uint8(img, f64::floor),
            Kind::Grayscale => pixel::grayscale(img),
            Kind::Bitonal => pixel::bitonal(img),
            Kind::Min => math::min_max(img, true),
            Kind::Max => math::min_max(img, false),
            Kind::Median => math::median(img),
            Kind::Mean => math::mean(img),
            Kind::Std => math::var(img, true),
            Kind::Var => math::var(img, false),
            Kind::Sum => math::sum(img),
        }
    }
}

/// A new image from per-band masked values, cast to `dtype` as numpy's `astype` does
/// (`from_float`: the values come from a float array). Bands get rio-tiler's default names
/// (`b1`, ...), no nodata, no scale/offset.
#[allow(clippy::too_many_arguments)]
fn output(
    img: &ImageData,
    w: usize,
    h: usize,
    bounds: Bounds,
    bands: &[Vec<M<f64>>],
    dtype: DataType,
    from_float: bool,
    descriptions: &[&str],
) -> ImageData {
    let count = bands.len();
    let mut vals = Vec::with_capacity(count * w * h);
    let mut band_mask = Vec::with_capacity(count * w * h);
    for band in bands {
        for s in band {
            vals.push(s.v);
            band_mask.push(if s.m { 0 } else { 255 });
        }
    }
    ImageData {
        width: w,
        height: h,
        count,
        data: np::to_buffer(&vals, dtype, from_float),
        band_mask,
        bounds,
        crs: img.crs.clone(),
        band_names: (1..=count).map(|b| format!("b{b}")).collect(),
        band_descriptions: descriptions.iter().map(|s| s.to_string()).collect(),
        nodata: None,
        scales: vec![1.0; count],
        offsets: vec![0.0; count],
        alpha_mask: None,
    }
}

/// Band `b` as masked f64 samples.
fn band(img: &ImageData, b: usize) -> Vec<M<f64>> {
    let n = img.width * img.height;
    (b * n..(b + 1) * n).map(|i| M::new(img.data.get_f64(i), img.band_mask[i] == 0)).collect()
}

#[cfg(test)]
mod tests;
