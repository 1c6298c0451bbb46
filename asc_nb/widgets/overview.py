"""Overview: App Analytics KPIs, the acquisition funnel and a breakdown, with the code behind each.

Why: analysts come for the numbers App Store Connect's App Analytics shows, not for report files.
Every view is a ``source.metrics(...)`` question plus a pure function of :mod:`asc_nb.metrics`, and
its ``.code`` is that text: run with ``client`` (or ``store``) bound, it leaves in ``df`` a frame
equal to the view's ``.frame`` (tests exec it). Over a Client the panel computes the same plan
through one shared loader per refresh, so the three views fetch each report once, not three times
(a Store reads its lake).

Values that are bounds rather than exact numbers (a unique count summed over days, a ratio over
it) are shown with ``≤`` / ``≥`` and named in the frame's ``bound`` column.

Each view is a :class:`~asc_nb.widgets._common.Panel`: its work runs on its own worker thread (the
kernel keeps answering), ``busy`` is true while it runs, ``wait()`` joins it, and errors land in its
status line, never as a traceback. The Overview is busy while any view is.
"""

from __future__ import annotations

import datetime as dt
import html
import io
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import ipywidgets as w
import pandas as pd

from asc_nb import metrics as M
from asc_nb import registry
from asc_nb.errors import ASCError

from . import charts
from ._common import Panel, Status, describe_error, frame_html, heading, now_utc

__all__ = ["Overview", "KpiCards", "FunnelPanel", "BreakdownPanel", "DEFAULT_KPIS"]

#: the cards, in order (conversion rate's parts are fetched with it; it is shown as a bound)
DEFAULT_KPIS = (
    "impressions",
    "product_page_views",
    "total_downloads",
    "conversion_rate",
    "sessions",
    "active_devices",
    "crashes",
)
_WARNINGS_LOCK = threading.Lock()


def _wrap() -> w.Layout:
    """A table and its chart side by side, the chart below when the panel is too narrow (never cut off)."""
    return w.Layout(flex_flow="row wrap")


DIMENSIONS = ("territory", "device", "source_type", "page_type", "platform_version")
BREAKDOWN_METRICS = (
    "impressions",
    "product_page_views",
    "total_downloads",
    "first_time_downloads",
    "redownloads",
    "sessions",
)


def label(name: str) -> str:
    """A metric or dimension in plain words for a person ("product_page_views" -> "Product page views")."""
    text = str(name).replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def default_window(source: Any, kpis: Iterable[str] = DEFAULT_KPIS) -> tuple[dt.date, dt.date]:
    """The default week: the last 7 days every KPI's report has completed (the dashboard's explorer uses it too)."""
    last = _today(source) - dt.timedelta(days=complete_after_days(kpis))
    return last - dt.timedelta(days=6), last


def complete_after_days(metrics: Iterable[str]) -> int:
    """Days after which every report behind ``metrics`` is complete (Apple's per-report windows, registry)."""
    reports = {
        r
        for name in M._expand(tuple(metrics))
        if M.METRICS[name].kind != "ratio"
        for r in M.METRICS[name].reports[:1]
    }
    return max((registry.get(r).complete_after_days for r in reports), default=0)


def _today(source: Any) -> dt.date:
    """The day the source's data ends at: a store's reference day (its newest processing date), else
    the sandbox's clock or the real date."""
    ref = getattr(source, "reference_day", None)
    return ref if isinstance(ref, dt.date) else now_utc(source).date()


def _answerable(source: Any, kpis: Sequence[str]) -> tuple[tuple[str, ...], list[str]]:
    """The KPIs a store's lake can answer (every report behind a KPI held), and the reports it lacks."""
    held_frame = source.reports() if callable(getattr(source, "reports", None)) else None
    if not isinstance(held_frame, pd.DataFrame) or "report" not in held_frame:
        return tuple(kpis), []
    held = set(held_frame["report"].astype(str))
    keep, lacking = [], []
    for name in kpis:
        parts = [p for p in M._expand((name,)) if M.METRICS[p].kind != "ratio"]
        missing = [M.METRICS[p].reports[0] for p in parts if not held & set(M.METRICS[p].reports)]
        if missing:
            lacking += [r for r in missing if r not in lacking]
        else:
            keep.append(name)
    return tuple(keep), lacking


def _source_name(source: Any) -> str:
    """The variable name the shown code uses for the source: ``client`` or ``store``."""
    return "store" if type(source).__name__.lower().endswith("store") else "client"


