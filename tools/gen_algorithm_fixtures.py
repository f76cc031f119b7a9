"""Reference outputs of TiTiler's algorithms and rio-tiler's colour formulas.

Run with the project's Python (rio-tiler 9.4.12, titiler.core 2.4.0, numpy 2.x):

    /work/.venv/bin/python tools/gen_algorithm_fixtures.py

Writes `crates/imbrex-raster/tests/fixtures/algorithms/`:
- `algorithms.json`: for every (input tile, algorithm, params) case the output's shape,
  dtype, band descriptions, bounds, per-band mask run lengths, sha256 of the valid values
  and of all values, and a few sample values;
- `color_formula.json`: the same for `ImageData.apply_color_formula`, plus which formula
  strings TiTiler's validator accepts;
- `params.json`: which `algorithm_params` pydantic accepts;
- `metadata.json`: `/algorithms/{id}` of every algorithm.

numpy dispatches transcendental functions (arctan, arctan2, exp, log, power) to Intel SVML
on AVX-512 machines and to libm elsewhere; the two differ in the last bits. References are
computed on the libm path (`NPY_DISABLE_CPU_FEATURES`), which imbrex reproduces exactly;
the script also runs the native path in a subprocess and records how far it differs, so the
tests know how large the machine-dependent spread of TiTiler itself is.
"""

import hashlib
import json
import os
import subprocess
import sys
import tempfile

NATIVE = "--native" in sys.argv
if not NATIVE:
    # Must be set before numpy is imported.
    os.environ["NPY_DISABLE_CPU_FEATURES"] = "X86_V4 AVX512_ICL AVX512_SPR"

import warnings  # noqa: E402

import numpy  # noqa: E402
from rio_tiler.io import Reader  # noqa: E402
from rio_tiler.models import ImageData  # noqa: E402
from titiler.core.algorithm import algorithms  # noqa: E402
from titiler.core.factory import AlgorithmFactory  # noqa: E402
from titiler.core.validation import validate_color_formula  # noqa: E402

warnings.filterwarnings("ignore")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RASTERS = os.path.join(os.path.dirname(ROOT), "shared", "testdata", "raster")
if not os.path.isdir(RASTERS):
    RASTERS = "/work/shared/testdata/raster"
OUT = os.path.join(ROOT, "crates", "imbrex-raster", "tests", "fixtures", "algorithms")

# Input tiles: name -> (file, (x, y, z), buffer, indexes)
INPUTS = {
    "dem_f32": ("dem.tif", (17029, 11668, 15), 3, None),
    "dem_i16": ("cog_int16.tif", (21, 12, 6), 3, None),
    "rgb_u16": ("rgb.tif", (35, 51, 7), 0, None),
    "rgb_u8": ("TCI.tif", (290, 208, 9), 0, None),
}

