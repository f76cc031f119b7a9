"""Regression rasters: one small generated file per class of disagreement the differential
harness (tools/differential.py) found and the reader now handles.

Each file is written deterministically (a fixed seed) into testdata/raster/ as
`regress_<class>.tif`; the oracle (tools/make_oracle.py) then covers its info, tiles,
points and statistics, and tools/gen_read_fixtures.py the reads with the options that
exposed the class. Run from the repository root with rasterio (scripts/lib/rio-venv.sh):

    python tools/make_regressions.py
"""

import glob
import os

import numpy as np
import rasterio
from rasterio.control import GroundControlPoint
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.transform import Affine

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "testdata", "raster")


def blobs(rng, h, w, n=3, frac=0.25):
    """A boolean mask of `n` random discs covering about `frac` of the image."""
    yy, xx = np.mgrid[0:h, 0:w]
    m = np.zeros((h, w), bool)
    for _ in range(n):
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        r = np.sqrt(frac * h * w / n / np.pi)
        m |= (yy - cy) ** 2 + (xx - cx) ** 2 < r * r
    return m


def smooth(rng, h, w, lo, hi):
    """A smooth field with some noise (interpolating kernels see gradients, not steps)."""
    yy, xx = np.mgrid[0:h, 0:w]
    f = np.sin(xx / max(w, 1) * 5 + rng.uniform(0, 6)) + np.cos(yy / max(h, 1) * 4 + rng.uniform(0, 6))
    f = (f - f.min()) / max(f.max() - f.min(), 1e-9)
    f = f + rng.normal(0, 0.05, f.shape)
    return lo + np.clip(f, 0, 1) * (hi - lo)


def gcps_for(t, w, h, rng, k=4):
    """A k x k grid of control points from an affine transform, slightly distorted."""
    out = []
    for i in range(k):
        for j in range(k):
            col, row = j * w / (k - 1), i * h / (k - 1)
            x, y = t * (col, row)
            out.append(GroundControlPoint(row=row, col=col, x=x + rng.normal() * t.a * 0.3, y=y + rng.normal() * t.a * 0.3))
    return out


def gcp_float_mask(rng):
    """GCPs, Float32, an internal mask, no nodata: rio-tiler's WarpedVRT adds an alpha band
    whose 255 is not Float32's maximum, so rio-tiler masks every pixel."""
    w, h = 40, 30
    t = Affine(30.0, 0, 500000, 0, -30.0, 4500000)
    data = smooth(rng, h, w, -100, 900).astype("float32")
    with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True):
        with rasterio.open(path("gcp_float_mask"), "w", driver="GTiff", width=w, height=h, count=2, dtype="float32",
                           tiled=True, blockxsize=16, blockysize=16, compress="deflate") as d:
            d.write(np.stack([data, data * 0.5]))
            d.write_mask(np.where(blobs(rng, h, w), 0, 255).astype("uint8"))
            d.gcps = (gcps_for(t, w, h, rng), CRS.from_epsg(32633))


def gcp_uint16_nodata(rng):
    """GCPs, UInt16 with nodata and overviews: the VRT keeps the nodata (no added alpha)
    and has one implicit overview per overview of the file."""
    w, h = 100, 70
    t = Affine(0.001, 0, 11.0, 0, -0.001, 47.0)
    data = smooth(rng, h, w, 1, 60000).astype("uint16")
    data[blobs(rng, h, w)] = 0
    with rasterio.open(path("gcp_uint16_nodata"), "w", driver="GTiff", width=w, height=h, count=1, dtype="uint16",
                       nodata=0, tiled=True, blockxsize=32, blockysize=32, compress="deflate") as d:
        d.write(data, 1)
        d.gcps = (gcps_for(t, w, h, rng), CRS.from_epsg(4326))
    with rasterio.open(path("gcp_uint16_nodata"), "r+") as d:
        d.build_overviews([2, 4], Resampling.nearest)


def gcp_int8_rgb(rng):
    """GCPs, three Int8 bands, no validity: the VRT is Int16 with an added alpha band."""
    w, h = 70, 50
    t = Affine(20.0, 0, 3500000, 0, -20.0, 2800000)
    data = np.stack([smooth(rng, h, w, -120, 120) for _ in range(3)]).astype("int8")
    with rasterio.open(path("gcp_int8_rgb"), "w", driver="GTiff", width=w, height=h, count=3, dtype="int8",
                       compress="zstd") as d:
        d.write(data)
        d.gcps = (gcps_for(t, w, h, rng), CRS.from_epsg(3035))


def edge_int8_3857(rng):
    """A small Web Mercator raster, no nodata: the tiles around it are boundless reads,
    which rasterio resamples through its VRT's source."""
    w, h = 46, 38
    t = Affine(3499.55, 0, 3471481.2, 0, -3499.55, -8094681.95)
    data = smooth(rng, h, w, -100, 100).astype("int8")
    with rasterio.open(path("edge_int8_3857"), "w", driver="GTiff", width=w, height=h, count=1, dtype="int8",
                       crs="EPSG:3857", transform=t, tiled=True, blockxsize=16, blockysize=16) as d:
        d.write(data, 1)


