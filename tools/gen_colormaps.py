"""Pack rio-tiler's 211 named colormaps (../shared/reference/colormaps/*.npy, 256 x RGBA
uint8 each) into crates/imbrex-raster/src/render/colormaps.bin, embedded in the binary.

Format: for each colormap, sorted by name: one byte name length, the ASCII name, then
1024 bytes (256 RGBA entries). Run from the repository root:

    /work/.venv/bin/python tools/gen_colormaps.py ../shared/reference/colormaps
"""

import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "crates", "imbrex-raster", "src", "render", "colormaps.bin")
SRC = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "shared", "reference", "colormaps")

names = sorted(f[:-4] for f in os.listdir(SRC) if f.endswith(".npy"))
with open(OUT, "wb") as out:
    for name in names:
        lut = np.load(os.path.join(SRC, name + ".npy"))
        assert lut.shape == (256, 4) and lut.dtype == np.uint8, name
        out.write(bytes([len(name)]) + name.encode("ascii") + lut.tobytes())
print(len(names), "colormaps ->", OUT, os.path.getsize(OUT), "bytes")
