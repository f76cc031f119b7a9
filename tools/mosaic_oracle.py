"""rio-tiler's mosaic_reader over some files for one WebMercatorQuad tile, with every
pixel selection method: the reference crates/imbrex-server/tests/multi.rs compares
/mosaicjson tiles with.

    python tools/mosaic_oracle.py OUT_DIR Z X Y FILE...

Writes OUT_DIR/{method}.npy (the data) and OUT_DIR/{method}_valid.npy (uint8, 1 where a
band's pixel is valid), for the files in the order given.
"""

import sys

import numpy
from rio_tiler.io import Reader
from rio_tiler.mosaic import mosaic_reader
from rio_tiler.mosaic.methods import defaults

METHODS = {
    "first": defaults.FirstMethod,
    "highest": defaults.HighestMethod,
    "lowest": defaults.LowestMethod,
    "mean": defaults.MeanMethod,
    "median": defaults.MedianMethod,
    "stdev": defaults.StdevMethod,
    "lastbandlow": defaults.LastBandLowMethod,
    "lastbandhigh": defaults.LastBandHighMethod,
    "count": defaults.CountMethod,
}


def read(asset, x, y, z):
    with Reader(asset) as src:
        return src.tile(x, y, z)


def main():
    out, z, x, y, *files = sys.argv[1:]
    for name, method in METHODS.items():
        img, _ = mosaic_reader(files, read, int(x), int(y), int(z), pixel_selection=method(), threads=0)
        numpy.save(f"{out}/{name}.npy", numpy.ma.getdata(img.array))
        valid = ~numpy.ma.getmaskarray(img.array)
        numpy.save(f"{out}/{name}_valid.npy", valid.astype("uint8"))


if __name__ == "__main__":
    main()
