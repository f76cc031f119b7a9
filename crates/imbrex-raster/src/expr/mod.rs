//! Band math: rio-tiler's `expression=` (`b1/b2`, `(b4-b3)/(b4+b3)`, `where(b1>100, 1, 0)`,
//! `sqrt(b1**2+b2**2);b3*0.5`), with rio-tiler 9.4.12 + numexpr 2.14 semantics.
//!
//! rio-tiler lowercases the text, splits it on `;` (dropping empty blocks), checks each
//! block's Python AST against an allow-list, reads the bands the regex `\bb(\d+)\b` finds and
//! runs every block through `numexpr.evaluate`, then `numpy.nan_to_num`, stacks the blocks
//! (numpy's dtype promotion) and masks a pixel of every output band when it is masked in
//! any band read. This module reproduces that pipeline without Python:
//!
//! * [`parse`](parse.rs): a tokenizer + Pratt parser for the Python subset rio-tiler lets
//!   through (the numeric literal grammar, operator precedence, chained comparisons, the
//!   function allow-list), with the errors Python/numexpr would raise;
//! * [`build`](build.rs): numexpr's expression-tree construction — Python constant folding,
//!   numexpr's `ExpressionNode` operator overloads (and the ones it lacks, such as
//!   `7 // b1`), its "aggressive" optimisations (`x ** 2` → `x * x`, `x / c` → `x * (1/c)`),
//!   its kind rules (int8..uint16 → int32, uint32 → int64, float32 stays float32, true
//!   division of integers → float64, ...), then its signature search (`typeCompileAst`),
//!   which decides every implicit cast;
//! * [`eval`](eval.rs): the typed virtual machine, evaluating a compiled op list over whole
//!   band slices with numexpr's C semantics (wrapping integer arithmetic, `x % 0 == 0`,
//!   glibc's math functions).
//!
//! Output types: numexpr yields bool, int32, int64, float32 or float64 per block
//! ([`ExprType`]); [`Buffer`] has no bool or int64, so bool results are stored as uint8 0/1
//! and int64 results as float64 (exact up to 2^53). [`Expression::output_type`] tells the
//! exact numpy dtype.

mod build;
mod eval;
mod parse;
mod scalar;

use crate::array::DataType;
use crate::error::{Error, Result};
use crate::image::ImageData;

pub use build::ExprType;

/// The most output bands an expression may have.
pub const MAX_OUTPUTS: usize = 64;
/// The deepest an expression tree may be (nesting and operator chains).
pub const MAX_DEPTH: usize = 128;
/// The most operations a compiled block may have.
pub const MAX_OPS: usize = 4096;

/// A parsed band-math expression (one or more `;`-separated blocks).
#[derive(Clone, Debug)]
pub struct Expression {
    text: String,
    blocks: Vec<Block>,
    bands: Vec<usize>,
}

#[derive(Clone, Debug)]
struct Block {
    /// The block as rio-tiler keeps it (lowercased, not stripped).
    text: String,
    ast: parse::Ast,
}

pub(crate) fn invalid(reason: impl Into<String>) -> Error {
    Error::InvalidParameter { name: "expression", reason: reason.into() }
}

impl Expression {
    /// Parse; `max_len` bounds the text length (a config limit). Errors are
    /// `Error::InvalidParameter { name: "expression", .. }`.
    pub fn parse(text: &str, max_len: usize) -> Result<Expression> {
        if text.len() > max_len {
            return Err(invalid(format!("expression is {} characters long, the limit is {max_len}", text.len())));
        }
        // rio-tiler: `[expr.lower() for expr in expression.split(";") if expr]`.
        let lower = text.to_lowercase();
        let mut blocks = Vec::new();
        for (i, part) in lower.split(';').enumerate() {
            if part.is_empty() {
                continue;
            }
            if blocks.len() == MAX_OUTPUTS {
                return Err(invalid(format!("more than {MAX_OUTPUTS} output bands")));
            }
            let ast = parse::parse_block(part).map_err(|e| {
                invalid(if lower.contains(';') { format!("block {} ('{part}'): {e}", i + 1) } else { e })
            })?;
            blocks.push(Block { text: part.to_string(), ast });
        }
        if blocks.is_empty() {
            return Err(invalid(format!("could not find any valid bands in '{text}'")));
        }
        let mut bands: Vec<usize> = blocks.iter().flat_map(|b| b.ast.bands()).collect();
        bands.sort_unstable();
        bands.dedup();
        if bands.is_empty() {
            return Err(invalid(format!("could not find any valid bands in '{text}'")));
        }
        // numexpr first builds every block with float64 variables (to find the names): the
        // errors of that pass (e.g. `b1/0.0`) do not depend on the data type.
        for b in &blocks {
            build::check_untyped(&b.ast).map_err(|e| invalid(format!("'{}': {e}", b.text)))?;
        }
        Ok(Expression { text: text.to_string(), blocks, bands })
    }

    /// The text as given.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// 1-based band indexes the expression reads, sorted, unique.
    pub fn bands(&self) -> Vec<usize> {
        self.bands.clone()
    }

    /// Output band names: the blocks, lowercased, as rio-tiler's `get_expression_blocks`
    /// returns them.
    pub fn names(&self) -> Vec<String> {
        self.blocks.iter().map(|b| b.text.clone()).collect()
    }

