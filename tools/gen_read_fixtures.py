"""Reference reads beyond the shared oracle, computed with rio-tiler 9.4.12 / GDAL 3.10.

The shared oracle covers WebMercatorQuad tiles with default options. This tool adds, in
crates/imbrex-raster/tests/fixtures/reads.json:

* tiles of the other default TileMatrixSets (polar, UTM, LAEA, variable-width grids...)
  for rasters that fall in them;
* WebMercatorQuad tiles with non-default options: band indexes, nodata override, unscale,
  buffer, tile size, io and reprojection resampling methods;
* previews with a small max_size, parts (bbox in another CRS, explicit size);
* feature reads with zonal statistics (coverage weights), as TiTiler's POST /statistics.

Each read is stored compactly: shape, dtype, the merged mask run-length encoded, the
SHA-256 of the valid samples (band-sequential, little-endian) and per-band sums, so the
test can tell "identical" from "how different".

Run from the repository root with the tool virtualenv:

    ~/.cache/imbrex-rio-venv/bin/python tools/gen_read_fixtures.py testdata/raster
"""

import hashlib
import json
import math
import os
import sys
import warnings

import morecantile
import numpy as np
from rio_tiler.io import Reader

warnings.simplefilter("ignore")

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "crates", "imbrex-raster", "tests", "fixtures", "reads.json")
RASTERS = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "shared", "testdata", "raster")


def rle(mask):
    """Run lengths of the flattened boolean mask, starting with a run of masked (0)."""
    flat = mask.ravel().astype(bool)
    runs, current, count = [], False, 0
    for v in flat:
        if v == current:
            count += 1
        else:
            runs.append(count)
            current, count = v, 1
    runs.append(count)
    return runs


def finite_or_text(v):
    """JSON has no NaN or infinities: they are written as "nan", "inf", "-inf" (as the oracle)."""
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return v


def record(img):
    data = img.array.data
    valid = ~np.ma.getmaskarray(img.array).any(axis=0)
    parts = [np.ascontiguousarray(data[b][valid]).astype(data.dtype.newbyteorder("<")).tobytes() for b in range(data.shape[0])]
    return {
        "shape": list(data.shape),
        "dtype": str(data.dtype),
        "mask": rle(valid),
        "valid": int(valid.sum()),
        "sha256": hashlib.sha256(b"".join(parts)).hexdigest(),
        "sums": [finite_or_text(float(np.asarray(data[b][valid], dtype="float64").sum())) for b in range(data.shape[0])],
        "bounds": [float(v) for v in img.bounds],
    }


def stats_json(stats):
    return {k: v.model_dump() for k, v in stats.items()}


def attempt(cases, case, fn):
    try:
        case.update(fn())
    except Exception as e:  # the error is the reference too
        case["error"] = type(e).__name__
    cases.append(case)


def centre_tiles(src, tms, zooms):
    gb = src.get_geographic_bounds("EPSG:4326")
    lon = (gb[0] + gb[2]) / 2
    lat = (gb[1] + gb[3]) / 2
    out = []
    for z in zooms:
        try:
            t = tms.tile(lon, lat, z)
        except Exception:
            continue
        out.append((t.x, t.y, z))
    return out


