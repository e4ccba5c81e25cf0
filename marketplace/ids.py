"""Public identifiers: time-ordered UUIDs (version 7, RFC 9562).

Version 7 keeps b-tree inserts local (ids grow with time) while exposing no
sequence that lets anyone count or walk our rows.
"""

from __future__ import annotations

import os
import time
import uuid


def uuid7() -> uuid.UUID:
    """A random UUIDv7: 48-bit Unix milliseconds, then 74 random bits."""
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (millis & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76  # version
    value |= ((rand >> 62) & 0xFFF) << 64  # rand_a, 12 bits
    value |= 0b10 << 62  # variant
    value |= rand & ((1 << 62) - 1)  # rand_b, 62 bits
    return uuid.UUID(int=value)


def parse_uuid(value: object) -> uuid.UUID | None:
    """The UUID in `value`, or None when it is not one (a bad id is "not found")."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except (ValueError, TypeError, AttributeError):
        return None