def _lit(values: Iterable[Any]) -> str:
    return "[" + ", ".join(repr(str(v)) for v in values) + "]"


def _fmt(value: Any, unit: str) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return "—"
    if unit == "fraction":
        return f"{float(value) * 100:.1f}%"
    if unit in ("sessions per device",):
        return f"{float(value):.2f}"
    if unit == "USD":
        return f"${float(value):,.2f}"
    return f"{float(value):,.0f}"


def _sign(bound: str) -> str:
    return {"upper bound": "≤ ", "lower bound": "≥ ", "bound": "≈ "}.get(bound or "", "")


def _png(draw: Callable[[Any], None], size: tuple[float, float], *, paper: str | None = None) -> bytes:
    """A PNG drawn by ``draw(ax)``: transparent, or on ``paper`` (charts with text: dark ink on their own white,
    which reads on light and dark themes alike)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    if paper is None:
        fig.patch.set_alpha(0)
        ax.set_facecolor("none")
    else:
        fig.set_facecolor(paper)
        ax.set_facecolor(paper)
    draw(ax)
    fig.tight_layout(pad=0.2)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", transparent=paper is None, facecolor=fig.get_facecolor())
    return buf.getvalue()


def sparkline_png(values: Sequence[float]) -> bytes:
    def draw(ax: Any) -> None:
        ax.plot(range(len(values)), values, color="#3b8fd9", lw=1.5)
        ax.axis("off")

    return _png(draw, (1.8, 0.45))


def bars_png(
    labels: Sequence[str], values: Sequence[float], *, title: str = "", horizontal: bool = False
) -> bytes:
    ink = charts.INK

    def draw(ax: Any) -> None:
        if horizontal:
            ax.barh(list(labels)[::-1], list(values)[::-1], color="#3b8fd9")
        else:
            ax.bar(list(labels), list(values), color="#3b8fd9")
            ax.tick_params(axis="x", rotation=30)
        ax.set_title(title, color=ink, fontsize=9)
        ax.tick_params(colors=ink, labelsize=8)
        (ax.xaxis if horizontal else ax.yaxis).set_major_formatter(charts._thousands())
        for spine in ax.spines.values():
            spine.set_color(ink)

    return _png(draw, (5.5, 2.4), paper=charts.PAPER)


class _View(Panel):
    """One view of the Overview: its own worker (``busy``/``wait``), frame, code, Show code and Export."""

    def __init__(
        self, title: str, body: list[w.Widget], *, source: Any = None, export_name: str = ""
    ) -> None:
        self._code_text = ""
        self._export_name = export_name
        self.status = Status()
        super().__init__([], client=source)
        self.children = (heading(title), *body, self.status, self.tools)

    def _code(self) -> str:
        return self._code_text

    def default_export_name(self) -> str:
        return self._export_name or super().default_export_name()

    def set_result(self, frame: pd.DataFrame, code: str) -> None:
        """Publish a result: the code first, so whoever sees the new frame sees its code."""
        self._code_text = code
        self.error = None
        self.frame = frame


class KpiCards(_View):
    """One card per KPI: the period's value (≤/≥ when a bound), change vs the previous period, a sparkline."""

    def __init__(self, source: Any = None) -> None:
        self.cards = w.HBox(layout=w.Layout(flex_flow="row wrap"))
        self.daily: pd.DataFrame | None = None
        super().__init__("Key metrics", [self.cards], source=source, export_name="kpis.csv")

    def card_text(self) -> dict[str, str]:
        """metric (or ``app_id/metric``) -> the text of its card's value line: what a user reads."""
        out: dict[str, str] = {}
        if self.frame is None:
            return out
        for _, row in self.frame.iterrows():
            key = row["metric"] if "app_id" not in self.frame else f"{row['app_id']}/{row['metric']}"
            out[str(key)] = _sign(row["bound"]) + _fmt(row["value"], row["unit"])
        return out

    def render(self, summary: pd.DataFrame, daily: pd.DataFrame, app_names: dict[str, str]) -> None:
        self.daily = daily
        boxes = []
        for _, row in summary.iterrows():
            name, unit = str(row["metric"]), str(row["unit"])
            app = row["app_id"] if "app_id" in summary else None
            change = row["change"]
            if change is pd.NA or change is None:
                delta, colour = "no previous period", "var(--jp-ui-font-color2)"
            else:
                delta = f"{'▲' if change >= 0 else '▼'} {abs(float(change)) * 100:.1f}% vs previous"
                colour = "var(--jp-success-color1)" if change >= 0 else "var(--jp-error-color1)"
            bound = str(row["bound"] or "")
            note = (
                f'<div style="font-size: 10px; color: var(--jp-warn-color1);">{bound}</div>' if bound else ""
            )
            who = (
                f"<div style='font-size: 10px;'>{html.escape(app_names.get(str(app), str(app)))}</div>"
                if app
                else ""
            )
            text = w.HTML(
                f'<div class="asc-nb-kpi" data-metric="{html.escape(name)}" style="padding: 2px 6px;">'
                f"{who}<div class='asc-nb-kpi-label' title='{html.escape(name)}' "
                f"style='font-size: 11px; color: var(--jp-ui-font-color2);'>{html.escape(label(name))}</div>"
                f"<div class='asc-nb-kpi-value' style='font-size: 20px; font-weight: 600;'>"
                f"{html.escape(_sign(bound) + _fmt(row['value'], unit))}</div>"
                f"<div style='font-size: 11px; color: {colour};'>{html.escape(delta)}</div>{note}</div>"
            )
            series = self._series(daily, name, app)
            spark = w.Image(value=sparkline_png(series), format="png") if len(series) > 1 else w.HTML()
            boxes.append(
                w.VBox(
                    [text, spark],
                    layout=w.Layout(
                        border="1px solid var(--jp-border-color2)", margin="3px", padding="3px", width="190px"
                    ),
                )
            )
        self.cards.children = boxes

    @staticmethod
    def _series(daily: pd.DataFrame, name: str, app: Any) -> list[float]:
        rows = daily if app is None or "app_id" not in daily else daily[daily["app_id"] == app]
        m = M.METRICS[name]
        if m.kind == "ratio":
            num = rows[m.numerator].astype("Float64")
            den = rows[m.denominator].astype("Float64")
            col = num / den.where(den != 0)
        else:
            col = rows[name].astype("Float64")
        return [float("nan") if v is pd.NA else float(v) for v in col.tolist()]


