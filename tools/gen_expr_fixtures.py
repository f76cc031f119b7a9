"""Reference results for imbrex's band math (`crates/imbrex-raster/src/expr`).

Run with the oracle venv (rio-tiler 9.4.12, numexpr 2.14):

    /work/.venv/bin/python tools/gen_expr_fixtures.py

Writes `crates/imbrex-raster/tests/fixtures/expr/`:

* `rasters.json`: `Reader(path).preview(expression=..., max_size=64)` for shared rasters
  (uint8 RGB, uint16 with nodata, int16 with nodata, float32 with NaN, 5-band int16):
  dtype, shape, mask run lengths and the values (zlib-compressed little-endian bytes,
  base64). Band descriptions too.
* `synthetic.json`: `ImageData.apply_expression` (rio-tiler's path: numexpr, nan_to_num,
  stacking, mask union) on small hand-made arrays of every dtype imbrex reads, full of edge
  values (0, -1, extremes, NaN, +-inf, -0.0), for every operator and function; values as
  JSON numbers (float32 results are stored as the float64 of the float32). Expressions
  rio-tiler rejects are stored with their error.
"""

import base64
import json
import os
import warnings
import zlib

import numpy
from rio_tiler.expression import parse_expression
from rio_tiler.io import Reader
from rio_tiler.models import ImageData

warnings.simplefilter("ignore")

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "crates", "imbrex-raster", "tests", "fixtures", "expr")
DATA = os.environ.get("IMBREX_TESTDATA", "/work/shared/testdata/raster")

# max_size per raster: 64, or 32 where float results would make the fixture large.
SIZES = {"rgb.tif": 32, "cog_with_nan.tif": 32}

RASTERS = {
    "cog_rgb.tif": [
        "b1+b2",
        "b1/b2",
        "(b1-b2)/(b1+b2)",
        "where(b1>100, 1, 0)",
        "b1>b2",
        "sqrt(b1**2+b2**2);b3*0.5",
        "-b1**2+2**3**2",
        "b1 % 7 + b2 // 3 - b3 % -5",
        "b1*1.0/3.0",
        "log(b1)",
        "b1 & b2 | b3 ^ 5",
        "~b1;~(b1>b2)",
        "maximum(b1,b2);minimum(b2,b3)",
        "abs(b1-b2)",
        "b1>100;b2/2",
        "b1>100;b2+1",
        "(b1 >= 50) & (b2 < 200) | (b3 == 0)",
        "B1 + B3 * 2",
        "b1**2.5",
        "b3**-2",
    ],
    "rgb.tif": [
        "b1*b2",
        "b1 ** 2",
        "(b3-b1)/(b3+b1)",
        "round(b1/7.0)",
    ],
    "cog_uint8_rgb_nodata.tif": [
        "b1+b3",
        "b2",
    ],
    "cog_int16.tif": [
        "b1*2",
        "b1/10",
        "b1 < 0",
        "where(b1 > 500, b1, -b1)",
        "b1 ** 3",
        "sin(b1);cos(b1)",
        "arcsinh(b1)",
        "sign(b1);round(b1);copy(b1)",
        "b1 // -7 + b1 % 7",
    ],
    "cog_with_nan.tif": [
        "b1*2",
        "b1/2",
        "b1/2.0",
        "b1+1.5",
        "isnan(b1)",
        "where(isnan(b1), -1, b1)",
        "sqrt(b1)",
        "log10(b1);log2(b1);log1p(b1)",
        "b1**2;b1**3;b1**0.5;b1**-1",
        "exp(b1/100);expm1(b1/1000)",
        "arctanh(b1/10000);arccosh(b1);tanh(b1/100)",
        "b1 % 3;b1 // 3",
        "round(b1);trunc(b1);ceil(b1);floor(b1)",
        "arctan2(b1, 3);hypot(b1, 2);fmod(b1, 3)",
        "b1 > 10;b1",
    ],
    "geo-5b.tif": [
        "b5-b1;b4/b2;b3",
        "(b4-b3)/(b4+b3)",
    ],
}


def rle(mask):
    """Run lengths of a flat boolean mask (True = masked), starting with a valid run."""
    runs, cur, n = [], False, 0
    for m in mask.ravel().tolist():
        if m == cur:
            n += 1
        else:
            runs.append(n)
            cur, n = m, 1
    runs.append(n)
    return runs


def pack(arr):
    return base64.b64encode(zlib.compress(arr.astype(arr.dtype.newbyteorder("<")).tobytes(), 9)).decode()


