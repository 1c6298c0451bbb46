"""Alerts over a store: a finalized day that drops or spikes against its trailing baseline.

Why: a pipeline broken for months is usually noticed by someone wondering why a chart went flat.
``python -m asc_nb check --alert`` compares each app's recent *finalized* days (the ledger says
final for every report of that app and date, and the metrics frame does not mark them provisional)
with the median of the finalized days before them, per metric, and reports a day whose value is
off by more than ``threshold`` (a fraction: 0.5 = half). Provisional days are never judged: their
values still grow as Apple restates them, and alerting on them would cry wolf every morning.

Metric values come from :meth:`Store.metrics` (``asc_nb.metrics``), so a unique count is never
summed: a metric that cannot be computed per app and day exactly is skipped with a note.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from asc_nb.errors import ConfigError, MetricError, NonAdditiveMetricError

__all__ = ["ALERT_COLUMNS", "alerts", "default_metrics"]

ALERT_COLUMNS = ["app_id", "metric", "date", "kind", "value", "baseline", "change", "baseline_days", "reason"]


def default_metrics(store: Any) -> list[str]:
    """The additive metrics whose reports the store holds (unique counts need their report's grain)."""
    from asc_nb.metrics import metric_catalog

    held = set(store.reports()["report"]) if len(store.reports()) else set()
    cat = metric_catalog()
    out = []
    for r in cat.itertuples(index=False):
        reports = {x.strip() for x in str(r.reports).split(",")}
        if bool(r.additive) and reports & held:
            out.append(str(r.name))
    return out


def _check_args(threshold: float, baseline_days: int, recent_days: int) -> None:
    """Stage 1: a threshold or window that cannot judge anything is a ConfigError saying what to give."""
    if not threshold > 0:
        raise ConfigError(
            f"threshold must be a positive fraction (0.5 = a change of half), got {threshold!r}"
        )
    if baseline_days < 2:
        raise ConfigError(f"baseline_days must be at least 2, got {baseline_days!r}")
    if recent_days < 1:
        raise ConfigError(f"recent_days must be at least 1, got {recent_days!r}")


def _metric_frame(store: Any, metric: str, app_ids: list[str], skipped: list[str]) -> pd.DataFrame | None:
    """One metric per app and day, or None with the reason appended to ``skipped``.

    A unique count is not summed per app and day: it is skipped, never approximated."""
    try:
        frame = store.metrics(app_ids, [metric], by=("app_id", "date"))
    except NonAdditiveMetricError as err:
        skipped.append(f"{metric}: a unique count, not summed per app and day ({err})")
        return None
    except MetricError as err:
        skipped.append(f"{metric}: {err}")
        return None
    if frame.empty or metric not in frame.columns:
        skipped.append(f"{metric}: no rows in the store")
        return None
    frame = frame.copy()
    if "app_id" not in frame.columns:
        frame["app_id"] = app_ids[0]
    frame["app_id"] = frame["app_id"].astype(str)
    frame["date"] = pd.to_datetime(frame["date"])
    return frame


def _finalized(part: pd.DataFrame, app: str, metric: str, final_days: pd.Series) -> pd.DataFrame:
    """An app's days that the ledger calls final and the metrics frame does not mark provisional, with
    the metric's value as ``_v`` (days without a number dropped): only these are judged or used as baseline."""
    part = part.sort_values("date")
    keep = [bool(final_days.get((app, d), False)) for d in part["date"]]
    if "provisional" in part.columns:
        keep = [k and not bool(p) for k, p in zip(keep, part["provisional"], strict=True)]
    good = part[keep]
    values = pd.to_numeric(good[metric], errors="coerce").astype("float64")
    return good.assign(_v=values.to_numpy()).dropna(subset=["_v"])


def _anomalies(
    good: pd.DataFrame,
    app: str,
    metric: str,
    threshold: float,
    baseline_days: int,
    recent_days: int,
    need: int,
) -> list[dict[str, Any]]:
    """The alert rows of one app and metric: each recent day against the median of the days before it."""
    rows = []
    for idx in range(max(0, len(good) - recent_days), len(good)):
        base = good["_v"].iloc[max(0, idx - baseline_days) : idx]
        if len(base) < need:
            continue
        baseline = float(base.median())
        value = float(good["_v"].iloc[idx])
        if baseline == 0:
            continue
        change = value / baseline - 1
        if abs(change) > threshold:
            rows.append(
                _alert(app, metric, good["date"].iloc[idx], value, baseline, change, len(base), threshold)
            )
    return rows


def _alert(
    app: str, metric: str, day: Any, value: float, baseline: float, change: float, n: int, threshold: float
) -> dict[str, Any]:
    """One alert row, with its reason in words."""
    return {
        "app_id": app,
        "metric": metric,
        "date": day,
        "kind": "drop" if change < 0 else "spike",
        "value": value,
        "baseline": baseline,
        "change": change,
        "baseline_days": n,
        "reason": (
            f"{metric} of app {app} on {day:%Y-%m-%d} was {value:,.0f}, {abs(change):.0%} "
            f"{'below' if change < 0 else 'above'} the median {baseline:,.0f} of the "
            f"{n} finalized days before it (threshold {threshold:.0%})"
        ),
    }


def alerts(
    store: Any,
    *,
    metrics: Sequence[str] | None = None,
    apps: Sequence[str] | None = None,
    threshold: float = 0.5,
    baseline_days: int = 14,
    recent_days: int = 7,
    min_baseline: int | None = None,
) -> pd.DataFrame:
    """Anomalies on the newest ``recent_days`` finalized days of each app and metric.

    A day is an anomaly when ``|value / baseline - 1| > threshold``, the baseline being the median
    of the ``baseline_days`` finalized days before it (at least ``min_baseline`` of them, default
    half). ``df.attrs["skipped"]`` lists metrics that could not be judged, and why.

    Stages: check the arguments; the ledger's finalized days; per metric its frame; per app its
    finalized values; the anomalies among the recent ones.
    """
    _check_args(threshold, baseline_days, recent_days)
    need = max(2, baseline_days // 2) if min_baseline is None else min_baseline
    ledger = store.health(apps=list(apps) if apps else None)
    rows: list[dict[str, Any]] = []
    skipped: list[str] = []
    if ledger.empty:
        return _frame(rows, skipped)
    ok = ledger.assign(good=ledger["state"].isin(["final", "restated"]))
    final_days = ok.groupby(["app_id", "date"])["good"].all()
    app_ids = list(apps) if apps else sorted(set(ledger["app_id"].astype(str)))
    names = list(metrics) if metrics else default_metrics(store)
    for metric in names:
        frame = _metric_frame(store, metric, app_ids, skipped)
        if frame is None:
            continue
        for app, part in frame.groupby("app_id"):
            good = _finalized(part, app, metric, final_days)
            rows.extend(_anomalies(good, app, metric, threshold, baseline_days, recent_days, need))
    return _frame(rows, skipped)


def _frame(rows: list[dict[str, Any]], skipped: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=ALERT_COLUMNS)
    frame["date"] = pd.to_datetime(frame["date"])
    for c in ("value", "baseline", "change"):
        frame[c] = frame[c].astype("float64")
    frame["baseline_days"] = frame["baseline_days"].astype("int64")
    frame.attrs["skipped"] = skipped
    return frame
