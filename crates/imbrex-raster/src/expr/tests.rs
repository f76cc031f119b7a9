//! Unit tests: parsing errors, precedence, kinds, bounds. The comparisons with rio-tiler
//! themselves are in `tests/expr.rs`.

use imbrex_tms::Bounds;

use super::*;
use crate::array::Buffer;

fn err(text: &str) -> String {
    match Expression::parse(text, 1000) {
        Err(Error::InvalidParameter { name: "expression", reason }) => reason,
        Err(e) => panic!("'{text}': unexpected error kind {e:?}"),
        Ok(e) => panic!("'{text}' parsed: {e:?}"),
    }
}

/// Evaluate over bands b1.. of the given values (uint8 unless `buf` says otherwise).
fn eval(text: &str, buf: Buffer, count: usize) -> (ExprType, Buffer) {
    let n = buf.len() / count;
    let img = ImageData {
        width: n,
        height: 1,
        count,
        data: buf,
        band_mask: vec![255; n * count],
        bounds: Bounds::new(0.0, 0.0, 1.0, 1.0),
        crs: None,
        band_names: (1..=count).map(|i| format!("b{i}")).collect(),
        band_descriptions: (1..=count).map(|i| format!("b{i}")).collect(),
        nodata: None,
        scales: vec![1.0; count],
        offsets: vec![0.0; count],
        alpha_mask: None,
    };
    let e = Expression::parse(text, 1000).unwrap();
    let sel: Vec<usize> = e.bands().iter().map(|b| b - 1).collect();
    let t = e.output_type(img.dtype()).unwrap();
    (t, e.apply(&img.select_bands(&sel)).unwrap().data)
}

fn f64s(b: &Buffer) -> Vec<f64> {
    b.to_f64_vec()
}

#[test]
fn bands_lists_what_is_referenced() {
    let e = Expression::parse("b3/b1;sqrt(b12)+b3", 100).unwrap();
    assert_eq!(e.bands(), vec![1, 3, 12]);
    assert_eq!(e.names(), vec!["b3/b1", "sqrt(b12)+b3"]);
    let e = Expression::parse("B2 + B2 * 2", 100).unwrap();
    assert_eq!(e.bands(), vec![2]);
    assert_eq!(e.names(), vec!["b2 + b2 * 2"]);
    // rio-tiler drops empty blocks
    let e = Expression::parse("b1;;b2;", 100).unwrap();
    assert_eq!(e.names(), vec!["b1", "b2"]);
}

#[test]
fn parse_errors() {
    assert!(err("foo(b1)").contains("unknown function 'foo'"));
    assert!(err("b0 + 1").contains("invalid band name 'b0'"));
    assert!(err("b01").contains("invalid band name"));
    assert!(err("b1 + nir").contains("unknown name 'nir'"));
    assert!(err("b1 + sqrt").contains("without arguments"));
    assert!(err("(b1 + b2").contains("unbalanced parentheses"));
    assert!(err("b1 + b2)").contains("unexpected ')'"));
    assert!(err("sqrt(b1").contains("never closed"));
    assert!(err("b1 +").contains("unexpected end"));
    assert!(err("b1 b2").contains("unexpected name 'b2'"));
    // a block of white space is a Python syntax error (an empty one is dropped)
    assert!(err("b1; ;b2").contains("block 2"));
    assert!(err("b1; b2").contains("unexpected indent"));
    assert!(err(";").contains("could not find any valid bands"));
    assert!(err("1 + 2").contains("could not find any valid bands"));
    assert!(err("b1;2").contains("does not depend on any band"));
    assert!(err("b1 and b2").contains("boolean operator"));
    assert!(err("not b1").contains("'not'"));
    assert!(err("b1 << 2").contains("shift"));
    assert!(err("b1[0]").contains("subscripts"));
    assert!(err("b1.real").contains("attribute"));
    assert!(err("b1 * 1j").contains("complex"));
    assert!(err("b1 + 'a'").contains("strings"));
    assert!(err("b1 + 01").contains("leading zeros"));
    assert!(err("b1 + 1.5_0").contains("'_'"));
    assert!(err("sum(b1)").contains("reduction"));
    assert!(err("where(b1 > 1, 1)").contains("takes 3 argument(s)"));
    assert!(err("(b1)(2)").contains("indirect"));
    assert!(err("b1 + (1, 2)").contains("tuples"));
    assert!(err("7 // b1").contains("reflected"));
    assert!(err("b1 / 0.0").contains("float division by zero"));
    assert!(err("b1 + 1/0").contains("division by zero"));
    assert!(err("b1 < b2 < b3").contains("chained"));
    assert!(err("b1 # comment").contains("comments"));
}

