#!/usr/bin/env python3
"""Differential testing of imbrex against rio-tiler on rasters generated from a seed.

Every raster is made with rasterio (GDAL) from `numpy.random.default_rng([seed, i])`, so
raster `i` of a seed is the same file whatever `--n` is. Each axis a user's GeoTIFFs vary on
is drawn at random and combined: sample type, band count, size, nodata, alpha band,
internal or external mask, codec and predictor, tiles or strips, pixel or band interleave,
internal or external overviews, scale/offset, palette, pixel-is-point, the CRS (EPSG codes
and custom ones: polar stereographic, geostationary, sinusoidal on a sphere, LAEA, a custom
Albers WKT, GeoKeys overriding a registered datum's ellipsoid), rotated and south-up
geotransforms, GCPs.

For each raster, rio-tiler computes in-process what a running imbrex is asked over HTTP:
info (and the zoom range per TileMatrixSet), tiles in WebMercatorQuad, WorldCRS84Quad and a
polar TMS with several resampling methods, parts (bbox), previews, points and statistics.
The outputs are compared (masks exactly; lossless values exactly, floats to 1e-6 relative;
lossy codecs within the decoder tolerance of docs/reading.md) and an agreement table is
printed per check and per class of file.

    scripts/differential --n 500 --seed 1      # builds imbrex, starts it, runs this
    python tools/differential.py --url http://127.0.0.1:8000 --dir /tmp/corpus --n 20 --seed 7

Exit status: 0 when the agreement is at least --min-agreement (default 0: report only).
"""
from __future__ import annotations

import argparse
import http.client
import io
import json
import math
import multiprocessing
import os
import struct
import sys
import time
import traceback
import urllib.parse
import warnings
from collections import defaultdict

import numpy as np
import rasterio
import rasterio.shutil
from rasterio.control import GroundControlPoint
from rasterio.crs import CRS
from rasterio.enums import ColorInterp, Resampling
from rasterio.transform import Affine
from rasterio.warp import transform as warp_transform

warnings.simplefilter("ignore")