def nodata_mask_rgb_f32(rng):
    """Three pixel-interleaved Float32 bands, nodata -FLT_MAX and an internal mask: GDAL
    resamples the bands together, weighting with the mask and writing 0 where no sample
    is valid."""
    w, h = 60, 45
    t = Affine(0.0005, 0, 9.25, 0, -0.0005, 33.8)
    nd = float(np.finfo("float32").min)
    data = np.stack([smooth(rng, h, w, 0, 7000) for _ in range(3)]).astype("float32")
    data[:, blobs(rng, h, w, 2, 0.1)] = nd
    with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True):
        with rasterio.open(path("nodata_mask_rgb_f32"), "w", driver="GTiff", width=w, height=h, count=3,
                           dtype="float32", nodata=nd, crs="EPSG:4326", transform=t, interleave="pixel",
                           compress="deflate") as d:
            d.write(data)
            d.write_mask(np.where(blobs(rng, h, w, 3, 0.3), 0, 255).astype("uint8"))


def palette_uint8(rng):
    """A paletted Byte band with overviews: GDAL reads palette indices with nearest
    whatever convolution kernel is asked for."""
    w, h = 160, 80
    t = Affine(30.0, 0, 400000, 0, -30.0, 5000000)
    data = smooth(rng, h, w, 0, 255).astype("uint8")
    with rasterio.open(path("palette_uint8"), "w", driver="GTiff", width=w, height=h, count=1, dtype="uint8",
                       crs="EPSG:32632", transform=t, tiled=True, blockxsize=64, blockysize=64,
                       compress="deflate", photometric="palette") as d:
        d.write(data, 1)
        d.write_colormap(1, {i: (i, 255 - i, (i * 7) % 256, 255) for i in range(256)})
    with rasterio.open(path("palette_uint8"), "r+") as d:
        d.build_overviews([2, 4], Resampling.nearest)


def msk_ovr_uint8(rng):
    """Nodata, an external `.msk` and `.ovr` overviews, so GDAL writes `.msk.ovr` too: the
    `.ovr` overviews' mask band is the `.msk.ovr` overview of their size, which weights a
    resampled read."""
    w, h = 200, 150
    t = Affine(0.0004, 0, 14.6, 0, -0.0002, -44.6)
    data = smooth(rng, h, w, 1, 255).astype("uint8")
    data[blobs(rng, h, w, 2, 0.1)] = 0
    p = path("msk_ovr_uint8")
    with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=False):
        with rasterio.open(p, "w", driver="GTiff", width=w, height=h, count=1, dtype="uint8", nodata=0,
                           crs="EPSG:4326", transform=t, tiled=True, blockxsize=64, blockysize=64,
                           compress="deflate") as d:
            d.write(data, 1)
            d.write_mask(np.where(blobs(rng, h, w, 3, 0.3), 0, 255).astype("uint8"))
        with rasterio.Env(TIFF_USE_OVR=True), rasterio.open(p, "r+") as d:
            d.build_overviews([2, 4], Resampling.nearest)


def near_nodata_f32(rng):
    """Float32, nodata -9999, with blobs of -9999.003: GDAL's warper takes a value within two
    float epsilons (relative) of the nodata value as nodata, so warped tiles mask them while
    same-CRS reads (numpy's equality in rio-tiler) do not."""
    w, h = 90, 70
    t = Affine(0.001, 0, 20.0, 0, -0.001, 45.0)
    data = smooth(rng, h, w, 0, 500).astype("float32")
    data[blobs(rng, h, w, 2, 0.15)] = -9999.0
    data[blobs(rng, h, w, 2, 0.15)] = -9999.003
    with rasterio.open(path("near_nodata_f32"), "w", driver="GTiff", width=w, height=h, count=1, dtype="float32",
                       nodata=-9999.0, crs="EPSG:4326", transform=t, compress="deflate") as d:
        d.write(data, 1)


ALBERS_NAD83 = (
    'PROJCS["Custom Albers",GEOGCS["NAD83",DATUM["North_American_Datum_1983",'
    'SPHEROID["GRS 1980",6378137,298.257222101]],PRIMEM["Greenwich",0],'
    'UNIT["degree",0.0174532925199433]],PROJECTION["Albers_Conic_Equal_Area"],'
    'PARAMETER["latitude_of_center",40],PARAMETER["longitude_of_center",-96],'
    'PARAMETER["standard_parallel_1",29.5],PARAMETER["standard_parallel_2",45.5],'
    'PARAMETER["false_easting",0],PARAMETER["false_northing",0],UNIT["metre",1]]'
)