#[test]
fn type_errors_depend_on_the_data_type() {
    let e = Expression::parse("b1 ** -1", 100).unwrap();
    assert!(e.output_type(DataType::Uint8).unwrap_err().to_string().contains("negative integer powers"));
    assert_eq!(e.output_type(DataType::Float32).unwrap(), ExprType::Float32);
    let e = Expression::parse("b1 | b2", 100).unwrap();
    assert_eq!(e.output_type(DataType::Int16).unwrap(), ExprType::Int32);
    assert!(e.output_type(DataType::Float32).unwrap_err().to_string().contains("or_fff"));
    assert!(e.check_float64().is_err());
    let e = Expression::parse("-(b1 > 2)", 100).unwrap();
    assert!(e.output_type(DataType::Uint8).unwrap_err().to_string().contains("neg_bb"));
    let e = Expression::parse("where(b1, 1, 0)", 100).unwrap();
    assert!(e.output_type(DataType::Uint8).is_err());
}

#[test]
fn limits() {
    let long = "b1+".repeat(400) + "b1";
    assert!(err_len(&long, 100).contains("limit is 100"));
    // nesting deeper than MAX_DEPTH fails cleanly, not with a stack overflow
    let deep = "(".repeat(5000) + "b1" + &")".repeat(5000);
    assert!(err_len(&deep, 20_000).contains("nested deeper"));
    let deep = "-".repeat(5000) + "b1";
    assert!(err_len(&deep, 20_000).contains("nested deeper"));
    let chain = "b1+".repeat(1000) + "b1";
    assert!(err_len(&chain, 20_000).contains("nested deeper"));
    let outputs = "b1;".repeat(MAX_OUTPUTS + 1);
    assert!(err_len(&outputs, 20_000).contains("output bands"));
    assert_eq!(Expression::parse(&"b1;".repeat(MAX_OUTPUTS), 20_000).unwrap().names().len(), MAX_OUTPUTS);
    // powers expand to products; nested ones share their operands (no exponential blowup)
    let (_, v) = eval("((((b1**50)**50)**50)**50)**50", Buffer::Float64(vec![1.0, 1.0000001]), 1);
    assert_eq!(f64s(&v)[0], 1.0);
}

fn err_len(text: &str, max: usize) -> String {
    match Expression::parse(text, max) {
        Err(Error::InvalidParameter { reason, .. }) => reason,
        r => panic!("{r:?}"),
    }
}

#[test]
fn precedence() {
    let u8s = |v: &[u8]| Buffer::Uint8(v.to_vec());
    // unary minus binds looser than **
    assert_eq!(f64s(&eval("-b1**2", u8s(&[3]), 1).1), vec![-9.0]);
    assert_eq!(f64s(&eval("(-b1)**2", u8s(&[3]), 1).1), vec![9.0]);
    // ** is right-associative and takes a unary right operand
    assert_eq!(f64s(&eval("b1*0+2**3**2", u8s(&[1]), 1).1), vec![512.0]);
    assert_eq!(f64s(&eval("b1**-1.0", Buffer::Float32(vec![4.0]), 1).1), vec![0.25]);
    // comparisons bind looser than arithmetic, & | ^ in between
    assert_eq!(f64s(&eval("b1 + 1 > b2 * 2", u8s(&[5, 2]), 2).1), vec![1.0]);
    assert_eq!(f64s(&eval("b1 & 1 == 1", u8s(&[3]), 1).1), vec![1.0]);
    assert_eq!(f64s(&eval("b1 | b2 ^ 3 & 1", u8s(&[4, 2]), 2).1), vec![(4 | (2 ^ (3 & 1))) as f64]);
    assert_eq!(f64s(&eval("b1 - 2 - 3", u8s(&[10]), 1).1), vec![5.0]);
    assert_eq!(f64s(&eval("b1 // 2 * 3 % 5", u8s(&[9]), 1).1), vec![(((9 / 2) * 3) % 5) as f64]);
    // `1 < 2 < b1` is Python's `(1 < 2) and (2 < b1)`
    assert_eq!(f64s(&eval("1 < 2 < b1", u8s(&[1, 3]), 1).1), vec![0.0, 1.0]);
}