DTYPES = ["uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "float64"]
FLT_MAX = float(np.finfo(np.float32).max)
RESAMPLINGS = ["nearest", "bilinear", "cubic", "average"]

# ----------------------------------------------------------------------------------------
# Corpus generation
# ----------------------------------------------------------------------------------------

# name -> (CRS definition, (lon, lat) box the data centre is drawn from, extent range in
# metres (or degrees for geographic CRSs))
CRS_KINDS = {
    "epsg4326": ("EPSG:4326", (-179, -80, 179, 84), (0.01, 60.0)),
    "epsg3857": ("EPSG:3857", (-179, -80, 179, 80), (500.0, 5e6)),
    "utm": (None, (-179, -79, 179, 83), (200.0, 8e5)),
    "polar_south": ("EPSG:3031", (-180, -89, 180, -62), (1e3, 3e6)),
    "polar_north": ("EPSG:3413", (-180, 62, 180, 89), (1e3, 3e6)),
    "geostationary": (
        "+proj=geos +h=35785831 +lon_0=-75 +sweep=x +ellps=GRS80 +units=m +no_defs",
        (-130, -55, -20, 55),
        (5e4, 1.2e7),
    ),
    "sinusoidal_sphere": (
        "+proj=sinu +lon_0=0 +x_0=0 +y_0=0 +R=6371007.181 +units=m +no_defs",
        (-170, -70, 170, 70),
        (1e3, 1.2e6),
    ),
    "laea": ("EPSG:3035", (-10, 35, 30, 70), (1e3, 3e6)),
    "laea_custom": (
        "+proj=laea +lat_0=45 +lon_0=-100 +x_0=0 +y_0=0 +ellps=GRS80 +units=m +no_defs",
        (-125, 25, -70, 60),
        (1e3, 3e6),
    ),
    "albers_wkt": (
        'PROJCS["Custom Albers",GEOGCS["WGS 84",DATUM["WGS_1984",'
        'SPHEROID["WGS 84",6378137,298.257223563]],PRIMEM["Greenwich",0],'
        'UNIT["degree",0.0174532925199433]],PROJECTION["Albers_Conic_Equal_Area"],'
        'PARAMETER["latitude_of_center",40],PARAMETER["longitude_of_center",-96],'
        'PARAMETER["standard_parallel_1",29.5],PARAMETER["standard_parallel_2",45.5],'
        'PARAMETER["false_easting",0],PARAMETER["false_northing",0],UNIT["metre",1]]',
        (-120, 25, -70, 50),
        (1e3, 2e6),
    ),
    # The same on NAD83: into OGC:CRS84 PROJ picks ESRI's ITRF00 Helmert inside its area
    # of use (a user-defined CRS searches every authority), into EPSG CRSs the null shift.
    "albers_nad83": (
        'PROJCS["Custom Albers",GEOGCS["NAD83",DATUM["North_American_Datum_1983",'
        'SPHEROID["GRS 1980",6378137,298.257222101]],PRIMEM["Greenwich",0],'
        'UNIT["degree",0.0174532925199433]],PROJECTION["Albers_Conic_Equal_Area"],'
        'PARAMETER["latitude_of_center",40],PARAMETER["longitude_of_center",-96],'
        'PARAMETER["standard_parallel_1",29.5],PARAMETER["standard_parallel_2",45.5],'
        'PARAMETER["false_easting",0],PARAMETER["false_northing",0],UNIT["metre",1]]',
        (-120, 25, -70, 50),
        (1e3, 2e6),
    ),
    "tmerc_custom": (
        "+proj=tmerc +lat_0=10 +lon_0=33 +k=0.9997 +x_0=150000 +y_0=-2000000 +ellps=WGS84 +units=m +no_defs",
        (25, 0, 40, 30),
        (1e3, 1e6),
    ),
    "lcc_custom": (
        "+proj=lcc +lat_0=46.5 +lon_0=3 +lat_1=49 +lat_2=44 +x_0=700000 +y_0=6600000 +ellps=WGS84 +units=m +no_defs",
        (-4, 42, 9, 51),
        (1e3, 1e6),
    ),
    "eqc": ("EPSG:4087", (-179, -80, 179, 80), (1e3, 5e6)),
    # GeoKeys naming WGS 84's datum with an ellipsoid of its own (patched in after writing):
    # a northern UTM zone, or geographic.
    "geokeys_ellipsoid": (None, (-179, 1, 179, 83), (200.0, 8e5)),
}


def utm_crs(lon, lat):
    zone = int((lon + 180) // 6) % 60 + 1
    return f"EPSG:{32600 + zone if lat >= 0 else 32700 + zone}"


def choice(rng, items, weights=None):
    if weights is not None:
        w = np.asarray(weights, dtype=float)
        return items[int(rng.choice(len(items), p=w / w.sum()))]
    return items[int(rng.integers(len(items)))]


def draw_spec(rng):
    """The axes of one raster."""
    s = {}
    s["dtype"] = choice(rng, DTYPES)
    s["bands"] = int(choice(rng, [1, 2, 3, 4, 5], [4, 2, 3, 2, 1]))
    size_class = choice(rng, ["tiny", "small", "medium", "large"], [1, 4, 4, 1.5])
    lo, hi = {"tiny": (1, 16), "small": (16, 300), "medium": (300, 1500), "large": (1500, 3200)}[size_class]
    s["size_class"] = size_class
    s["width"] = int(np.exp(rng.uniform(np.log(lo), np.log(hi))))
    s["height"] = int(np.exp(rng.uniform(np.log(lo), np.log(hi)))) if rng.random() < 0.8 else s["width"]
    # keep the files (and the runtime) moderate
    item = np.dtype(s["dtype"]).itemsize
    while s["width"] * s["height"] * s["bands"] * item > 48e6:
        s["width"] = max(1, s["width"] * 3 // 4)
        s["height"] = max(1, s["height"] * 3 // 4)

    # codec
    codecs = ["none", "deflate", "lzw", "zstd", "lzma", "packbits", "lerc", "lerc_deflate", "lerc_zstd"]
    if s["dtype"] == "uint8" and s["bands"] in (1, 3):
        codecs += ["jpeg", "jpeg"]
    if s["dtype"] == "uint8" and s["bands"] in (3, 4):
        codecs += ["webp", "webp"]
    if s["dtype"] == "int8":
        codecs = [c for c in codecs if not c.startswith("lerc")]
    s["codec"] = choice(rng, codecs)
    s["predictor"] = 1
    if s["codec"] in ("deflate", "lzw", "zstd", "lzma") and rng.random() < 0.5:
        s["predictor"] = 3 if s["dtype"].startswith("float") and rng.random() < 0.7 else 2
    s["webp_lossless"] = bool(rng.random() < 0.5) if s["codec"] == "webp" else None
    s["ycbcr"] = bool(s["codec"] == "jpeg" and s["bands"] == 3 and rng.random() < 0.6)

    # layout
    s["tiled"] = bool(rng.random() < 0.7)
    s["block"] = int(choice(rng, [16, 32, 64, 128, 256, 512], [1, 1, 2, 3, 4, 2])) if s["tiled"] else None
    s["rows_per_strip"] = None if s["tiled"] else int(rng.integers(1, max(2, min(s["height"], 300))))
    s["interleave"] = "pixel"
    if s["bands"] > 1 and not s["ycbcr"] and s["codec"] != "webp" and rng.random() < 0.35:
        s["interleave"] = "band"
    s["bigtiff"] = bool(rng.random() < 0.1)

    # nodata, alpha, masks
    nodatas = ["none", "none", "zero", "min", "max", "-9999"]
    if s["dtype"].startswith("float"):
        nodatas += ["nan", "nan", "flt_max", "-flt_max", "flt_max_text"]
    s["nodata"] = choice(rng, nodatas)
    if s["nodata"] == "-9999" and s["dtype"] in ("uint8", "int8", "uint16", "uint32"):
        s["nodata"] = "min"
    s["alpha"] = bool(s["bands"] >= 2 and rng.random() < 0.25 and s["codec"] != "jpeg")
    s["mask"] = choice(rng, ["none", "internal", "external"], [6, 2, 1.5])
    if s["codec"] == "webp" and s["bands"] == 4:
        s["alpha"] = True

    # overviews
    big = max(s["width"], s["height"]) >= 64
    s["overviews"] = choice(rng, ["none", "internal", "external", "cog"], [3, 3, 1.5, 2]) if big else "none"
    s["ovr_resampling"] = choice(rng, ["nearest", "average"]) if s["overviews"] != "none" else None
    if s["overviews"] == "cog" and not s["tiled"]:
        s["tiled"], s["block"], s["rows_per_strip"] = True, 256, None

    # extras
    s["scale_offset"] = bool(rng.random() < 0.15)
    s["palette"] = bool(
        s["bands"] == 1 and s["dtype"] in ("uint8", "uint16") and rng.random() < 0.3 and s["codec"] != "jpeg"
    )
    s["pixel_is_point"] = bool(rng.random() < 0.12)
    s["statistics_tags"] = bool(rng.random() < 0.15)
    s["descriptions"] = bool(rng.random() < 0.15)

    # georeference
    s["crs"] = choice(
        rng,
        list(CRS_KINDS) + ["gcps"],
        # epsg4326 epsg3857 utm polar_s polar_n geos sinu laea laea_c albers nad83 tmerc lcc
        # eqc geokeys gcps
        [4, 3, 3, 1.5, 1.5, 1.5, 1.5, 1, 1, 1, 0.5, 0.7, 0.7, 0.7, 1, 1],
    )
    if s["crs"] == "geokeys_ellipsoid" or s["nodata"] == "flt_max_text":
        s["bigtiff"] = False  # the tag patcher edits classic TIFF only
    s["geotransform"] = "north_up"
    if s["crs"] != "gcps":
        s["geotransform"] = choice(rng, ["north_up", "south_up", "rotated"], [12, 1, 1])
    return s


def dtype_limits(dtype):
    if dtype.startswith("float"):
        return -1e4, 1e4
    info = np.iinfo(dtype)
    return float(info.min), float(info.max)


def nodata_value(s):
    kind, dt = s["nodata"], s["dtype"]
    if kind == "none":
        return None
    if kind == "zero":
        return 0.0
    if kind == "nan":
        return float("nan")
    if kind == "-9999":
        return -9999.0
    if kind == "flt_max":
        return FLT_MAX
    if kind == "-flt_max":
        return -FLT_MAX
    if kind == "flt_max_text":
        # "-3.40282e+38": what many writers put in GDAL_NODATA; GDAL snaps it to -FLT_MAX
        # for float32 bands (the tag is patched after writing).
        return -FLT_MAX
    if dt.startswith("float"):
        f = np.finfo(dt)
        return float(f.min) if kind == "min" else float(f.max)
    i = np.iinfo(dt)
    return float(i.min) if kind == "min" else float(i.max)


def blobs(rng, h, w, n, max_frac=0.3):
    """A boolean mask of n random discs and boxes."""
    m = np.zeros((h, w), dtype=bool)
    yy, xx = np.ogrid[:h, :w]
    for _ in range(n):
        cy, cx = rng.uniform(-0.1, 1.1) * h, rng.uniform(-0.1, 1.1) * w
        r = rng.uniform(0.02, max_frac) * max(h, w)
        if rng.random() < 0.5:
            m |= (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
        else:
            m[max(0, int(cy - r)) : max(0, int(cy + r)), max(0, int(cx - r / 2)) : max(0, int(cx + r / 2))] = True
    return m


def make_data(rng, s):
    h, w, n, dt = s["height"], s["width"], s["bands"], s["dtype"]
    yy, xx = np.mgrid[0:h, 0:w].astype("float64")
    yy /= max(h, 1)
    xx /= max(w, 1)
    if dt.startswith("float"):
        span = float(choice(rng, [1.0, 100.0, 1e4, 1e6, 1e30]))
        lo, hi = -span * rng.uniform(0, 1), span
    else:
        lo, hi = dtype_limits(dt)
        if rng.random() < 0.5:  # a sub-range, as most real data
            a, b = sorted(rng.uniform(lo, hi, 2))
            lo, hi = a, max(b, a + 10)
    lossy = s["codec"] in ("jpeg", "webp") and not s.get("webp_lossless")
    noise = 0.0 if lossy else float(choice(rng, [0.0, 0.05, 0.5]))
    out = np.empty((n, h, w), dtype=dt)
    for b in range(n):
        f = np.sin(xx * rng.uniform(1, 12) + rng.uniform(0, 6)) * np.cos(yy * rng.uniform(1, 12) + rng.uniform(0, 6))
        f = (f + 1) / 2 * (1 - noise) + rng.random((h, w)) * noise
        v = lo + f * (hi - lo)
        if not dt.startswith("float"):
            v = np.clip(np.rint(v), *dtype_limits(dt))
        out[b] = v.astype(dt)
    return out


def crs_and_transform(rng, s):
    """(CRS, transform or None, gcps or None)."""
    kind = s["crs"]
    h, w = s["height"], s["width"]
    if kind == "gcps":
        base_kind = choice(rng, ["epsg4326", "utm"])
    else:
        base_kind = kind
    definition, box, (emin, emax) = CRS_KINDS[base_kind]
    lon = rng.uniform(box[0], box[2])
    lat = rng.uniform(box[1], box[3])
    if base_kind == "utm":
        definition = utm_crs(lon, lat)
    if base_kind == "geokeys_ellipsoid":
        # (GDAL writes GeogSemiMajorAxis for a user-defined GCS: the patch then has its
        # GeoDoubleParams to extend.)
        # Written with the International 1924 ellipsoid as explicit parameters, so that
        # GDAL writes a GeoDoubleParamsTag, which the patch then re-keys.
        if rng.random() < 0.7:
            zone = int((lon + 180) // 6) % 60 + 1
            south = " +south" if lat < 0 else ""
            definition = f"+proj=utm +zone={zone}{south} +a=6378388 +rf=297 +units=m +no_defs"
        else:
            definition = "+proj=longlat +a=6378388 +rf=297 +no_defs"
            emin, emax = 0.01, 20.0
    crs = CRS.from_user_input(definition)
    xs, ys = warp_transform("EPSG:4326", crs, [lon], [lat])
    cx, cy = xs[0], ys[0]
    if not (math.isfinite(cx) and math.isfinite(cy)):
        cx, cy = 0.0, 0.0
    extent = math.exp(rng.uniform(math.log(emin), math.log(emax)))
    if base_kind == "epsg4326" and rng.random() < 0.08:
        # The whole world.
        res_x, res_y = 360.0 / w, 180.0 / h
        cx, cy = 0.0, 0.0
    elif base_kind == "geostationary" and rng.random() < 0.3:
        # A full disk, with space around the Earth.
        res_x = res_y = 2 * 5434894.885056 / max(w, h)
        cx, cy = 0.0, 0.0
    else:
        res_x = extent / max(w, h)
        res_y = res_x * rng.uniform(0.7, 1.4) if rng.random() < 0.3 else res_x
    if crs.is_geographic:
        # keep the box on the Earth
        half_w, half_h = res_x * w / 2, res_y * h / 2
        cx = min(max(cx, -180 + half_w), 180 - half_w) if half_w < 180 else 0.0
        cy = min(max(cy, -90 + half_h), 90 - half_h) if half_h < 90 else 0.0
    x0, y0 = cx - res_x * w / 2, cy + res_y * h / 2
    gt = s["geotransform"]
    if gt == "south_up":
        t = Affine(res_x, 0, x0, 0, res_y, cy - res_y * h / 2)
    elif gt == "rotated":
        ang = math.radians(rng.uniform(-30, 30))
        a, b = res_x * math.cos(ang), -res_y * math.sin(ang)
        d, e = res_x * math.sin(ang), -res_y * math.cos(ang)
        t = Affine(a, b, x0, d, e, y0)
    else:
        t = Affine(res_x, 0, x0, 0, -res_y, y0)
    if kind != "gcps":
        return crs, t, None
    # GCPs: a grid of control points from the transform, slightly distorted.
    gcps = []
    k = 4
    for i in range(k):
        for j in range(k):
            col, row = j * (w / (k - 1)), i * (h / (k - 1))
            x, y = t * (col, row)
            x += rng.normal() * res_x * 0.3
            y += rng.normal() * res_y * 0.3
            gcps.append(GroundControlPoint(row=row, col=col, x=x, y=y, z=0.0))
    return crs, None, gcps


def palette(rng, dt):
    n = 256 if dt == "uint8" else int(rng.integers(2, 300))
    return {i: tuple(int(c) for c in rng.integers(0, 256, 3)) + (255,) for i in range(n)}


def gdal_codec_options(s):
    c = s["codec"]
    opts = {}
    if c != "none":
        opts["compress"] = c
    if c == "lerc" or c.startswith("lerc_"):
        opts["max_z_error"] = 0
    if s["predictor"] != 1:
        opts["predictor"] = s["predictor"]
    if c == "jpeg":
        opts["jpeg_quality"] = 85
        if s["ycbcr"]:
            opts["photometric"] = "ycbcr"
    if c == "webp":
        if s["webp_lossless"]:
            opts["webp_lossless"] = True
        else:
            opts["webp_level"] = 80
    if c == "zstd" or c == "lerc_zstd":
        opts["zstd_level"] = 3
    return opts


def write_raster(rng, s, path):
    """Write the raster of spec `s` to `path` (and its sidecars)."""
    h, w, n, dt = s["height"], s["width"], s["bands"], s["dtype"]
    data = make_data(rng, s)
    nd = nodata_value(s)
    if nd is not None:
        holes = blobs(rng, h, w, int(rng.integers(1, 4)))
        for b in range(n):
            band_holes = holes if rng.random() < 0.7 else blobs(rng, h, w, 1)
            data[b][band_holes] = np.array(nd).astype(dt)
    if dt.startswith("float") and s["nodata"] != "nan" and rng.random() < 0.15:
        data[0][blobs(rng, h, w, 1, 0.1)] = np.nan
    alpha = None
    if s["alpha"]:
        amax = np.iinfo(dt).max if not dt.startswith("float") else 255
        alpha_m = ~blobs(rng, h, w, int(rng.integers(1, 4)))
        alpha = np.where(alpha_m, amax, 0).astype(dt)
        if dt == "uint8" and rng.random() < 0.3:
            edge = blobs(rng, h, w, 1, 0.1) & alpha_m
            alpha[edge] = 128
        data[-1] = alpha
    mask = None
    if s["mask"] != "none":
        mask = np.where(blobs(rng, h, w, int(rng.integers(1, 4))), 0, 255).astype("uint8")
    crs, transform, gcps = crs_and_transform(rng, s)

    profile = {
        "driver": "GTiff",
        "width": w,
        "height": h,
        "count": n,
        "dtype": dt,
        "crs": crs,
        "interleave": s["interleave"],
        "bigtiff": "yes" if s["bigtiff"] else "no",
    }
    if transform is not None:
        profile["transform"] = transform
    if s["tiled"]:
        profile.update(tiled=True, blockxsize=s["block"], blockysize=s["block"])
    else:
        profile.update(tiled=False, blockysize=s["rows_per_strip"])
    profile.update(gdal_codec_options(s))
    if s["palette"]:
        profile["photometric"] = "palette"
    if nd is not None:
        profile["nodata"] = nd
    if s["alpha"] and s["codec"] != "webp":
        profile.setdefault("photometric", "rgb" if n == 4 and dt == "uint8" else "minisblack")
        if n != 4 or dt != "uint8":
            profile["photometric"] = "minisblack"
        profile["alpha"] = "unassociated"

    target = path
    cog = s["overviews"] == "cog"
    if cog:
        target = path + ".tmp.tif"
    env = {"GDAL_TIFF_INTERNAL_MASK": "YES" if s["mask"] == "internal" else "NO"}
    with rasterio.Env(**env):
        with rasterio.open(target, "w", **profile) as dst:
            dst.write(data)
            if s["alpha"]:
                ci = list(dst.colorinterp)
                ci[-1] = ColorInterp.alpha
                dst.colorinterp = ci
            if gcps is not None:
                dst.gcps = (gcps, crs)
            if s["palette"]:
                dst.write_colormap(1, palette(rng, dt))
            if s["scale_offset"]:
                dst.scales = [float(choice(rng, [0.01, 0.5, 2.0, 1e-4])) for _ in range(n)]
                dst.offsets = [float(choice(rng, [0.0, -100.0, 3.5])) for _ in range(n)]
            if s["pixel_is_point"]:
                dst.update_tags(AREA_OR_POINT="Point")
            if s["statistics_tags"]:
                for b in range(n):
                    v = data[b].astype("float64")
                    v = v[np.isfinite(v)]
                    if v.size:
                        dst.update_tags(b + 1, STATISTICS_MINIMUM=float(v.min()), STATISTICS_MAXIMUM=float(v.max()))
            if s["descriptions"]:
                for b in range(n):
                    dst.set_band_description(b + 1, f"band {b + 1} {choice(rng, ['red', 'nir', 'elev', 'x'])}")
            if mask is not None:
                dst.write_mask(mask)
            if s["overviews"] == "internal":
                dst.build_overviews(overview_factors(s), Resampling[s["ovr_resampling"]])
        if s["overviews"] == "external":
            with rasterio.Env(TIFF_USE_OVR=True), rasterio.open(target, "r+") as src:
                src.build_overviews(overview_factors(s), Resampling[s["ovr_resampling"]])
    if cog:
        opts = {k.upper(): v for k, v in gdal_codec_options(s).items() if k not in ("photometric",)}
        opts.pop("JPEG_QUALITY", None)
        if s["codec"] == "jpeg":
            opts["QUALITY"] = 85
        if s["codec"] == "webp":
            opts.pop("WEBP_LOSSLESS", None)
            opts.pop("WEBP_LEVEL", None)
            opts["QUALITY"] = 100 if s["webp_lossless"] else 80
        opts.pop("MAX_Z_ERROR", None)
        if s["codec"] == "lerc" or s["codec"].startswith("lerc_"):
            opts["MAX_Z_ERROR"] = 0
        if s["codec"] == "none":
            opts["COMPRESS"] = "NONE"
        opts.update(BLOCKSIZE=s["block"], OVERVIEW_RESAMPLING=s["ovr_resampling"].upper(), BIGTIFF="NO")
        with rasterio.Env(**env):
            rasterio.shutil.copy(target, path, driver="COG", **opts)
        for ext in ("", ".msk", ".ovr", ".aux.xml"):
            if os.path.exists(target + ext):
                os.remove(target + ext)
    if s["crs"] == "geokeys_ellipsoid":
        p = crs.to_dict()
        utm = (16100 if p.get("south") else 16000) + p["zone"] if p.get("proj") == "utm" else None
        patch_geokeys_ellipsoid(path, utm)
    if s["nodata"] == "flt_max_text":
        patch_ascii_tag(path, 42113, "-3.40282e+38")
    for ext in (".aux.xml",):
        if os.path.exists(path + ext):
            os.remove(path + ext)


def overview_factors(s):
    f, out = 2, []
    while max(s["width"], s["height"]) / f >= 32 and len(out) < 6:
        out.append(f)
        f *= 2
    return out or [2]


# --- small TIFF tag editing, for what GDAL will not write itself -------------------------

TIFF_TYPES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 16: 8, 17: 8, 18: 8}


def _ifd0(f):
    f.seek(0)
    head = f.read(16)
    bo = "<" if head[:2] == b"II" else ">"
    (magic,) = struct.unpack(bo + "H", head[2:4])
    if magic != 42:
        raise ValueError("only classic TIFF is patched")
    (off,) = struct.unpack(bo + "I", head[4:8])
    return bo, off


def _tags(f, bo, off):
    f.seek(off)
    (count,) = struct.unpack(bo + "H", f.read(2))
    tags = {}
    for i in range(count):
        entry_pos = off + 2 + 12 * i
        f.seek(entry_pos)
        tag, typ, cnt = struct.unpack(bo + "HHI", f.read(8))
        tags[tag] = (entry_pos, typ, cnt)
    return tags


def _read_values(f, bo, entry_pos, typ, cnt):
    size = TIFF_TYPES[typ] * cnt
    f.seek(entry_pos + 8)
    if size <= 4:
        raw = f.read(size)
    else:
        (voff,) = struct.unpack(bo + "I", f.read(4))
        f.seek(voff)
        raw = f.read(size)
    fmt = {3: "H", 12: "d", 2: "s"}[typ]
    if typ == 2:
        return raw
    return list(struct.unpack(bo + fmt * cnt, raw))


def _write_values(f, bo, entry_pos, typ, raw, cnt):
    """Point the entry at `raw` (appended at the end of the file)."""
    if len(raw) <= 4:
        f.seek(entry_pos + 4)
        f.write(struct.pack(bo + "I", cnt))
        f.write(raw.ljust(4, b"\0"))
        return
    f.seek(0, 2)
    end = f.tell()
    if end % 2:
        f.write(b"\0")
        end += 1
    f.write(raw)
    f.seek(entry_pos + 4)
    f.write(struct.pack(bo + "II", cnt, end))


def patch_ascii_tag(path, tag, text):
    with open(path, "r+b") as f:
        bo, off = _ifd0(f)
        tags = _tags(f, bo, off)
        if tag not in tags:
            return
        entry_pos, typ, _ = tags[tag]
        raw = text.encode() + b"\0"
        _write_values(f, bo, entry_pos, typ, raw, len(raw))


def patch_geokeys_ellipsoid(path, utm_projection):
    """Rewrite the GeoKeys into a user-defined GCS on WGS 84's datum code with an ellipsoid
    of another size (International 1924's), as some writers do; GDAL honours the ellipsoid
    keys. With `utm_projection` (an EPSG UTM projection code, 16001–16160), a user-defined
    projected CRS: that UTM zone on this GCS."""
    with open(path, "r+b") as f:
        bo, off = _ifd0(f)
        tags = _tags(f, bo, off)
        if 34736 not in tags:
            raise ValueError("no GeoDoubleParamsTag to extend")
        entry_pos, typ, cnt = tags[34735]
        keys = _read_values(f, bo, entry_pos, typ, cnt)
        params = _read_values(f, bo, *tags[34736])
        header = keys[:4]
        raster_type = [keys[4 + 4 * i : 8 + 4 * i] for i in range(keys[3]) if keys[4 + 4 * i] == 1025]
        p0 = len(params)
        params = params + [6378388.0, 297.0]
        entries = raster_type + [
            [1024, 0, 1, 1 if utm_projection else 2],  # GTModelTypeGeoKey: projected / geographic
            [2048, 0, 1, 32767],  # GeographicTypeGeoKey: user-defined
            [2050, 0, 1, 6326],  # GeogGeodeticDatumGeoKey: WGS 84
            [2054, 0, 1, 9102],  # GeogAngularUnitsGeoKey: degree
            [2056, 0, 1, 32767],  # GeogEllipsoidGeoKey: user-defined
            [2057, 34736, 1, p0],  # GeogSemiMajorAxisGeoKey
            [2059, 34736, 1, p0 + 1],  # GeogInvFlatteningGeoKey
        ]
        if utm_projection:
            entries += [
                [3072, 0, 1, 32767],  # ProjectedCSTypeGeoKey: user-defined
                [3074, 0, 1, utm_projection],  # ProjectionGeoKey: a UTM zone
                [3076, 0, 1, 9001],  # ProjLinearUnitsGeoKey: metre
            ]
        entries.sort()
        header[3] = len(entries)
        out = header + [v for e in entries for v in e]
        _write_values(f, bo, entry_pos, 3, struct.pack(bo + "H" * len(out), *out), len(out))
        ep, _, _ = tags[34736]
        _write_values(f, bo, ep, 12, struct.pack(bo + "d" * len(params), *params), len(params))


# ----------------------------------------------------------------------------------------
# Checks: rio-tiler in-process, imbrex over HTTP
# ----------------------------------------------------------------------------------------


class Imbrex:
    def __init__(self, url):
        u = urllib.parse.urlparse(url)
        self.host, self.port = u.hostname, u.port
        self.conn = None

    def get(self, path, params, body=None):
        q = urllib.parse.urlencode(params, doseq=True)
        if os.environ.get("DIFF_TRACE"):
            sys.stderr.write(f"GET {path}?{q}\n")
        for attempt in range(3):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
                self.conn.request("POST" if body is not None else "GET", f"{path}?{q}", body=body)
                r = self.conn.getresponse()
                return r.status, r.read()
            except (http.client.HTTPException, ConnectionError, OSError):
                self.conn = None
                if attempt == 2:
                    raise
                time.sleep(0.2)


def decode_npy(body):
    arr = np.load(io.BytesIO(body), allow_pickle=False)
    return arr[:-1], arr[-1]


class Outcome:
    """One check: agreed or not, with a reason."""

    def __init__(self, check, ok, reason="", detail=None):
        self.check, self.ok, self.reason, self.detail = check, ok, reason, detail


def values_equal(a, b, lossy, rel=1e-6, interpolated=False):
    """Compare valid values; returns a reason or ''.

    Values copied from the source (nearest) must be equal, floats to `rel`. Values an
    interpolating kernel computed (bilinear, cubic, average) come from projected
    coordinates, which imbrex's proj4rs and GDAL's PROJ agree on to ~1e-9 pixel: integers
    may then land on the other side of a rounding boundary, so they may differ by one unit
    (or by `rel` of their magnitude, for 32-bit data with a huge range)."""
    a = np.asarray(a)
    b = np.asarray(b)
    if a.shape != b.shape:
        return f"shape {a.shape} != {b.shape}"
    if a.size == 0:
        return ""
    if lossy:
        d = np.abs(a.astype("float64") - b.astype("float64"))
        d = d[np.isfinite(d)]
        if d.size and (d.mean() > 1.5 or d.max() > 80):
            return f"lossy values differ: mean {d.mean():.2f}, max {d.max():.0f}"
        return ""
    if a.dtype.kind == "f" or b.dtype.kind == "f":
        af, bf = a.astype("float64"), b.astype("float64")
        both_nan = np.isnan(af) & np.isnan(bf)
        tol = rel * np.maximum(np.abs(af), np.abs(bf))
        if interpolated:
            # A coordinate ~1e-9 pixel off moves an interpolated value by that much of the
            # local difference between neighbours: relative to the data's range.
            finite = bf[np.isfinite(bf)]
            if finite.size:
                tol = np.maximum(tol, rel * float(finite.max() - finite.min()))
        close = (af == bf) | both_nan | (np.abs(af - bf) <= tol)
        bad = ~close
    else:
        ai, bi = a.astype("int64"), b.astype("int64")
        if interpolated:
            bad = np.abs(ai - bi) > np.maximum(1, rel * np.abs(bi.astype("float64")))
        else:
            bad = ai != bi
    if bad.any():
        idx = np.argwhere(bad)[0]
        return f"{int(bad.sum())} values differ, first at {tuple(int(i) for i in idx)}: {a[tuple(idx)]} vs {b[tuple(idx)]}"
    return ""


def titiler_colormap(img, cmap):
    """What TiTiler's `render_image` makes of a one-band image with the dataset's palette
    (`colormap or dst_colormap`): rio-tiler's `apply_cmap` colours, and the mask where valid
    is the colour's alpha."""
    from rasterio.dtypes import dtype_ranges
    from rio_tiler.colormap import apply_cmap

    data, alpha = apply_cmap(img.data, cmap)
    lo = dtype_ranges[str(img.data.dtype)][0]
    mask = np.where(img.mask != lo, alpha, 0).astype(data.dtype)
    return data, mask


def compare_colormapped(expected, body):
    data, mask = decode_npy(body)
    ref_data, ref_mask = expected
    if data.shape != ref_data.shape or data.dtype != ref_data.dtype:
        return f"colormapped: {data.dtype}{data.shape} != TiTiler {ref_data.dtype}{ref_data.shape}"
    if not np.array_equal(mask, ref_mask):
        return f"colormapped mask: {int((mask != ref_mask).sum())} of {mask.size} pixels differ"
    if not np.array_equal(data, ref_data):
        return f"colormapped colours: {int((data != ref_data).any(axis=0).sum())} pixels differ"
    return ""


def compare_image(img, body, lossy, interpolated=False):
    """rio-tiler ImageData vs imbrex's .npy: TiTiler's NPY is the data bands followed by
    rio-tiler's `ImageData.mask` (in the data type: its maximum where any band is valid, its
    minimum elsewhere; or the dataset's alpha band) in numpy's promoted type."""
    data, mask = decode_npy(body)
    ref_data = img.array.data
    ref_mask = img.mask
    if data.shape != ref_data.shape:
        return f"shape {data.shape} != rio-tiler {ref_data.shape}"
    expected = np.promote_types(ref_data.dtype, ref_mask.dtype)
    if data.dtype != expected:
        return f"dtype {data.dtype} != {expected} (rio-tiler {ref_data.dtype})"
    rm = ref_mask.astype(expected)
    if interpolated and img.alpha_mask is not None and mask.dtype.kind in "iu":
        # An interpolated alpha is an interpolated value too: one unit either way.
        near = np.abs(mask.astype("int64") - rm.astype("int64")) <= 1
        mask = np.where(near, rm, mask)
    lossy_nodata = lossy and img.nodata is not None
    if lossy_nodata:
        # A lossy decoder's few units decide whether a pixel equals the nodata value: the
        # masks agree only mostly (and the values are compared where both are valid).
        differ = mask != rm
        if differ.mean() > 0.05:
            return f"mask: {int(differ.sum())} of {mask.size} pixels differ (lossy, nodata)"
        both = (mask != mask.min(initial=0)) & (rm != rm.min(initial=0))
        return values_equal(data[:, both], ref_data[:, both], lossy)
    if not np.array_equal(mask, rm, equal_nan=mask.dtype.kind == "f"):
        differ = mask != rm
        return (
            f"mask: {int(differ.sum())} of {mask.size} pixels differ "
            f"(imbrex valid {int((mask != mask.min(initial=0)).sum()) if mask.size else 0}, "
            f"rio-tiler valid {int(img._mask.sum())})"
        )
    valid = ~np.ma.getmaskarray(img.array)
    for b in range(ref_data.shape[0]):
        reason = values_equal(data[b][valid[b]], ref_data[b][valid[b]], lossy, interpolated=interpolated)
        if reason:
            return f"band {b + 1}: {reason}"
    return ""


DUMP = None


def check_image(name, imbrex, path, params, ref_fn, lossy, cmap=None):
    try:
        img = ref_fn()
        ref_err = None
    except Exception as e:  # rio-tiler refused
        img, ref_err = None, f"{type(e).__name__}: {e}"
    interpolated = params.get("resampling", "nearest") != "nearest" or params.get("reproject", "nearest") != "nearest"
    # A one-band image of a paletted file is rendered with the palette, as TiTiler does. An
    # interpolated one is compared before the palette (a value one unit off is another
    # colour): two bands are never coloured.
    palette = bool(cmap) and img is not None and img.count == 1
    if palette and interpolated:
        # Both sides read band 1 twice: GDAL resamples two bands read together otherwise
        # than one (GDALDataset::RasterIOResampled), so one band would be another question.
        params = dict(params, bidx=[1, 1])
        img = ref_fn(indexes=(1, 1))
    status, body = imbrex.get(path, params)
    if ref_err is not None:
        if status >= 400:
            return Outcome(name, True, "both refused")
        return Outcome(name, False, f"rio-tiler refused ({ref_err[:120]}), imbrex answered {status}")
    if status != 200:
        return Outcome(name, False, f"imbrex {status}: {body[:200].decode(errors='replace')}")
    if palette and not interpolated:
        reason = compare_colormapped(titiler_colormap(img, cmap), body)
    else:
        reason = compare_image(img, body, lossy, interpolated)
    if reason and DUMP:
        # What both sides returned, for a closer look (--dump).
        data, mask = decode_npy(body)
        n = len([f for f in os.listdir(DUMP) if f.startswith(os.path.basename(params["url"]))])
        out = os.path.join(DUMP, f"{os.path.basename(params['url'])}.{n}.npz")
        np.savez(out, imbrex=data, imbrex_mask=mask, rio=img.array.data, rio_mask=img.mask,
                 request=json.dumps({"path": path, "params": params}))
        reason += f" [{os.path.basename(out)}]"
    return Outcome(name, not reason, reason)


def num(v):
    if v is None:
        return None
    if isinstance(v, str):
        return float(v)
    return float(v)


def close_num(a, b, rel=1e-6, abs_=0.0):
    if a is None or b is None:
        return a is None and b is None
    a, b = float(a), float(b)
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b or abs(a - b) <= max(abs_, rel * max(abs(a), abs(b)))


def crs_key(text):
    """A CRS as what it does, not how it is written: its EPSG code when it has one, else its
    PROJ parameters with the ellipsoid as numbers (GDAL's WKT and imbrex's name datums and
    ellipsoids differently; the numbers are what place the pixels)."""
    import pyproj

    crs = pyproj.CRS.from_user_input(text)
    if str(text).startswith("http://www.opengis.net/def/crs/"):
        return ("uri", str(text))
    d = crs.to_dict()
    e = crs.ellipsoid
    for k in ("ellps", "datum", "a", "b", "rf", "R", "f", "no_defs", "type", "wktext", "units"):
        d.pop(k, None)
    d["_a"] = e.semi_major_metre if e else None
    d["_rf"] = e.inverse_flattening if e else None
    d["_units"] = crs.axis_info[0].unit_name if crs.axis_info else None
    return d


def same_crs(ref, got):
    if ref == got:
        return True
    try:
        a, b = crs_key(ref), crs_key(got)
    except Exception:
        return False
    if isinstance(a, tuple) or isinstance(b, tuple):
        return a == b
    if set(a) != set(b):
        return False
    for k in a:
        x, y = a[k], b[k]
        if isinstance(x, (int, float)) and isinstance(y, (int, float)):
            if not close_num(x, y, 1e-9, 1e-9):
                return False
        elif x != y:
            return False
    return True


def compare_info(ref, got):
    problems = []
    for key in ("dtype", "nodata_type", "colorinterp", "driver", "count", "width", "height", "overviews"):
        if ref.get(key) != got.get(key):
            problems.append(f"{key}: {got.get(key)!r} != {ref.get(key)!r}")
    for key in ("scales", "offsets"):
        r, g = ref.get(key) or [], got.get(key) or []
        if len(r) != len(g) or not all(close_num(a, b, 1e-12) for a, b in zip(r, g)):
            problems.append(f"{key}: {g} != {r}")
    if "nodata_value" in ref or "nodata_value" in got:
        if not close_num(num(ref.get("nodata_value")), num(got.get("nodata_value")), 1e-12):
            problems.append(f"nodata_value: {got.get('nodata_value')} != {ref.get('nodata_value')}")
    rb, gb = ref.get("bounds"), got.get("bounds")
    if gb is None or not all(close_num(a, b, 1e-9, 1e-9) for a, b in zip(rb, gb)):
        problems.append(f"bounds: {gb} != {rb}")
    if not same_crs(ref.get("crs"), got.get("crs")):
        problems.append(f"crs: {str(got.get('crs'))[:80]} != {str(ref.get('crs'))[:80]}")
    rc = {str(k): list(v) for k, v in (ref.get("colormap") or {}).items()}
    gc = {str(k): list(v) for k, v in (got.get("colormap") or {}).items()}
    if rc != gc:
        problems.append(f"colormap: {len(gc)} entries != {len(rc)}")
    for key in ("band_descriptions", "band_metadata"):
        if json.loads(json.dumps(ref.get(key))) != got.get(key):
            problems.append(f"{key}: {str(got.get(key))[:120]} != {str(ref.get(key))[:120]}")
    return "; ".join(problems)


STAT_KEYS = (
    "min", "max", "mean", "count", "sum", "std", "median", "majority", "minority", "unique",
    "valid_percent", "masked_pixels", "valid_pixels", "percentile_2", "percentile_98",
)


def compare_stats(ref, got, lossy, s_nodata=False):
    problems = []
    if list(ref) != list(got):
        return f"bands {list(got)} != {list(ref)}"
    for band, r in ref.items():
        g = got[band]
        for k in STAT_KEYS:
            if k not in r:
                continue
            # Lossy codecs: the decoders differ by a few units, which moves the moments and,
            # with a nodata value, the counts.
            counts = k in ("count", "valid_pixels", "masked_pixels", "valid_percent")
            rel = 0.05 if lossy and (not counts or s_nodata) else 1e-6
            if lossy and k in ("majority", "minority", "unique"):
                continue
            if not close_num(num(r[k]), num(g.get(k)), rel, 1e-9 if not lossy else 2.0):
                problems.append(f"{band}.{k}: {g.get(k)} != {r[k]}")
        rh, gh = r.get("histogram"), g.get("histogram")
        if rh and not lossy:
            if gh is None or list(rh[0]) != list(gh[0]) or not all(close_num(a, b, 1e-6) for a, b in zip(rh[1], gh[1])):
                problems.append(f"{band}.histogram: {str(gh)[:100]} != {str(rh)[:100]}")
    return "; ".join(problems[:6])


def tms_list(rng, geo_bounds):
    out = ["WebMercatorQuad", "WorldCRS84Quad"]
    s, n = geo_bounds[1], geo_bounds[3]
    if n > 60:
        out.append("UPSArcticWGS84Quad")
    elif s < -60:
        out.append("UPSAntarcticWGS84Quad")
    elif rng.random() < 0.3:
        out.append("UPSArcticWGS84Quad" if n > 0 else "UPSAntarcticWGS84Quad")
    return out


def pick_resampling(rng):
    if rng.random() < 0.5:
        return "nearest", "nearest"
    return choice(rng, RESAMPLINGS), choice(rng, RESAMPLINGS)


def run_checks(rng, s, path, imbrex, tms_cache):
    from rio_tiler.io import Reader

    outcomes = []
    lossy = s["codec"] == "jpeg" or (s["codec"] == "webp" and not s["webp_lossless"])
    base = {"url": path}
    try:
        src = Reader(path)
    except Exception as e:
        status, body = imbrex.get("/cog/info", base)
        ok = status >= 400
        return [Outcome("info", ok, "both refused" if ok else f"rio-tiler cannot open ({e}); imbrex {status}")]
    with src:
        # info
        try:
            ref_info = json.loads(src.info().model_dump_json(exclude_none=True))
            status, body = imbrex.get("/cog/info", base)
            if status != 200:
                outcomes.append(Outcome("info", False, f"imbrex {status}: {body[:200].decode(errors='replace')}"))
            else:
                reason = compare_info(ref_info, json.loads(body))
                outcomes.append(Outcome("info", not reason, reason))
        except Exception as e:
            status, body = imbrex.get("/cog/info", base)
            outcomes.append(Outcome("info", status >= 400, f"rio-tiler info failed: {e}; imbrex {status}"))
            return outcomes
        try:
            geo = src.get_geographic_bounds(CRS.from_epsg(4326))
        except Exception:
            geo = (-180, -90, 180, 90)

        for tms_id in tms_list(rng, geo):
            tms = tms_cache[tms_id]
            try:
                tsrc = Reader(path, tms=tms)
            except Exception as e:
                outcomes.append(Outcome("zoom", False, f"rio-tiler Reader({tms_id}) failed: {e}"))
                continue
            with tsrc:
                status, body = imbrex.get(f"/cog/{tms_id}/tilejson.json", base)
                if status != 200:
                    outcomes.append(Outcome("zoom", False, f"{tms_id} tilejson {status}: {body[:160]!r}"))
                    continue
                tj = json.loads(body)
                zr = (tsrc.minzoom, tsrc.maxzoom)
                ok = (tj["minzoom"], tj["maxzoom"]) == zr
                outcomes.append(Outcome("zoom", ok, "" if ok else f"{tms_id} zooms {tj['minzoom']}-{tj['maxzoom']} != {zr}"))
                # tiles: at minzoom, maxzoom and one between, under a random point of the data
                zooms = sorted({tsrc.minzoom, tsrc.maxzoom, int(rng.integers(tsrc.minzoom, tsrc.maxzoom + 1))})
                for z in zooms:
                    lon = rng.uniform(geo[0], geo[2]) if geo[0] <= geo[2] else rng.uniform(geo[0], geo[2] + 360)
                    lon = ((lon + 180) % 360) - 180
                    lat = rng.uniform(max(geo[1], -89.9), min(geo[3], 89.9))
                    try:
                        t = tms.tile(lon, lat, z)
                    except Exception:
                        continue
                    io_r, warp_r = pick_resampling(rng)
                    params = dict(base, resampling=io_r, reproject=warp_r)
                    outcomes.append(
                        check_image(
                            f"tile:{tms_id}",
                            imbrex,
                            f"/cog/tiles/{tms_id}/{t.z}/{t.x}/{t.y}.npy",
                            params,
                            lambda **kw: tsrc.tile(t.x, t.y, t.z, resampling_method=io_r, reproject_method=warp_r, **kw),
                            lossy,
                            cmap=tsrc.colormap,
                        )
                    )
        # parts
        for _ in range(2):
            native = src.crs is not None and src.crs.to_epsg() is not None and rng.random() < 0.4
            if native:
                b = src.bounds
                crs_txt = f"EPSG:{src.crs.to_epsg()}"
            else:
                b = geo
                crs_txt = "EPSG:4326"
            x0, x1 = sorted(rng.uniform(min(b[0], b[2]), max(b[0], b[2]), 2))
            y0, y1 = sorted(rng.uniform(min(b[1], b[3]), max(b[1], b[3]), 2))
            if x1 - x0 <= 0 or y1 - y0 <= 0:
                continue
            bbox = (x0, y0, x1, y1)
            io_r, warp_r = pick_resampling(rng)
            max_size = int(choice(rng, [64, 256, 512]))
            params = dict(base, coord_crs=crs_txt, max_size=max_size, resampling=io_r, reproject=warp_r)
            bb = ",".join(repr(float(v)) for v in bbox)
            crs_obj = CRS.from_user_input(crs_txt)
            outcomes.append(
                check_image(
                    "part",
                    imbrex,
                    f"/cog/bbox/{bb}.npy",
                    params,
                    lambda **kw: src.part(
                        bbox,
                        **kw,
                        dst_crs=crs_obj,
                        bounds_crs=crs_obj,
                        max_size=max_size,
                        resampling_method=io_r,
                        reproject_method=warp_r,
                    ),
                    lossy,
                    cmap=src.colormap,
                )
            )
        # preview
        max_size = int(choice(rng, [32, 128, 256, 1024]))
        io_r = choice(rng, RESAMPLINGS) if rng.random() < 0.4 else "nearest"
        outcomes.append(
            check_image(
                "preview",
                imbrex,
                "/cog/preview.npy",
                dict(base, max_size=max_size, resampling=io_r),
                lambda **kw: src.preview(max_size=max_size, resampling_method=io_r, **kw),
                lossy,
                cmap=src.colormap,
            )
        )
        # points: random places in the data, in lon/lat
        for _ in range(3):
            col = rng.uniform(0, src.width)
            row = rng.uniform(0, src.height)
            try:
                if src.dataset.transform.is_identity and src.dataset.gcps[0]:
                    raise ValueError("gcps")
                x, y = src.dataset.transform * (col, row)
                xs, ys = warp_transform(src.crs, "EPSG:4326", [x], [y])
                lon, lat = xs[0], ys[0]
            except Exception:
                lon, lat = rng.uniform(geo[0], geo[2]), rng.uniform(geo[1], geo[3])
            if not (math.isfinite(lon) and math.isfinite(lat)):
                continue
            outcomes.append(check_point(imbrex, base, src, lon, lat, lossy))
        # statistics
        params = dict(base)
        kwargs = {}
        if rng.random() < 0.3:
            bins = int(rng.integers(2, 30))
            params["histogram_bins"] = bins
            kwargs = {"hist_options": {"bins": bins}}
        try:
            ref = {k: json.loads(v.model_dump_json()) for k, v in src.statistics(**kwargs).items()}
            ref_err = None
        except Exception as e:
            ref, ref_err = None, str(e)
        status, body = imbrex.get("/cog/statistics", params)
        if ref_err is not None:
            outcomes.append(Outcome("statistics", status >= 400, f"rio-tiler refused ({ref_err[:100]}); imbrex {status}"))
        elif status != 200:
            outcomes.append(Outcome("statistics", False, f"imbrex {status}: {body[:200].decode(errors='replace')}"))
        else:
            reason = compare_stats(ref, json.loads(body), lossy, s["nodata"] != "none")
            outcomes.append(Outcome("statistics", not reason, reason))
    return outcomes


def check_point(imbrex, base, src, lon, lat, lossy):
    try:
        pt = src.point(lon, lat)
        ref = [None if m else float(v) for v, m in zip(pt.array.data, np.ma.getmaskarray(pt.array))]
        ref_err = None
    except Exception as e:
        ref, ref_err = None, f"{type(e).__name__}: {e}"
    status, body = imbrex.get(f"/cog/point/{lon!r},{lat!r}", base)
    if ref_err is not None:
        ok = status >= 400
        return Outcome("point", ok, "" if ok else f"rio-tiler refused ({ref_err[:100]}), imbrex {status} {body[:100]!r}")
    if status != 200:
        return Outcome("point", False, f"imbrex {status}: {body[:200].decode(errors='replace')} at {lon},{lat}")
    got = json.loads(body)["values"]
    if len(got) != len(ref):
        return Outcome("point", False, f"{len(got)} values != {len(ref)}")
    for g, r in zip(got, ref):
        if (g is None) != (r is None):
            if lossy and src.nodata is not None:
                continue  # a decoder's few units can move a value on or off the nodata value
            return Outcome("point", False, f"mask: {got} != {ref} at {lon},{lat}")
        if g is not None and not (close_num(g, r, 1e-6) or (lossy and abs(g - r) <= 80)):
            return Outcome("point", False, f"values {got} != {ref} at {lon},{lat}")
    return Outcome("point", True)


# ----------------------------------------------------------------------------------------
# Driver
# ----------------------------------------------------------------------------------------

AXES = [
    "dtype", "bands", "size_class", "codec", "layout", "interleave", "nodata", "alpha", "mask",
    "overviews", "scale_offset", "palette", "pixel_is_point", "crs", "geotransform",
]


def axis_value(s, axis):
    if axis == "layout":
        return "tiled" if s["tiled"] else "striped"
    if axis == "codec" and s["predictor"] != 1:
        return f"{s['codec']}+p{s['predictor']}"
    if axis == "overviews" and s["overviews"] != "none":
        return f"{s['overviews']}-{s['ovr_resampling']}"
    return str(s[axis])


_WORKER = {}


def _init(url):
    import morecantile

    _WORKER["imbrex"] = Imbrex(url)
    _WORKER["tms"] = {t: morecantile.tms.get(t) for t in ["WebMercatorQuad", "WorldCRS84Quad", "UPSArcticWGS84Quad", "UPSAntarcticWGS84Quad"]}


def one(args):
    seed, i, folder, keep = args
    rng = np.random.default_rng([seed, i])
    s = draw_spec(rng)
    path = os.path.join(folder, f"r{seed}_{i:04d}.tif")
    try:
        write_raster(rng, s, path)
    except Exception as e:
        return i, s, path, [], f"generation failed: {type(e).__name__}: {e}"
    try:
        outcomes = run_checks(rng, s, path, _WORKER["imbrex"], _WORKER["tms"])
    except Exception:
        return i, s, path, [], "harness error: " + traceback.format_exc(limit=3)
    if not keep and all(o.ok for o in outcomes):
        for ext in ("", ".msk", ".ovr", ".msk.ovr"):
            if os.path.exists(path + ext):
                os.remove(path + ext)
    return i, s, path, [(o.check, o.ok, o.reason) for o in outcomes], None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", required=True, help="base URL of a running imbrex serving --dir")
    ap.add_argument("--dir", required=True, help="folder the rasters are written to (imbrex's --allow-path)")
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--start", type=int, default=0, help="first raster index")
    ap.add_argument("--only", type=int, action="append", help="only raster i (repeatable)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--keep", action="store_true", help="keep every raster, not only those that disagree")
    ap.add_argument("--report", help="write every disagreement as JSON here")
    ap.add_argument("--dump", action="store_true", help="save both sides of each differing image as .npz in --dir")
    ap.add_argument("--min-agreement", type=float, default=0.0, help="fail below this share of checks (0-100)")
    args = ap.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    folder = os.path.abspath(args.dir)
    global DUMP
    DUMP = folder if args.dump else None
    indexes = args.only or list(range(args.start, args.start + args.n))
    jobs = [(args.seed, i, folder, args.keep) for i in indexes]

    by_check = defaultdict(lambda: [0, 0])
    by_axis = defaultdict(lambda: [0, 0])
    failures = []
    errors = []
    t0 = time.time()
    with multiprocessing.Pool(args.jobs, initializer=_init, initargs=(args.url,)) as pool:
        done = 0
        for i, s, path, outs, err in pool.imap_unordered(one, jobs):
            done += 1
            if err:
                errors.append({"i": i, "path": path, "spec": s, "error": err})
            for check, ok, reason in outs:
                kind = check.split(":")[0]
                by_check[kind][0] += ok
                by_check[kind][1] += 1
                for axis in AXES:
                    k = (axis, axis_value(s, axis))
                    by_axis[k][0] += ok
                    by_axis[k][1] += 1
                if not ok:
                    failures.append({"i": i, "path": path, "check": check, "reason": reason, "spec": s})
            bar = "#" * (30 * done // len(jobs))
            sys.stderr.write(f"\r[{bar:<30}] {done}/{len(jobs)} rasters, {len(failures)} disagreements")
            sys.stderr.flush()
    sys.stderr.write("\n")
    total_ok = sum(v[0] for v in by_check.values())
    total = sum(v[1] for v in by_check.values())
    pct = 100.0 * total_ok / total if total else 0.0

    print(f"\nimbrex vs rio-tiler: seed {args.seed}, {len(jobs)} rasters, {time.time() - t0:.0f} s")
    print(f"\n{'check':<14}{'agree':>8}{'total':>8}{'%':>9}")
    for k in sorted(by_check):
        ok, n = by_check[k]
        print(f"{k:<14}{ok:>8}{n:>8}{100.0 * ok / n:>9.2f}")
    print(f"{'all':<14}{total_ok:>8}{total:>8}{pct:>9.2f}")
    print(f"\n{'class':<34}{'agree':>8}{'total':>8}{'%':>9}")
    last = None
    for (axis, value) in sorted(by_axis):
        ok, n = by_axis[(axis, value)]
        label = f"{axis}={value}"
        if axis != last:
            last = axis
        print(f"{label:<34}{ok:>8}{n:>8}{100.0 * ok / n:>9.2f}")
    if errors:
        print(f"\n{len(errors)} rasters could not be generated or checked:")
        for e in errors[:20]:
            print(f"  #{e['i']}: {e['error'].strip().splitlines()[-1][:160]}")
    if failures:
        print(f"\nfirst disagreements (of {len(failures)}):")
        for f in failures[:40]:
            print(f"  #{f['i']} {f['check']}: {f['reason'][:200]}")
    if args.report:
        with open(args.report, "w") as fh:
            json.dump({"seed": args.seed, "agreement": pct, "failures": failures, "errors": errors}, fh, indent=1)
    if errors:
        return 2
    return 0 if pct >= args.min_agreement else 1


if __name__ == "__main__":
    sys.exit(main())
