"""Server-side charts for the dashboards: bar charts and time series as inline
SVG (no JavaScript needed), plus the JSON that charts.js draws with uPlot."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.utils import timezone
from django.utils.translation import gettext as _

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


# --- dashboard charts: one spec, drawn twice ----------------------------------------------------
# The server draws every chart as inline SVG with a data table (works without
# JavaScript, readable by screen readers); charts.js then replaces the SVG of
# time series with an interactive uPlot chart from the same numbers, which the
# page carries in one <script type="application/json"> block.

PALETTE = ("#0a6e4b", "#1f5fbf", "#b3541e", "#7a3fb0", "#a0216b", "#5b6b00", "#3d4a55")


@dataclass(frozen=True)
class Line:
    name: str
    color: str
    values: list[float]
    points: str  # SVG polyline points, scaled to WIDTH x HEIGHT


@dataclass(frozen=True)
class TimeChart:
    """Several series over the same days. `currency` set: values are money in
    major units (for display only; the API keeps integer minor units)."""

    id: str
    title: str
    labels: list[str]
    lines: list[Line]
    top: float
    currency: str | None = None

    @property
    def rows(self) -> list[tuple[str, list[float]]]:
        return [(label, [line.values[i] for line in self.lines])
                for i, label in enumerate(self.labels)]

    @property
    def empty(self) -> bool:
        return not any(v for line in self.lines for v in line.values)


def time_chart(chart_id: str, title: str, labels: list[str],
               series: list[tuple[str, list[float]]], *, currency: str | None = None
               ) -> TimeChart:
    """Scale each (name, values) series into a polyline over the same days."""
    top = max((v for _name, values in series for v in values), default=0) or 1
    n = max(len(labels), 1)
    step = WIDTH / max(n - 1, 1)
    lines = []
    for i, (name, values) in enumerate(series):
        points = " ".join(
            f"{round(j * step, 1)},{round(HEIGHT - HEIGHT * v / top, 1)}"
            for j, v in enumerate(values)
        )
        lines.append(Line(name, PALETTE[i % len(PALETTE)], list(values), points))
    return TimeChart(chart_id, title, labels, lines, top, currency)


def payload(charts: list[TimeChart]) -> list[dict[str, object]]:
    """What charts.js reads: x as UTC-midnight epoch seconds of each day."""
    out = []
    for chart in charts:
        xs = [int(datetime.fromisoformat(d).replace(tzinfo=UTC).timestamp()) for d in chart.labels]
        out.append({
            "id": chart.id, "title": chart.title, "x": xs, "x_label": _("Day"),
            "currency": chart.currency,
            "series": [{"label": line.name, "color": line.color, "values": line.values}
                       for line in chart.lines],
        })
    return out