ALGORITHM_CASES = [
    ("dem_f32", "hillshade", None),
    ("dem_f32", "hillshade", {"azimuth": 300, "angle_altitude": 30, "z_exaggeration": 3.5}),
    ("dem_f32", "hillshade", {"buffer": 0, "angle_altitude": -20}),
    ("dem_f32", "slope", None),
    ("dem_f32", "slope", {"z_exaggeration": 2.5, "buffer": 1}),
    ("dem_f32", "contours", None),
    ("dem_f32", "contours", {"increment": 5, "thickness": 2, "minz": 1600, "maxz": 2100}),
    ("dem_f32", "terrarium", None),
    ("dem_f32", "terrarium", {"nodata_height": 0}),
    ("dem_f32", "terrainrgb", None),
    ("dem_f32", "terrainrgb", {"interval": 0.5, "baseval": -500, "nodata_height": -10}),
    ("dem_f32", "cast", None),
    ("dem_f32", "ceil", None),
    ("dem_f32", "floor", None),
    ("dem_f32", "min", None),
    ("dem_f32", "max", None),
    ("dem_f32", "median", None),
    ("dem_f32", "mean", None),
    ("dem_f32", "std", None),
    ("dem_f32", "var", None),
    ("dem_f32", "sum", None),
    ("dem_f32", "bitonal", None),
    ("dem_i16", "hillshade", None),
    ("dem_i16", "hillshade", {"azimuth": 90, "angle_altitude": 60, "z_exaggeration": 10}),
    ("dem_i16", "slope", None),
    ("dem_i16", "contours", {"increment": 50, "thickness": 3, "minz": 0, "maxz": 1500}),
    ("dem_i16", "terrarium", None),
    ("dem_i16", "terrainrgb", None),
    ("dem_i16", "cast", None),
    ("dem_i16", "ceil", None),
    ("dem_i16", "floor", None),
    ("dem_i16", "bitonal", None),
    ("dem_i16", "sum", None),
    ("rgb_u16", "normalizedIndex", None),
    ("rgb_u16", "min", None),
    ("rgb_u16", "max", None),
    ("rgb_u16", "median", None),
    ("rgb_u16", "mean", None),
    ("rgb_u16", "std", None),
    ("rgb_u16", "var", None),
    ("rgb_u16", "sum", None),
    ("rgb_u16", "grayscale", None),
    ("rgb_u16", "bitonal", None),
    ("rgb_u16", "cast", None),
    ("rgb_u16", "ceil", None),
    ("rgb_u16", "floor", None),
    ("rgb_u8", "normalizedIndex", None),
    ("rgb_u8", "grayscale", None),
    ("rgb_u8", "bitonal", None),
    ("rgb_u8", "min", None),
    ("rgb_u8", "max", None),
    ("rgb_u8", "median", None),
    ("rgb_u8", "mean", None),
    ("rgb_u8", "std", None),
    ("rgb_u8", "var", None),
    ("rgb_u8", "sum", None),
    # Errors TiTiler raises while applying.
    ("dem_f32", "normalizedIndex", None),
    ("dem_f32", "grayscale", None),
    ("rgb_u8", "contours", None),
]

FORMULAS = [
    "gamma RGB 1.5",
    "gamma R 0.7, gamma G 2, gamma b 1",
    "gamma rgb 0.5",
    "sigmoidal RGB 10 0.15",
    "sigmoidal RGB -5 0.5",
    "sigmoidal rgb 0 0.5",
    "sigmoidal RGB 7 0",
    "saturation 1.2",
    "saturation 0.5",
    "gamma RGB 1.5, sigmoidal RGB 10 0.15, saturation 1.2",
    "Gamma 1 2.2",
]
FORMULA_INPUTS = ["rgb_u8", "rgb_u16", "dem_i16", "dem_f32"]

FORMULA_STRINGS = [
    "gamma RGB 1.5",
    "gamma RGB 1.5, sigmoidal RGB 10 0.15, saturation 1.2",
    "GAMMA rgb 1.5",
    "gamma 123 1.5",
    "gamma RGB",
    "gamma RGB 1.5 2",
    "gamma RGB 0",
    "gamma RGBA 1.5",
    "gamma 4 1.5",
    "gamma 0 1.5",
    "gamma x 1.5",
    "gamma RGB abc",
    "brightness RGB 1.5",
    "",
    " gamma RGB 1.5",
    "gamma  RGB 1.5",
    "gamma  1.5",
    "saturation",
    "saturation 1.5 2",
    "sigmoidal RGB 10",
    "sigmoidal RGB 10 2",
    "sigmoidal RGB 1e1 0.5",
    "gamma RGB inf",
    "gamma RGB nan",
    "gamma RGB 1_5",
    "gamma RGB,1.5",
    "gamma RGB 1.5,",
]

