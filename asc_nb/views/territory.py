"""Territory breakdown: every territory's total of one count over the period, ranked, with its share.

Ranked horizontal bars rather than a choropleth: they need no map data (nothing to download, the
report stays offline), they show small territories a map hides, and bar length compares exactly. A
unique count cannot be split by territory over days (it would be summed): refused, as the metrics
layer refuses it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from asc_nb import metrics as M
from asc_nb.errors import NonAdditiveMetricError

from . import _charts as C
from ._calc import known
from ._core import View, as_of_arg, ask, day, lit, provisional_mask, reference_day, source_name


def territories(
    source: Any,
    app_ids: str | Iterable[str],
    metric: str = "total_downloads",
    *,
    start: Any,
    end: Any,
    n: int = 12,
    as_of: Any = None,
) -> View:
    """``rank, territory, <metric>, share`` for every territory (largest first); the chart shows the top ``n``
    and the rest as "Other"."""
    known([metric])
    if not M.METRICS[metric].additive:
        raise NonAdditiveMetricError(
            f"{metric} is not additive: a territory's total over several days would sum unique counts; "
            "ask an additive metric (asc_nb.metric_catalog() says which)"
        )
    apps = [app_ids] if isinstance(app_ids, str) else [str(a) for a in app_ids]
    first, last = day(start, "start"), day(end, "end")
    ref = reference_day(source, as_of)
    rows = ask(
        source, apps, [metric], by=("territory",), start=first.isoformat(), end=last.isoformat(), as_of=as_of
    )
    everything = M.top_n(rows, "territory", metric, n=max(1, rows["territory"].nunique(dropna=False)))
    frame = everything[["territory", metric, "share"]].copy()
    frame.insert(0, "rank", pd.array(range(1, len(frame) + 1), dtype="Int64"))
    top = M.top_n(rows, "territory", metric, n=n)
    frame.attrs["top"] = top
    dates = pd.DataFrame({"date": pd.date_range(first, last, freq="D")})
    prov = int(provisional_mask(dates, [metric], ref).sum())
    var = source_name(source)
    code = (
        f"import asc_nb.views\n"
        f"v = asc_nb.views.territories({var}, {lit(apps)}, {metric!r}, start={first.isoformat()!r}, "
        f"end={last.isoformat()!r}, n={n}{as_of_arg(as_of)})\ndf = v.frame\n"
        f"# which ranks asc_nb.metrics.top_n({var}.metrics({lit(apps)}, [{metric!r}], by=('territory',), "
        f"start={first.isoformat()!r}, end={last.isoformat()!r}), 'territory', {metric!r}, n=<all>)\n"
    )
    notes = [f"{len(frame)} territories; the chart shows the top {n} and the rest as Other"]

    def draw(fig: Any, f: pd.DataFrame) -> None:
        t = f.attrs["top"]
        ax = fig.add_subplot()
        labels = [str(x) for x in t["territory"]][::-1]
        vals = [0 if v is pd.NA else float(v) for v in t[metric]][::-1]
        ax.barh(labels, vals, color=[C.GREY if lab == "Other" else C.BLUE for lab in labels])
        for y, (v, s) in enumerate(zip(vals, list(t["share"])[::-1], strict=True)):
            ax.text(v, y, f" {v:,.0f} ({float(s):.0%})", va="center", fontsize=7, color=C.INK)
        ax.set_xlim(0, max(vals + [1]) * 1.25)
        C.thousands(ax, "x")
        C.style(
            ax,
            xlabel=C.unit_label(metric) + f", {first} – {last}",
            zero=False,
            title=f"{metric.replace('_', ' ')} by territory",
        )

    return View(
        "territories",
        f"{metric.replace('_', ' ').capitalize()} by territory",
        frame,
        code,
        draw,
        notes,
        ref,
        prov,
        size=(7.5, 0.28 * len(top) + 1.2),
    )
