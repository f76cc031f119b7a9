//! Analytic checks (the comparisons with TiTiler are in `tests/algorithms.rs`).

use super::*;
use crate::array::Buffer;

fn image(data: Buffer, count: usize, w: usize, h: usize, mask: Option<Vec<u8>>) -> ImageData {
    ImageData {
        width: w,
        height: h,
        count,
        band_mask: mask.unwrap_or_else(|| vec![255; count * w * h]),
        data,
        // 10 m pixels.
        bounds: Bounds::new(0.0, 0.0, 10.0 * w as f64, 10.0 * h as f64),
        crs: None,
        band_names: (1..=count).map(|b| format!("b{b}")).collect(),
        band_descriptions: (1..=count).map(|b| format!("b{b}")).collect(),
        nodata: None,
        scales: vec![1.0; count],
        offsets: vec![0.0; count],
        alpha_mask: None,
    }
}

/// A plane `z = a * col + b * row` (float64).
fn plane(a: f64, b: f64, w: usize, h: usize) -> ImageData {
    let v = (0..h).flat_map(|r| (0..w).map(move |c| a * c as f64 + b * r as f64)).collect();
    image(Buffer::Float64(v), 1, w, h, None)
}

fn algo(name: &str, params: &str) -> Algorithm {
    Algorithm::new(name, Some(params)).unwrap()
}

