#!/usr/bin/env python3
"""Generate the PROJ reference data used by the tests of the `imbrex-tms` crate.

Writes two files (paths relative to the repository root):

* ``crates/imbrex-tms/tests/fixtures/proj_points.json``
  For a fixed list of CRSs (EPSG codes, OGC URL/URN spellings, PROJ strings and
  the WKT of some test rasters exactly as rasterio reports it) a handful of
  lon/lat points and their coordinates computed by pyproj/PROJ:
  ``Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(lon, lat)``.
  The schema is described in ``build_points()`` below.

* ``crates/imbrex-tms/src/crs/axis_table.rs``
  Two sorted tables of EPSG codes taken from the EPSG database shipped with
  PROJ: projected CRSs whose authority axis order has the northing first, and
  geographic 2D CRSs whose first axis is longitude.

Generated with pyproj 3.7.2, PROJ 9.5.1, EPSG database v11.022 (2024-11-05)
(the versions actually used are written into both output files).

Rerun (from the repository root, no network needed)::

    /work/.venv/bin/python tools/gen_crs_fixtures.py [--testdata DIR]

``--testdata`` is the directory that holds ``raster/RGB2.byte.tif`` etc.
(default: ``/work/shared/testdata``). The output is deterministic for a given
pyproj/PROJ/EPSG version and a given set of installed PROJ grids. The PROJ
network (CDN grids) is switched off here; with the stock pyproj wheel no
datum-shift grids are installed, so PROJ falls back to Helmert or "ballpark"
(no shift) transformations. Which operation PROJ used is recorded for every
point, together with the pure-projection result (no datum shift at all).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import warnings
from pathlib import Path

os.environ["PROJ_NETWORK"] = "OFF"

import pyproj  # noqa: E402
import rasterio  # noqa: E402
from pyproj import CRS, Transformer  # noqa: E402
from pyproj.database import get_database_metadata, query_crs_info  # noqa: E402
from pyproj.enums import PJType, TransformDirection  # noqa: E402
from pyproj.transformer import TransformerGroup  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
POINTS_JSON = REPO / "crates/imbrex-tms/tests/fixtures/proj_points.json"
AXIS_TABLE_RS = REPO / "crates/imbrex-tms/src/crs/axis_table.rs"
NAD83_NAMES_RS = REPO / "crates/imbrex-tms/src/crs/nad83_names.rs"

# --------------------------------------------------------------------------
# CRS list with hand-picked lon/lat points.
#
# Every point must lie inside the CRS's EPSG area of use (checked below),
# except the ones listed under "outside" (kept on purpose, e.g. the far side
# of the antimeridian for UTM 60N). CRSs without an area of use (raster WKT,
# PROJ strings) get an explicit lon/lat "bbox" that the points must lie in.
# --------------------------------------------------------------------------

WORLD_3857 = [
    (0.0, 0.0),
    (2.3522, 48.8566),  # Paris
    (-122.4194, 37.7749),  # San Francisco
    (139.6917, 35.6895),  # Tokyo
    (-180.0, -85.05),  # near the south-west corner
    (180.0, 85.05),  # near the north-east corner
    (-179.999, 60.0),
    (151.2093, -33.8688),  # Sydney
]

NZ_2193 = [
    (174.7633, -36.8485),  # Auckland
    (174.7762, -41.2865),  # Wellington
    (172.6362, -43.5321),  # Christchurch
    (173.0, -34.2),  # near the northern edge
    (166.4, -46.0),  # near the western edge
    (178.6, -37.6),  # near the eastern edge (East Cape)
    (168.1, -47.3),  # near the southern edge (Stewart Island)
]

SWISS = [
    (7.4386, 46.9511),  # Bern (near the projection origin)
    (8.5417, 47.3769),  # Zurich
    (6.1432, 46.2044),  # Geneva
    (5.97, 46.5),  # near the western edge
    (10.48, 46.6),  # near the eastern edge
    (8.95, 45.83),  # near the southern edge
    (9.5209, 47.1410),  # Vaduz
    (7.5, 47.8),  # near the northern edge
]

EUROPE_LAEA_LCC = [
    (10.0, 52.0),  # projection origin of EPSG:3035
    (2.3522, 48.8566),  # Paris
    (-9.1393, 38.7223),  # Lisbon
    (-25.7, 37.7),  # Azores
    (-16.0, 28.1),  # Canary Islands
    (16.3738, 48.2082),  # Vienna
    (44.8, 40.0),  # near the eastern edge
    (25.0, 84.5),  # near the northern edge
]

AUSTRIAN_CAPITALS = [
    (16.3738, 48.2082),  # Vienna
    (15.4395, 47.0707),  # Graz
    (14.2858, 48.3069),  # Linz
    (13.0550, 47.8095),  # Salzburg
    (11.4041, 47.2692),  # Innsbruck
    (14.3055, 46.6247),  # Klagenfurt
    (9.7471, 47.5031),  # Bregenz
    (16.5200, 47.8456),  # Eisenstadt
    (15.6256, 48.2047),  # St. Poelten
]

GEOS_POINTS = [
    (-75.0, 0.0),  # sub-satellite point
    (-75.0, 45.0),
    (-100.0, 30.0),
    (-40.0, -20.0),
    (-120.0, -40.0),
    (-10.0, 10.0),  # ~65 deg from nadir
    (-140.0, 20.0),  # ~67 deg from nadir
    (-75.0, -72.0),  # ~72 deg from nadir, near the limb (limb is at ~81.3 deg)
]

SPECS: list[dict] = [
    {"name": "EPSG:4326", "input": "EPSG:4326", "points": [
        (0.0, 0.0), (2.3522, 48.8566), (-73.9857, 40.7484), (151.2093, -33.8688),
        (-180.0, 0.0), (180.0, 0.0), (-179.99, -89.5), (179.999, 89.999)]},
    {"name": "EPSG:3857", "input": "EPSG:3857", "points": WORLD_3857},
    {"name": "EPSG:3395", "input": "EPSG:3395", "points": [
        (0.0, 0.0), (2.3522, 48.8566), (-122.4194, 37.7749), (139.6917, 35.6895),
        (-180.0, -79.99), (180.0, 83.99), (-179.999, 60.0), (151.2093, -33.8688)]},
    {"name": "EPSG:32631", "input": "EPSG:32631", "points": [
        (3.0, 0.0), (0.0, 0.001), (6.0, 0.5), (2.3522, 48.8566), (4.8952, 52.3702),
        (0.01, 45.0), (5.99, 60.0), (3.0, 84.0)]},
    {"name": "EPSG:32617", "input": "EPSG:32617", "points": [
        (-81.0, 0.01), (-83.99, 0.5), (-80.1918, 25.7617), (-79.3832, 43.6532),
        (-81.0, 30.0), (-78.0, 80.0), (-84.0, 45.0), (-81.0, 84.0)]},
    {"name": "EPSG:32634", "input": "EPSG:32634", "points": [
        (21.0, 0.0), (21.0122, 52.2297), (18.0, 40.0), (24.0, 70.0),
        (23.7275, 37.9838), (19.9450, 50.0647), (22.0, 83.9)]},
    {"name": "EPSG:32621", "input": "EPSG:32621", "points": [
        (-57.0, 0.5), (-55.1668, 5.8520), (-59.9, 45.0), (-54.0, 60.0),
        (-57.5, 83.5), (-56.0, 10.0), (-60.0, 0.01)]},
    {"name": "EPSG:32660", "input": "EPSG:32660",
     "points": [(177.0, 0.0), (174.0, 10.0), (178.0, 51.5), (179.9, 52.0),
                (180.0, 60.0), (176.5, 83.0)],
     # cog_dateline.tif spans 178E..178.5W in UTM 60N: the far side of the
     # antimeridian is outside the EPSG area of use but must work.
     "outside": [(-178.5, 51.5), (-179.9, 52.7), (-178.5, 0.5)]},
    {"name": "EPSG:32628", "input": "EPSG:32628", "points": [
        (-15.0, 0.0), (-17.4467, 14.6928), (-15.4134, 28.1235), (-14.0, 65.0),
        (-12.01, 40.0), (-17.99, 83.0), (-18.0, 0.01)]},
    {"name": "EPSG:32618", "input": "EPSG:32618", "points": [
        (-75.0, 0.0), (-73.9857, 40.7484), (-77.0369, 38.9072), (-77.99, 20.0),
        (-72.01, 5.0), (-75.0, 83.9), (-77.34, 25.06)]},
    {"name": "EPSG:32755", "input": "EPSG:32755", "points": [
        (147.0, -0.001), (147.3272, -42.8821), (144.9631, -37.8136), (149.1300, -35.2809),
        (144.0, -60.0), (150.0, -10.0), (147.0, -79.9), (145.7781, -16.9186)]},
    {"name": "EPSG:26913", "input": "EPSG:26913", "points": [
        (-105.0, 40.0), (-104.9903, 39.7392), (-107.99, 29.0), (-102.01, 83.9),
        (-105.0, 60.0), (-106.6504, 35.0844)]},
    {"name": "EPSG:3031", "input": "EPSG:3031", "points": [
        (0.0, -90.0), (-180.0, -89.999), (45.0, -70.0), (-135.0, -60.01),
        (166.6682, -77.8419), (0.0, -60.0), (90.0, -75.0), (180.0, -65.0)]},
    {"name": "EPSG:3413", "input": "EPSG:3413", "points": [
        (0.0, 90.0), (-45.0, 60.01), (45.0, 75.0), (135.0, 80.0),
        (-180.0, 70.0), (-70.0, 89.999), (100.0, 60.0)]},
    {"name": "EPSG:5041", "input": "EPSG:5041", "points": [
        (0.0, 90.0), (0.0, 60.01), (90.0, 75.0), (-90.0, 80.0),
        (180.0, 70.0), (-45.0, 89.999), (120.0, 60.0)]},
    {"name": "EPSG:5042", "input": "EPSG:5042", "points": [
        (0.0, -90.0), (0.0, -60.01), (90.0, -75.0), (-90.0, -80.0),
        (180.0, -70.0), (-45.0, -89.999), (166.6682, -77.8419)]},
    {"name": "EPSG:3035", "input": "EPSG:3035", "points": EUROPE_LAEA_LCC},
    {"name": "EPSG:3034", "input": "EPSG:3034", "points": EUROPE_LAEA_LCC},
    {"name": "EPSG:3978", "input": "EPSG:3978", "points": [
        (-95.0, 49.0), (-75.6972, 45.4215), (-123.1207, 49.2827), (-141.0, 69.6),
        (-52.7126, 47.5615), (-62.35, 82.5), (-114.3718, 62.4540)]},
    {"name": "EPSG:2193", "input": "EPSG:2193", "points": NZ_2193},
    {"name": "EPSG:2056", "input": "EPSG:2056", "points": SWISS},
    {"name": "EPSG:21781", "input": "EPSG:21781", "points": SWISS},
    {"name": "EPSG:5070", "input": "EPSG:5070", "points": [
        (-96.0, 40.0), (-124.7, 48.38), (-67.0, 44.8), (-80.1918, 25.7617),
        (-97.5, 26.0), (-122.4194, 37.7749), (-104.9903, 39.7392), (-87.6298, 41.8781)]},
    {"name": "EPSG:5482", "input": "EPSG:5482", "points": [
        (180.0, -85.0), (150.01, -76.01), (-150.01, -80.0), (170.0, -78.0),
        (-170.0, -89.9), (166.6682, -77.8419), (180.0, -90.0)]},
    {"name": "EPSG:21897", "input": "EPSG:21897", "points": [
        (-74.0809, 4.5990), (-74.0721, 4.7110), (-75.5636, 6.2518), (-74.7813, 10.9685),
        (-73.0, -2.4), (-72.6, 7.9), (-75.5, 1.0)]},
    {"name": "EPSG:27700", "input": "EPSG:27700", "points": [
        (-0.1276, 51.5072), (-3.1883, 55.9533), (-2.0, 49.8), (1.75, 52.48),
        (-5.7, 50.07), (-1.3, 60.5), (-4.2518, 55.8642),
        (-9.0, 57.8)]},  # offshore (UKCS): PROJ uses a ballpark op here
    {"name": "EPSG:3067", "input": "EPSG:3067", "points": [
        (24.9384, 60.1699), (27.0, 70.0), (20.0, 60.1), (31.5, 62.9),
        (25.4651, 65.0121), (19.2, 59.0)]},
    {"name": "EPSG:2154", "input": "EPSG:2154", "points": [
        (3.0, 46.5), (2.3522, 48.8566), (-4.4861, 48.3904), (9.45, 42.7),
        (7.7521, 48.5734), (-1.7, 43.4), (-9.8, 41.2), (10.3, 51.5)]},
    {"name": "EPSG:26711", "input": "EPSG:26711", "points": [
        (-117.0, 34.0), (-117.635, 33.897),  # byte.tif
        (-118.2437, 34.0522), (-117.1611, 32.7157), (-119.9, 27.0), (-116.2023, 43.6150),
        (-114.0719, 51.0447), (-115.0, 75.0)]},  # last two: Canada
    # Other spellings of EPSG/OGC CRSs.
    {"name": "url:EPSG:3857", "input": "http://www.opengis.net/def/crs/EPSG/0/3857",
     "points": WORLD_3857},
    {"name": "urn:EPSG:2193", "input": "urn:ogc:def:crs:EPSG::2193", "points": NZ_2193},
    {"name": "url:OGC:CRS84", "input": "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
     "points": [(0.0, 0.0), (2.3522, 48.8566), (-73.9857, 40.7484), (151.2093, -33.8688),
                (-180.0, 0.0), (180.0, 0.0), (-179.99, -89.5), (179.999, 89.999)]},
    # Geostationary projection: the generic GOES-East string from the brief,
    # and the CRS of goes.tif (see the "raster_proj" entries in RASTERS).
    {"name": "proj:geos-goes-east", "bbox": (-160.0, -80.0, 10.0, 80.0),
     "input": "+proj=geos +h=35785831 +lon_0=-75 +sweep=x +ellps=GRS80 +units=m +no_defs",
     "points": GEOS_POINTS},
]

# Test rasters whose CRS is added as WKT (src.crs.to_wkt(), verbatim).
# "bbox": lon/lat box the points must lie in when the CRS has no area of use.
RASTERS = [
    {"file": "RGB2.byte.tif", "bbox": (-79.0, 23.5, -76.5, 25.6), "points": [
        (-77.3431, 25.0600),  # Nassau
        (-78.9, 23.6), (-76.6, 25.5), (-78.9, 25.5), (-76.6, 23.6), (-77.77, 24.56)]},
    {"file": "cog_scale.tif", "bbox": (126.7, 36.9, 128.0, 38.0), "points": [
        (126.978, 37.5665),  # Seoul
        (126.75, 36.95), (127.97, 37.93), (126.75, 37.93), (127.97, 36.95), (127.36, 37.44)]},
    {"file": "goes.tif", "bbox": (-160.0, -80.0, 10.0, 80.0), "points": GEOS_POINTS,
     # Also add the CRS as a PROJ string; rasterio's crs.to_proj4() drops
     # "+sweep=x", so take the PROJ4 EXTENSION of the WKT instead.
     "raster_proj": True},
    {"file": "dem.tif", "bbox": (5.96, 45.82, 10.49, 47.81), "points": [(7.0970, 45.9205), (7.0907, 45.9161), (7.1035, 45.9250)] + SWISS[:5]},
    {"file": "austrian_capitals_model_tie_point_and_pixel_scale_pixel_is_area.tif",
     "bbox": (9.5, 46.3, 17.2, 49.1), "points": AUSTRIAN_CAPITALS},
]


# --------------------------------------------------------------------------
# Axis order
# --------------------------------------------------------------------------

def _meridian(axis: dict) -> float | None:
    m = axis.get("meridian")
    if m is None:
        return None
    lon = m["longitude"]
    return float(lon["value"] if isinstance(lon, dict) else lon)


def northing_first(crs: CRS) -> bool:
    """PROJ's own rule (CRS::mustAxisOrderBeSwitchedForVisualization, i.e. what
    always_xy=True / OAMS_TRADITIONAL_GIS_ORDER swaps):

    * first axis north and second axis east, or
    * polar CRS with both axes "south" along meridians 180/90 (EPSG:32661), or
    * both axes "north" along meridians 0/90 (EPSG:32761) or 180/-90 (EPSG:5482).

    Axis abbreviations are not used: they are empty in WKT1 and "X" is the
    northing in e.g. EPSG:21897.
    """
    axes = crs.to_json_dict()["coordinate_system"]["axis"]
    d0, d1 = axes[0]["direction"], axes[1]["direction"]
    m0, m1 = _meridian(axes[0]), _meridian(axes[1])
    if d0 == "north" and d1 == "east":
        return True
    if m0 is None or m1 is None:
        return False
    if d0 == "south" and d1 == "south":
        return abs(m0 - 180.0) < 1e-10 and abs(m1 - 90.0) < 1e-10
    if d0 == "north" and d1 == "north":
        return (abs(m0) < 1e-10 and abs(m1 - 90.0) < 1e-10) or (
            abs(m0 - 180.0) < 1e-10 and abs(m1 + 90.0) < 1e-10
        )
    return False


# --------------------------------------------------------------------------
# proj_points.json
# --------------------------------------------------------------------------

def _in_box(lon: float, lat: float, box: tuple[float, float, float, float]) -> bool:
    w, s, e, n = box
    if not (s <= lat <= n):
        return False
    if w <= e:
        return w <= lon <= e
    return lon >= w or lon <= e  # box crossing the antimeridian


def _accuracy(acc: float) -> float | None:
    return None if acc is None or acc < 0 else acc


def make_entry(name: str, text: str, points, outside=(), bbox=None) -> dict:
    crs = CRS.from_user_input(text)
    aou = crs.area_of_use
    box = tuple(aou.bounds) if aou is not None else bbox
    if box is None:
        raise SystemExit(f"{name}: no area of use and no bbox given")

    with warnings.catch_warnings():
        # "Best transformation is not available due to missing Grid": recorded below.
        warnings.simplefilter("ignore", UserWarning)
        to_crs = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
        group = TransformerGroup("EPSG:4326", crs, always_xy=True)
    to_base = Transformer.from_crs(crs.geodetic_crs, crs, always_xy=True)
    base_def = to_base.definition
    if any(k in base_def for k in ("helmert", "grid", "cart")):
        raise SystemExit(f"{name}: base CRS -> CRS is not a pure conversion: {base_def}")

    operations: list[dict] = []
    out_points = []
    for lon, lat in list(points) + list(outside):
        if (lon, lat) not in outside and not _in_box(lon, lat, box):
            raise SystemExit(f"{name}: point {(lon, lat)} outside {box}")
        x, y = to_crs.transform(lon, lat, errcheck=True)
        try:
            op = to_crs.get_last_used_operation()
        except pyproj.exceptions.ProjError:
            op = to_crs  # single operation (e.g. a no-op): nothing to choose from
        bx, by = to_base.transform(lon, lat, errcheck=True)
        if not all(math.isfinite(v) for v in (x, y, bx, by)):
            raise SystemExit(f"{name}: non-finite result at {(lon, lat)}")
        # Sanity: round trips (the datum shift ones may pick another Helmert
        # variant, or invert it approximately, hence the looser tolerance).
        # The recorded pipeline reproduces x, y on its own (the multi-operation
        # transformer itself may pick another operation when inverting).
        pipe = Transformer.from_pipeline(op.definition)
        px, py = pipe.transform(lon, lat, errcheck=True)
        if (px, py) != (x, y):
            raise SystemExit(f"{name}: pipeline mismatch at {(lon, lat)}: {(px, py)} != {(x, y)}")
        for t, (u, v), tol in ((to_base, (bx, by), 1e-7), (pipe, (x, y), 1e-6)):
            rlon, rlat = t.transform(u, v, direction=TransformDirection.INVERSE, errcheck=True)
            dlon = (rlon - lon + 180.0) % 360.0 - 180.0
            if abs(lat) < 89.99 and (abs(dlon) > tol or abs(rlat - lat) > tol):
                raise SystemExit(f"{name}: round trip failed at {(lon, lat)} -> {(rlon, rlat)}")
        rec = {
            "description": op.description,
            "accuracy_m": _accuracy(op.accuracy),
            "definition": op.definition,
        }
        if rec not in operations:
            operations.append(rec)
        out_points.append({
            "lon": lon, "lat": lat, "x": x, "y": y,
            "x_base": bx, "y_base": by,
            "op": operations.index(rec),
        })

    missing = sorted({g.short_name for op in group.unavailable_operations
                      for g in op.grids if not g.available})
    return {
        "name": name,
        "input": text,
        "epsg": crs.to_epsg(min_confidence=100),
        "is_geographic": crs.is_geographic,
        "axis_northing_first": northing_first(crs),
        "crs_name": crs.name,
        "area_of_use": list(aou.bounds) if aou is not None else None,
        "best_available": group.best_available,
        "missing_grids": missing,
        "operations": operations,
        "points": out_points,
    }


# --------------------------------------------------------------------------
# OGC:CRS84 <-> CRS: which NAD83 -> WGS 84 operation PROJ picks depends on the
# authorities of both CRSs (a user-defined CRS into OGC:CRS84 searches every
# authority and finds ESRI's Helmert), and point by point on its area of use.
# Random points (fixed seed) over a box wider than that area test both sides of it.

# The custom Albers on NAD83 of the regression raster (tools/ is on the path when run).
from make_regressions import ALBERS_NAD83 as _ALBERS_NAD83  # noqa: E402
_LCC = "+proj=lcc +lat_0=40 +lon_0=-100 +lat_1=33 +lat_2=45 +x_0=1000000 +y_0=0 +units=m"
_GEOG_NAD83 = ('GEOGCS["NAD83",DATUM["North_American_Datum_1983",SPHEROID["GRS 1980",6378137,298.257222101]],'
               'PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433]]')
_EPSG5070_NO_AUTHORITY = CRS.from_epsg(5070).to_wkt("WKT1_GDAL").replace(',AUTHORITY["EPSG","5070"]]', "]")
CRS84_PAIRS = [
    ("custom Albers WKT on NAD83", _ALBERS_NAD83),
    ("custom Albers WKT on NAD83, GEOGCS with authority",
     _ALBERS_NAD83.replace('UNIT["degree",0.0174532925199433]]',
                           'UNIT["degree",0.0174532925199433],AUTHORITY["EPSG","4269"]]')),
    ("PROJ string +datum=NAD83", _LCC + " +datum=NAD83"),
    ("PROJ string NAD83 with explicit null TOWGS84", _LCC + " +ellps=GRS80 +towgs84=0,0,0,0,0,0,0"),
    ("PROJ string on WGS84", _LCC + " +datum=WGS84"),
    ("EPSG NAD83 projected", "EPSG:5070"),
    ("EPSG NAD83 UTM", "EPSG:26915"),
    # Identified by name (case-insensitively): registered, so no ESRI shift.
    ("ESRI:102003 as GDAL WKT (ESRI authority)", rasterio.crs.CRS.from_user_input("ESRI:102003").to_wkt()),
    ("EPSG:5070 WKT without its authority", _EPSG5070_NO_AUTHORITY),
    ("EPSG:5070 WKT without its authority, name in lower case",
     _EPSG5070_NO_AUTHORITY.replace("NAD83 / Conus Albers", "nad83 / conus albers")),
    ("EPSG:5070 WKT without its authority, renamed", _EPSG5070_NO_AUTHORITY.replace("NAD83 / Conus Albers", "My Albers")),
    ("geographic WKT named NAD83", _GEOG_NAD83),
    ("geographic WKT on NAD83, renamed", _GEOG_NAD83.replace('GEOGCS["NAD83"', 'GEOGCS["My NAD83"')),
    ("PROJ string longlat +datum=NAD83", "+proj=longlat +datum=NAD83 +no_defs"),
]


def build_crs84_pairs() -> list[dict]:
    """Schema: [{"name", "input", "points": [{"lon", "lat", "x", "y", "op", "lon_back",
    "lat_back", "op_back"}]}]: x, y = OGC:CRS84 -> input of (lon, lat) with PROJ's operation
    op, and lon_back, lat_back = input -> OGC:CRS84 of (x, y) with op_back (PROJ tests the area
    of use on each side's own coordinates, so the two may differ). Points are lon/lat drawn
    uniformly in (-150, 0, -40, 85) with a fixed seed."""
    import random
    rng = random.Random(2026)
    points = [(rng.uniform(-150, -40), rng.uniform(0, 85)) for _ in range(60)]
    out = []
    for name, text in CRS84_PAIRS:
        crs = CRS.from_user_input(text)
        t = Transformer.from_crs("OGC:CRS84", crs, always_xy=True)
        back = Transformer.from_crs(crs, "OGC:CRS84", always_xy=True)
        pts = []
        for lon, lat in points:
            x, y = t.transform(lon, lat, errcheck=True)
            op = t.get_last_used_operation().description
            lon_back, lat_back = back.transform(x, y, errcheck=True)
            pts.append({"lon": lon, "lat": lat, "x": x, "y": y, "op": op, "lon_back": lon_back,
                        "lat_back": lat_back, "op_back": back.get_last_used_operation().description})
        out.append({"name": name, "input": text, "points": pts})
    return out


def raster_wkt(path: Path) -> str:
    with rasterio.open(path) as src:
        return src.crs.to_wkt()


def proj4_extension(wkt: str) -> str:
    """The PROJ string of a GDAL WKT1 EXTENSION["PROJ4","..."] node."""
    key = 'EXTENSION["PROJ4","'
    start = wkt.index(key) + len(key)
    return wkt[start:wkt.index('"', start)]


def build_points(testdata: Path) -> dict:
    """Schema of proj_points.json:

    {
      "pyproj": str, "proj": str, "epsg_database": str,
      "generator": "tools/gen_crs_fixtures.py",
      "notes": [str, ...],
      "crs": [{
        "name": str,                 # short unique label
        "input": str,                # CRS text exactly as the Rust side should parse it
        "source_file": str,          # only for raster entries: test raster file name
        "epsg": int | null,          # crs.to_epsg(min_confidence=100)
        "is_geographic": bool,
        "axis_northing_first": bool, # see northing_first()
        "crs_name": str,
        "area_of_use": [w, s, e, n] | null,
        "best_available": bool,      # False: PROJ's best operation needs a missing grid
        "missing_grids": [str],      # grids of operations PROJ had to skip
        "operations": [{"description": str, "accuracy_m": float | null,
                        "definition": str}],   # PROJ pipelines actually used
        "points": [{
          "lon": float, "lat": float,          # WGS 84 (EPSG:4326), degrees
          "x": float, "y": float,              # EPSG:4326 -> CRS, always_xy=True
          "x_base": float, "y_base": float,    # lon/lat taken in the CRS's own
                                               # geographic CRS: projection only
          "op": int                            # index into "operations"
        }]
      }],
      "crs84": see build_crs84_pairs()
    }
    """
    entries = []
    for spec in SPECS:
        entries.append(make_entry(spec["name"], spec["input"], spec["points"],
                                  spec.get("outside", ()), spec.get("bbox")))
    for r in RASTERS:
        wkt = raster_wkt(testdata / "raster" / r["file"])
        stem = r["file"].rsplit(".", 1)[0]
        e = make_entry(f"wkt:{stem}", wkt, r["points"], bbox=r.get("bbox"))
        e["source_file"] = r["file"]
        entries.append(e)
        if r.get("raster_proj"):
            e = make_entry(f"proj:{stem}", proj4_extension(wkt), r["points"], bbox=r.get("bbox"))
            e["source_file"] = r["file"]
            entries.append(e)

    names = [e["name"] for e in entries]
    assert len(names) == len(set(names)), "duplicate entry names"
    return {
        "pyproj": pyproj.__version__,
        "proj": pyproj.proj_version_str,
        "epsg_database": get_database_metadata("EPSG.VERSION"),
        "generator": "tools/gen_crs_fixtures.py",
        "notes": [
            "x, y = pyproj Transformer.from_crs('EPSG:4326', input, always_xy=True)"
            ".transform(lon, lat); PROJ network off, no datum grids installed.",
            "PROJ may pick a different operation per point (see 'op'); 'Ballpark'"
            " operations apply no datum shift.",
            "x_base, y_base = same lon/lat read in the CRS's own geographic CRS:"
            " the map projection alone, without any datum transformation.",
            "axis_northing_first follows PROJ's normalize-for-visualization rule"
            " (first axis north and second east, plus the UPS/RSPS polar cases).",
        ],
        "crs": entries,
        "crs84": build_crs84_pairs(),
    }


def _dump(obj, indent: int = 0) -> str:
    """JSON with one line per point (dict of scalars); floats use repr()."""
    pad = "  " * indent
    if isinstance(obj, dict):
        if all(not isinstance(v, (dict, list)) for v in obj.values()):
            return json.dumps(obj, allow_nan=False)
        items = [f'{pad}  {json.dumps(k)}: {_dump(v, indent + 1)}' for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    if isinstance(obj, list):
        if not obj:
            return "[]"
        if all(not isinstance(v, (dict, list)) for v in obj):
            return json.dumps(obj, allow_nan=False)
        items = [f"{pad}  {_dump(v, indent + 1)}" for v in obj]
        return "[\n" + ",\n".join(items) + f"\n{pad}]"
    return json.dumps(obj, allow_nan=False)


# --------------------------------------------------------------------------
# axis_table.rs
# --------------------------------------------------------------------------

def _rust_array(codes: list[int], per_line: int = 12) -> str:
    lines = []
    for i in range(0, len(codes), per_line):
        lines.append("    " + " ".join(f"{c}," for c in codes[i:i + per_line]))
    return "\n".join(lines)


def build_nad83_names() -> str:
    """The names (and aliases) of every CRS in PROJ's database on the NAD83 datum, lower-cased:
    PROJ identifies a CRS without an authority by its name, case-insensitively, and an
    identified CRS gets its authority's operations (see crates/imbrex-tms/src/transform.rs)."""
    import sqlite3
    con = sqlite3.connect(os.path.join(pyproj.datadir.get_data_dir(), "proj.db"))
    geod = con.execute("SELECT auth_name, code, name FROM geodetic_crs "
                       "WHERE datum_auth_name = 'EPSG' AND datum_code = '6269'").fetchall()
    proj = con.execute("SELECT p.auth_name, p.code, p.name FROM projected_crs p JOIN geodetic_crs g "
                       "ON p.geodetic_crs_auth_name = g.auth_name AND p.geodetic_crs_code = g.code "
                       "WHERE g.datum_auth_name = 'EPSG' AND g.datum_code = '6269'").fetchall()
    objs = {(a, str(c)) for a, c, _ in geod + proj}
    aliases = [alt for _, a, c, alt in con.execute(
        "SELECT table_name, auth_name, code, alt_name FROM alias_name "
        "WHERE table_name IN ('projected_crs', 'geodetic_crs')") if (a, str(c)) in objs]
    # SQLite's NOCASE, which PROJ's name lookup uses, folds ASCII letters only.
    def fold(n):
        return "".join(ch.lower() if ch.isascii() else ch for ch in n)
    names = sorted({fold(n) for _, _, n in geod + proj} | {fold(n) for n in aliases})
    rows = "\n".join(f"    {json.dumps(n)}," for n in names)
    return f"""// @generated by tools/gen_crs_fixtures.py from PROJ {pyproj.proj_version_str}'s database
// (EPSG {get_database_metadata("EPSG.VERSION")}): do not edit.

/// Names and aliases of the CRSs on the NAD83 datum (EPSG:6269) in PROJ's database, ASCII
/// lower-cased and sorted: PROJ identifies a CRS without an authority by its name (ASCII
/// case-insensitively).
pub(crate) const REGISTERED_NAD83_NAMES: &[&str] = &[
{rows}
];
"""


def build_axis_table() -> str:
    proj_rows = query_crs_info(auth_name="EPSG", pj_types=[PJType.PROJECTED_CRS],
                               allow_deprecated=True)
    proj_codes = sorted({int(r.code) for r in proj_rows})
    deprecated = {int(r.code) for r in proj_rows if r.deprecated}
    northing: list[int] = []
    ns_unswapped: list[int] = []  # first axis north/south but PROJ keeps the order
    for code in proj_codes:
        crs = CRS.from_authority("EPSG", str(code))
        if northing_first(crs):
            northing.append(code)
        elif crs.axis_info[0].direction in ("north", "south") and \
                crs.axis_info[1].direction in ("east", "west"):
            ns_unswapped.append(code)

    geog_rows = query_crs_info(auth_name="EPSG", pj_types=[PJType.GEOGRAPHIC_2D_CRS],
                               allow_deprecated=True)
    geog_codes = sorted({int(r.code) for r in geog_rows})
    lon_first = []
    lon_first_names = []
    for code in geog_codes:
        crs = CRS.from_authority("EPSG", str(code))
        if crs.axis_info[0].direction in ("east", "west"):
            lon_first.append(code)
            lon_first_names.append(f"//   {code}: {crs.name}")

    epsg_version = get_database_metadata("EPSG.VERSION")
    epsg_date = get_database_metadata("EPSG.DATE")
    unswapped_desc = []
    for code in ns_unswapped:
        ax = CRS.from_authority("EPSG", str(code)).axis_info
        unswapped_desc.append(f"{code} ({ax[0].direction}, {ax[1].direction})")
    unswapped_lines = []
    line = "//  "
    for item in unswapped_desc:
        if len(line) + len(item) + 2 > 98:
            unswapped_lines.append(line.rstrip(","))
            line = "//  "
        line += f" {item},"
    unswapped_lines.append(line.rstrip(","))

    return f"""\
// @generated by tools/gen_crs_fixtures.py -- DO NOT EDIT BY HAND.
// Regenerate with: /work/.venv/bin/python tools/gen_crs_fixtures.py
//
// Source: EPSG database {epsg_version} ({epsg_date}) as shipped with
// PROJ {pyproj.proj_version_str} / pyproj {pyproj.__version__}.
//
// Projected CRSs examined: {len(proj_codes)} distinct EPSG codes
// (pyproj.database.query_crs_info(auth_name="EPSG", pj_types=[PROJECTED_CRS],
// allow_deprecated=True); {len(deprecated)} of them are deprecated, kept because
// their axis order is still defined). Geographic 2D CRSs examined: {len(geog_codes)}.
//
// Rule for "northing first" (PROJ's CRS::mustAxisOrderBeSwitchedForVisualization,
// i.e. exactly the CRSs whose axes pyproj swaps with always_xy=True):
//   * first axis direction north and second east, or
//   * polar CRS with both axes "south" along meridians 180/90 (EPSG:32661), or
//   * both axes "north" along meridians 0/90 (EPSG:32761) or 180/-90 (EPSG:5482).
// Polar CRSs named (E,N)/(X,Y) such as EPSG:3031, 3413, 5041, 5042 are NOT listed.
//
// Not listed either: {len(ns_unswapped)} CRSs whose first axis is north/south but whose
// second axis points west (westing). PROJ and GDAL keep their authority order:
{chr(10).join(unswapped_lines)}

/// EPSG projected CRSs whose authority axis order is (northing, easting).
/// {len(northing)} codes, sorted ascending.
#[rustfmt::skip]
pub(crate) const NORTHING_FIRST_PROJECTED: &[u32] = &[
{_rust_array(northing)}
];

// EPSG geographic 2D CRSs are (latitude, longitude) except these {len(lon_first)}
// "(lon-lat)" variants, whose first axis is longitude (east):
{chr(10).join(lon_first_names)}

/// EPSG geographic 2D CRSs whose first axis is longitude. Sorted ascending.
#[rustfmt::skip]
pub(crate) const LON_FIRST_GEOGRAPHIC: &[u32] = &[
{_rust_array(lon_first)}
];
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--testdata", type=Path, default=Path("/work/shared/testdata"),
                    help="directory holding raster/*.tif (default: %(default)s)")
    args = ap.parse_args()

    pyproj.network.set_network_enabled(False)

    data = build_points(args.testdata)
    POINTS_JSON.parent.mkdir(parents=True, exist_ok=True)
    POINTS_JSON.write_text(_dump(data) + "\n", encoding="utf-8")
    n_pts = sum(len(e["points"]) for e in data["crs"])
    print(f"wrote {POINTS_JSON.relative_to(REPO)}: {len(data['crs'])} CRSs, {n_pts} points")

    table = build_axis_table()
    AXIS_TABLE_RS.parent.mkdir(parents=True, exist_ok=True)
    AXIS_TABLE_RS.write_text(table, encoding="utf-8")
    print(f"wrote {AXIS_TABLE_RS.relative_to(REPO)}")
    NAD83_NAMES_RS.write_text(build_nad83_names(), encoding="utf-8")
    print(f"wrote {NAD83_NAMES_RS.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
