"""Several apps side by side: each app's period totals, and the daily series of each metric per app.

One ``metrics`` question for every app at once (``by=("app_id", "date")``); totals follow
:mod:`asc_nb.views._calc` (unique counts only with ``approx=True``, then marked bounds). Apps are
never added together here: each keeps its own row and its own line.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd

from asc_nb import metrics as M

from . import _charts as C
from ._calc import bound_of, expand, totals
from ._core import View, as_of_arg, ask, day, lit, provisional_mask, reference_day, source_name


def compare_apps(
    source: Any,
    app_ids: Iterable[str],
    metrics: Sequence[str],
    *,
    start: Any,
    end: Any,
    approx: bool = False,
    as_of: Any = None,
    names: dict[str, str] | None = None,
) -> View:
    """``app_id, <one column per metric>`` over [start, end]; ``frame.attrs["daily"]`` the per-day rows.

    ``names`` (app id -> name) labels the chart; ``frame.attrs["bounds"]`` names metrics that are bounds.
    """
    apps = [str(a) for a in app_ids]
    metrics = list(metrics)
    first, last = day(start, "start"), day(end, "end")
    ref = reference_day(source, as_of)
    wanted = expand(metrics)
    daily = ask(
        source,
        apps,
        wanted,
        by=("app_id", "date"),
        start=first.isoformat(),
        end=last.isoformat(),
        approx=approx,
        as_of=as_of,
    )
    frame = totals(daily, metrics, ["app_id"])
    days = (last - first).days + 1
    approximate = daily.attrs.get("approximate", {})
    bounds = {m: b for m in metrics if (b := bound_of(m, days, approximate))}
    prov_mask = provisional_mask(daily, wanted, ref)
    keep = daily[["app_id", "date", *metrics]].assign(provisional=prov_mask.to_numpy())
    frame.attrs.update(daily=keep, bounds=bounds, period=(first.isoformat(), last.isoformat()))
    labels = {a: (names or {}).get(a, a) for a in apps}
    var = source_name(source)
    code = (
        f"import asc_nb.views\n"
        f"v = asc_nb.views.compare_apps({var}, {lit(apps)}, {lit(metrics)}, start={first.isoformat()!r}, "
        f"end={last.isoformat()!r}{', approx=True' if approx else ''}{as_of_arg(as_of)})\ndf = v.frame\n"
        f"# which sums {var}.metrics({lit(apps)}, {lit(wanted)}, by=('app_id', 'date'), ...) per app\n"
    )
    notes = ["each app is its own row: apps are never added together"]
    if bounds:
        notes.append("bounds: " + ", ".join(f"{m} is an {b}" for m, b in bounds.items()))
    prov = int(keep.loc[keep["provisional"], "date"].nunique())
    shown = metrics[:4]

    def draw(fig: Any, f: pd.DataFrame) -> None:
        d = f.attrs["daily"]
        axes = fig.subplots(1, len(shown), squeeze=False)[0]
        for ax, name in zip(axes, shown, strict=True):
            for app, colour in zip(apps, C.colours(len(apps)), strict=True):
                s = d[d["app_id"] == app].set_index("date")
                ys = s[name].astype("Float64").astype(float)
                ax.plot(s.index, ys, color=colour, lw=1.4, label=labels[app])
                p = s[s["provisional"]]
                if len(p):
                    ax.scatter(
                        p.index,
                        p[name].astype("Float64").astype(float),
                        facecolors="white",
                        edgecolors=colour,
                        s=16,
                        zorder=3,
                    )
            if M.METRICS[name].unit == "fraction":
                C.percent_axis(ax)
            else:
                C.thousands(ax)
            ax.tick_params(axis="x", rotation=45)
            C.style(
                ax, ylabel=C.unit_label(name, "per day") + (" ≤" if bounds.get(name) == "upper bound" else "")
            )
            C.legend(ax)

    return View(
        "compare_apps",
        "Apps side by side",
        frame,
        code,
        draw,
        notes,
        ref,
        prov,
        bounds,
        size=(3.4 * len(shown) + 0.6, 3.2),
    )
