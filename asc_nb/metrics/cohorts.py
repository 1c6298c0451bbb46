"""Metrics over cohorts and rolling windows of devices, where the reports allow bounds, not exact counts.

App Store Connect's *retention* and *active in last 30 days* count distinct devices across days.
The Analytics Reports give unique devices per row and day only, so a device active on two days
(or in two rows) is counted in both: the sum of the rows is an **upper bound**. A lower bound
comes from rows that cannot share a device: rows with different ``Device`` values (an iPhone is
not an iPad), so the sum over device types of the largest row of each is a **lower bound**.
Both functions return the bounds next to the estimate; none of them is claimed exact.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd

from asc_nb.errors import MetricError

from .planning import Loader, _day, _names

SESSIONS = "App Sessions Standard"
#: Apple fills App Download Date only when the download was at most 30 days before the row's date
MAX_RETENTION_DAY = 30


def _window(start: Any, end: Any) -> tuple[dt.date, dt.date]:
    first, last = _day(start, "start"), _day(end, "end")
    if first is None or last is None:
        raise MetricError("start and end are required")
    if last < first:
        raise MetricError(f"end ({last}) is before start ({first})")
    return first, last


def _sessions(load: Loader, apps: Sequence[str], lo: dt.date, hi: dt.date) -> pd.DataFrame:
    cols = ["date", "app_apple_identifier", "device", "app_download_date", "unique_devices"]
    df = load(SESSIONS, "DAILY", list(apps), lo, hi, cols).copy()
    for c in cols:
        if c not in df.columns:
            df[c] = pd.Series(pd.NA, index=df.index, dtype="object")
    df["date"] = pd.to_datetime(df["date"]).dt.date
    df["app_download_date"] = pd.to_datetime(df["app_download_date"]).dt.date
    df["app_id"] = df["app_apple_identifier"].astype("Int64").astype("string")
    df["unique_devices"] = pd.to_numeric(df["unique_devices"], errors="coerce").astype("Int64")
    return df[df["app_id"].isin(list(apps)) & (df["date"] >= lo) & (df["date"] <= hi)]


def _bounds(rows: pd.DataFrame) -> tuple[int | None, int | None]:
    """(lower, upper) bounds on the distinct devices behind some rows' unique counts."""
    vals = rows["unique_devices"].dropna()
    if vals.empty:
        return None, None
    rows = rows.loc[vals.index]
    lower = int(rows.groupby(rows["device"].astype("string").fillna(""))["unique_devices"].max().sum())
    return lower, int(vals.sum())


def retention(
    load: Loader, app_ids: str | Iterable[str], *, start: Any, end: Any, days: Sequence[int] = (1, 7, 28)
) -> pd.DataFrame:
    """Day-X retention of each download day in [start, end]: its devices active X days later, over day 0.

    The cohort of download day D is the devices App Sessions reports with ``App Download Date`` = D
    on date D (they downloaded that day and used the app that day; people who share data with
    developers only). Its day-X activity is the same rows on date D + X. ``cohort`` and ``active``
    are sums of unique counts (upper bounds); ``rate = active / cohort``; ``rate_low``/``rate_high``
    are the rate's bounds from the lower/upper bounds of both. Returns ``app_id, download_date,
    day, cohort, active, rate, rate_low, rate_high``. X above 30 cannot be answered (Apple leaves App
    Download Date empty beyond 30 days).
    """
    apps = tuple(dict.fromkeys(_names(app_ids, "app_ids")))
    first, last = _window(start, end)
    offsets = sorted({int(x) for x in days})
    if not offsets or offsets[0] < 1 or offsets[-1] > MAX_RETENTION_DAY:
        raise MetricError(
            f"days must be between 1 and {MAX_RETENTION_DAY} (Apple fills App Download Date only "
            f"up to 30 days after the download), got {list(days)}"
        )
    df = _sessions(load, apps, first, last + dt.timedelta(days=offsets[-1]))
    df = df[df["app_download_date"].notna()]
    rows = []
    for app in apps:
        mine = df[df["app_id"] == app]
        for d in pd.date_range(first, last).date:
            cohort_rows = mine[(mine["app_download_date"] == d) & (mine["date"] == d)]
            c_lo, c_hi = _bounds(cohort_rows)
            for x in offsets:
                act = mine[(mine["app_download_date"] == d) & (mine["date"] == d + dt.timedelta(days=x))]
                a_lo, a_hi = _bounds(act)
                rows.append(
                    {
                        "app_id": app,
                        "download_date": pd.Timestamp(d),
                        "day": x,
                        "cohort": c_hi,
                        "active": a_hi,
                        "rate": None if not c_hi or a_hi is None else a_hi / c_hi,
                        "rate_low": None if not c_hi or a_lo is None else a_lo / c_hi,
                        "rate_high": None if not c_lo or a_hi is None else a_hi / c_lo,
                    }
                )
    out = pd.DataFrame(
        rows, columns=["app_id", "download_date", "day", "cohort", "active", "rate", "rate_low", "rate_high"]
    )
    out["app_id"] = out["app_id"].astype("string")
    out["download_date"] = pd.to_datetime(out["download_date"]).astype("datetime64[ns]")
    out["day"] = out["day"].astype("Int64")
    for c in ("cohort", "active"):
        out[c] = pd.array(out[c].tolist(), dtype="Int64")
    for c in ("rate", "rate_low", "rate_high"):
        out[c] = pd.array(out[c].tolist(), dtype="Float64")
    out.attrs["approximate"] = {"cohort": "upper bound", "active": "upper bound", "rate": "bound"}
    out.attrs["sources"] = {"retention": f"{SESSIONS} DAILY by App Download Date"}
    return out


def active_last_30_days(load: Loader, app_ids: str | Iterable[str], *, start: Any, end: Any) -> pd.DataFrame:
    """Devices with a session in the 30 days up to each date of [start, end], as bounds.

    ``low``: the sum over device types of the largest single row (rows of different device types
    hold different devices). ``high``: the sum of every row of the 30 days — an upper bound only when
    all 30 days have rows, so ``<NA>`` when some do not (``days`` says how many have). Apple's number
    lies in between. Returns ``app_id, date, days, low, high``.
    """
    apps = tuple(dict.fromkeys(_names(app_ids, "app_ids")))
    first, last = _window(start, end)
    df = _sessions(load, apps, first - dt.timedelta(days=29), last)
    rows = []
    for app in apps:
        mine = df[df["app_id"] == app]
        for d in pd.date_range(first, last).date:
            win = mine[(mine["date"] > d - dt.timedelta(days=30)) & (mine["date"] <= d)]
            lo, hi = _bounds(win)
            days = int(win["date"].nunique())
            rows.append(
                {
                    "app_id": app,
                    "date": pd.Timestamp(d),
                    "days": days,
                    "low": lo,
                    "high": hi if days == 30 else None,
                }
            )
    out = pd.DataFrame(rows, columns=["app_id", "date", "days", "low", "high"])
    out["app_id"] = out["app_id"].astype("string")
    out["date"] = pd.to_datetime(out["date"]).astype("datetime64[ns]")
    for c in ("days", "low", "high"):
        out[c] = pd.array(out[c].tolist(), dtype="Int64")
    out.attrs["approximate"] = {"low": "lower bound", "high": "upper bound"}
    out.attrs["sources"] = {"active_last_30_days": f"{SESSIONS} DAILY, 30 days per date"}
    return out