class FunnelPanel(_View):
    """Impressions → product page views → total downloads over the period, with step rates."""

    def __init__(self, source: Any = None) -> None:
        self.table = w.HTML()
        self.chart = w.Image(format="png", layout=w.Layout(max_width="560px"))
        super().__init__(
            "Acquisition funnel",
            [w.HBox([self.table, self.chart], layout=_wrap())],
            source=source,
            export_name="funnel.csv",
        )

    def render(self, frame: pd.DataFrame) -> None:
        shown = frame.astype("object").copy()
        shown["step"] = [label(s) for s in frame["step"]]
        shown["value"] = [_fmt(v, "count") for v in frame["value"]]
        for c in ("of_previous", "of_first"):
            shown[c] = [_fmt(v, "fraction") for v in frame[c]]
        shown = shown.rename(
            columns={
                "step": "Step",
                "value": "Value",
                "of_previous": "Of the step before",
                "of_first": "Of the first step",
            }
        )  # the frame keeps its column names
        self.table.value = frame_html(shown)
        vals = [0.0 if v is pd.NA else float(v) for v in frame["value"].tolist()]
        self.chart.value = bars_png([label(s) for s in frame["step"]], vals, title="Funnel", horizontal=True)


class BreakdownPanel(_View):
    """One metric split by one dimension: the top N values and the rest as "Other", as table and chart."""

    def __init__(self, source: Any = None) -> None:
        self.dimension = w.Dropdown(
            options=[(label(d), d) for d in DIMENSIONS], value="territory", description="By"
        )
        self.metric = w.Dropdown(
            options=[(label(m), m) for m in BREAKDOWN_METRICS], value="impressions", description="Metric"
        )
        self.top = w.BoundedIntText(
            value=5, min=1, max=50, description="Top N", layout=w.Layout(width="160px")
        )
        self.table = w.HTML()
        self.chart = w.Image(format="png", layout=w.Layout(max_width="560px"))
        super().__init__(
            "Breakdown",
            [
                w.HBox([self.metric, self.dimension, self.top]),
                w.HBox([self.table, self.chart], layout=_wrap()),
            ],
            source=source,
            export_name="breakdown.csv",
        )

    def render(self, frame: pd.DataFrame, dimension: str, metric: str) -> None:
        shown = frame.astype("object").copy()
        shown[metric] = [_fmt(v, M.METRICS[metric].unit) for v in frame[metric]]
        shown["share"] = [_fmt(v, "fraction") for v in frame["share"]]
        shown = shown.rename(columns={c: label(c) for c in shown.columns})
        self.table.value = frame_html(shown)
        vals = [0.0 if v is pd.NA else float(v) for v in frame[metric].tolist()]
        self.chart.value = bars_png(
            [str(x) for x in frame[dimension]], vals, title=f"{label(metric)} by {label(dimension).lower()}"
        )