def raster_cases():
    out = []
    sources = {}
    for name, exprs in RASTERS.items():
        path = os.path.join(DATA, name)
        size = SIZES.get(name, 64)
        with Reader(path) as r:
            # the bands as rio-tiler reads them, to test the band math on the very same input
            # (lossy codecs decode differently)
            img = r.preview(max_size=size)
            mask = numpy.ma.getmaskarray(img.array)
            comp = (r.dataset.compression.value if r.dataset.compression else "none").lower()
            sources[name] = {
                "dtype": str(img.array.dtype),
                "shape": list(img.array.shape),
                "lossy": comp in ("jpeg", "webp"),
                "masks": [rle(m) for m in mask],
                "values": pack(numpy.asarray(img.array.data)),
                "band_descriptions": img.band_descriptions,
            }
            stats = all(
                "STATISTICS_MINIMUM" in r.dataset.tags(i) and "STATISTICS_MAXIMUM" in r.dataset.tags(i)
                for i in range(1, r.dataset.count + 1)
            )
            for e in exprs:
                case = {"source": name, "expression": e, "max_size": size, "dataset_statistics": stats}
                try:
                    img = r.preview(expression=e, max_size=size)
                except Exception as err:  # noqa: BLE001
                    case["error"] = f"{type(err).__name__}: {err}"
                    out.append(case)
                    continue
                arr = img.array
                mask = numpy.ma.getmaskarray(arr)
                assert all((mask[i] == mask[0]).all() for i in range(arr.shape[0]))
                case.update(
                    {
                        "dtype": str(arr.dtype),
                        "shape": list(arr.shape),
                        "band_names": img.band_names,
                        "band_descriptions": img.band_descriptions,
                        "mask": rle(mask[0]),
                        "values": pack(numpy.asarray(arr.data)),
                    }
                )
                out.append(case)
    return {"sources": sources, "cases": out}


def edge_inputs():
    """Two or three bands of edge values per dtype."""
    ints = {
        "uint8": [0, 1, 2, 3, 7, 100, 127, 128, 200, 254, 255],
        "int8": [0, 1, -1, 2, -2, 7, -7, 100, -100, 127, -128],
        "uint16": [0, 1, 2, 3, 7, 255, 1000, 32767, 40000, 65534, 65535],
        "int16": [0, 1, -1, 2, -3, 7, -7, 1000, -1000, 32767, -32768],
        "int32": [0, 1, -1, 2, -3, 7, -7, 46341, -46341, 2147483647, -2147483648],
        "uint32": [0, 1, 2, 3, 7, 65536, 2147483647, 2147483648, 3000000000, 4294967294, 4294967295],
    }
    floats = [0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.5, -2.5, 3.0, 1e-8, -7.25, 0.999, 1.5, 100.0, 1e10, -1e10,
              3.4e38, float("nan"), float("inf"), float("-inf"), 1e-40, 0.3]
    out = {}
    for dt, vals in ints.items():
        a = numpy.array(vals, dtype=dt)
        out[dt] = [a, numpy.roll(a, 3), numpy.roll(a, 5)]
    for dt in ("float32", "float64"):
        a = numpy.array(floats, dtype=dt)
        out[dt] = [a, numpy.roll(a, 7), numpy.roll(a, 11)]
    return out


SYNTHETIC = [
    # arithmetic and kinds
    "b1+b2", "b1-b2", "b1*b2", "b1/b2", "b1//b2", "b1%b2", "b1**b2", "-b1", "+b1", "~b1",
    "b1+1", "b1+1.5", "b1*2**31", "b1+2147483647", "b1/2", "b1/2.0", "b1*1.0/3.0", "b1/3",
    "b1//2", "b1%3", "b1%-3", "b1//-3", "2**b1", "b1**2", "b1**3", "b1**0", "b1**-1", "b1**-2",
    "b1**0.5", "b1**1.5", "b1**-0.5", "b1**51", "b1**0.3", "7%b1", "1-b1", "2/b1", "b1&b2",
    "b1|b2", "b1^b2", "b1&3", "(b1>b2)&(b2>0)", "(b1>b2)|(b2>0)", "(b1>b2)^(b2>0)", "~(b1>b2)",
    "(b1>0)+(b2>0)", "(b1>0)*(b2>0)", "(b1>0)*3", "(b1>0)-(b2>0)", "-(b1>0)", "(b1>0)/(b2>0)",
    # comparisons
    "b1>b2", "b1>=b2", "b1<b2", "b1<=b2", "b1==b2", "b1!=b2", "b1>1.5", "b1==0", "1<2<b1",
    "b1<b2<b3", "(b1>0)==(b2>0)", "(b1>0)>(b2>0)", "b1 > 2**40",
    # where
    "where(b1>b2, b1, b2)", "where(b1>0, 1, 0)", "where(b1>0, 1, 0.5)", "where(b1>0, b1, 1.5)",
    "where(b1, 1, 0)", "where(1, b1, b2)", "where(b1>0, b2>0, b3>0)",
    # functions
    "sqrt(b1)", "sin(b1)", "cos(b1)", "tan(b1)", "arcsin(b1)", "arccos(b1)", "arctan(b1)",
    "sinh(b1)", "cosh(b1)", "tanh(b1)", "arcsinh(b1)", "arccosh(b1)", "arctanh(b1)",
    "log(b1)", "log1p(b1)", "log10(b1)", "log2(b1)", "exp(b1)", "expm1(b1)", "abs(b1)",
    "ceil(b1)", "floor(b1)", "round(b1)", "trunc(b1)", "sign(b1)", "fmod(b1,b2)",
    "arctan2(b1,b2)", "hypot(b1,b2)", "nextafter(b1,b2)", "copysign(b1,b2)", "maximum(b1,b2)",
    "minimum(b1,b2)", "isnan(b1)", "isfinite(b1)", "isinf(b1)", "signbit(b1)", "real(b1)",
    "imag(b1)", "conj(b1)", "copy(b1)", "ones_like(b1)", "round(b1>0)", "sqrt(b1>0)",
    # constants
    "b1*sqrt(2)", "b1+abs(-3)", "b1*abs(-2.5)", "b1/log(10)", "b1+maximum(1,2)", "b1*(1/3)",
    "b1+2**-1", "b1+10**-2", "b1*(7//2)+b2*(-7%3)", "b1+(7.5//2)+(-7.5%2)", "b1 + (1<2)",
    "b1*1e400", "b1*1e-400", "b1/0", "b1/0.0", "b1//0", "b1%0", "b1+0x1f+0o7+0b11+1_000",
    "b1*.5+1.e1+1.5e-3", "b1+2**64", "b1*(abs(-2)/4)", "b1**abs(-2)", "abs(-2)**b1",
    "b1*ceil(2.5)", "b1*round(2.5)", "b1+sign(-3)",
    # several outputs (stacking promotion)
    "b1>0;b1+1", "b1>0;b1/2", "b1;b1*1.0", "b1>0;b1>1", "b1+1;b1*2**31", "sqrt(b1);b1",
    # errors
    "b1 // b2 and b3", "7//b1", "(1<2)&(b1>0)", "b1 << 1", "sum(b1)", "b1+x", "b01",
    "b1;2", " b1", "b1; b2", "b1;;b2", "b1;", "b1*1j", "ones_like(b1>0)", "b1|1.5", "where(b1>0,1)",
]


