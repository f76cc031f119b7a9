"""Write a large RGB PNG for `scripts/bench image`: WIDTH x HEIGHT, streamed row by row
(numpy for the rows, zlib for the stream), so it never holds the image.

    python tools/gen_big_image.py OUT.png [WIDTH HEIGHT]
"""

import struct
import sys
import zlib

import numpy as np


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def main() -> None:
    out = sys.argv[1]
    width, height = (int(sys.argv[2]), int(sys.argv[3])) if len(sys.argv) > 3 else (20000, 20000)
    rng = np.random.default_rng(0)
    x = np.arange(width)
    noise = rng.integers(0, 32, size=(64, width), dtype=np.uint8)
    z = zlib.compressobj(1)
    with open(out, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)))
        buf = bytearray()
        for y in range(height):
            row = np.empty((width, 3), dtype=np.uint8)
            row[:, 0] = (x * 255 // width).astype(np.uint8) + noise[y % 64]
            row[:, 1] = np.uint8(y * 255 // height)
            row[:, 2] = (((x // 512) + (y // 512)) % 2 * 180).astype(np.uint8)
            buf += z.compress(b"\x00" + row.tobytes())
            if len(buf) > 1 << 22:
                f.write(chunk(b"IDAT", bytes(buf)))
                buf.clear()
        buf += z.flush()
        f.write(chunk(b"IDAT", bytes(buf)))
        f.write(chunk(b"IEND", b""))


if __name__ == "__main__":
    main()
