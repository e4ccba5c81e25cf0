"""Tiny server-side bar charts (inline SVG, no JavaScript) for the seller dashboard."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.utils import timezone

WIDTH, HEIGHT = 600, 140


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    x: float
    y: float
    width: float
    height: float


def daily(moments: Iterable[datetime], *, days: int = 30, today: date | None = None) -> list[Bar]:
    """One bar per day for the last `days` days (oldest first), counting `moments`."""
    today = today or timezone.localdate()
    counts = Counter(timezone.localtime(m).date() for m in moments)
    dates = [today - timedelta(days=days - 1 - i) for i in range(days)]
    return bars([(d.isoformat(), counts.get(d, 0)) for d in dates])


def bars(series: list[tuple[str, int]]) -> list[Bar]:
    """Scale (label, value) pairs into bars that fill WIDTH x HEIGHT."""
    if not series:
        return []
    top = max(value for _label, value in series) or 1
    step = WIDTH / len(series)
    out = []
    for i, (label, value) in enumerate(series):
        height = HEIGHT * value / top
        out.append(Bar(label, value, round(i * step + 1, 1), round(HEIGHT - height, 1),
                       round(max(step - 2, 1), 1), round(height, 1)))
    return out