class Overview(Panel):
    """KPI cards, funnel and breakdown for the chosen apps and dates, over a Client or a Store.

    Controls: ``.apps`` (SelectMultiple of app ids), ``.start``/``.end`` (DatePickers), ``.refresh``;
    the breakdown's ``.breakdown.dimension`` / ``.metric`` / ``.top`` reload only the breakdown.
    State: ``.kpis``, ``.funnel``, ``.breakdown`` (each a panel with its own worker, ``.frame``,
    ``.code``, ``.export(path)``); ``.frame``/``.code`` are the KPI cards'; ``busy`` while the apps
    are listed or any view loads; ``wait(timeout)`` joins them all. Without ``app_frame`` (an ``apps()``
    listing already at hand, which saves the call) the constructor returns at once — the picker holds
    the given ``app_ids`` (or nothing yet) and the status says the apps are loading — and the listing
    runs on the Overview's worker, then names the apps, picks the first when ``app_ids`` is None, and
    only then loads the views; an error while listing lands in the status line. ``kpis``
    defaults to :data:`DEFAULT_KPIS` — over a Store, those its lake can answer — and the default window
    ends at the source's last complete day (a store's :attr:`~asc_nb.Store.reference_day`).
    """

    def __init__(
        self,
        source: Any,
        app_ids: str | Iterable[str] | None = None,
        *,
        kpis: Sequence[str] | None = None,
        start: Any = None,
        end: Any = None,
        autoload: bool = True,
        app_frame: pd.DataFrame | None = None,
    ) -> None:
        self.source = source
        self.var = _source_name(source)
        lacking: list[str] = []
        if (
            kpis is None and self.var == "store"
        ):  # the default cards a lake can fill; say which reports it lacks
            kpis, lacking = _answerable(source, DEFAULT_KPIS)
        self.kpi_names = tuple(DEFAULT_KPIS if kpis is None else kpis)
        #: reports a store lacks for the default cards (those cards are left out; the status line says so)
        self.lacking = lacking
        unknown = [k for k in self.kpi_names if k not in M.METRICS]
        if unknown:
            raise ASCError(f"Unknown KPI metric(s): {', '.join(unknown)}; see asc_nb.metric_catalog()")
        # ``app_frame``: an apps listing the caller already has (the dashboard's): opening the tab makes no call.
        # Else a source that lists apps is asked on the worker (below); one that cannot (a Store) names none.
        self._app_ids = (
            None
            if app_ids is None
            else ((app_ids,) if isinstance(app_ids, str) else tuple(str(a) for a in app_ids))
        )
        self._closed = False
        self._apps_problem = ""  # why the apps could not be listed, kept in the status after loads
        list_later = app_frame is None and callable(getattr(source, "apps", None))
        if app_frame is None:
            app_frame = pd.DataFrame(columns=["id", "name"])
        self.app_frame = app_frame
        options, chosen = self._app_options(app_frame)
        # by default the last 7 days every KPI's report has completed (Sessions/Crashes: five days)
        last = M._day(end, "end") if end is not None else default_window(source, self.kpi_names)[1]
        first = M._day(start, "start") if start is not None else last - dt.timedelta(days=6)
        self.apps = w.SelectMultiple(
            options=options, value=chosen, description="Apps", rows=min(4, len(options) or 1)
        )
        self.start = w.DatePicker(value=first, description="From")
        self.end = w.DatePicker(value=last, description="To")
        self.refresh = w.Button(description="Refresh", icon="refresh", button_style="primary")
        self.status = Status()
        self.progress = w.IntProgress(value=0, min=0, max=3, layout=w.Layout(width="200px"))
        self.kpis = KpiCards(source)
        self.funnel = FunnelPanel(source)
        self.breakdown = BreakdownPanel(source)
        self._views = (self.kpis, self.funnel, self.breakdown)
        self._lock = threading.Lock()
        self._round: dict[str, Any] = {"left": 0, "failed": 0, "sel": None}
        self._cache: M.CachingLoader | None = None
        self._cache_key: tuple[Any, ...] | None = None
        super().__init__(
            [
                heading("App Analytics overview"),
                w.HBox([self.apps, w.VBox([self.start, self.end]), w.VBox([self.refresh, self.progress])]),
                self.status,
                self.kpis,
                self.funnel,
                self.breakdown,
            ],
            client=source,
        )
        # stable hooks for browser tests and user CSS
        self.add_class("asc-nb-overview")
        for widget, name in (
            (self.apps, "apps"),
            (self.start, "start"),
            (self.end, "end"),
            (self.refresh, "refresh"),
            (self.status, "status"),
            (self.kpis, "kpis"),
            (self.funnel, "funnel"),
            (self.breakdown, "breakdown"),
        ):
            widget.add_class(f"asc-nb-overview-{name}")
        for view in self._views:
            view.observe(self._view_busy, names="busy")
        self.kpis.observe(lambda c: setattr(self, "frame", c["new"]), names="frame")
        self.refresh.on_click(lambda _b: self.load())
        for control in (self.breakdown.dimension, self.breakdown.metric, self.breakdown.top):
            control.observe(lambda _c: self.load(parts=("breakdown",)), names="value")
        if list_later:
            self.status.show("busy", "Loading the apps…")
            self.run(self._list_apps, autoload)
        elif autoload:
            self.load()

    def follow_clock(self) -> None:
        """The window, same length, moved to end at the source's last complete day (after the sandbox's clock
        moved), and every view reloaded: cards never show a window the date fields no longer say."""
        length = (
            (self.end.value - self.start.value)
            if self.start.value and self.end.value
            else dt.timedelta(days=6)
        )
        last = default_window(self.source, self.kpi_names)[1]
        self.start.value, self.end.value = last - length, last
        self.load()

    def __repr__(self) -> str:
        return (
            f"Overview(apps={[str(a) for a in self.apps.value]}, start={self.start.value}, end={self.end.value}, "
            f"kpis={list(self.kpi_names)})"
        )

    # ------------------------------------------------------------------ state

    def _code(self) -> str:
        return self.kpis.code

    def _view_busy(self, _change: dict | None = None) -> None:
        self._on_busy()

    def _on_busy(self, _change: dict | None = None) -> None:
        """Busy while the apps are listed (this panel's own worker) or any view loads."""
        want = self._pending > 0 or any(v.busy for v in self._views)
        if self.busy != want:
            self.busy = want  # observed again: the controls follow then
            return
        self.refresh.disabled = self.busy
        super()._on_busy()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the apps are listed and every view has finished loading (or ``timeout`` s); True when idle."""
        deadline = None if timeout is None else time.monotonic() + timeout
        # the listing first: it queues the views' first load before it finishes
        for panel in (super(), *self._views):
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not panel.wait(left):
                return False
        return True

    def _app_options(self, frame: pd.DataFrame) -> tuple[list[tuple[str, str]], tuple[str, ...]]:
        """Name the apps of ``frame`` (``app_names``) and return the picker's options and choice."""
        self.app_names = {str(r["id"]): str(r.get("name", r["id"])) for _, r in frame.iterrows()}
        options = [(f"{name} ({i})", i) for i, name in self.app_names.items()]
        if self._app_ids is None:
            return options, tuple(v for _, v in options[:1])
        for a in self._app_ids:
            if a not in self.app_names:
                options.append((a, a))
                self.app_names[a] = a
        return options, self._app_ids

    def _list_apps(self, autoload: bool) -> None:
        """On the worker: list the apps, fill the picker, then (``autoload``) load the views."""
        try:
            frame = self.source.apps()
        except Exception as exc:  # shown in the panel; the caller's ids (if any) are still loaded
            self.error = exc
            self._apps_problem = f"Could not list the apps. {describe_error(exc)}"
            self.status.show("error", self._apps_problem)
            if not (autoload and self._app_ids) or self._closed:
                return
        else:
            self.app_frame = frame
            options, chosen = self._app_options(frame)
            if self._app_ids is not None and self.apps.value:
                chosen = tuple(self.apps.value)  # the choice already shown (maybe changed meanwhile) stays
            self.apps.options = options
            self.apps.value = chosen
            self.apps.rows = min(4, len(options) or 1)
            self.status.show("info", f"{len(frame)} apps listed.")
            if self._closed:
                return
        if autoload:
            self.load()

    def selection(self) -> dict[str, Any]:
        """What the controls say now (a job reads only this snapshot)."""
        apps = [str(a) for a in self.apps.value]
        if not apps:
            raise ASCError("Choose at least one app")
        if self.start.value is None or self.end.value is None:
            raise ASCError("Choose both a start and an end date")
        if self.end.value < self.start.value:
            raise ASCError(f"The end date ({self.end.value}) is before the start date ({self.start.value})")
        return {
            "apps": apps,
            "start": self.start.value,
            "end": self.end.value,
            "dimension": self.breakdown.dimension.value,
            "metric": self.breakdown.metric.value,
            "top": int(self.breakdown.top.value),
        }

    # ------------------------------------------------------------------ code for each view

    def kpi_code(self, sel: dict[str, Any]) -> str:
        start, end = sel["start"], sel["end"]
        prev_start = start - dt.timedelta(days=(end - start).days + 1)
        names = list(M._expand(self.kpi_names))
        plot_cols = _lit(self.kpi_names)
        plot = (
            f'daily.set_index("date")[{plot_cols}].astype("float").plot(subplots=True, figsize=(8, 12))'
            if len(sel["apps"]) == 1
            else f'daily.pivot(index="date", columns="app_id", values={_lit(self.kpi_names)}).astype("float")'
            f".plot(subplots=True, figsize=(8, 16))"
        )
        return (
            "import asc_nb\n"
            f"daily = {self.var}.metrics({_lit(sel['apps'])}, {_lit(names)}, by=('date',),\n"
            f"    start={prev_start.isoformat()!r}, end={end.isoformat()!r}, approx=True)\n"
            f"{plot}\n"
            f"df = asc_nb.metrics.kpi_summary(daily, {_lit(self.kpi_names)}, start={start.isoformat()!r}, "
            f"end={end.isoformat()!r})\n"
        )

    def funnel_code(self, sel: dict[str, Any]) -> str:
        return (
            "import asc_nb\n"
            f"totals = {self.var}.metrics({_lit(sel['apps'])}, {_lit(M.FUNNEL_STEPS)}, by=(),\n"
            f"    start={sel['start'].isoformat()!r}, end={sel['end'].isoformat()!r})\n"
            "df = asc_nb.metrics.funnel(totals)\n"
            'df.plot.barh(x="step", y="value")\n'
        )

    def breakdown_code(self, sel: dict[str, Any]) -> str:
        dim, metric = sel["dimension"], sel["metric"]
        return (
            "import asc_nb\n"
            f"rows = {self.var}.metrics({_lit(sel['apps'])}, [{metric!r}], by=({dim!r},),\n"
            f"    start={sel['start'].isoformat()!r}, end={sel['end'].isoformat()!r})\n"
            f"df = asc_nb.metrics.top_n(rows, {dim!r}, {metric!r}, n={sel['top']})\n"
            f"df.plot.bar(x={dim!r}, y={metric!r})\n"
        )

    # ------------------------------------------------------------------ work

    def load(self, parts: Sequence[str] = ("kpis", "funnel", "breakdown")) -> None:
        """Reload the named views, each on its own worker (returns at once; ``wait()`` to join).

        While the apps are still being listed, the load is queued behind the listing (it reads the
        picker the listing fills).
        """
        if self._pending and threading.current_thread() is not self._thread:
            self.run(self.load, parts)
            return
        try:
            sel = self.selection()
        except ASCError as exc:
            self.status.show("error", str(exc))
            return
        with self._lock:
            self._round = {"left": len(parts), "failed": 0, "sel": sel}
            self.progress.max, self.progress.value = len(parts), 0
            key = (tuple(sel["apps"]), sel["start"], sel["end"])
            if (
                "kpis" in parts or key != self._cache_key
            ):  # a refresh reads new data; a breakdown change reuses it
                self._cache_key = key
                self._cache = self._new_cache(sel)
        self.status.show(
            "busy", f"Loading {', '.join(parts)} for {', '.join(sel['apps'])}, {sel['start']} – {sel['end']}…"
        )
        for part in parts:
            view = getattr(self, part)
            view.status.show("busy", "Loading…")
            view.run(self._job, part, sel, self._round)

    def _job(self, part: str, sel: dict[str, Any], round_: dict[str, Any]) -> None:
        view = getattr(self, part)
        ok = False
        try:
            # catch_warnings swaps process-wide state: views on several threads must take turns, or
            # their exits would restore each other's filters out of order
            with _WARNINGS_LOCK, warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                getattr(self, f"_load_{part}")(sel)
            if caught:
                view.status.show("warn", "\n".join(sorted({str(c.message) for c in caught})))
            elif view.frame is not None and view.frame.attrs.get("approximate"):
                view.status.show(
                    "ok",
                    "Bounds are marked ≤ / ≥: unique counts summed over days or rows "
                    "can only bound the true number",
                )
            else:
                view.status.show("ok", "Up to date")
            if part == "kpis" and self.lacking:
                view.status.show(
                    view.status.level,
                    view.status.text + f"\nNo cards from {', '.join(self.lacking)}: "
                    "the store holds none (add them to store.sync(reports=...))",
                )
            ok = True
        finally:
            self._finished(round_, ok)

    def _finished(self, round_: dict[str, Any], ok: bool) -> None:
        with self._lock:
            if round_ is not self._round:  # a newer load started: its own count rules
                return
            round_["left"] -= 1
            round_["failed"] += 0 if ok else 1
            self.progress.value = self.progress.max - round_["left"]
            if round_["left"]:
                return
            sel = round_["sel"]
        note = f"\n{self._apps_problem}" if self._apps_problem else ""
        if round_["failed"]:
            self.status.show("error", f"{round_['failed']} view(s) failed: see their messages below{note}")
        else:
            self.status.show(
                "warn" if note else "ok",
                f"{', '.join(self.app_names.get(a, a) for a in sel['apps'])}: "
                f"{sel['start']} – {sel['end']}{note}",
            )

    def _new_cache(self, sel: dict[str, Any]) -> M.CachingLoader | None:
        """One fetch per report for all three views of a refresh (a Client source; a Store reads its lake)."""
        if not (
            callable(getattr(self.source, "fetch", None))
            and callable(getattr(self.source, "report_requests", None))
        ):
            return None
        start, end = sel["start"], sel["end"]
        prev_start = start - dt.timedelta(days=(end - start).days + 1)
        return M.CachingLoader(M.ClientLoader(self.source), window=(prev_start, end))

    def _metrics(self, apps: list[str], metrics: Sequence[str], **kwargs: Any) -> pd.DataFrame:
        """``source.metrics(apps, metrics, **kwargs)`` — the same computation, sharing loads between views."""
        cache = self._cache
        if cache is None:
            return self.source.metrics(apps, list(metrics), **kwargs)
        return M.compute(M.plan(apps, list(metrics), **kwargs), cache)

    def _load_kpis(self, sel: dict[str, Any]) -> None:
        code = self.kpi_code(sel)
        start, end = sel["start"], sel["end"]
        prev_start = start - dt.timedelta(days=(end - start).days + 1)
        daily = self._metrics(
            sel["apps"],
            M._expand(self.kpi_names),
            by=("date",),
            start=prev_start.isoformat(),
            end=end.isoformat(),
            approx=True,
        )
        summary = M.kpi_summary(daily, self.kpi_names, start=start.isoformat(), end=end.isoformat())
        self.kpis.render(summary, daily, self.app_names)
        self.kpis.set_result(summary, code)

    def _load_funnel(self, sel: dict[str, Any]) -> None:
        totals = self._metrics(
            sel["apps"], M.FUNNEL_STEPS, by=(), start=sel["start"].isoformat(), end=sel["end"].isoformat()
        )
        frame = M.funnel(totals)
        self.funnel.render(frame)
        self.funnel.set_result(frame, self.funnel_code(sel))

    def _load_breakdown(self, sel: dict[str, Any]) -> None:
        dim, metric = sel["dimension"], sel["metric"]
        rows = self._metrics(
            sel["apps"], [metric], by=(dim,), start=sel["start"].isoformat(), end=sel["end"].isoformat()
        )
        frame = M.top_n(rows, dim, metric, n=sel["top"])
        self.breakdown.render(frame, dim, metric)
        self.breakdown.set_result(frame, self.breakdown_code(sel))

    def close(self) -> None:
        self._closed = True  # a listing still running loads no view after this
        for view in self._views:
            view.close()
        super().close()
