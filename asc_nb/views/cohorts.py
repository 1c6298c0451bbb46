"""Session curves by App Download Date: sessions of each download-day cohort on day N after download.

The App Sessions report carries ``App Download Date``: the day the device downloaded the app. A
cohort is the devices that downloaded on one day; its day N is ``Date - App Download Date``.
Sessions are a plain count, so every point of a curve is exact. The devices behind them are a
unique count: summed over the report's other dimensions (territory, device, source…) they can only
be an **upper bound**, so ``approx=True`` adds ``active_devices`` (≤) and
``sessions_per_active_device`` (≥) and marks them; without it they are left out. Rows with a blank
App Download Date (Apple's App Sessions page: empty when the download was more than 30 days before
the row's date) belong to no cohort: their sessions are counted in the notes, not in a curve — so
``max_day`` beyond 30 adds nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from . import _charts as C
from ._core import View, as_of_arg, ask, day, lit, provisional_mask, reference_day, source_name


def session_cohorts(
    source: Any,
    app_ids: str | Iterable[str],
    *,
    start: Any,
    end: Any,
    max_day: int = 28,
    approx: bool = False,
    as_of: Any = None,
) -> View:
    """``app_id, app_download_date, day, sessions[, active_devices, sessions_per_active_device], provisional``.

    One row per (app, cohort, day N) for sessions dated in [start, end] and ``0 <= N <= max_day``.
    """
    apps = [app_ids] if isinstance(app_ids, str) else [str(a) for a in app_ids]
    first, last = day(start, "start"), day(end, "end")
    ref = reference_day(source, as_of)
    names = ["sessions"] + (["active_devices", "sessions_per_active_device"] if approx else [])
    rows = ask(
        source,
        apps,
        names,
        by=("app_id", "date", "app_download_date"),
        start=first.isoformat(),
        end=last.isoformat(),
        approx=approx,
        as_of=as_of,
    )
    blank = rows["app_download_date"].isna()
    uncohorted = int(rows.loc[blank, "sessions"].sum()) if blank.any() else 0
    rows = rows[~blank].copy()
    rows["day"] = (pd.to_datetime(rows["date"]) - pd.to_datetime(rows["app_download_date"])).dt.days.astype(
        "int64"
    )
    rows = rows[(rows["day"] >= 0) & (rows["day"] <= max_day)]
    rows["provisional"] = provisional_mask(rows, names, ref).to_numpy()
    frame = (
        rows[["app_id", "app_download_date", "day", *names, "provisional"]]
        .sort_values(["app_id", "app_download_date", "day"], kind="stable")
        .reset_index(drop=True)
    )
    frame["app_id"] = frame["app_id"].astype("string")
    frame["app_download_date"] = pd.to_datetime(frame["app_download_date"]).astype("datetime64[ns]")
    frame["provisional"] = frame["provisional"].astype(bool)
    bounds = {"active_devices": "upper bound", "sessions_per_active_device": "lower bound"} if approx else {}
    notes = ["sessions are a plain count: every point is exact"]
    if approx:
        notes.append(
            "active_devices is an upper bound and sessions_per_active_device a lower bound: devices are "
            "counted once per report row, and a device sits in many rows"
        )
    else:
        notes.append(
            "devices per cohort are left out: a unique count over rows can only be bounded "
            "(approx=True adds them as bounds)"
        )
    if uncohorted:
        notes.append(f"{uncohorted:,} sessions have a blank App Download Date and are in no cohort")
    var = source_name(source)
    code = (
        f"import asc_nb.views\n"
        f"v = asc_nb.views.session_cohorts({var}, {lit(apps)}, start={first.isoformat()!r}, "
        f"end={last.isoformat()!r}, max_day={max_day}{', approx=True' if approx else ''}{as_of_arg(as_of)})\ndf = v.frame\n"
        f"# which is {var}.metrics({lit(apps)}, {lit(names)}, by=('app_id', 'date', 'app_download_date'), ...)"
        f" with day = date - app_download_date\n"
    )
    prov = int(frame.loc[frame["provisional"], ["app_download_date", "day"]].drop_duplicates().shape[0])

    def draw(fig: Any, f: pd.DataFrame) -> None:
        import matplotlib

        ax = fig.add_subplot()
        # one column per cohort (sessions summed over apps), one call draws every line
        grid = f.pivot_table(index="day", columns="app_download_date", values="sessions", aggfunc="sum")
        cohorts = list(grid.columns)
        if cohorts:
            cmap = matplotlib.colormaps["viridis"]
            ax.set_prop_cycle(color=[cmap(i / max(1, len(cohorts) - 1)) for i in range(len(cohorts))])
            ax.plot(grid.index, grid.to_numpy(dtype=float, na_value=float("nan")), lw=0.9, alpha=0.8)
            mean = grid.mean(axis=1, skipna=True)  # over the cohorts observed on day N
            ax.plot(mean.index, mean.to_numpy(dtype=float), color=C.ORANGE, lw=2.4, label="mean over cohorts")
            C.legend(ax)
        C.thousands(ax)
        C.style(
            ax,
            ylabel="sessions per cohort (sessions)",
            xlabel="days since download (day N)",
            title=f"Sessions by download-day cohort ({len(cohorts)} cohorts, darker = earlier)",
        )

    return View(
        "session_cohorts", "Session curves by download day", frame, code, draw, notes, ref, prov, bounds
    )