#[test]
fn hillshade_of_a_plane_is_constant() {
    // Flat: the slope term is pi/2, so the shade is sin(altitude): 255 * (1 + sin 45°) / 2.
    let out = algo("hillshade", "{}").apply(&plane(0.0, 0.0, 16, 16)).unwrap();
    assert_eq!((out.width, out.height, out.dtype()), (10, 10, DataType::Uint8));
    assert!(out.data.to_f64_vec().iter().all(|&v| v == 217.0));
    // A tilted plane: gradient (rows, cols) = (b, a) everywhere, edges included.
    let (a, b) = (1.5, -0.5);
    let out =
        algo("hillshade", r#"{"azimuth": 315, "angle_altitude": 30, "buffer": 0}"#).apply(&plane(a, b, 12, 9)).unwrap();
    let slope = FRAC_PI_2 - (a * a + b * b).sqrt().atan();
    let aspect = (-b).atan2(a);
    let (alt, az) = (30f64.to_radians(), (360.0 - 315.0f64).to_radians());
    let shaded = alt.sin() * slope.sin() + alt.cos() * slope.cos() * (az - aspect).cos();
    let want = (255.0 * (shaded + 1.0) / 2.0).trunc();
    assert_eq!((out.width, out.height), (12, 9));
    assert!(out.data.to_f64_vec().iter().all(|&v| v == want), "{want}");
    assert_eq!(out.band_descriptions, vec!["hillshade"]);
}

use std::f64::consts::FRAC_PI_2;

#[test]
fn slope_of_a_plane_uses_the_pixel_size() {
    // 10 m pixels, rising 5 m per column: atan(0.5).
    let out = algo("slope", r#"{"buffer": 1}"#).apply(&plane(5.0, 0.0, 8, 8)).unwrap();
    assert_eq!((out.width, out.height, out.dtype()), (6, 6, DataType::Float32));
    let want = (0.5f64.atan().to_degrees()) as f32;
    assert!(out.data.as_slice::<f32>().unwrap().iter().all(|&v| v == want));
    // The crop moves the bounds in by a pixel.
    assert_eq!(out.bounds, Bounds::new(10.0, 10.0, 70.0, 70.0));
    assert_eq!(algo("slope", r#"{"buffer": 1}"#).buffer(), 1);
    assert_eq!(algo("hillshade", "{}").buffer(), 3);
    assert_eq!(algo("terrarium", "{}").buffer(), 0);
}

#[test]
fn masked_pixels_spread_through_the_gradient() {
    // numpy.gradient of a masked array masks a pixel when a *neighbour* used by the
    // central difference is masked (not the pixel itself).
    let mut mask = vec![255u8; 25];
    mask[12] = 0; // centre of 5x5
    let img = image(Buffer::Float64(vec![100.0; 25]), 1, 5, 5, Some(mask));
    let out = algo("hillshade", r#"{"buffer": 0}"#).apply(&img).unwrap();
    let masked: Vec<usize> = (0..25).filter(|&i| out.band_mask[i] == 0).collect();
    assert_eq!(masked, vec![7, 11, 13, 17]);
}

#[test]
fn terrarium_round_trips() {
    let heights = [-100.5, 0.0, 1234.25, 8848.0, -32768.0, 32767.0];
    let out = algo("terrarium", "{}")
        .apply(&image(Buffer::Float32(heights.iter().map(|&h| h as f32).collect()), 1, 6, 1, None))
        .unwrap();
    let v = out.data.to_f64_vec();
    for (i, h) in heights.iter().enumerate() {
        let (r, g, b) = (v[i], v[6 + i], v[12 + i]);
        assert_eq!(r * 256.0 + g + b / 256.0 - 32768.0, *h);
    }
}

#[test]
fn terrainrgb_round_trips_and_encodes_nodata() {
    let heights = [-100.5, 0.0, 1234.25, 8848.0, 0.0];
    let mask = vec![255, 255, 255, 255, 0];
    let img = image(Buffer::Float64(heights.to_vec()), 1, 5, 1, Some(mask));
    let out = algo("terrainrgb", "{}").apply(&img).unwrap();
    let v = out.data.to_f64_vec();
    for (i, h) in heights.iter().enumerate().take(4) {
        let decoded = -10000.0 + (v[i] * 65536.0 + v[5 + i] * 256.0 + v[10 + i]) * 0.1;
        assert!((decoded - h).abs() <= 0.05 + 1e-9, "{h} -> {decoded}");
    }
    assert_eq!(out.band_mask[4], 0);
    // With nodata_height, nodata pixels get that height's colour and become valid.
    let out = algo("terrainrgb", r#"{"nodata_height": 0}"#).apply(&img).unwrap();
    let v = out.data.to_f64_vec();
    assert_eq!((v[4], v[9], v[14]), (v[1], v[6], v[11]));
    assert_eq!(out.band_mask[4], 255);
}

#[test]
fn normalized_index_of_known_values() {
    // (b2 - b1) / (b2 + b1); 0 / 0 is masked.
    let img = image(Buffer::Uint16(vec![10, 0, 30, 0, 30, 0, 10, 0]), 2, 4, 1, None);
    let out = algo("normalizedIndex", "{}").apply(&img).unwrap();
    assert_eq!(out.data, Buffer::Float32(vec![0.5, 0.0, -0.5, 0.0]));
    assert_eq!(out.band_mask, vec![255, 0, 255, 0]);
    assert_eq!(out.band_descriptions, vec!["(b2 - b1) / (b2 + b1)"]);
    assert!(algo("normalizedIndex", "{}").apply(&image(Buffer::Uint8(vec![1]), 1, 1, 1, None)).is_err());
}

#[test]
fn band_math_and_casts() {
    let img = image(Buffer::Uint8(vec![10, 200, 30, 100, 20, 255]), 3, 2, 1, Some(vec![255, 255, 255, 0, 255, 255]));
    let px = |name: &str| algo(name, "{}").apply(&img).unwrap().data.to_f64_vec();
    assert_eq!(px("min"), vec![10.0, 200.0]);
    assert_eq!(px("max"), vec![30.0, 255.0]);
    assert_eq!(px("sum"), vec![60.0, 455.0]);
    assert_eq!(px("mean"), vec![20.0, 227.5]);
    assert_eq!(px("median"), vec![20.0, 227.5]);
    assert_eq!(px("var"), vec![100.0, 1512.5]);
    let f = image(Buffer::Float32(vec![1.5, -1.5, 300.7, 255.2]), 1, 4, 1, None);
    let u8s = |name: &str| algo(name, "{}").apply(&f).unwrap().data;
    assert_eq!(u8s("cast"), Buffer::Uint8(vec![1, 255, 44, 255]));
    assert_eq!(u8s("ceil"), Buffer::Uint8(vec![2, 255, 45, 0]));
    assert_eq!(u8s("floor"), Buffer::Uint8(vec![1, 254, 44, 255]));
    assert!(algo("grayscale", "{}").apply(&f).is_err());
}

#[test]
fn bad_names_and_params_are_refused() {
    let which = |r: Result<Algorithm>| match r {
        Err(Error::InvalidParameter { name, .. }) => name,
        other => panic!("{other:?}"),
    };
    assert_eq!(which(Algorithm::new("hillshades", None)), "algorithm");
    assert_eq!(which(Algorithm::new("hillshade", Some("{azimuth: 3}"))), "algorithm_params");
    assert_eq!(which(Algorithm::new("hillshade", Some("[1]"))), "algorithm_params");
    assert_eq!(which(Algorithm::new("hillshade", Some(r#"{"azimuth": 400}"#))), "algorithm_params");
    assert_eq!(which(Algorithm::new("hillshade", Some(r#"{"azimuth": 4.5}"#))), "algorithm_params");
    assert_eq!(which(Algorithm::new("terrainrgb", Some(r#"{"interval": "x"}"#))), "algorithm_params");
    assert_eq!(which(Algorithm::new("slope", Some(r#"{"output_dtype": "complex64"}"#))), "algorithm_params");
    // Lax types and unknown keys, as pydantic takes them.
    let a = Algorithm::new("hillshade", Some(r#"{"azimuth": "90", "buffer": 2.0, "other": 1}"#)).unwrap();
    assert_eq!((a.params.azimuth, a.buffer()), (90, 2));
    assert_eq!(Algorithm::new("hillshade", None).unwrap(), Algorithm::new("hillshade", Some("{}")).unwrap());
    // output_dtype is honoured where TiTiler casts to it.
    let out = algo("slope", r#"{"output_dtype": "float64", "buffer": 0}"#).apply(&plane(1.0, 0.0, 4, 4)).unwrap();
    assert_eq!(out.dtype(), DataType::Float64);
}
