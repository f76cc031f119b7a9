"""Benchmark inputs that the shared test rasters lack: a float32 DEFLATE DEM COG.

Writes crates/imbrex-raster/benches/data/dem_f32_deflate.tif: 1024 x 1024 float32 terrain
(smooth hills quantised to 0.5 m, like a real DEM's last digits), EPSG:32631, 256 px tiles,
DEFLATE with the floating-point predictor, overviews 2 and 4 (a COG as GDAL's COG driver
lays it out). Run with the tool virtualenv:

    /work/.venv/bin/python tools/gen_bench_data.py
"""

import os

import numpy as np
import rasterio
import rasterio.shutil
from rasterio.transform import from_origin

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "crates", "imbrex-raster", "benches", "data", "dem_f32_deflate.tif")

n = 1024
y, x = np.mgrid[0:n, 0:n] / n
rng = np.random.default_rng(42)
z = 800 + 400 * np.sin(6 * x) * np.cos(4 * y) + 150 * np.sin(17 * x + 3 * y) + rng.normal(0, 0.3, (n, n))
z = (np.round(z * 2) / 2).astype("float32")
profile = dict(driver="COG", width=n, height=n, count=1, dtype="float32", crs="EPSG:32631",
               transform=from_origin(400000, 5000000, 10, 10), nodata=-9999,
               compress="DEFLATE", predictor=3, blocksize=256, overview_resampling="average")
tmp = OUT + ".tmp.tif"
with rasterio.open(tmp, "w", driver="GTiff", width=n, height=n, count=1, dtype="float32", crs="EPSG:32631",
                   transform=from_origin(400000, 5000000, 10, 10), nodata=-9999) as dst:
    dst.write(z, 1)
with rasterio.open(tmp) as src:
    rasterio.shutil.copy(src, OUT, **{k: v for k, v in profile.items() if k not in ("width", "height", "count", "dtype", "crs", "transform", "nodata")})
os.remove(tmp)
print(OUT, os.path.getsize(OUT))