PARAM_CASES = [
    ("hillshade", "{}"),
    ("hillshade", '{"azimuth": 45.0}'),
    ("hillshade", '{"azimuth": 45.5}'),
    ("hillshade", '{"azimuth": "45"}'),
    ("hillshade", '{"azimuth": true}'),
    ("hillshade", '{"azimuth": null}'),
    ("hillshade", '{"azimuth": 361}'),
    ("hillshade", '{"azimuth": -1}'),
    ("hillshade", '{"angle_altitude": "1e1"}'),
    ("hillshade", '{"angle_altitude": 90.5}'),
    ("hillshade", '{"buffer": 100}'),
    ("hillshade", '{"buffer": 99}'),
    ("hillshade", '{"z_exaggeration": 0}'),
    ("hillshade", '{"unknown": 1}'),
    ("hillshade", '{"azimuth": [1]}'),
    ("slope", '{"buffer": 2, "z_exaggeration": 1e6}'),
    ("slope", '{"z_exaggeration": 1e7}'),
    ("contours", '{"increment": 1000}'),
    ("contours", '{"thickness": 11}'),
    ("contours", '{"minz": -100000}'),
    ("contours", '{"maxz": 99999}'),
    ("terrarium", '{"nodata_height": null}'),
    ("terrarium", '{"nodata_height": "5"}'),
    ("terrarium", '{"nodata_height": 100000}'),
    ("terrainrgb", '{"interval": 1.5}'),
    ("terrainrgb", '{"interval": 0.25, "baseval": -99999}'),
    ("terrainrgb", '{"baseval": "abc"}'),
    ("cast", '{"whatever": 3}'),
    ("min", "{}"),
]


def rle(mask2d):
    """Run lengths of a flattened boolean array, starting with a run of True (valid)."""
    flat = mask2d.ravel()
    runs, current, n = [], True, 0
    for v in flat:
        v = bool(v)
        if v == current:
            n += 1
        else:
            runs.append(n)
            current, n = v, 1
    runs.append(n)
    return runs


def jnum(v):
    v = float(v)
    if numpy.isnan(v):
        return "nan"
    if numpy.isinf(v):
        return "inf" if v > 0 else "-inf"
    return v


def describe(img):
    arr = img.array
    data = numpy.ascontiguousarray(arr.data)
    valid = ~numpy.ma.getmaskarray(arr)
    le = data.astype(data.dtype.newbyteorder("<"))
    out = {
        "shape": list(data.shape),
        "dtype": str(data.dtype),
        "band_descriptions": list(img.band_descriptions),
        "bounds": [float(b) for b in img.bounds],
        "mask_runs": [rle(valid[b]) for b in range(data.shape[0])],
        "sha256_valid": hashlib.sha256(le[valid].tobytes()).hexdigest(),
        "sha256_all": hashlib.sha256(le.tobytes()).hexdigest(),
    }
    # A few samples: fixed positions, valid or not.
    samples = []
    c, h, w = data.shape
    for i in range(12):
        b, y, x = i % c, (i * 37 + 11) % h, (i * 53 + 7) % w
        samples.append([b, y, x, jnum(data[b, y, x]), bool(valid[b, y, x])])
    out["samples"] = samples
    return out, data, valid


def read_inputs():
    imgs = {}
    for name, (path, (x, y, z), buffer, indexes) in INPUTS.items():
        with Reader(os.path.join(RASTERS, path)) as src:
            kwargs = {"buffer": buffer} if buffer else {}
            imgs[name] = src.tile(x, y, z, indexes=indexes, **kwargs)
    return imgs


def run_cases():
    """Every output: (key, description or error, data, valid)."""
    imgs = read_inputs()
    results = []
    for name, algo, params in ALGORITHM_CASES:
        key = f"{name}|{algo}|{json.dumps(params, sort_keys=True) if params else ''}"
        src = imgs[name]
        img = ImageData(
            src.array.copy(),
            bounds=src.bounds,
            crs=src.crs,
            band_names=src.band_names,
            band_descriptions=src.band_descriptions,
        )
        try:
            out = algorithms.get(algo)(**(params or {}))(img)
        except Exception as e:  # noqa: BLE001
            results.append((key, {"error": f"{type(e).__name__}: {e}"}, None, None))
            continue
        d, data, valid = describe(out)
        results.append((key, d, data, valid))
    for name in FORMULA_INPUTS:
        for formula in FORMULAS:
            key = f"{name}|{formula}"
            src = imgs[name]
            img = ImageData(
                src.array.copy(),
                bounds=src.bounds,
                crs=src.crs,
                band_names=src.band_names,
                band_descriptions=src.band_descriptions,
            )
            try:
                img.apply_color_formula(formula)
            except Exception as e:  # noqa: BLE001
                results.append((key, {"error": f"{type(e).__name__}: {e}"}, None, None))
                continue
            d, data, valid = describe(img)
            results.append((key, d, data, valid))
    return imgs, results