def main():
    cases = []
    # Other TileMatrixSets: rasters whose extent fits each grid.
    grids = {
        "WorldCRS84Quad": ["cog_dateline.tif", "cog_world.tif", "dem.tif", "cog_int16.tif", "utm.tif"],
        "WGS1984Quad": ["cog_world.tif", "utm.tif"],
        "WorldMercatorWGS84Quad": ["cog_int16.tif", "web.tif"],
        "UPSArcticWGS84Quad": ["bremen_sea_ice_conc_2022_9_9.tif", "cog_int16.tif"],
        "UPSAntarcticWGS84Quad": ["cog_fullearth.tif"],
        "EuropeanETRS89_LAEAQuad": ["dem.tif", "cog_rgb.tif", "utm.tif"],
        "UTM31WGS84Quad": ["cog_rgb.tif", "dem.tif"],
        "CanadianNAD83_LCC": ["utm.tif", "cog_cmap.tif"],
        "CDB1GlobalGrid": ["cog_world.tif", "cog_int16.tif"],
        "GNOSISGlobalGrid": ["cog_world.tif", "cog_int16.tif"],
        "NZTM2000Quad": ["cog_world.tif"],
        "LINZAntarticaMapTilegrid": ["cog_fullearth.tif"],
    }
    for tms_id, names in grids.items():
        tms = morecantile.tms.get(tms_id)
        for name in names:
            with Reader(os.path.join(RASTERS, name), tms=tms) as src:
                zooms = sorted({src.minzoom, min(src.minzoom + 1, src.maxzoom), src.maxzoom})
                for x, y, z in centre_tiles(src, tms, zooms):
                    attempt(cases, {"kind": "tile", "raster": name, "tms": tms_id, "tile": [x, y, z]},
                            lambda: record(src.tile(x, y, z)))

    # WebMercatorQuad with options.
    wm = morecantile.tms.get("WebMercatorQuad")
    option_sets = [
        ("cog_rgb.tif", {"indexes": [3, 1]}),
        ("cog_rgb.tif", {"buffer": 0.5}),
        ("cog_rgb.tif", {"buffer": 2}),
        ("cog_rgb.tif", {"tilesize": 512}),
        ("cog_int16.tif", {"nodata": 95}),
        ("cog_scale.tif", {"unscale": True}),
        ("cog_int16.tif", {"reproject_method": "bilinear"}),
        ("cog_int16.tif", {"reproject_method": "cubic"}),
        ("cog_int16.tif", {"reproject_method": "lanczos"}),
        ("cog_int16.tif", {"reproject_method": "average"}),
        ("cog_int16.tif", {"reproject_method": "mode"}),
        ("dem.tif", {"reproject_method": "bilinear"}),
        ("dem.tif", {"reproject_method": "cubic_spline"}),
        ("cog_rgb_mask.tif", {"reproject_method": "bilinear"}),
        ("web.tif", {"resampling_method": "bilinear"}),
        ("web.tif", {"resampling_method": "average"}),
        ("web.tif", {"resampling_method": "cubic"}),
        ("alpha.tif", {"reproject_method": "bilinear"}),
        ("web.tif", {"padding": 2}),
        ("cog_int16.tif", {"padding": 2}),
        ("cog_int16.tif", {"padding": 2, "reproject_method": "bilinear"}),
    ]
    for name, opts in option_sets:
        with Reader(os.path.join(RASTERS, name)) as src:
            zooms = sorted({src.minzoom, src.maxzoom})
            for x, y, z in centre_tiles(src, wm, zooms):
                attempt(cases, {"kind": "tile", "raster": name, "tms": "WebMercatorQuad", "tile": [x, y, z], "options": opts},
                        lambda: record(src.tile(x, y, z, **opts)))

    # Previews and parts.
    for name in ["cog_int16.tif", "cog_rgb.tif", "dem.tif", "cog_gcps_ovr.tif", "cog_world.tif", "web.tif"]:
        with Reader(os.path.join(RASTERS, name)) as src:
            attempt(cases, {"kind": "preview", "raster": name, "max_size": 256}, lambda: record(src.preview(max_size=256)))
            b = src.get_geographic_bounds("EPSG:4326")
            cx, cy = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
            dx, dy = (b[2] - b[0]) / 5, (b[3] - b[1]) / 5
            bbox = [cx - dx, cy - dy, cx + dx, cy + dy]
            attempt(cases, {"kind": "part", "raster": name, "bbox": bbox, "bbox_crs": "EPSG:4326", "dst_crs": "EPSG:4326", "max_size": 300},
                    lambda: record(src.part(bbox, dst_crs="EPSG:4326", bounds_crs="EPSG:4326", max_size=300)))
            attempt(cases, {"kind": "part", "raster": name, "bbox": bbox, "bbox_crs": "EPSG:4326", "dst_crs": None, "width": 200, "height": 100},
                    lambda: record(src.part(bbox, bounds_crs="EPSG:4326", width=200, height=100)))

    # Regression rasters (tools/make_regressions.py), with the options that exposed each
    # class of disagreement.
    regress_tiles = [("regress_edge_int8_3857.tif", {"resampling_method": m}) for m in ("bilinear", "average", "cubic")]
    regress_tiles += [
        ("regress_gcp_float_mask.tif", {"reproject_method": "bilinear"}),
        ("regress_gcp_uint16_nodata.tif", {"reproject_method": "cubic"}),
        ("regress_gcp_int8_rgb.tif", {"reproject_method": "bilinear"}),
        ("regress_uint32_max_mask.tif", {"reproject_method": "nearest"}),
        ("regress_uint32_max_mask.tif", {"reproject_method": "average"}),
        ("regress_rgba_nodata.tif", {}),
        ("regress_rgba_nodata.tif", {"resampling_method": "bilinear"}),
        ("regress_rgba_nodata.tif", {"resampling_method": "average", "reproject_method": "bilinear"}),
        # Band subsets of nodata datasets: fewer bands than the WarpedVRT has.
        ("regress_rgba_nodata.tif", {"indexes": [2]}),
        ("regress_uint32_max_mask.tif", {"indexes": [2]}),
        ("regress_uint32_max_mask.tif", {"indexes": [3, 1], "resampling_method": "bilinear"}),
    ]
    for name, opts in regress_tiles:
        with Reader(os.path.join(RASTERS, name)) as src:
            for x, y, z in centre_tiles(src, wm, sorted({src.minzoom - 1, src.minzoom, src.maxzoom + 1})):
                attempt(cases, {"kind": "tile", "raster": name, "tms": "WebMercatorQuad", "tile": [x, y, z], "options": opts},
                        lambda: record(src.tile(x, y, z, **opts)))
    crs84 = morecantile.tms.get("WorldCRS84Quad")
    for opts in ({"reproject_method": "bilinear"}, {"reproject_method": "nearest"}):
        with Reader(os.path.join(RASTERS, "regress_albers_nad83.tif"), tms=crs84) as src:
            for x, y, z in centre_tiles(src, crs84, sorted({src.minzoom, src.maxzoom, src.maxzoom + 2})):
                attempt(cases, {"kind": "tile", "raster": "regress_albers_nad83.tif", "tms": "WorldCRS84Quad", "tile": [x, y, z], "options": opts},
                        lambda: record(src.tile(x, y, z, **opts)))
    # A whole geostationary disk at low zooms, where interpolating warps differ (KNOWN).
    for opts in ({"reproject_method": "nearest"}, {"reproject_method": "bilinear"}):
        with Reader(os.path.join(RASTERS, "regress_geos_full_disk.tif")) as src:
            for x, y, z in [(0, 0, 0), (0, 0, 1), (0, 1, 1), (1, 1, 2)]:
                attempt(cases, {"kind": "tile", "raster": "regress_geos_full_disk.tif", "tms": "WebMercatorQuad", "tile": [x, y, z], "options": opts},
                        lambda: record(src.tile(x, y, z, **opts)))
    regress_reads = [
        ("regress_nodata_mask_rgb_f32.tif", {"resampling_method": "bilinear"}),
        ("regress_nodata_mask_rgb_f32.tif", {"resampling_method": "cubic"}),
        ("regress_palette_uint8.tif", {"resampling_method": "cubic"}),
        ("regress_palette_uint8.tif", {"resampling_method": "bilinear"}),
        ("regress_palette_uint8.tif", {"resampling_method": "average"}),
        ("regress_gcp_uint16_nodata.tif", {"resampling_method": "average"}),
        ("regress_msk_ovr_uint8.tif", {"resampling_method": "bilinear"}),
        ("regress_msk_ovr_uint8.tif", {"resampling_method": "cubic"}),
        ("regress_uint32_max_mask.tif", {"resampling_method": "average"}),
        ("regress_uint32_max_mask.tif", {"resampling_method": "cubic"}),
        ("regress_rgba_nodata.tif", {"resampling_method": "nearest"}),
        ("regress_rgba_nodata.tif", {"resampling_method": "cubic"}),
    ]
    for name, opts in regress_reads:
        with Reader(os.path.join(RASTERS, name)) as src:
            attempt(cases, {"kind": "preview", "raster": name, "max_size": 40, "options": opts},
                    lambda: record(src.preview(max_size=40, **opts)))
            b = src.get_geographic_bounds("EPSG:4326")
            cx, cy = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
            dx, dy = (b[2] - b[0]) / 9, (b[3] - b[1]) / 7
            bbox = [cx - dx, cy - dy, cx + dx, cy + dy]
            attempt(cases, {"kind": "part", "raster": name, "bbox": bbox, "bbox_crs": "EPSG:4326", "dst_crs": "EPSG:4326", "max_size": 120, "options": opts},
                    lambda: record(src.part(bbox, dst_crs="EPSG:4326", bounds_crs="EPSG:4326", max_size=120, **opts)))
            # The window's own size, shifted by a fraction of a pixel: GDAL resamples it band by band.
            native = src.part(bbox, bounds_crs="EPSG:4326", max_size=None, resampling_method="nearest")
            nw, nh = native.width, native.height
            attempt(cases, {"kind": "part", "raster": name, "bbox": bbox, "bbox_crs": "EPSG:4326", "dst_crs": None, "width": nw, "height": nh, "options": opts},
                    lambda: record(src.part(bbox, bounds_crs="EPSG:4326", width=nw, height=nh, **opts)))

    # Features with zonal statistics (TiTiler's POST /statistics).
    for name in ["dem.tif", "cog_int16.tif", "cog_rgb.tif", "utm.tif"]:
        with Reader(os.path.join(RASTERS, name)) as src:
            b = src.get_geographic_bounds("EPSG:4326")
            cx, cy = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
            dx, dy = (b[2] - b[0]) / 4, (b[3] - b[1]) / 4
            feature = {
                "type": "Feature",
                "properties": {},
                "geometry": {"type": "Polygon", "coordinates": [[
                    [cx - dx, cy - dy], [cx + dx, cy - dy * 0.5], [cx + dx * 0.3, cy + dy], [cx - dx, cy - dy]]]},
            }

            def zonal():
                img = src.feature(feature, shape_crs="EPSG:4326", align_bounds_with_dataset=True)
                cov = img.get_coverage_array(feature, shape_crs="EPSG:4326", cover_scale=10)
                out = record(img)
                out["coverage_sum"] = float(cov.astype("float64").sum())
                out["statistics"] = stats_json(img.statistics(coverage=cov))
                return out

            attempt(cases, {"kind": "feature", "raster": name, "feature": feature}, zonal)

    with open(OUT, "w") as f:
        json.dump({"generator": "tools/gen_read_fixtures.py", "cases": cases}, f, separators=(",", ":"), allow_nan=True)
    print(f"{len(cases)} cases -> {OUT}")


if __name__ == "__main__":
    main()
