"""Reference data for imbrex's raster decoding tests, computed with rasterio/GDAL.

Writes, under crates/imbrex-raster/tests/fixtures/:

* codecs/*.tif - small GeoTIFFs written by GDAL covering the codec/layout matrix that the
  shared test rasters do not: LERC (plain, +DEFLATE, +ZSTD), PACKBITS, LZW/DEFLATE/ZSTD with
  predictors 2 and 3 on every sample type, planar (band-separate) layout, big-endian and
  BigTIFF containers, strips and tiles, 1-bit masks.
* decode.json - for every raster (shared ones and the codec files) and every resolution
  level, a centred window of at most 128x128 pixels as GDAL decodes it: a SHA-256 of the
  samples (band-sequential, little-endian) for lossless codecs, or the samples themselves
  (zlib + base64) for JPEG/WebP, which decoders may differ on by a few units; plus the
  dataset mask of the window when the file has a mask band.

Run from the repository root with the tool virtualenv (rasterio 1.4.4 / GDAL 3.10):

    /work/.venv/bin/python tools/gen_decode_fixtures.py ../shared/testdata/raster
"""

import base64
import hashlib
import json
import os
import sys
import zlib

import numpy as np
import rasterio
from rasterio.windows import Window

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "crates", "imbrex-raster", "tests", "fixtures")
CODECS = os.path.join(OUT, "codecs")
LOSSY = {"jpeg", "webp"}


def pattern(dtype, bands, h, w):
    """Deterministic content exercising the full range of a type."""
    y, x = np.mgrid[0:h, 0:w]
    out = []
    for b in range(bands):
        v = (x * 7 + y * 13 + b * 31) % 251
        if np.issubdtype(dtype, np.floating):
            a = (v.astype("float64") - 100.0) * 1.5 + 0.25
            a[0, 0] = np.nan
        elif np.issubdtype(dtype, np.signedinteger):
            info = np.iinfo(dtype)
            a = (v - 125) * max(1, info.max // 300)
        else:
            info = np.iinfo(dtype)
            a = v * max(1, info.max // 300)
        out.append(a.astype(dtype))
    return np.stack(out)


def write_codecs():
    os.makedirs(CODECS, exist_ok=True)
    profile = dict(driver="GTiff", width=70, height=45, crs="EPSG:32631", nodata=None,
                   transform=rasterio.transform.from_origin(500000, 5000000, 10, 10))
    cases = []
    for dtype in ["uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "float64"]:
        fp = dtype.startswith("float")
        for comp, pred in [("deflate", 2), ("lzw", 2), ("zstd", 2), ("deflate", 3 if fp else 1), ("lerc", 1)]:
            if pred == 3 and not fp:
                continue
            cases.append((f"{comp}_p{pred}_{dtype}", dtype, 2, dict(compress=comp, predictor=pred, tiled=True, blockxsize=32, blockysize=16)))
    cases += [
        ("lerc_deflate_float32", "float32", 1, dict(compress="lerc_deflate", tiled=True, blockxsize=32, blockysize=32)),
        ("lerc_zstd_uint16", "uint16", 1, dict(compress="lerc_zstd", tiled=True, blockxsize=32, blockysize=32)),
        ("packbits_tiled_uint8", "uint8", 3, dict(compress="packbits", tiled=True, blockxsize=16, blockysize=16)),
        ("packbits_strips_int16", "int16", 1, dict(compress="packbits", blockysize=7)),
        ("planar_deflate_uint16", "uint16", 3, dict(compress="deflate", interleave="band", tiled=True, blockxsize=32, blockysize=32)),
        ("planar_strips_float32", "float32", 2, dict(compress="lzw", predictor=3, interleave="band", blockysize=5)),
        ("bigendian_deflate_p2_int16", "int16", 2, dict(compress="deflate", predictor=2, endianness="BIG", tiled=True, blockxsize=16, blockysize=16)),
        ("bigendian_strips_float64", "float64", 1, dict(endianness="BIG", blockysize=9)),
        ("bigtiff_zstd_uint8", "uint8", 4, dict(compress="zstd", bigtiff="YES", tiled=True, blockxsize=32, blockysize=32)),
        ("bigtiff_bigendian_lzw_uint32", "uint32", 1, dict(compress="lzw", bigtiff="YES", endianness="BIG", blockysize=4)),
        ("none_strips_int32", "int32", 2, dict(blockysize=11)),
    ]
    written = []
    for name, dtype, bands, opts in cases:
        path = os.path.join(CODECS, name + ".tif")
        data = pattern(np.dtype(dtype), bands, profile["height"], profile["width"])
        with rasterio.open(path, "w", dtype=dtype, count=bands, **profile, **opts) as dst:
            dst.write(data)
        written.append(path)
    # A 1-bit internal mask (GDAL_TIFF_INTERNAL_MASK) over DEFLATE RGB with overviews.
    path = os.path.join(CODECS, "mask_1bit_overviews.tif")
    data = pattern(np.dtype("uint8"), 3, 90, 128)
    mask = np.zeros((90, 128), dtype="uint8")
    mask[10:70, 20:100] = 255
    with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True):
        with rasterio.open(path, "w", dtype="uint8", count=3, compress="deflate", tiled=True, blockxsize=32, blockysize=32,
                           **{**profile, "width": 128, "height": 90}) as dst:
            dst.write(data)
            dst.write_mask(mask)
            dst.build_overviews([2, 4], rasterio.enums.Resampling.nearest)
    written.append(path)
    return written


def window_record(path, level):
    kw = {} if level == 0 else {"overview_level": level - 1}
    with rasterio.open(path, **kw) as src:
        w, h = min(src.width, 128), min(src.height, 128)
        x0, y0 = (src.width - w) // 2, (src.height - h) // 2
        win = Window(x0, y0, w, h)
        rec = {"level": level, "window": [x0, y0, w, h], "dtype": src.dtypes[0], "count": src.count}
        comp = (src.compression.value.lower() if src.compression else "none")
        rec["compression"] = comp
        try:
            arr = src.read(window=win)
        except Exception as e:  # corrupt files
            rec["error"] = str(e)[:200]
            return rec
        le = arr.astype(arr.dtype.newbyteorder("<"), copy=False)
        if comp in LOSSY or src.driver == "JPEG":
            rec["samples_zlib_b64"] = base64.b64encode(zlib.compress(le.tobytes(), 9)).decode()
        else:
            rec["sha256"] = hashlib.sha256(le.tobytes()).hexdigest()
        flags = src.mask_flag_enums
        if all(rasterio.enums.MaskFlags.per_dataset in f and rasterio.enums.MaskFlags.alpha not in f for f in flags):
            m = src.read_masks(1, window=win)
            rec["mask_sha256"] = hashlib.sha256(m.tobytes()).hexdigest()
            rec["mask_valid"] = int((m > 0).sum())
    return rec


def main(raster_dir):
    files = sorted(
        os.path.join(raster_dir, f) for f in os.listdir(raster_dir)
        if f.lower().endswith((".tif", ".tiff", ".jpg", ".png")) and not f.endswith((".ovr", ".msk"))
    )
    files += write_codecs()
    out = {"gdal": rasterio.__gdal_version__, "rasterio": rasterio.__version__, "files": {}}
    for path in files:
        with rasterio.open(path) as src:
            levels = 1 + len(src.overviews(1))
        name = os.path.relpath(path, OUT) if path.startswith(OUT) else os.path.basename(path)
        out["files"][name] = [window_record(path, lvl) for lvl in range(levels)]
    with open(os.path.join(OUT, "decode.json"), "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"{len(out['files'])} files")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "shared", "testdata", "raster"))
