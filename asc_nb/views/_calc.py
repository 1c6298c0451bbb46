"""Period totals of a by-date metrics frame, honest about unique counts: the one sum every view shares.

Additive metrics are summed; a unique count summed over days or rows is only an **upper bound**
(it is present at all only when the caller passed ``approx=True``, which the metrics layer demands);
a ratio is recomputed from its summed parts, so over a unique denominator it is a **lower bound**.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from asc_nb import metrics as M
from asc_nb.errors import MetricError

__all__ = ["expand", "bound_of", "totals", "known"]


def known(metrics: Sequence[str]) -> list[str]:
    """``metrics`` as a list, or :class:`MetricError` naming the unknown ones and every known name."""
    names = [metrics] if isinstance(metrics, str) else [str(m) for m in metrics]
    unknown = [m for m in names if m not in M.METRICS]
    if unknown:
        raise MetricError(
            f"Unknown metric(s) {', '.join(map(repr, unknown))}; asc_nb.metric_catalog() lists "
            f"them: {', '.join(M.METRICS)}"
        )
    if not names:
        raise MetricError("metrics is empty: name at least one")
    return names


def expand(metrics: Sequence[str]) -> list[str]:
    """The metrics to ask for: the given ones plus the parts of every ratio (ratios are summed from parts)."""
    out: dict[str, None] = {}
    for name in known(metrics):
        m = M.METRICS[name]
        if m.kind == "ratio":
            out.setdefault(str(m.numerator), None)
            out.setdefault(str(m.denominator), None)
        out.setdefault(name, None)
    return list(out)


def bound_of(name: str, days: int, approximate: dict[str, str]) -> str:
    """ "" (exact), "upper bound", "lower bound" or "bound" for ``name`` totalled over ``days`` days."""
    m = M.METRICS[name]
    if m.kind == "unique":
        return "upper bound" if days > 1 or name in approximate else ""
    if m.kind == "ratio":
        num = bound_of(str(m.numerator), days, approximate)
        den = bound_of(str(m.denominator), days, approximate)
        if num and den:
            return "bound"
        if den == "upper bound":
            return "lower bound"
        if num == "upper bound":
            return "upper bound"
        return ""
    return approximate.get(name, "")


def _total(rows: pd.DataFrame, name: str) -> Any:
    m = M.METRICS[name]
    if m.kind == "ratio":
        num, den = _total(rows, str(m.numerator)), _total(rows, str(m.denominator))
        return pd.NA if num is pd.NA or den is pd.NA or den == 0 else float(num) / float(den)
    col = rows[name]
    if col.isna().all():
        return pd.NA
    return float(col.sum()) if m.kind == "amount" else int(col.sum())


def totals(daily: pd.DataFrame, metrics: Sequence[str], keys: Sequence[str] = ()) -> pd.DataFrame:
    """One row per ``keys`` group (or one row), one column per metric: the groups' totals over the rows."""
    out_rows = []
    groups = daily.groupby(list(keys), sort=True, dropna=False) if keys else [((), daily)]
    for key, rows in groups:
        key = key if isinstance(key, tuple) else (key,)
        row = dict(zip(keys, key, strict=True))
        for name in metrics:
            row[name] = _total(rows, name)
        out_rows.append(row)
    out = pd.DataFrame(out_rows, columns=[*keys, *metrics])
    for name in metrics:
        kind = M.METRICS[name].kind
        out[name] = pd.array(out[name].tolist(), dtype="Int64" if kind in ("count", "unique") else "Float64")
    for k in keys:
        if k in daily.columns and not (
            pd.api.types.is_numeric_dtype(daily[k]) or pd.api.types.is_datetime64_any_dtype(daily[k])
        ):
            out[k] = out[k].astype("string")
    return out
