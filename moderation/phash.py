"""Perceptual hashes of photos (pHash from the imagehash library).

A pHash keeps the low frequencies of the picture, so re-encoding, resizing
and small edits move only a few of its 64 bits, while a different picture
differs in about half of them. Stored as a signed 64-bit integer (bigint).
"""

from __future__ import annotations

import logging
from typing import IO, Any

import imagehash
from django.core.files.storage import default_storage
from PIL import Image, UnidentifiedImageError

logger = logging.getLogger(__name__)

_BITS = 64


def to_signed(value: int) -> int:
    return value - (1 << _BITS) if value >= 1 << (_BITS - 1) else value


def hamming(a: int, b: int) -> int:
    return ((a ^ b) & ((1 << _BITS) - 1)).bit_count()


def phash_of(handle: IO[bytes]) -> int:
    """The 64-bit pHash of an image file, as a signed integer."""
    with Image.open(handle) as image:
        image.load()
        value = imagehash.phash(image.convert("RGB"), hash_size=8)
    return to_signed(int(str(value), 16))


def hash_stored_photo(photo: Any) -> int | None:
    """Hash a listing photo from storage: the medium size when the variant
    task made it (cheaper to read), else the original. None when unreadable."""
    for field in (photo.medium, photo.image):
        name = getattr(field, "name", "")
        if not name:
            continue
        try:
            with default_storage.open(name, "rb") as handle:
                return phash_of(handle)
        except (OSError, UnidentifiedImageError, ValueError) as exc:
            logger.warning("moderation: cannot hash photo %s (%s): %s", photo.pk, name, exc)
    return None
