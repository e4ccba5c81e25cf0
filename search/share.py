"""Sharing a listing: a QR code image of its public page URL."""

from __future__ import annotations

import io

import qrcode
from qrcode.image.pil import PilImage


def qr_matrix(url: str) -> list[list[bool]]:
    """The QR modules for `url` (True = dark), quiet zone included."""
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=8, border=4)
    qr.add_data(url)
    qr.make(fit=True)
    return qr.get_matrix()


def qr_png(url: str, *, box_size: int = 8) -> bytes:
    """A PNG (Pillow image factory) encoding `url`, medium error correction
    so a slightly smudged print still scans."""
    qr = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M,
        box_size=box_size,
        border=4,
        image_factory=PilImage,
    )
    qr.add_data(url)
    qr.make(fit=True)
    buffer = io.BytesIO()
    qr.make_image().save(buffer, format="PNG")
    return buffer.getvalue()