def main():
    imgs, results = run_cases()
    if NATIVE:
        arrays = {k: d for k, _, d, _ in results if d is not None}
        numpy.savez(sys.argv[sys.argv.index("--native") + 1], **{str(i): a for i, a in enumerate(arrays.values())}, keys=numpy.array(list(arrays.keys())))
        return

    # The native (SVML on AVX-512) path, for the spread.
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "native.npz")
        env = {k: v for k, v in os.environ.items() if k != "NPY_DISABLE_CPU_FEATURES"}
        subprocess.run([sys.executable, __file__, "--native", path], check=True, env=env)
        npz = numpy.load(path)
        native = {k: npz[str(i)] for i, k in enumerate(npz["keys"])}

    os.makedirs(OUT, exist_ok=True)
    inputs = {}
    for name, (path, (x, y, z), buffer, indexes) in INPUTS.items():
        d, _, _ = describe(imgs[name])
        inputs[name] = {"file": path, "tile": [x, y, z], "buffer": buffer, **d}

    algo_out, formula_out = [], []
    for key, d, data, valid in results:
        parts = key.split("|")
        rec = {"input": parts[0]}
        if len(parts) == 3:
            rec.update({"algorithm": parts[1], "params": parts[2] or None})
        else:
            rec["formula"] = parts[1]
        rec.update(d)
        if data is not None and key in native:
            nat = native[key]
            both = valid
            if data.dtype.kind == "f":
                a, b = data[both].astype("float64"), nat[both].astype("float64")
                diff = numpy.abs(a - b)
                diff[numpy.isnan(a) & numpy.isnan(b)] = 0
                n_diff = int((diff != 0).sum())
                max_diff = float(numpy.nanmax(diff)) if diff.size else 0.0
            else:
                diff = numpy.abs(data[both].astype("int64") - nat[both].astype("int64"))
                n_diff = int((diff != 0).sum())
                max_diff = float(diff.max()) if diff.size else 0.0
            rec["native_spread"] = {"values_differing": n_diff, "max_abs_diff": max_diff}
        (algo_out if len(parts) == 3 else formula_out).append(rec)

    formula_strings = []
    for s in FORMULA_STRINGS:
        try:
            validate_color_formula(s)
            ok = True
        except Exception:  # noqa: BLE001
            ok = False
        formula_strings.append({"formula": s, "valid": ok})

    params = []
    for algo, text in PARAM_CASES:
        try:
            algorithms.get(algo)(**json.loads(text))
            ok = True
        except Exception:  # noqa: BLE001
            ok = False
        params.append({"algorithm": algo, "params": text, "valid": ok})

    factory = AlgorithmFactory()
    metadata = {
        "names": algorithms.list(),
        "metadata": {n: factory._get_algo_metadata(algorithms.get(n)).model_dump() for n in algorithms.list()},
    }

    def dump(name, obj):
        with open(os.path.join(OUT, name), "w") as f:
            json.dump(obj, f, separators=(",", ":"))
            f.write("\n")

    dump("algorithms.json", {"inputs": inputs, "cases": algo_out})
    dump("color_formula.json", {"inputs": inputs, "cases": formula_out, "strings": formula_strings})
    dump("params.json", params)
    dump("metadata.json", metadata)
    if os.environ.get("IMBREX_DUMP_ARRAYS"):
        numpy.savez(os.environ["IMBREX_DUMP_ARRAYS"], **{k.replace("|", "__"): d for k, _, d, _ in results if d is not None})


if __name__ == "__main__":
    main()
