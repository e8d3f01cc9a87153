#!/usr/bin/env python3
"""Verify a PNG file independently of the code that wrote it (zlib + struct only).

    python3 scripts/check_png.py FILE.png [--pixels]

Checks the signature, that every chunk's CRC-32 is right, that IHDR comes first
and IEND last, that the IDAT stream inflates to exactly the scanlines IHDR
declares, and that every scanline names one of the five PNG filter types. Prints
one JSON object: width, height, bit_depth, color_type, channels, chunks, and
with --pixels the pixel bytes (row-major, channels interleaved), each scanline's
filter undone. Exits 1 with
the reason on the first problem. Handles 8-bit non-interlaced gray, gray+alpha,
RGB and RGBA images (what vae-dist and matplotlib write).
"""
import json
import struct
import sys
import zlib

CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}


def fail(message):
    print(f"check_png: {message}", file=sys.stderr)
    sys.exit(1)


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else (b if pb <= pc else c)


def check(path, want_pixels=False):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        fail(f"{path}: bad PNG signature {data[:8]!r}")
    position, chunks, idat, header = 8, [], b"", None
    while position < len(data):
        if position + 12 > len(data):
            fail(f"{path}: truncated chunk at byte {position}")
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        body = data[position + 8:position + 8 + length]
        (crc,) = struct.unpack(">I", data[position + 8 + length:position + 12 + length])
        if len(body) != length:
            fail(f"{path}: chunk {kind!r} is truncated")
        if zlib.crc32(kind + body) & 0xFFFFFFFF != crc:
            fail(f"{path}: chunk {kind!r} at byte {position} has a wrong CRC")
        name = kind.decode("latin-1")
        chunks.append(name)
        if name == "IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif name == "IDAT":
            idat += body
        position += 12 + length
        if name == "IEND":
            break
    if position != len(data):
        fail(f"{path}: {len(data) - position} bytes after IEND")
    if not chunks or chunks[0] != "IHDR" or chunks[-1] != "IEND" or "IDAT" not in chunks:
        fail(f"{path}: chunk order {chunks}: expected IHDR first, IDAT, IEND last")
    width, height, depth, color, compression, filtering, interlace = header
    if depth != 8 or color not in CHANNELS or compression or filtering or interlace:
        fail(f"{path}: unsupported IHDR {header}")
    channels = CHANNELS[color]
    stride = width * channels
    raw = zlib.decompress(idat)
    if len(raw) != height * (stride + 1):
        fail(f"{path}: IDAT inflates to {len(raw)} bytes, expected {height * (stride + 1)}")
    kinds = raw[::stride + 1]
    if any(kind > 4 for kind in kinds):
        fail(f"{path}: a scanline has filter type {max(kinds)}, expected 0...4")
    result = {"width": width, "height": height, "bit_depth": depth, "color_type": color,
              "channels": channels, "chunks": chunks}
    if want_pixels:
        result["pixels"] = list(unfilter(raw, height, stride, channels))
    return result


def unfilter(raw, height, stride, channels):
    """The pixel bytes of inflated scanlines (pure Python: slow for large images)."""
    pixels, previous = bytearray(), bytearray(stride)
    for row in range(height):
        kind = raw[row * (stride + 1)]
        line = bytearray(raw[row * (stride + 1) + 1:(row + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            corner = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 255
            elif kind == 2:
                line[i] = (line[i] + up) & 255
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif kind == 4:
                line[i] = (line[i] + paeth(left, up, corner)) & 255
        pixels += line
        previous = line
    return pixels


if __name__ == "__main__":
    if len(sys.argv) < 2:
        fail("usage: check_png.py FILE.png [--pixels]")
    print(json.dumps(check(sys.argv[1], "--pixels" in sys.argv[2:])))
