"""The Views panel: funnel, period comparison, territories, session cohorts and apps side by side, one at a time.

Each choice is one call of :mod:`asc_nb.views` on the panel's worker thread; the panel shows that
view's chart (the same PNG the offline report embeds), its table and notes (as-of day, provisional
dates, bounds), and its ``.code`` is the view's own code (run with ``client``/``store`` bound it
leaves ``df`` equal to ``.frame``). A question that cannot be answered honestly (a unique count
without bounds) is said in the status line, not drawn.
"""

from __future__ import annotations

import datetime as dt
import html
import threading
import warnings
from collections.abc import Iterable
from typing import Any

import ipywidgets as w
import pandas as pd

from asc_nb import views as V
from asc_nb.errors import ASCError

from ._common import Panel, Status, frame_html, heading

__all__ = ["ViewsPanel", "attach", "CHOICES"]

#: label -> view key, in the picker's order
CHOICES = (
    ("Acquisition funnel", "funnel"),
    ("This week vs last week", "previous"),
    ("vs the same weeks last year", "last_year"),
    ("Territories", "territories"),
    ("Session curves by download day", "session_cohorts"),
    ("Apps side by side", "compare_apps"),
)
_WARNINGS_LOCK = threading.Lock()  # catch_warnings swaps process-wide state: one panel at a time
COMPARE = ("impressions", "total_downloads", "sessions", "conversion_rate")
TERRITORY_METRICS = (
    "total_downloads",
    "impressions",
    "product_page_views",
    "first_time_downloads",
    "sessions",
)


class ViewsPanel(Panel):
    """One view of :mod:`asc_nb.views` for the chosen apps and dates, with its chart, table and code.

    Controls: ``.choice`` (which view), ``.apps``, ``.start``/``.end``, ``.metric`` (territories),
    ``.approx`` (bounds for unique counts), ``.refresh``. State: ``.view`` (the :class:`asc_nb.views.View`),
    ``.frame``, ``.code``; ``wait()`` after a change.
    """

    def __init__(
        self,
        source: Any,
        app_ids: str | Iterable[str] | None = None,
        *,
        start: Any = None,
        end: Any = None,
        view: str = "funnel",
        app_frame: pd.DataFrame | None = None,
        autoload: bool = True,
    ) -> None:
        self.source = source
        self.view: V.View | None = None
        ref = V.reference_day(source)
        last = V._core.day(end, "end") if end is not None else ref - dt.timedelta(days=1)
        first = V._core.day(start, "start") if start is not None else last - dt.timedelta(days=6)
        self.choice = w.Dropdown(options=list(CHOICES), value=view, description="View")
        self.apps = w.SelectMultiple(options=[], description="Apps", rows=3)
        self.start = w.DatePicker(value=first, description="From")
        self.end = w.DatePicker(value=last, description="To")
        self.metric = w.Dropdown(
            options=list(TERRITORY_METRICS), value="total_downloads", description="Metric"
        )
        self.approx = w.Checkbox(value=True, description="Bounds for unique counts", indent=False)
        self.refresh = w.Button(description="Show", icon="refresh")
        self.chart = w.Image(format="png", layout=w.Layout(max_width="900px"))
        self.notes = w.HTML()
        self.table = w.HTML()
        self.status = Status()
        super().__init__([], client=source)
        self.children = (
            heading("Views"),
            w.HBox([self.choice, self.metric, self.approx]),
            w.HBox([self.apps, w.VBox([self.start, self.end]), self.refresh]),
            self.status,
            self.chart,
            self.notes,
            self.table,
            self.tools,
        )
        self.busy_controls = [self.refresh, self.choice]
        self.refresh.on_click(lambda _b: self.load())
        self.choice.observe(lambda _c: self.load(), names="value")
        wanted = (
            None
            if app_ids is None
            else ([app_ids] if isinstance(app_ids, str) else [str(a) for a in app_ids])
        )
        if app_frame is not None:
            self._set_apps(app_frame, wanted)
        elif wanted is not None and not callable(getattr(source, "apps", None)):
            self.apps.options, self.apps.value = [(a, a) for a in wanted], tuple(wanted)
        else:
            self.run(self._list_apps, wanted)
        if autoload:
            self.load()

    def _set_apps(self, frame: pd.DataFrame, wanted: list[str] | None) -> None:
        options = [(f"{n} ({i})", str(i)) for i, n in zip(frame["id"], frame["name"], strict=False)]
        self.apps.options = options
        ids = [v for _, v in options]
        self.apps.value = tuple(a for a in (wanted or ids[:1]) if a in ids)

    def _list_apps(self, wanted: list[str] | None) -> None:
        self._set_apps(self.source.apps(), wanted)

    def load(self) -> None:
        """Compute the chosen view on the worker (returns at once; ``wait()`` joins it)."""
        self.run(self._load)

    def _make(self) -> V.View:
        apps = [str(a) for a in self.apps.value]
        if not apps:
            raise ASCError("Choose at least one app")
        if self.start.value is None or self.end.value is None or self.end.value < self.start.value:
            raise ASCError("Choose a start date on or before the end date")
        kw = {"start": self.start.value, "end": self.end.value}
        key, approx = self.choice.value, bool(self.approx.value)
        if key == "funnel":
            return V.funnel(self.source, apps, approx=approx, **kw)
        if key in ("previous", "last_year"):
            return V.compare_periods(self.source, apps, list(COMPARE), against=key, approx=approx, **kw)
        if key == "territories":
            return V.territories(self.source, apps, self.metric.value, **kw)
        if key == "session_cohorts":
            return V.session_cohorts(self.source, apps, approx=approx, **kw)
        return V.compare_apps(
            self.source, apps, ["impressions", "total_downloads", "sessions"], approx=approx, **kw
        )

    def _load(self) -> None:
        self.status.show("busy", "Computing…")
        with _WARNINGS_LOCK, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            view = self._make()
        self.chart.value = view.png()
        self.notes.value = (
            f'<div style="color: var(--jp-ui-font-color2);">{html.escape(view.notes_text())}</div>'
        )
        self.table.value = frame_html(view.frame, max_rows=30)
        self.view = view
        self.frame = view.frame
        gaps = sorted({str(c.message) for c in caught})
        self.status.show(
            "warn" if gaps else "ok", "\n".join([f"{view.title}: {len(view.frame)} rows", *gaps])
        )

    def _code(self) -> str:
        return self.view.code if self.view is not None else ""


def attach(dashboard: Any) -> None:
    """Add a "Views" tab to a Dashboard; its panel (``dashboard.views_panel``) is built when first opened."""
    box = w.VBox(
        [w.HTML("Open this tab to compute the funnel, period comparisons, territories and cohorts.")]
    )
    dashboard.views_panel = None
    tabs = dashboard.tabs
    tabs.children = (*tabs.children, box)
    index = len(tabs.children) - 1
    tabs.set_title(index, "Views")

    def opened(change: dict) -> None:
        if change["new"] == index and dashboard.views_panel is None:
            chosen = getattr(getattr(dashboard, "request_panel", None), "app", None)
            app = getattr(chosen, "value", None)
            dashboard.views_panel = ViewsPanel(dashboard.client, app, app_frame=dashboard.apps_frame)
            box.children = [dashboard.views_panel]

    tabs.observe(opened, names="selected_index")
