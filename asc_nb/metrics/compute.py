"""Computing a :class:`~asc_nb.metrics.planning.MetricPlan` from loaded report rows.

Stages: :func:`_prepare` (typed, windowed, filtered rows of one load), :func:`_sum_metric` (one
metric's rows summed per group), :func:`_ratios` (numerator over denominator at the output grain),
:func:`_finish` (keys, dtypes) and :func:`_provisional` (which rows may still change).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from asc_nb import registry
from asc_nb.models import Granularity, period_end, period_start

from .catalog import METRICS, Kind, Metric
from .loaders import DatedLoader
from .planning import Fetch, Loader, MetricPlan, _expand


def _match(series: pd.Series, values: tuple[str, ...]) -> pd.Series:
    """Rows whose value is one of ``values``, case-insensitively (Apple: values are not case-sensitive)."""
    wanted = {v.casefold() for v in values}
    text = series.astype("string").str.casefold()
    return text.isin(wanted).fillna(False).astype(bool)


def _rows(df: pd.DataFrame, m: Metric) -> pd.DataFrame:
    """The rows a metric sums: every ``where`` clause, and at least one ``any_of`` clause set."""
    mask = pd.Series(True, index=df.index)
    for col, vals in m.where:
        mask &= _match(df[col], vals)
    if m.any_of:
        alt = pd.Series(False, index=df.index)
        for clauses in m.any_of:
            one = pd.Series(True, index=df.index)
            for col, vals in clauses:
                one &= _match(df[col], vals)
            alt |= one
        mask &= alt
    return df[mask]


def _prepare(df: pd.DataFrame, f: Fetch, p: MetricPlan) -> pd.DataFrame:
    """Typed, windowed, filtered rows of one load, with ``app_id`` and the period's ``date``."""
    df = df.copy()
    for c in f.columns:
        if c not in df.columns:
            df[c] = pd.Series(pd.NA, index=df.index, dtype="object")
    df["date"] = pd.to_datetime(df["date"]).astype("datetime64[ns]")
    df["app_id"] = df["app_apple_identifier"].astype("Int64").astype("string")
    df = df[df["app_id"].isin(p.app_ids)]
    if f.rollup:
        days = df["date"].dt.date
        df = df.assign(
            date=pd.to_datetime(days.map(lambda d: period_start(d, p.granularity))).astype("datetime64[ns]")
        )
    # the window: whole periods that overlap [start, end]
    if p.start is not None:
        df = df[df["date"] >= pd.Timestamp(period_start(p.start, p.granularity))]
    if p.end is not None:
        df = df[df["date"] <= pd.Timestamp(p.end)]
    for col, vals in p.filters:
        df = df[_match(df[col], vals)]
    return df


def _typed(values: pd.Series, kind: Kind) -> pd.Series:
    if kind in ("count", "unique"):
        return values.astype("Int64")
    return values.astype("Float64")


def _load(p: MetricPlan, load: Loader) -> dict[Fetch, pd.DataFrame]:
    """Each fetch of the plan loaded once (whole periods of daily rows for a roll-up) and prepared."""
    out = {}
    for f in p.fetches:
        lo, hi = p.start, p.end
        if f.rollup:
            lo = None if lo is None else period_start(lo, p.granularity)
            hi = None if hi is None else period_end(hi, p.granularity)
        raw = load(f.report, f.granularity.value, list(p.app_ids), lo, hi, list(f.columns))
        out[f] = _prepare(raw, f, p)
    return out


def _sum_metric(df: pd.DataFrame, m: Metric, keys: list[str]) -> pd.Series:
    rows = _rows(df, m)
    assert m.measure
    measure = _typed(pd.to_numeric(rows[m.measure], errors="coerce"), m.kind)
    if keys:
        s = measure.groupby([rows[k] for k in keys], dropna=False).sum(min_count=1)
    else:
        s = pd.Series([measure.sum(min_count=1)], index=pd.Index([0], name="_all"))
    return _typed(s, m.kind)


