"""One calendar of Apple's periods (day / Monday-week / month) serves the data layer, metrics and the store."""

from __future__ import annotations

import datetime as dt

import pytest

from asc_nb import metrics, models
from asc_nb.data import vintage
from asc_nb.models import Granularity


def test_metrics_and_vintage_use_the_models_calendar() -> None:
    assert metrics.period_start is models.period_start and metrics.period_end is models.period_end
    assert metrics._expected_dates is models.expected_dates


@pytest.mark.parametrize("g", list(Granularity))
def test_expected_dates_agree_day_by_day(g) -> None:
    start = dt.date(2025, 12, 20)
    for offset in range(0, 80, 3):
        first = start + dt.timedelta(days=offset)
        for span in (0, 1, 6, 7, 13, 31, 40):
            last = first + dt.timedelta(days=span)
            got = models.expected_dates(first, last, g)
            assert got == vintage.expected_dates(first.isoformat(), last.isoformat(), g.value)
            assert got[0] == models.period_start(first, g) <= first and models.period_end(got[-1], g) >= last
            assert all(
                models.period_end(a, g) + dt.timedelta(days=1) == b
                for a, b in zip(got, got[1:], strict=False)
            )
    assert models.expected_dates(dt.date(2026, 3, 2), dt.date(2026, 3, 1), g) == []
