"""The acquisition funnel: impressions → product page views → total downloads → sessions, with step rates.

Every step is a plain count (additive), so its period total and each step's conversion from the step
before are exact. Apple's own *conversion rate* divides total downloads by **unique** impressions, a
unique count that cannot be added over days or rows: without ``approx=True`` the view says so and
leaves it out; with it, the rate is a marked **lower bound** (its denominator an upper bound).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd

from asc_nb import metrics as M

from . import _charts as C
from ._calc import known
from ._core import View, as_of_arg, ask, day, lit, provisional_mask, reference_day, source_name

STEPS = ("impressions", "product_page_views", "total_downloads", "sessions")


def funnel(
    source: Any,
    app_ids: str | Iterable[str],
    *,
    start: Any,
    end: Any,
    steps: Sequence[str] = STEPS,
    approx: bool = False,
    as_of: Any = None,
) -> View:
    """The funnel of ``app_ids`` (summed over apps) over [start, end]: ``step, value, unit, of_previous, of_first``.

    ``source`` is a Client or a Store (anything with ``.metrics``). ``approx=True`` adds Apple's
    conversion rate as a lower bound in ``frame.attrs["conversion_rate"]`` and the notes.
    """
    apps = [app_ids] if isinstance(app_ids, str) else [str(a) for a in app_ids]
    steps = tuple(known(steps))
    first, last = day(start, "start"), day(end, "end")
    ref = reference_day(source, as_of)
    var = source_name(source)
    totals = ask(source, apps, list(steps), by=(), start=first.isoformat(), end=last.isoformat(), as_of=as_of)
    frame = M.funnel(totals, steps)[["step", "value", "of_previous", "of_first"]]
    frame.insert(2, "unit", pd.array([M.METRICS[s].unit for s in steps], dtype="string"))
    dates = pd.DataFrame({"date": pd.date_range(first, last, freq="D")})
    prov = int(provisional_mask(dates, steps, ref).sum())
    notes = ["every step is a plain count: totals and step rates are exact"]
    code = (
        f"import asc_nb.views\n"
        f"v = asc_nb.views.funnel({var}, {lit(apps)}, start={first.isoformat()!r}, end={last.isoformat()!r}"
        f"{', approx=True' if approx else ''}{as_of_arg(as_of)})\ndf = v.frame\n"
        f"# which is: asc_nb.metrics.funnel({var}.metrics({lit(apps)}, {lit(steps)}, by=(), "
        f"start={first.isoformat()!r}, end={last.isoformat()!r}), {lit(steps)})\n"
    )
    bounds: dict[str, str] = {}
    if approx:
        # the rate from its summed parts (several apps: their sums), never an average of rates
        parts = ask(
            source,
            apps,
            ["total_downloads", "impressions_unique"],
            by=(),
            start=first.isoformat(),
            end=last.isoformat(),
            approx=True,
            as_of=as_of,
        )
        den = parts["impressions_unique"].sum(min_count=1)
        num = parts["total_downloads"].sum(min_count=1)
        value = pd.array(
            [num / den if den is not pd.NA and num is not pd.NA and den else pd.NA], dtype="Float64"
        )
        rate_value = value[0] if len(value) else pd.NA
        frame.attrs["conversion_rate"] = {
            "value": None if rate_value is pd.NA else float(rate_value),
            "bound": "lower bound",
        }
        bounds["conversion_rate"] = "lower bound"
        shown = "—" if rate_value is pd.NA else f"≥ {float(rate_value):.1%}"
        notes.append(
            f"Apple's conversion rate (total downloads / unique impressions): {shown} — a lower bound, "
            "because unique impressions summed over days and rows over-count devices"
        )
    else:
        notes.append(
            "Apple's conversion rate (total downloads / unique impressions) is left out: unique "
            "impressions cannot be added over days or rows (approx=True gives a lower bound)"
        )
    frame.attrs.update(start=first.isoformat(), end=last.isoformat(), apps=apps)

    def draw(fig: Any, f: pd.DataFrame) -> None:
        ax = fig.add_subplot()
        labels = [str(s).replace("_", " ") for s in f["step"]][::-1]
        vals = [0 if v is pd.NA else int(v) for v in f["value"]][::-1]
        ax.barh(labels, vals, color=C.BLUE)
        for y, (v, rate) in enumerate(zip(vals, list(f["of_previous"])[::-1], strict=True)):
            share = (
                ""
                if rate is pd.NA
                else (
                    f"  ({float(rate):.1%} of previous step)"
                    if rate <= 1
                    else f"  ({float(rate):.1f}× the previous step)"
                )
            )
            text = f"{v:,}" + share
            ax.text(v, y, " " + text, va="center", fontsize=7, color=C.INK)
        ax.set_xlim(0, max(vals + [1]) * 1.45)
        C.thousands(ax, "x")
        C.style(
            ax,
            xlabel="count over the period (each step in its own unit)",
            zero=False,
            title=f"Funnel {first} – {last}",
        )

    return View("funnel", "Acquisition funnel", frame, code, draw, notes, ref, prov, bounds, size=(7.5, 2.6))