def synthetic_cases():
    out = []
    for dt, bands in edge_inputs().items():
        data = numpy.ma.MaskedArray(numpy.stack([b.reshape(1, -1) for b in bands]))
        mask = numpy.zeros(data.shape, dtype=bool)
        mask[0, 0, 2] = True  # a pixel masked in one band only
        mask[2, 0, 4] = True
        data.mask = mask
        for e in SYNTHETIC:
            case = {"dtype_in": dt, "expression": e}
            try:
                # as the reader does: read the bands the expression names, then apply it
                idx = sorted(parse_expression(e))
                img = ImageData(data[[i - 1 for i in idx]].copy(), band_names=[f"b{i}" for i in idx])
                res = img.apply_expression(e)
            except Exception as err:  # noqa: BLE001
                case["error"] = f"{type(err).__name__}: {err}"
                out.append(case)
                continue
            arr = res.array
            vals = numpy.asarray(arr.data)
            if vals.shape[1:] != data.shape[1:]:
                # sum()/prod()/min()/max() reduce to a scalar: not an image (imbrex refuses)
                case["error"] = f"reduction: result shape {vals.shape}"
                out.append(case)
                continue
            if vals.dtype.kind == "f":
                v = [float(x) for x in vals.astype("float64").ravel()]
            elif vals.dtype.kind == "b":
                v = [bool(x) for x in vals.ravel()]
            elif vals.dtype.kind in "iu":
                v = [int(x) for x in vals.ravel()]
            else:
                case["error"] = f"unsupported dtype {vals.dtype}"
                out.append(case)
                continue
            # the mask is the union of the masks of the bands read
            want = numpy.logical_or.reduce(mask[[i - 1 for i in idx]], axis=0)
            if not (numpy.ma.getmaskarray(arr) == want).all():
                print("mask differs", dt, e, numpy.ma.getmaskarray(arr), want)
                raise SystemExit(1)
            case.update({"dtype": str(vals.dtype), "count": int(vals.shape[0]), "values": v})
            out.append(case)
    return {
        "inputs": {dt: [[float(x) if dt.startswith("float") else int(x) for x in b] for b in bands]
                   for dt, bands in edge_inputs().items()},
        "masked": [[0, 2], [2, 4]],
        "cases": out,
    }


def main():
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "rasters.json"), "w") as f:
        json.dump(raster_cases(), f, separators=(",", ":"))
    syn = synthetic_cases()
    # NaN/inf inputs: JSON has no such numbers, store them as strings
    for dt, bands in syn["inputs"].items():
        syn["inputs"][dt] = [[x if not isinstance(x, float) or numpy.isfinite(x) else str(x) for x in b] for b in bands]
    with open(os.path.join(OUT, "synthetic.json"), "w") as f:
        json.dump(syn, f, separators=(",", ":"))
    for name in ("rasters.json", "synthetic.json"):
        print(name, os.path.getsize(os.path.join(OUT, name)), "bytes")


if __name__ == "__main__":
    main()
