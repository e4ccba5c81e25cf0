from __future__ import annotations

from datetime import UTC, date, datetime

from frontend import charts


def test_daily_counts_each_day_and_scales_to_the_busiest():
    today = date(2026, 3, 10)
    moments = [datetime(2026, 3, 10, 9, tzinfo=UTC)] * 2 + [datetime(2026, 3, 8, 9, tzinfo=UTC)]
    bars = charts.daily(moments, days=3, today=today)
    assert [(b.label, b.value) for b in bars] == [
        ("2026-03-08", 1), ("2026-03-09", 0), ("2026-03-10", 2)
    ]
    assert bars[2].height == charts.HEIGHT and bars[0].height == charts.HEIGHT / 2
    assert bars[1].height == 0 and bars[1].y == charts.HEIGHT


def test_all_zero_series_draws_flat_bars_without_dividing_by_zero():
    assert [b.height for b in charts.bars([("a", 0), ("b", 0)])] == [0, 0]
    assert charts.bars([]) == []