def _ratios(out: pd.DataFrame, asked: tuple[str, ...]) -> pd.DataFrame:
    for name in _expand(asked):
        m = METRICS[name]
        if m.kind == "ratio":
            assert m.numerator and m.denominator
            num = out[m.numerator].astype("Float64")
            den = out[m.denominator].astype("Float64")
            out[name] = (num / den.where(den != 0)).astype("Float64")
    return out


def _finish(out: pd.DataFrame, p: MetricPlan) -> pd.DataFrame:
    keys = list(p.keys)
    out = out[list(p.metrics)]
    if keys:
        out = out.reset_index()
        out.columns = [*keys, *p.metrics]
        if "app_id" in out:
            out["app_id"] = out["app_id"].astype("string")
        if "date" in out:
            out["date"] = pd.to_datetime(out["date"]).astype("datetime64[ns]")
        out = out.sort_values(keys, kind="stable", na_position="last").reset_index(drop=True)
    else:
        out = out.reset_index(drop=True)
    for name in p.metrics:
        out[name] = _typed(out[name], METRICS[name].kind)
    return out


def provisional_cutoff(p: MetricPlan, reference: dt.date) -> dt.date | None:
    """The last day whose data is complete for every daily report of the plan (None: none is daily).

    Apple's report pages state a completeness window per report (``complete_after_days`` in the
    registry): data of day D is complete D + n days later. WEEKLY and MONTHLY instances are complete
    when published (Apple: "complete by default"), so only daily loads make rows provisional.
    """
    days = [
        registry.get(f.report).complete_after_days for f in p.fetches if f.granularity is Granularity.DAILY
    ]
    if not days:
        return None
    return reference - dt.timedelta(days=max(days))


def _provisional(out: pd.DataFrame, p: MetricPlan, reference: dt.date | None) -> pd.Series:
    cutoff = None if reference is None else provisional_cutoff(p, reference)
    if cutoff is None:
        return pd.Series(False, index=out.index, dtype="boolean")
    if "date" in out.columns:
        last = out["date"].dt.date.map(lambda d: period_end(d, p.granularity))
    else:
        end = p.end if p.end is not None and p.end < reference else reference  # type: ignore[operator]
        last = pd.Series([end] * len(out), index=out.index, dtype="object")
    return pd.Series([d > cutoff for d in last], index=out.index, dtype="boolean")


def compute(
    p: MetricPlan, load: Loader, *, reference: dt.date | None = None, as_of: dt.date | None = None
) -> pd.DataFrame:
    """Answer a :class:`MetricPlan` with rows from ``load`` (called once per ``p.fetches`` entry).

    Returns one row per group (``p.keys``), one column per asked metric and a boolean
    ``provisional`` (the row's last day is inside a report's completeness window, counted back from
    ``as_of`` or else ``reference`` — the source's today); ``attrs`` carry ``sources``,
    ``approximate``, ``granularity``, ``as_of``, ``reference_day`` and ``plan``.
    """
    keys = list(p.keys)
    prepared = _load(p, load)
    if reference is None and isinstance(load, DatedLoader):  # after the loads: a store may have just synced
        reference = load.reference_day()
    values: dict[str, pd.Series] = {}
    for f in p.fetches:
        for name in f.metrics:
            values[name] = _sum_metric(prepared[f], METRICS[name], keys)
    out = pd.concat(values, axis=1, join="outer")  # plan() always yields at least one base metric
    out = _finish(_ratios(out, p.metrics), p)
    ref = as_of if as_of is not None else reference
    out["provisional"] = _provisional(out, p, ref)
    out.attrs["granularity"] = p.granularity.value
    out.attrs["sources"] = {k: v for k, v in p.sources.items() if k in p.metrics or k in _expand(p.metrics)}
    out.attrs["approximate"] = {k: v for k, v in p.approximate.items() if k in p.metrics}
    out.attrs["as_of"] = None if as_of is None else as_of.isoformat()
    out.attrs["reference_day"] = None if ref is None else ref.isoformat()
    out.attrs["plan"] = p
    return out
