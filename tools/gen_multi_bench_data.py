"""Benchmark inputs of scripts/bench's `multi` loads: a STAC item of three one-band COGs and
four RGB COGs for a mosaic, all generated (smooth fields with noise, like imagery).

    python tools/gen_multi_bench_data.py OUT_DIR

Writes OUT_DIR/{red,green,blue}.tif (4096 x 4096 uint8, EPSG:3857, 512 px tiles, DEFLATE,
overviews 2-16), OUT_DIR/item.json (their STAC item, absolute hrefs: TiTiler resolves
relative ones against its working directory), OUT_DIR/full.tif (the RGB of all three)
and OUT_DIR/part{0..3}.tif (its four quadrants, each overlapping the next by 128 pixels).
Run with the rio-tiler virtualenv (scripts/lib/rio-venv.sh).
"""

import json
import os
import sys

import numpy as np
import rasterio
import rasterio.shutil
import rasterio.warp
from rasterio.transform import from_origin
from rasterio.windows import Window

N = 4096
RES = 2.0
# Around (10E, 50N), in Web Mercator.
X0, Y0 = 1113194.9, 6446275.8


def cog(path, data, transform):
    count, h, w = data.shape
    tmp = path + ".tmp.tif"
    profile = dict(driver="GTiff", width=w, height=h, count=count, dtype="uint8", crs="EPSG:3857",
                   transform=transform, nodata=0, tiled=True, blockxsize=512, blockysize=512, compress="DEFLATE")
    with rasterio.open(tmp, "w", **profile) as dst:
        dst.write(data)
        dst.build_overviews([2, 4, 8, 16], rasterio.enums.Resampling.average)
    rasterio.shutil.copy(tmp, path, driver="COG", compress="DEFLATE", blocksize=512, overviews="FORCE_USE_EXISTING")
    os.remove(tmp)


def main():
    out = os.path.abspath(sys.argv[1])
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:N, 0:N] / N
    bands = []
    for k, f in enumerate((5.0, 7.0, 11.0)):
        v = 128 + 60 * np.sin(f * x + k) * np.cos((f - 2) * y) + 30 * np.sin(23 * x * y + k) + rng.normal(0, 6, (N, N))
        bands.append(np.clip(v, 1, 255).astype("uint8"))
    transform = from_origin(X0, Y0, RES, RES)
    for name, band in zip(("red", "green", "blue"), bands):
        cog(os.path.join(out, f"{name}.tif"), band[None], transform)
    rgb = np.stack(bands)
    cog(os.path.join(out, "full.tif"), rgb, transform)
    half, pad = N // 2, 128
    for i, (r, c) in enumerate(((0, 0), (0, 1), (1, 0), (1, 1))):
        row0, col0 = max(0, r * half - pad), max(0, c * half - pad)
        win = Window(col0, row0, min(N, (c + 1) * half + pad) - col0, min(N, (r + 1) * half + pad) - row0)
        part = rgb[:, row0:row0 + int(win.height), col0:col0 + int(win.width)]
        cog(os.path.join(out, f"part{i}.tif"), part, rasterio.windows.transform(win, transform))
    w, s, e, n = rasterio.warp.transform_bounds("EPSG:3857", "EPSG:4326", X0, Y0 - N * RES, X0 + N * RES, Y0)
    item = {
        "type": "Feature", "stac_version": "1.0.0", "id": "bench", "stac_extensions": [],
        "bbox": [w, s, e, n],
        "geometry": {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]},
        "properties": {"datetime": "2026-01-01T00:00:00Z"}, "links": [],
        "assets": {n: {"href": os.path.join(out, f"{n}.tif"),
                       "type": "image/tiff; application=geotiff; profile=cloud-optimized"}
                   for n in ("red", "green", "blue")},
    }
    with open(os.path.join(out, "item.json"), "w") as f:
        json.dump(item, f)


if __name__ == "__main__":
    main()
