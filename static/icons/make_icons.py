"""Draw the app icons (PNG, no dependencies): `python static/icons/make_icons.py`.

A blue rounded square with a white ring open to the right (the "C" of the
favicon). The maskable variant keeps the mark inside the 80 % safe zone and
fills the whole square, as maskable icons must (W3C Manifest §icons purpose).
"""

import math
import os
import struct
import zlib

BLUE = (11, 87, 208)
WHITE = (255, 255, 255)
HERE = os.path.dirname(os.path.abspath(__file__))


def png(path, size, pixel):
    rows = []
    for y in range(size):
        row = bytearray([0])
        for x in range(size):
            row.extend(pixel(x + 0.5, y + 0.5))
        rows.append(bytes(row))
    raw = zlib.compress(b"".join(rows), 9)

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0))
                + chunk(b"IDAT", raw) + chunk(b"IEND", b""))


def mark(size, scale, rounded):
    radius, centre = size * 0.22 * scale / 0.8, size / 2

    def pixel(x, y):
        if rounded:
            corner = size * 0.22
            dx, dy = max(corner - x, 0, x - (size - corner)), max(corner - y, 0, y - (size - corner))
            if dx * dx + dy * dy > corner * corner:
                return (0, 0, 0, 0)
        d = math.hypot(x - centre, y - centre)
        angle = math.degrees(math.atan2(y - centre, x - centre))
        ring = abs(d - radius) < size * 0.055 * scale / 0.8
        if ring and not (-40 < angle < 40):
            return WHITE + (255,)
        return BLUE + (255,)
    return pixel


if __name__ == "__main__":
    png(os.path.join(HERE, "icon-192.png"), 192, mark(192, 0.8, rounded=True))
    png(os.path.join(HERE, "icon-512.png"), 512, mark(512, 0.8, rounded=True))
    png(os.path.join(HERE, "maskable-512.png"), 512, mark(512, 0.6, rounded=False))
    png(os.path.join(HERE, "maskable-192.png"), 192, mark(192, 0.6, rounded=False))
