"""Period over period: [start, end] against the period before it, or the same period a year earlier.

"Last year" is the same weekdays 52 weeks (364 days) earlier, so a Monday is compared with a Monday
(App Store traffic has a strong weekly rhythm; a calendar-date shift would compare different
weekdays). Totals follow :mod:`asc_nb.views._calc`: counts summed, unique counts only with
``approx=True`` and then marked upper bounds, ratios from their parts. The days of the current period
still inside the report's completeness window are counted in ``provisional_days`` and drawn hollow.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any, Literal

import pandas as pd

from asc_nb import metrics as M
from asc_nb.errors import MetricError

from . import _charts as C
from ._calc import bound_of, expand, totals
from ._core import View, as_of_arg, ask, day, lit, provisional_mask, reference_day, source_name

AGAINST = ("previous", "last_year")


def prior_window(start: dt.date, end: dt.date, against: str) -> tuple[dt.date, dt.date]:
    """The comparison window: the same length just before, or the same weekdays 364 days earlier."""
    if against == "previous":
        length = (end - start).days + 1
        return start - dt.timedelta(days=length), start - dt.timedelta(days=1)
    if against == "last_year":
        return start - dt.timedelta(days=364), end - dt.timedelta(days=364)
    raise MetricError(f"against must be one of {', '.join(AGAINST)}; got {against!r}")


def _daily(
    source: Any, apps: list[str], metrics: list[str], first: dt.date, last: dt.date, approx: bool, as_of: Any
) -> pd.DataFrame:
    return ask(
        source,
        apps,
        metrics,
        by=("app_id", "date"),
        start=first.isoformat(),
        end=last.isoformat(),
        approx=approx,
        as_of=as_of,
    )


def compare_periods(
    source: Any,
    app_ids: str | Iterable[str],
    metrics: Sequence[str],
    *,
    start: Any,
    end: Any,
    against: Literal["previous", "last_year"] = "previous",
    approx: bool = False,
    as_of: Any = None,
) -> View:
    """One row per (app, metric): ``current, previous, change, change_pct, bound, provisional_days, unit``.

    ``frame.attrs["daily"]`` holds both periods day by day (``period, day, date, app_id``, the metrics,
    ``provisional``) — what the chart draws.
    """
    apps = [app_ids] if isinstance(app_ids, str) else [str(a) for a in app_ids]
    metrics = list(metrics)
    first, last = day(start, "start"), day(end, "end")
    if last < first:
        raise MetricError(f"end ({last}) is before start ({first})")
    p_first, p_last = prior_window(first, last, against)
    ref = reference_day(source, as_of)
    wanted = expand(metrics)
    cur = _daily(source, apps, wanted, first, last, approx, as_of)
    pre = _daily(source, apps, wanted, p_first, p_last, approx, as_of)
    approximate = {**pre.attrs.get("approximate", {}), **cur.attrs.get("approximate", {})}
    days = (last - first).days + 1
    cur_t, pre_t = totals(cur, metrics, ["app_id"]), totals(pre, metrics, ["app_id"])
    prov = provisional_mask(cur, wanted, ref)
    rows = []
    for app in apps:
        c = cur_t[cur_t["app_id"] == app]
        p = pre_t[pre_t["app_id"] == app]
        n_prov = (
            int(prov[cur["app_id"] == app].groupby(cur.loc[cur["app_id"] == app, "date"]).any().sum())
            if len(cur)
            else 0
        )
        for name in metrics:
            value = c[name].iloc[0] if len(c) else pd.NA
            before = p[name].iloc[0] if len(p) else pd.NA
            change = pd.NA if value is pd.NA or before is pd.NA else float(value) - float(before)
            pct = pd.NA if change is pd.NA or not before else change / float(before)
            rows.append(
                {
                    "app_id": app,
                    "metric": name,
                    "current": value,
                    "previous": before,
                    "change": change,
                    "change_pct": pct,
                    "bound": bound_of(name, days, approximate),
                    "provisional_days": n_prov,
                    "unit": M.METRICS[name].unit,
                }
            )
    frame = pd.DataFrame(
        rows,
        columns=[
            "app_id",
            "metric",
            "current",
            "previous",
            "change",
            "change_pct",
            "bound",
            "provisional_days",
            "unit",
        ],
    )
    for col in ("current", "previous", "change", "change_pct"):
        frame[col] = pd.array(frame[col].tolist(), dtype="Float64")
    for col in ("app_id", "metric", "bound", "unit"):
        frame[col] = frame[col].astype("string")
    frame["provisional_days"] = frame["provisional_days"].astype("int64")

    keep = [
        "app_id",
        "date",
        *wanted,
    ]  # ratios' parts too: a day's ratio over several apps is from summed parts
    daily = pd.concat(
        [
            cur[keep].assign(
                period="current", day=(cur["date"] - pd.Timestamp(first)).dt.days, provisional=prov.values
            ),
            pre[keep].assign(
                period="previous" if against == "previous" else "last_year",
                day=(pre["date"] - pd.Timestamp(p_first)).dt.days,
                provisional=False,
            ),
        ],
        ignore_index=True,
    )
    frame.attrs.update(
        period=(first.isoformat(), last.isoformat()),
        previous_period=(p_first.isoformat(), p_last.isoformat()),
        against=against,
    )
    frame.attrs["daily"] = daily
    var = source_name(source)
    code = (
        f"import asc_nb.views\n"
        f"v = asc_nb.views.compare_periods({var}, {lit(apps)}, {lit(metrics)}, start={first.isoformat()!r}, "
        f"end={last.isoformat()!r}, against={against!r}{', approx=True' if approx else ''}{as_of_arg(as_of)})\ndf = v.frame\n"
        f"# which sums, per app, {var}.metrics({lit(apps)}, {lit(wanted)}, by=('app_id', 'date'), ...) over "
        f"{first}..{last} and {p_first}..{p_last}\n"
    )
    label = "previous period" if against == "previous" else "same weekdays a year earlier"
    notes = [f"compared with {p_first} – {p_last} ({label})"]
    if any(frame["bound"] != ""):
        notes.append("≤ / ≥: unique counts summed over days can only bound the true number")
    n_prov = int(frame["provisional_days"].max()) if len(frame) else 0
    shown = metrics[:4]

    def draw(fig: Any, f: pd.DataFrame) -> None:
        d = f.attrs["daily"]
        axes = fig.subplots(1, len(shown), squeeze=False)[0]
        for ax, name in zip(axes, shown, strict=True):
            for period, colour in (("current", C.BLUE), ("previous", C.GREY), ("last_year", C.GREY)):
                rows_ = d[d["period"] == period]
                if rows_.empty:
                    continue
                s = totals(rows_, [name], ["day"]).set_index("day")[name].astype("Float64")
                pv = rows_.groupby("day")["provisional"].any()
                xs = list(s.index)
                ys = [float("nan") if v is pd.NA else float(v) for v in s]
                ax.plot(xs, ys, color=colour, lw=1.5, label=f"{period.replace('_', ' ')}")
                hollow = [x for x in xs if pv.get(x, False)]
                if hollow:
                    ax.scatter(
                        hollow,
                        [ys[xs.index(x)] for x in hollow],
                        facecolors="white",
                        edgecolors=colour,
                        zorder=3,
                        s=18,
                        label="provisional",
                    )
            if M.METRICS[name].unit == "fraction":
                C.percent_axis(ax)
            else:
                C.thousands(ax)
            C.style(ax, ylabel=C.unit_label(name, "per day"), xlabel=f"day of period (0 = {first:%b %d})")
            C.legend(ax)

    return View(
        "compare_periods",
        f"This period vs {label}",
        frame,
        code,
        draw,
        notes,
        ref,
        n_prov,
        {r.metric: r.bound for r in frame.itertuples() if r.bound},
        size=(3.4 * len(shown) + 0.6, 3.0),
    )
