"""Test images built in memory: good ones, lying ones and hostile ones."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image

# EXIF tag numbers
ORIENTATION = 0x0112
GPS_IFD = 0x8825
GPS_LATITUDE_REF, GPS_LATITUDE, GPS_LONGITUDE_REF, GPS_LONGITUDE = 1, 2, 3, 4
MAKE = 0x010F


def jpeg(width: int = 640, height: int = 480, *, color=(200, 60, 40), exif=None,
         quality: int = 90) -> bytes:
    image = Image.new("RGB", (width, height), color)
    out = io.BytesIO()
    kwargs = {"exif": exif} if exif is not None else {}
    image.save(out, format="JPEG", quality=quality, **kwargs)
    return out.getvalue()


def png(width: int = 320, height: int = 200, *, mode: str = "RGBA") -> bytes:
    image = Image.new(mode, (width, height), (10, 120, 200, 128) if mode == "RGBA" else 0)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def webp(width: int = 300, height: int = 300) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (0, 160, 90)).save(out, format="WEBP")
    return out.getvalue()


def gif(width: int = 50, height: int = 50) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (0, 0, 255)).save(out, format="GIF")
    return out.getvalue()


def exif_with_gps_and_orientation(orientation: int = 6) -> Image.Exif:
    """EXIF saying "rotate 90° clockwise to view" and where the photo was taken."""
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    exif[MAKE] = "TestPhone"
    gps = exif.get_ifd(GPS_IFD)
    gps[GPS_LATITUDE_REF] = "N"
    gps[GPS_LATITUDE] = (31.0, 13.0, 49.0)
    gps[GPS_LONGITUDE_REF] = "E"
    gps[GPS_LONGITUDE] = (121.0, 28.0, 25.0)
    return exif


def jpeg_with_gps(width: int = 400, height: int = 200, orientation: int = 6) -> bytes:
    """A wide photo, left half red and right half blue, stored sideways with
    orientation 6 and GPS coordinates in its EXIF."""
    image = Image.new("RGB", (width, height), (255, 0, 0))
    image.paste((0, 0, 255), (width // 2, 0, width, height))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=95, exif=exif_with_gps_and_orientation(orientation))
    return out.getvalue()


def truncated_jpeg() -> bytes:
    data = jpeg(800, 600, quality=95)
    return data[: len(data) // 2]


def text_as_jpg() -> bytes:
    return b"This is not a photo, just some text saved with a .jpg name.\n" * 20


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(width: int = 8000, height: int = 6250) -> bytes:
    """A valid 1-bit PNG of width x height (50 megapixels by default) that is
    a few kilobytes on disk: every row is zeros, which deflate squeezes to
    almost nothing. Built by hand so the test never allocates the pixels."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    row = b"\x00" + b"\x00" * ((width + 7) // 8)  # filter byte + packed bits
    compressor = zlib.compressobj(9)
    raw = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", raw)
        + _png_chunk(b"IEND", b"")
    )