#[test]
fn kinds_follow_numexpr() {
    let kind = |text: &str, dt: DataType| Expression::parse(text, 100).unwrap().output_type(dt).unwrap();
    assert_eq!(kind("b1+b2", DataType::Uint8), ExprType::Int32);
    assert_eq!(kind("b1+b2", DataType::Uint32), ExprType::Int64);
    assert_eq!(kind("b1/b2", DataType::Uint16), ExprType::Float64);
    assert_eq!(kind("b1/2", DataType::Float32), ExprType::Float32);
    assert_eq!(kind("b1/2.0", DataType::Float32), ExprType::Float64);
    assert_eq!(kind("b1 > 1", DataType::Float32), ExprType::Bool);
    assert_eq!(kind("abs(b1)", DataType::Int16), ExprType::Float64);
    assert_eq!(kind("round(b1)", DataType::Int16), ExprType::Int32);
    assert_eq!(kind("round(b1)", DataType::Float32), ExprType::Float64);
    assert_eq!(kind("ceil(b1)", DataType::Float32), ExprType::Float32);
    assert_eq!(kind("b1 * 2**31", DataType::Uint8), ExprType::Int64);
    assert_eq!(kind("b1 + abs(-3)", DataType::Uint8), ExprType::Int64);
    assert_eq!(kind("b1 > 1;b1 / 2", DataType::Uint8), ExprType::Float64);
    assert_eq!(kind("b1 > 1;b1 + 1", DataType::Uint8), ExprType::Int32);
    assert_eq!(kind("b1;b1 * 1.0", DataType::Float32), ExprType::Float64);
    assert_eq!(kind("where(b1 > 1, 1, 0.5)", DataType::Uint8), ExprType::Float64);
}

#[test]
fn values_nan_and_mask() {
    // uint8 wraps nothing: numexpr computes in int32
    let (t, v) = eval("b1 * b2", Buffer::Uint8(vec![200, 255]), 2);
    assert_eq!((t, f64s(&v)), (ExprType::Int32, vec![51000.0]));
    // int32 arithmetic wraps
    let (_, v) = eval("b1 * b2", Buffer::Uint16(vec![65535, 65535]), 2);
    assert_eq!(f64s(&v), vec![(65535i32.wrapping_mul(65535)) as f64]);
    // x / 0 → inf → float64 max; 0 / 0 → NaN → 0
    let (_, v) = eval("b1 / b2", Buffer::Uint8(vec![1, 0, 0, 0]), 2);
    assert_eq!(f64s(&v), vec![f64::MAX, 0.0]);
    let (_, v) = eval("log(b1)", Buffer::Float32(vec![0.0, f32::NAN]), 1);
    assert_eq!(f64s(&v), vec![f32::MIN as f64, 0.0]);
    // integer modulo and floor division by zero are 0, Python signs otherwise
    let (_, v) = eval("b1 % b2;b1 // b2", Buffer::Int16(vec![-7, 7, 5, 3, -3, 0]), 2);
    assert_eq!(f64s(&v), vec![2.0, -2.0, 0.0, -3.0, -3.0, 0.0]);
    // a pixel masked in any band read is masked in every output
    let img = ImageData {
        width: 2,
        height: 1,
        count: 2,
        data: Buffer::Uint8(vec![1, 2, 3, 4]),
        band_mask: vec![255, 0, 255, 255],
        bounds: Bounds::new(0.0, 0.0, 1.0, 1.0),
        crs: None,
        band_names: vec!["b1".into(), "b2".into()],
        band_descriptions: vec!["red".into(), "nir".into()],
        nodata: Some(0.0),
        scales: vec![1.0; 2],
        offsets: vec![0.0; 2],
        alpha_mask: None,
    };
    let out = Expression::parse("b2-b1;b1>b2", 100).unwrap().apply(&img).unwrap();
    assert_eq!(out.band_mask, vec![255, 0, 255, 0]);
    assert_eq!(out.band_names, vec!["b1", "b2"]);
    assert_eq!(out.band_descriptions, vec!["nir-red", "red>nir"]);
    assert_eq!(out.nodata, None);
    // the image must hold exactly the bands read
    assert!(Expression::parse("b1", 100).unwrap().apply(&img).is_err());
}

#[test]
fn number_literals() {
    let one = |text: &str| f64s(&eval(&format!("b1*0.0+{text}"), Buffer::Uint8(vec![0]), 1).1)[0];
    assert_eq!(one("0x1f"), 31.0);
    assert_eq!(one("0o17"), 15.0);
    assert_eq!(one("0b101"), 5.0);
    assert_eq!(one("1_000"), 1000.0);
    assert_eq!(one("00"), 0.0);
    assert_eq!(one(".5"), 0.5);
    assert_eq!(one("1."), 1.0);
    assert_eq!(one("1.e2"), 100.0);
    assert_eq!(one("1e-3"), 0.001);
    assert_eq!(one("2**-1"), 0.5);
    assert_eq!(one("-7 % 3"), 2.0);
    assert_eq!(one("-7 // 2"), -4.0);
    assert_eq!(one("7.5 % -2"), -0.5);
}
