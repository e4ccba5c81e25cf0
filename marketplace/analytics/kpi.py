"""Building blocks every dashboard read shares: the reporting window, per-day
bucketing in the site's time zone, and rates that say "no data" instead of
dividing by zero. Kernel code: the apps' KPI selectors import it, it imports
no app."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Count, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext as _

MAX_DAYS = 366


@dataclass(frozen=True)
class Window:
    """The last `days` calendar days in the site's time zone, today included:
    from local midnight `days - 1` days ago up to `end` (now)."""

    days: int
    start: datetime
    end: datetime
    dates: tuple[date, ...]

    def labels(self) -> list[str]:
        return [d.isoformat() for d in self.dates]

    def series(self, counts: Mapping[date, int | float]) -> list[int | float]:
        """One value per day of the window, oldest first (0 where none)."""
        return [counts.get(d, 0) for d in self.dates]


def window(days: int, *, now: datetime | None = None) -> Window:
    """The reporting window; `days` is clamped to 1..MAX_DAYS (callers that
    take it from a user validate it first and answer 400)."""
    days = min(max(int(days), 1), MAX_DAYS)
    now = now or timezone.now()
    today = timezone.localtime(now).date()
    first = today - timedelta(days=days - 1)
    start = timezone.make_aware(datetime.combine(first, time.min), timezone.get_current_timezone())
    return Window(days=days, start=start, end=now,
                  dates=tuple(first + timedelta(days=i) for i in range(days)))


def local_day(field: str) -> TruncDate:
    """The calendar day of a timestamp column in the site's time zone."""
    return TruncDate(field, tzinfo=timezone.get_current_timezone())


def count_by_day(qs: QuerySet[Any], field: str, *group: str) -> dict[Any, int]:
    """COUNT(*) per local day of `field` (and per `group` columns, keyed
    (day, *values)), in one GROUP BY query."""
    rows = qs.annotate(_day=local_day(field)).values("_day", *group).annotate(_n=Count("pk"))
    if not group:
        return {r["_day"]: r["_n"] for r in rows.order_by()}
    return {(r["_day"], *(r[g] for g in group)): r["_n"] for r in rows.order_by()}


def rate(part: int | float, whole: int | float) -> float | None:
    """part / whole rounded to 4 places; None when there is nothing to divide."""
    return round(part / whole, 4) if whole else None


def parse_days(raw: Any, *, default: int = 30) -> int:
    """`?days=` from a request: an integer 1..MAX_DAYS. Raises ValueError with
    a message a 400 can carry."""
    if raw in (None, ""):
        return default
    message = _("days must be a whole number from 1 to %(max)d.") % {"max": MAX_DAYS}
    try:
        days = int(str(raw).strip())
    except ValueError:
        raise ValueError(message) from None
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(message)
    return days
