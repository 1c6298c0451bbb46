"""Small pure functions over a metrics frame, the ones the Overview panels use, so the code a panel
shows is the code it ran: period totals with the previous period, the acquisition funnel, a top-n
breakdown."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import pandas as pd

from asc_nb.errors import MetricError, NonAdditiveMetricError

from .catalog import METRICS
from .planning import _day

FUNNEL_STEPS = ("impressions", "product_page_views", "total_downloads")


def _day_arg(value: Any, what: str) -> dt.date:
    d = _day(value, what)
    if d is None:
        raise MetricError(f"{what} is required")
    return d


def kpi_summary(daily: pd.DataFrame, metrics: Sequence[str], *, start: Any, end: Any) -> pd.DataFrame:
    """Period totals of a by-date metrics frame, with the previous period of the same length.

    ``daily`` is ``metrics(..., by=("date",))`` over at least [start - length, end]. Additive metrics
    are summed over the days; unique counts summed over days are an **upper bound** (a device active
    on two days is one device), and ratios are recomputed from their summed parts (which must be
    columns of ``daily``) — so a ratio over a unique count is a **lower bound**. Returns ``[app_id,]
    metric, value, previous, change, bound, unit`` (``change`` a fraction: 0.1 = +10 %).
    """
    first, last = _day_arg(start, "start"), _day_arg(end, "end")
    if last < first:
        raise MetricError(f"end ({last}) is before start ({first})")
    length = (last - first).days + 1
    prev_first, prev_last = first - dt.timedelta(days=length), first - dt.timedelta(days=1)
    dates = pd.to_datetime(daily["date"]).dt.date if len(daily) else pd.Series([], dtype="object")
    cur = daily[(dates >= first) & (dates <= last)] if len(daily) else daily
    prev = daily[(dates >= prev_first) & (dates <= prev_last)] if len(daily) else daily
    approx = dict(daily.attrs.get("approximate", {}))
    by_app = "app_id" in daily.columns
    apps = list(dict.fromkeys(daily["app_id"].dropna().tolist())) if by_app else [None]

    def total(frame: pd.DataFrame, name: str) -> float | None:
        m = METRICS[name]
        if m.kind == "ratio":
            assert m.numerator and m.denominator
            num, den = total(frame, m.numerator), total(frame, m.denominator)
            return None if num is None or den is None or den == 0 else num / den
        if name not in frame.columns:
            raise MetricError(f"kpi_summary needs a {name!r} column (ask metrics for it)")
        col = frame[name]
        return None if col.isna().all() else float(col.sum())

    rows = []
    for app in apps:
        c = cur[cur["app_id"] == app] if by_app else cur
        p = prev[prev["app_id"] == app] if by_app else prev
        for name in metrics:
            m = METRICS[name]
            value, before = total(c, name), total(p, name)
            bound = approx.get(name, "")
            if m.kind == "unique" and length > 1:
                bound = "upper bound"
            elif m.kind == "ratio" and length > 1:
                den = METRICS[m.denominator or ""]
                num = METRICS[m.numerator or ""]
                if den.kind == "unique" and num.kind != "unique":
                    bound = "lower bound"
                elif num.kind == "unique" and den.kind != "unique":
                    bound = "upper bound"
                elif num.kind == "unique":
                    bound = "bound"
            change = None if value is None or not before else value / before - 1
            row = {
                "metric": name,
                "value": value,
                "previous": before,
                "change": change,
                "bound": bound,
                "unit": m.unit,
            }
            if by_app:
                row = {"app_id": app, **row}
            rows.append(row)
    cols = (["app_id"] if by_app else []) + ["metric", "value", "previous", "change", "bound", "unit"]
    out = pd.DataFrame(rows, columns=cols)
    for c in ("value", "previous", "change"):
        out[c] = pd.array(out[c].tolist(), dtype="Float64")
    for c in ("metric", "bound", "unit") + (("app_id",) if by_app else ()):
        out[c] = out[c].astype("string")
    out.attrs["approximate"] = {str(r["metric"]): str(r["bound"]) for _, r in out.iterrows() if r["bound"]}
    out.attrs["period"] = (first.isoformat(), last.isoformat())
    out.attrs["previous_period"] = (prev_first.isoformat(), prev_last.isoformat())
    return out


def funnel(totals: pd.DataFrame, steps: Sequence[str] = FUNNEL_STEPS) -> pd.DataFrame:
    """The acquisition funnel from a metrics frame: each step's total and its rate from the step before.

    ``totals`` holds one column per step (rows — apps, dates — are summed; steps must be additive).
    Returns ``step, value, of_previous, of_first`` (fractions).
    """
    rows = []
    first = previous = None
    for name in steps:
        m = METRICS[name]
        if not m.additive:
            raise NonAdditiveMetricError(f"{name} is not additive: a funnel step must be a plain count")
        col = totals[name]
        value = None if col.isna().all() else int(col.sum())
        rows.append(
            {
                "step": name,
                "value": value,
                "of_previous": None if value is None or not previous else value / previous,
                "of_first": None if value is None or not first else value / first,
            }
        )
        first = value if first is None else first
        previous = value
    out = pd.DataFrame(rows, columns=["step", "value", "of_previous", "of_first"])
    out["step"] = out["step"].astype("string")
    out["value"] = pd.array(out["value"].tolist(), dtype="Int64")
    for c in ("of_previous", "of_first"):
        out[c] = pd.array(out[c].tolist(), dtype="Float64")
    return out


def top_n(
    rows: pd.DataFrame, dimension: str, metric: str, n: int = 5, *, other: str = "Other"
) -> pd.DataFrame:
    """A breakdown: the ``n`` largest values of ``dimension`` by ``metric``, the rest summed as ``other``.

    ``rows`` is ``metrics(..., [metric], by=(dimension,))`` (other keys, such as ``app_id``, are summed
    over). Blank dimension values are shown as ``(blank)``. Returns ``dimension, metric, share``.
    """
    m = METRICS[metric]
    if not m.additive:
        raise NonAdditiveMetricError(f"{metric} is not additive: its rows cannot be summed into 'Other'")
    if n < 1:
        raise MetricError(f"n must be at least 1, got {n}")
    keyed = rows.assign(**{dimension: rows[dimension].astype("string").fillna("(blank)")})
    sums = keyed.groupby(dimension, dropna=False)[metric].sum(min_count=1).dropna()
    order = sorted(range(len(sums)), key=lambda i: (-float(sums.iloc[i]), str(sums.index[i])))
    sums = sums.iloc[order]  # largest first; ties in label order, so the table is stable
    head, rest = sums.iloc[:n], sums.iloc[n:]
    labels = [str(x) for x in head.index]
    values = [int(v) if m.kind != "amount" else float(v) for v in head.to_numpy()]
    if len(rest):
        labels.append(other)
        values.append(int(rest.sum()) if m.kind != "amount" else float(rest.sum()))
    total = sum(values)
    out = pd.DataFrame({dimension: labels, metric: values})
    out[dimension] = out[dimension].astype("string")
    out[metric] = out[metric].astype("Int64" if m.kind != "amount" else "Float64")
    out["share"] = pd.array([v / total if total else None for v in values], dtype="Float64")
    return out