    /// The numpy dtype of the result for input bands of `dtype` (every block evaluated, then
    /// stacked), or the error numexpr would raise for that type.
    pub fn output_type(&self, dtype: DataType) -> Result<ExprType> {
        let kind = build::Kind::of(dtype);
        let mut out: Option<ExprType> = None;
        for b in &self.blocks {
            let prog = build::compile(&b.ast, &self.bands, kind).map_err(|e| invalid(format!("'{}': {e}", b.text)))?;
            let t = prog.output_type();
            out = Some(out.map_or(t, |o| o.promote(t)));
        }
        Ok(out.expect("at least one block"))
    }

    /// rio-tiler also evaluates the expression over the dataset statistics (the float64
    /// `(min, max)` combinations) when every band read has `STATISTICS_MINIMUM` and
    /// `STATISTICS_MAXIMUM` metadata, so an expression numexpr cannot compile for float64
    /// inputs (`~b1`, `b1 & b2`) fails on such datasets whatever their type: call this then.
    pub fn check_float64(&self) -> Result<()> {
        self.output_type(DataType::Float64).map(|_| ())
    }

    /// [`Expression::apply`] within the memory bound of `opts`: each output band and the
    /// block being evaluated are float64 columns at worst.
    pub fn apply_within(&self, img: &ImageData, opts: &crate::reader::ReadOptions) -> Result<ImageData> {
        opts.check_bytes(img.width, img.height, self.blocks.len() + 2, 8)?;
        self.apply(img)
    }

    /// Evaluate over an image whose bands are `self.bands()` in that order, returning one
    /// band per block. The mask of every output band is the union of the input bands' masks.
    pub fn apply(&self, img: &ImageData) -> Result<ImageData> {
        if img.count != self.bands.len() {
            return Err(invalid(format!(
                "the expression reads {} band(s) ({:?}) but the image has {}",
                self.bands.len(),
                self.bands,
                img.count
            )));
        }
        let n = img.width * img.height;
        let kind = build::Kind::of(img.dtype());
        let inputs: Vec<eval::Col> = (0..img.count).map(|b| eval::Col::from_band(&img.data, b * n, n)).collect();
        let mut cols = Vec::with_capacity(self.blocks.len());
        for b in &self.blocks {
            let prog = build::compile(&b.ast, &self.bands, kind).map_err(|e| invalid(format!("'{}': {e}", b.text)))?;
            let mut col = eval::run(&prog, &inputs, n).map_err(|e| invalid(format!("'{}': {e}", b.text)))?;
            col.nan_to_num();
            cols.push(col);
        }
        let out_type = cols.iter().map(|c| c.expr_type()).reduce(ExprType::promote).expect("at least one block");
        let data = eval::stack(&cols, out_type);
        let data_type = data.dtype();

        let merged = img.valid_all();
        let mut band_mask = Vec::with_capacity(merged.len() * cols.len());
        for _ in 0..cols.len() {
            band_mask.extend_from_slice(&merged);
        }
        // rio-tiler: band names default to b1..bN, descriptions are the blocks with each band
        // name replaced by that band's description.
        let descriptions: Vec<String> =
            self.blocks.iter().map(|b| describe(&b.text, &self.bands, &img.band_descriptions)).collect();
        let count = cols.len();
        Ok(ImageData {
            width: img.width,
            height: img.height,
            count,
            data,
            band_mask,
            bounds: img.bounds,
            crs: img.crs.clone(),
            band_names: (1..=count).map(|i| format!("b{i}")).collect(),
            band_descriptions: descriptions,
            nodata: None,
            scales: vec![1.0; count],
            offsets: vec![0.0; count],
            alpha_mask: img.alpha_mask.as_ref().map(|a| a.cast(data_type)),
        })
    }
}

/// rio-tiler's `re.sub(r"\bb[0-9A-Z]+\b", lambda x: mapexpr[x.group()], block)`.
fn describe(block: &str, bands: &[usize], descriptions: &[String]) -> String {
    let b = block.as_bytes();
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80;
    let mut out = String::with_capacity(block.len());
    let mut i = 0;
    let mut last = 0;
    while i < b.len() {
        if b[i] == b'b' && (i == 0 || !word(b[i - 1])) {
            let mut j = i + 1;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            let whole = j > i + 1 && (j == b.len() || !word(b[j]));
            let position = block[i + 1..j].parse::<usize>().ok().and_then(|k| bands.iter().position(|&x| x == k));
            if let (true, Some(d)) = (whole, position.and_then(|p| descriptions.get(p))) {
                out.push_str(&block[last..i]);
                out.push_str(d);
                last = j;
            }
            i = j;
        } else {
            i += 1;
        }
    }
    out.push_str(&block[last..]);
    out
}

impl ExprType {
    /// The [`Buffer`] type results of this type are stored in.
    pub fn storage(self) -> DataType {
        match self {
            ExprType::Bool => DataType::Uint8,
            ExprType::Int32 => DataType::Int32,
            ExprType::Int64 | ExprType::Float64 => DataType::Float64,
            ExprType::Float32 => DataType::Float32,
        }
    }
}

#[cfg(test)]
mod tests;
