"""Store fixtures: small worlds (2 apps, days of history), a store in tmp, helpers to compare lakes."""

from __future__ import annotations

import pandas as pd
import pytest

import asc_nb
from asc_nb.sandbox import Sandbox

REPORTS = ("App Sessions Standard", "App Downloads Standard")
KEY = ["app_id", "date", "processing_date", "instance_id", "segment_id"]


def small_world(**kwargs) -> Sandbox:
    kwargs.setdefault("seed", 14)
    kwargs.setdefault("apps", 2)
    kwargs.setdefault("history_days", 8)
    return Sandbox(**kwargs)


@pytest.fixture
def world() -> Sandbox:
    return small_world()


@pytest.fixture
def store(tmp_path) -> asc_nb.Store:
    s = asc_nb.Store(tmp_path / "store")
    yield s
    s.close()


def canonical(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows in one order, so two reads of the same data compare equal whatever wrote them."""
    cols = [c for c in frame.columns if c != "segment_id"]
    out = frame.sort_values(cols, kind="stable", ignore_index=True, na_position="first")
    return out


def lake_snapshot(store: asc_nb.Store, reports=REPORTS, granularity="DAILY") -> dict[str, pd.DataFrame]:
    return {r: canonical(store.read(r, granularity=granularity)) for r in reports}


def assert_same_lake(a: asc_nb.Store, b: asc_nb.Store, reports=REPORTS) -> None:
    left, right = lake_snapshot(a, reports), lake_snapshot(b, reports)
    for r in reports:
        assert len(left[r]) > 0, r
        pd.testing.assert_frame_equal(left[r], right[r], check_like=False)