def albers_nad83(rng):
    """A custom Albers on NAD83: into OGC:CRS84 PROJ moves it by ~0.8 m with ESRI's ITRF00
    Helmert (into EPSG:4326 it applies none); imbrex once applied none in both."""
    w, h = 80, 60
    t = Affine(5000.0, 0, -300000, 0, -5000.0, 400000)
    data = smooth(rng, h, w, 0, 60000).astype("uint16")
    with rasterio.open(path("albers_nad83"), "w", driver="GTiff", width=w, height=h, count=1, dtype="uint16",
                       crs=CRS.from_wkt(ALBERS_NAD83), transform=t, compress="deflate") as d:
        d.write(data, 1)


def uint32_max_mask(rng):
    """UInt32, 3 bands, nodata 2^32-1 and an internal mask that disagrees with it, average
    overviews. Resampled same-CRS reads replace a valid average equal to nodata with the
    band type's replacement (2^32-2, not the Float64 work type's), a read whose integer
    window is the buffer's size is resampled band by band, and the warper takes the 2047
    values below 2^32-1 as nodata (a double comparison with float epsilons)."""
    w, h = 90, 70
    t = Affine(30.0, 0, 500000, 0, -30.0, 4500000)
    nd = 2**32 - 1
    data = np.stack([smooth(rng, h, w, 1e6, 4.29e9) for _ in range(3)]).astype("uint32")
    data[:, blobs(rng, h, w, 2, 0.15)] = nd
    data[:, blobs(rng, h, w, 2, 0.15)] = nd - 1000
    with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True):
        with rasterio.open(path("uint32_max_mask"), "w", driver="GTiff", width=w, height=h, count=3, dtype="uint32",
                           nodata=nd, crs="EPSG:32612", transform=t, compress="deflate", tiled=True,
                           blockxsize=32, blockysize=32) as d:
            d.write(data)
            d.write_mask(np.where(blobs(rng, h, w, 2, 0.1), 0, 255).astype("uint8"))
            d.build_overviews([2, 4], Resampling.average)


def rgba_nodata(rng):
    """RGBA Byte with nodata 0, alpha values across 0-255 and nearest overviews: rio-tiler
    reads the VRT without its alpha band, so GDAL decimates (or resamples) the VRT's own
    blocks instead of warping onto the buffer, and the warper keeps a band value 0 of a
    valid, partly transparent pixel off nodata (writes 1)."""
    w, h = 200, 150
    t = Affine(20.0, 0, 400000, 0, -20.0, 5100000)
    rgb = np.stack([smooth(rng, h, w, 0, 255) for _ in range(3)]).astype("uint8")
    rgb[0][blobs(rng, h, w, 3, 0.2)] = 0
    rgb[:, blobs(rng, h, w, 2, 0.1)] = 0
    alpha = smooth(rng, h, w, 0, 255).astype("uint8")
    with rasterio.open(path("rgba_nodata"), "w", driver="GTiff", width=w, height=h, count=4, dtype="uint8",
                       nodata=0, crs="EPSG:32633", transform=t, compress="deflate", photometric="RGB", alpha="YES") as d:
        d.write(np.concatenate([rgb, alpha[None]]))
        d.build_overviews([2, 4], Resampling.nearest)


def geos_full_disk(rng):
    """A whole geostationary disk (and the space around it), Int16 with overviews: nearest
    warps agree, but an interpolating reprojection at zoom 1 of WebMercatorQuad differs in
    a few thousand values (masks equal; a known difference, cause not found)."""
    w = h = 300
    t = Affine(36232.6, 0, -5434894.885056, 0, -36232.6, 5434894.885056)
    crs = "+proj=geos +sweep=x +lon_0=-75 +h=35785831 +x_0=0 +y_0=0 +ellps=GRS80 +units=m +no_defs"
    yy, xx = np.mgrid[0:h, 0:w]
    data = (5000 + 4000 * np.sin(xx / 23.0 + rng.uniform(0, 6)) * np.cos(yy / 17.0)).astype("int16")
    with rasterio.open(path("geos_full_disk"), "w", driver="GTiff", width=w, height=h, count=1, dtype="int16",
                       crs=crs, transform=t, compress="deflate", predictor=2, tiled=True, blockxsize=128,
                       blockysize=128) as d:
        d.write(data, 1)
        d.build_overviews([2, 4], Resampling.nearest)


def path(name):
    return os.path.join(OUT, f"regress_{name}.tif")


def main():
    makers = [gcp_float_mask, gcp_uint16_nodata, gcp_int8_rgb, edge_int8_3857, nodata_mask_rgb_f32, palette_uint8,
              albers_nad83, msk_ovr_uint8, near_nodata_f32, uint32_max_mask, rgba_nodata,
              geos_full_disk]
    for i, make in enumerate(makers):
        make(np.random.default_rng([2026, i]))
        size = sum(os.path.getsize(f) for f in glob.glob(path(make.__name__) + "*"))
        print(f"{os.path.basename(path(make.__name__))}(+ sidecars): {size} bytes")


if __name__ == "__main__":
    main()
