"""Follow a request to data: category → report → granularity + dates → instances → download → chart + grid.

The dates are data dates (the report's ``Date`` column), as in ``client.fetch``: the instances
listed are those processed from the start date up to a few days after the end date, because
later instances carry late rows and corrections for earlier dates.

Every API call runs on the panel's worker thread (see ``_common.Panel``): the kernel keeps
answering, the controls that must not be clicked are disabled, a Retry-After shows as a countdown,
and a download can be cancelled. The frame is exactly what ``client.fetch`` returns (``.code`` is
that call); the chart plots a metric from it (``.chart_data``, see :mod:`asc_nb.widgets.charts`).
"""

from __future__ import annotations

import html
import inspect
import math
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import ipywidgets as w
import pandas as pd
import traitlets

from asc_nb.errors import DownloadCancelled, MissingDatesWarning, NonAdditiveMetricError
from asc_nb.protocols import WidgetClient
from asc_nb.registry import describe_report

from . import charts
from ._common import (
    Panel,
    Status,
    describe_error,
    enum_text,
    frame_html,
    heading,
    heading_html,
    now_utc,
    set_options,
    value_of,
)

#: the widest default date window (history starts 2024-01-01; instances live 35 days)
MAX_DAYS = 3660
#: above this share of the hourly budget a download asks for confirmation first
CONFIRM_SHARE = 0.05
#: Apple's documented hourly budget when no response has said otherwise yet
DEFAULT_HOURLY_LIMIT = 3600
#: instances Apple returns per page (the listing costs one call per page)
PAGE = 200
#: grid: rows shipped to the browser at most (the rest is one Export away)
GRID_MAX_BYTES = "4MB"
#: Apple keeps an instance 35 days
RETENTION_DAYS = 35
#: when a report has not been chosen yet: how to get somewhere
EMPTY_HELP = (
    "No request is open here yet. In the Requests tab choose an app and a request, then press "
    "Explore reports (or in code: dash.explore(request_id)). No request yet? Create one in the Request tab."
)
#: the report list starts with the categories analysts use most: App Store commerce (downloads, purchases) and
#: engagement, then App Usage (Apple's category values; COMMERCE is how the API spells App Store Commerce)
CATEGORY_ORDER = (
    "COMMERCE",
    "APP_STORE_COMMERCE",
    "APP_STORE_ENGAGEMENT",
    "APP_USAGE",
    "FRAMEWORK_USAGE",
    "PERFORMANCE",
)
VIEW_OPTIONS = [("As downloaded", ""), ("Per week", "WEEKLY"), ("Per month", "MONTHLY")]


def _iso(d: date | None) -> str | None:
    return d.isoformat() if d else None


class _Meter:
    """The download's progress in honest words: segments are listed instance by instance while the download runs,
    so until every instance is listed the total is a floor ("24+") and the percentage an estimate from the
    instances listed so far; at Cancel the numbers freeze.
    """

    def __init__(self, instances: int) -> None:
        self.instances = instances
        self.lock = threading.Lock()
        self.pct = 0
        self.calls = 0
        self.done = self.planned = self.bytes = 0
        self.listed = 0

    def update(self, done: int, planned: int, nbytes: int) -> tuple[int, str]:
        """One callback: each is one event (an instance listed or a segment done), so listed = calls - done."""
        self.calls += 1
        self.done, self.planned, self.bytes = done, planned, nbytes
        self.listed = min(self.instances, max(self.listed, self.calls - done)) if self.instances else 0
        listed_all = not self.instances or self.listed >= self.instances
        total = planned if listed_all or not self.listed else planned * self.instances / self.listed
        self.pct = min(99, max(self.pct, math.floor(100 * done / max(total, 1))))
        if listed_all:
            text = f"{self.pct}% · {done} of {planned} segments · {nbytes / 1e6:,.1f} MB"
        else:
            text = (
                f"about {self.pct}% · {done} of {planned}+ segments · {self.listed} of {self.instances} "
                f"instances listed · {nbytes / 1e6:,.1f} MB"
            )
        return self.pct, text

    def all_in(self) -> bool:
        listed_all = not self.instances or self.listed >= self.instances
        return listed_all and self.planned > 0 and self.done >= self.planned

    def cancelled(self) -> str:
        more = "" if not self.instances or self.listed >= self.instances else "+"
        return (
            f"Cancelled after {self.done} of {self.planned}{more} segments ({self.bytes / 1e6:,.1f} MB); "
            "this download's table was not built"
        )


@dataclass(frozen=True)
class _Job:
    """One download: what was chosen when it was clicked (the worker reads nothing else)."""

    request_id: str
    report: str
    granularity: str
    start: str | None
    end: str | None


class ReportsExplorer(Panel):
    """Browse one request's reports and pull a date range into a DataFrame, a chart and a grid.

    Controls: ``.category``, ``.search``, ``.report`` (a report id), ``.granularity``, ``.start``,
    ``.end``, ``.list_instances``, ``.download``, ``.cancel``, ``.measure``, ``.breakdown``, ``.top``,
    ``.view``; "Show code" / "Export" (``.show_code``, ``.export_path``, ``.export_button``).
    State: ``.reports`` and ``.instances`` (DataFrames), ``.frame`` (the downloaded data, equal to
    ``client.fetch(...)``), ``.chart_data`` (the frame behind the chart), ``.figure`` (the chart itself, drawn by
    :func:`asc_nb.widgets.plot_chart`, which ``.code`` calls too), ``.estimate`` (calls and budget share of the next
    download), ``.progress`` (0–100), ``.result``, ``.error``, ``.busy``. ``window``: a callable giving the
    default (start, end) dates (the dashboard passes the Overview's week); else the last ``days`` days.
    """

    request_id = traitlets.Unicode(None, allow_none=True)
    reports = traitlets.Instance(pd.DataFrame, allow_none=True)
    instances = traitlets.Instance(pd.DataFrame, allow_none=True)
    chart_data = traitlets.Instance(pd.DataFrame, allow_none=True)
    estimate = traitlets.Dict(allow_none=True, default_value=None)
    result = traitlets.Any(None)

    def __init__(
        self,
        client: WidgetClient,
        request_id: str | None = None,
        *,
        days: int = 7,
        app_names: dict[str, str] | None = None,
        window: Callable[[], tuple[date, date]] | None = None,
    ) -> None:
        if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= MAX_DAYS:
            raise ValueError(f"days must be a whole number of days from 1 to {MAX_DAYS}; got {days!r}")
        self.client = client
        self.days = days
        #: the default (start, end) when given (the dashboard passes the Overview's week), else the last ``days``
        self.window = window
        #: app id -> name (the dashboard shares its listing; else one call per request opened)
        self.app_names: dict[str, str] = dict(app_names or {})
        self.request_info: dict[str, Any] = {}
        first, last = self._default_dates()
        self.title = heading("Reports")
        self.hint = w.HTML(_muted(EMPTY_HELP))
        self.category = w.Dropdown(options=[("All categories", "")], value="", description="Category")
        self.search = w.Text(
            placeholder="filter reports by name", description="Search", continuous_update=True
        )
        self.count = w.HTML()
        self.report = w.Dropdown(options=[], description="Report", layout=w.Layout(width="520px"))
        self.fields = w.HTML()
        self.fields_box = w.Accordion(children=[self.fields])
        self.fields_box.set_title(0, "Fields of this report")
        self.fields_box.selected_index = None
        self.granularity = w.ToggleButtons(
            options=["DAILY", "WEEKLY", "MONTHLY"], value="DAILY", description="Granularity"
        )
        self.start = w.DatePicker(value=first, description="Dates from")
        self.end = w.DatePicker(value=last, description="to")
        self.list_instances = w.Button(description="List instances", icon="list")
        self.instances_table = w.HTML()
        self.estimate_line = w.HTML()
        self.download = w.Button(description="Download", icon="download", button_style="primary")
        self.cancel = w.Button(description="Cancel", icon="stop", disabled=True, tooltip="Stop the download")
        self.confirm = w.Button(description="Yes, download", icon="check", button_style="warning")
        self.not_now = w.Button(description="Not now", icon="times")
        self.confirm_text = w.HTML()
        self.confirm_box = w.HBox([self.confirm_text, self.confirm, self.not_now])
        self.confirm_box.layout.display = "none"
        self.progress = w.IntProgress(value=0, min=0, max=100, description="Download")
        self.progress_text = w.HTML()
        self.status = Status()
        self.summary = w.HTML()
        self.measure = w.Dropdown(options=[], description="Measure", layout=w.Layout(width="420px"))
        self.breakdown = w.Dropdown(options=[("None", "")], value="", description="Break down")
        self.top = w.BoundedIntText(value=5, min=1, max=20, description="Top", layout=w.Layout(width="140px"))
        self.view = w.ToggleButtons(options=VIEW_OPTIONS, value="", description="View")
        self.chart_controls = w.VBox([w.HBox([self.measure, self.breakdown, self.top]), self.view])
        self.chart_controls.layout.display = "none"
        self.chart_note = w.HTML()
        self.plot = w.Image(format="png", layout=w.Layout(max_width="760px"))
        self.plot.layout.display = "none"
        #: the matplotlib Figure behind the chart (``charts.plot_chart``), ``None`` when none is drawn
        self.figure: Any = None
        self.grid_box = w.VBox([])
        self.grid_box.add_class("asc-nb-grid")
        self.grid: Any = None
        self._cancel_event = threading.Event()
        self._meter = _Meter(0)
        self._job: _Job | None = None
        self._plan: tuple[_Job, Any] | None = None
        super().__init__(
            [
                self.title,
                self.hint,
                w.HBox([self.category, self.search, self.count]),
                self.report,
                self.fields_box,
                self.granularity,
                w.HBox([self.start, self.end, self.list_instances]),
                self.instances_table,
                self.estimate_line,
                w.HBox([self.download, self.cancel, self.progress, self.progress_text]),
                self.confirm_box,
                self.status,
                self.summary,
                self.chart_controls,
                self.chart_note,
                self.plot,
                self.grid_box,
            ],
            client=client,
        )
        self.children = (*self.children, self.tools)
        self.busy_controls = [
            self.category,
            self.search,
            self.report,
            self.granularity,
            self.start,
            self.end,
            self.list_instances,
            self.confirm,
            self.not_now,
        ]
        self.add_class("asc-nb-explorer")  # a stable hook for browser tests and user CSS
        self.category.observe(self._refilter, names="value")
        self.search.observe(self._refilter, names="value")
        self.report.observe(self._on_report, names="value")
        self.granularity.observe(self._on_choice, names="value")
        self.start.observe(self._on_choice, names="value")
        self.end.observe(self._on_choice, names="value")
        for control in (self.measure, self.breakdown, self.top, self.view):
            control.observe(self._redraw, names="value")
        self.list_instances.on_click(lambda _b: self.run(self.find_instances))
        self.download.on_click(lambda _b: self.start_download())
        self.cancel.on_click(lambda _b: self.cancel_download())
        self.confirm.on_click(lambda _b: self.start_download(confirmed=True))
        self.not_now.on_click(self._on_not_now)
        self._sync_controls()
        if request_id is not None:
            self.load(request_id)

    def _default_dates(self) -> tuple[date, date]:
        """``window()`` when given, else the last ``days`` days up to yesterday (today's rows come tomorrow)."""
        if self.window is not None:
            return self.window()
        last = now_utc(self.client).date() - timedelta(days=1)
        return last - timedelta(days=self.days - 1), last

    def follow_clock(self) -> None:
        """Move the date fields to the last ``days`` days of the (sandbox's) clock."""
        self.start.value, self.end.value = self._default_dates()

    def __repr__(self) -> str:
        n = 0 if self.reports is None else len(self.reports)
        return f"ReportsExplorer(request_id={self.request_id!r}, reports={n})"

    # ------------------------------------------------------------------ choosing

    def load(self, request_id: str) -> pd.DataFrame | None:
        """Open ``request_id`` and list its reports (category and search filter them locally).

        Called from code it runs here and returns the reports; the dashboard queues it on the worker.
        """
        self.settle()
        self._clear_request()
        self.request_id = str(request_id)
        self.hint.layout.display = "none"
        self.title.value = heading_html(f"Reports of request {request_id}")
        self.status.show("busy", "Listing the request's reports…")
        self._load(str(request_id))
        return self.reports

    def forget_request(self, why: str) -> None:
        """The open request is gone (deleted): show the empty state, not its reports."""
        self.settle()
        self._clear_request()
        self.request_id = None
        self.title.value = heading_html("Reports")
        self.hint.layout.display = None
        self.status.show("info", why)

    def _clear_request(self) -> None:
        self.reports = None
        self.request_info = {}
        self.category.options = [("All categories", "")]
        self.category.value = ""
        self.search.value = ""
        set_options(self.report, [])
        self._clear_downstream()
        self.count.value = ""

    def _load(self, request_id: str) -> None:
        try:
            req = self.client.report_request(request_id)
            app_id = str(value_of(req, "app_id") or "")
            if app_id and app_id not in self.app_names:
                self.app_names[app_id] = str(value_of(self.client.app(app_id), "name"))
            reports = self.client.reports(request_id)
        except Exception as exc:  # shown in the panel
            if self.request_id == request_id:
                self.error = exc
                self.status.show("error", f"Could not list reports. {describe_error(exc)}")
            return
        if self.request_id != request_id:
            return  # another request was opened meanwhile
        access = enum_text(value_of(req, "access_type"))
        self.request_info = {
            "id": request_id,
            "app_id": app_id,
            "access_type": access,
            "app_name": self.app_names.get(app_id, app_id),
        }
        self.title.value = (
            f'<div title="request {html.escape(request_id)} · app id {html.escape(app_id)}">'
            + heading_html(
                f"Reports of {self.request_info['app_name']} · {access.replace('_', ' ').lower()} request"
            )
            + "</div>"
        )
        self.reports = reports
        cats = sorted(
            {enum_text(c) for c in reports["category"].dropna()}, key=lambda c: (category_rank(c), c)
        )
        self.category.options = [("All categories", "")] + [(c.replace("_", " ").title(), c) for c in cats]
        self.category.value = ""
        self._refilter()
        self.error = None
        self.status.show(
            "info", f"{len(reports)} reports. Choose one, a granularity and dates, then Download."
        )

    def shown_reports(self) -> pd.DataFrame:
        frame = self.reports
        if frame is None:
            return pd.DataFrame(columns=["id", "name", "category"])
        if self.category.value:
            frame = frame[frame["category"].astype(str) == self.category.value]
        text = self.search.value.strip().lower()
        if text:
            frame = frame[frame["name"].astype(str).str.lower().str.contains(text, regex=False)]
        return frame

    def _refilter(self, _change: dict | None = None) -> None:
        shown = self.shown_reports()
        ordered = sorted(shown.itertuples(index=False), key=lambda r: report_rank(r.name, r.category))
        options = [(str(r.name), str(r.id)) for r in ordered]
        set_options(self.report, options)
        total = 0 if self.reports is None else len(self.reports)
        self.count.value = _muted(f"{len(options)} of {total} reports") if self.reports is not None else ""
        self._sync_controls()

    def select_report(self, name: str) -> None:
        """Choose a report by its name (clearing filters that hide it); waits for a listing in progress."""
        self.settle()
        rows = self.reports[self.reports["name"].astype(str) == name] if self.reports is not None else []
        if not len(rows):
            raise ValueError(f"no report named {name!r} for request {self.request_id}")
        self.category.value, self.search.value = "", ""
        self.report.value = str(rows.iloc[0]["id"])

    @property
    def report_name(self) -> str | None:
        return self.report.label if self.report.value else None

    def _on_report(self, _change: dict) -> None:
        self._clear_downstream()
        self.fields.value = _fields_html(self.report_name)

    def _on_choice(self, _change: dict) -> None:
        """Another granularity or date range: what was listed or downloaded no longer applies."""
        self._clear_downstream()

    def _clear_downstream(self) -> None:
        self.instances = None
        self._plan = None
        self.estimate = None
        self.instances_table.value = self.estimate_line.value = ""
        self.confirm_box.layout.display = "none"
        self.frame = self.chart_data = self.result = self.error = None
        self.summary.value = self.chart_note.value = ""
        self.plot.layout.display = "none"
        self.figure = None
        self.chart_controls.layout.display = "none"
        self.grid_box.children = ()
        self.progress.value = 0
        self.progress.bar_style = ""
        self.progress_text.value = ""
        if self.status.level in ("ok", "warn", "error") and not self.busy:
            self.status.show("info", "Choose a granularity and dates, then Download.")
        self._sync_controls()

    def _sync_controls(self) -> None:
        super()._sync_controls()
        chosen = bool(self.report.value)
        self.list_instances.disabled = self.busy or not chosen
        self.download.disabled = self.busy or not chosen
        self.cancel.disabled = not (self.busy and self._job is not None)

    # ------------------------------------------------------------------ instances and estimate

    def find_instances(self) -> pd.DataFrame | None:
        """List the instances that hold rows for the chosen dates, with the download's cost estimate.

        Called from code it runs here and returns them; the List instances button queues it on the worker.
        """
        self.settle()
        if not self._check_choice():
            return None
        self.status.show("busy", f"Listing the instances of {self.report_name}…")
        return self._list(self._snapshot())

    def _check_choice(self) -> bool:
        if not self.report.value:
            self.status.show("warn", "Choose a report first.")
            return False
        if self.start.value and self.end.value and self.start.value > self.end.value:
            self.status.show("warn", f"The range is empty: {self.start.value} is after {self.end.value}.")
            return False
        return True

    def _snapshot(self) -> _Job:
        return _Job(
            str(self.request_id),
            str(self.report_name),
            self.granularity.value,
            _iso(self.start.value),
            _iso(self.end.value),
        )

    def _still(self, job: _Job) -> bool:
        """Whether the panel still shows what ``job`` was started for."""
        return job == self._snapshot()

    def _list(self, job: _Job) -> pd.DataFrame | None:
        rows = (
            self.reports[self.reports["name"].astype(str) == job.report] if self.reports is not None else None
        )
        report = (
            rows.iloc[0] if rows is not None and len(rows) else job.report
        )  # a listing row saves a lookup
        try:
            plan = self.client.plan_fetch(job.request_id, report, job.granularity, job.start, job.end)
            inst = plan.instances
        except Exception as exc:  # shown in the panel
            self.error = exc
            self.status.show("error", f"Could not list instances. {describe_error(exc)}")
            return None
        if not self._still(job):
            return None
        self.instances = inst
        self._plan = (job, plan)
        self.estimate = self._estimate(inst, plan)
        self._show_instances(inst)
        self.estimate_line.value = _muted(self.estimate["text"])
        self.status.show("info", f"{len(inst)} {job.granularity} instance(s) of {job.report}.")
        return inst

    def _estimate(self, inst: pd.DataFrame, plan: Any) -> dict[str, Any]:
        """Calls (and bytes when the plan knows them) the download will cost, and their share of the hour."""
        n = len(inst)
        listing = max(1, math.ceil(n / PAGE))
        # the plan has listed the instances already: one segments listing each remains; else the listing too
        calls = n if plan is not None else listing + n
        rate_limit = self.client.rate_limit
        limit = (rate_limit.limit if rate_limit is not None else None) or DEFAULT_HOURLY_LIMIT
        remaining = rate_limit.remaining if rate_limit is not None else None
        share = calls / limit
        nbytes = getattr(plan, "bytes", None)
        if nbytes is None and "size" in inst.columns:
            nbytes = int(pd.to_numeric(inst["size"], errors="coerce").fillna(0).sum()) or None
        text = (
            f"Download estimate: {n} instance(s), about {calls:,} API call(s) — {share:.0%} of the "
            f"hourly budget of {limit:,}" + (f" ({remaining:,} left)" if remaining is not None else "")
        )
        text += f", {nbytes / 1e6:,.1f} MB." if nbytes else "; sizes are known once the segments are listed."
        return {"instances": n, "calls": calls, "limit": limit, "share": share, "bytes": nbytes, "text": text}

    def _show_instances(
        self, inst: pd.DataFrame, covered: dict[str, tuple[date, date]] | None = None
    ) -> None:
        if inst.empty:
            self.instances_table.value = frame_html(
                None,
                empty="No instances for these dates yet: a new request's first reports take 1–2 days, "
                "and Apple keeps each instance 35 days.",
            )
            return
        rows = []
        for _, row in inst.sort_values("processing_date").iterrows():
            iid = str(row["id"])
            span = (covered or {}).get(iid)
            rows.append({
                "Processing date": pd.Timestamp(row["processing_date"]).date().isoformat(),
                "Covers data dates": (f"{span[0]} → {span[1]}" if span and span[0] != span[1] else
                                      str(span[0]) if span else "shown after the download" if covered is None
                                      else "no rows for the chosen dates"),
                "Granularity": enum_text(row.get("granularity", "")),
            })  # fmt: skip
        table = frame_html(pd.DataFrame(rows), max_rows=12)
        empty = sum(r["Covers data dates"] == "no rows for the chosen dates" for r in rows)
        if empty:
            days = getattr(self._plan[1], "settle_days", None) if self._plan is not None else None
            settle = f"{days} days" if isinstance(days, int) else "a few days"
            table += _muted(
                f"{empty} instance(s) held no rows for the chosen dates. They were read anyway, and a new download "
                "reads them again: Apple's listing does not say which dates an instance holds (an instance processed "
                "on a day may carry that day, late rows and corrections of earlier days, or both), so every "
                f"instance processed from the start date to {settle} after the end date is read."
            )
        self.instances_table.value = table

    # ------------------------------------------------------------------ download

    def start_download(self, *, confirmed: bool = False) -> None:
        """Download the chosen range on the worker; above ``CONFIRM_SHARE`` of the hour, ask first."""
        if self._job is not None or not self._check_choice():
            return  # one download at a time
        job = self._snapshot()
        self.status.show("busy", f"Preparing the download of {job.report}…")
        self.run(self._prepare, job, confirmed)

    def _prepare(self, job: _Job, confirmed: bool) -> None:
        if not self._still(job):
            return
        if self.instances is None and self._list(job) is None:
            return
        est = self.estimate or {}
        if not confirmed and est.get("share", 0) > CONFIRM_SHARE:
            self.confirm_text.value = (
                f'<span style="color: var(--jp-warn-color1);">{html.escape(est["text"])} '
                "Download anyway?</span>"
            )
            self.confirm_box.layout.display = None
            self.status.show(
                "warn", f"This download uses {est['share']:.0%} of the hourly budget: confirm first."
            )
            return
        self.confirm_box.layout.display = "none"
        self._download(job)

    def _on_not_now(self, _button: Any = None) -> None:
        self.confirm_box.layout.display = "none"
        self.status.show("info", "Nothing was downloaded.")

    def cancel_download(self) -> None:
        """Stop the running download promptly; nothing half-written stays in the cache.

        The progress line freezes at the click (what was done by then), and says so once the download has stopped.
        """
        if self._job is not None:
            with self._meter.lock:  # a progress update under way finishes first; none follows
                self._cancel_event.set()
            self.status.show("busy", "Cancelling…")

    def _download(self, job: _Job) -> None:
        self._job = job
        self._cancel_event = cancel = threading.Event()
        self.error = None
        self.progress.value, self.progress.bar_style = 0, ""
        self._sync_controls()
        instances = 0 if self.instances is None else len(self.instances)
        self._meter = meter = _Meter(instances)

        def on_progress(done: int, planned: int, nbytes: int, _planned_bytes: int) -> None:
            if cancel.is_set():
                if not supports_cancel:
                    raise DownloadCancelled("The download was cancelled.")
                return  # frozen at Cancel: transfers still closing must not move the numbers
            with meter.lock:  # bar and text from one reading; the bar never moves back
                pct, text = meter.update(done, planned, nbytes)
                if cancel.is_set():
                    return
                self.progress.value = pct
                self.progress_text.value = _muted(text)
                if meter.all_in():
                    self.status.show(
                        "busy",
                        f"All {planned} segment(s) of {job.report} downloaded: reading them into one table…",
                    )
            self.on_change()  # e.g. the dashboard's rate-limit meter follows the calls live

        supports_cancel = "cancel" in inspect.signature(self.client.fetch).parameters
        kwargs: dict[str, Any] = {
            "granularity": job.granularity,
            "start": job.start,
            "end": job.end,
            "progress": on_progress,
        }
        if supports_cancel:
            kwargs["cancel"] = cancel
        self.status.show("busy", f"Downloading {job.report} ({job.granularity}, {job.start} → {job.end})…")
        self.progress_text.value = _muted("0% · listing segments")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", MissingDatesWarning)  # named in the status line instead
                if self._plan is not None and self._plan[0] == job:  # the listed plan: no call repeated
                    kwargs = {k: v for k, v in kwargs.items() if k in ("progress", "cancel")}
                    frame = self.client.fetch(self._plan[1], **kwargs)
                else:
                    frame = self.client.fetch(job.request_id, job.report, **kwargs)
        except DownloadCancelled:
            with meter.lock:
                self.progress.bar_style = "warning"
                self.progress_text.value = _muted(meter.cancelled())
            self.status.show(
                "warn",
                "Download cancelled: nothing was kept (verified segments already cached stay "
                "cached; nothing half-written). Press Download to start again.",
            )
            return
        except Exception as exc:
            self.error = exc
            self.progress.bar_style = "danger"
            self.status.show("error", f"Download failed. {describe_error(exc)}")
            return
        finally:
            self._job = None
            self._sync_controls()
        if not self._still(job):
            self.status.show(
                "info",
                f"The download of {job.report} for request {job.request_id} finished after "
                "the choice changed; it is not shown here.",
            )
            return
        self._finish(job, frame)

    def _finish(self, job: _Job, frame: pd.DataFrame) -> None:
        self.result = {
            "request_id": job.request_id,
            "report": job.report,
            "granularity": job.granularity,
            "start": job.start,
            "end": job.end,
        }  # first: the frame's export name and code read it
        self.frame = frame
        self.status.show(
            "busy", f"Downloaded {job.report}: {frame.shape[0]:,} rows. Drawing the chart and the grid…"
        )
        self.progress.value, self.progress.bar_style = 100, "success"
        stats = frame.attrs.get("stats") or {}
        segs = stats.get("segments") if isinstance(stats, dict) else None
        self.progress_text.value = _muted("100% · done" + (f" · {segs} segments" if segs else ""))
        missing = list(frame.attrs.get("missing_dates") or [])
        self.result = {
            "request_id": job.request_id, "report": job.report, "granularity": job.granularity,
            "start": job.start, "end": job.end, "instances": 0 if self.instances is None else len(self.instances),
            "shape": frame.shape, "missing_dates": missing,
            "segments": stats.get("segments") if isinstance(stats, dict) else None,
            "bytes": stats.get("bytes") if isinstance(stats, dict) else None,
        }  # fmt: skip
        if self.instances is not None and "instance_id" in frame.columns and not frame.empty:
            spans = frame.groupby(frame["instance_id"].astype(str), observed=True)["date"].agg(["min", "max"])
            covered = {i: (r["min"].date(), r["max"].date()) for i, r in spans.iterrows()}
            self._show_instances(self.instances, covered)
        self.summary.value = (
            f'<div style="color: var(--jp-ui-font-color1); margin: 4px 0;">'
            f"<b>{frame.shape[0]:,}</b> rows × <b>{frame.shape[1]}</b> columns of "
            f"{html.escape(job.report)} · {job.granularity} · {job.start} → {job.end} "
            "(latest vintage of each row)</div>"
        )
        self._setup_chart(frame, job)
        self._show_grid(frame, job.report)
        text = f"Downloaded {job.report}: {frame.shape[0]:,} rows."
        if missing:
            text += " " + self.explain_missing(missing, job)
        self.status.show("warn" if missing else "ok", text)

    # ------------------------------------------------------------------ why dates are missing

    def explain_missing(self, missing: list[date], job: _Job | None = None) -> str:
        """Name the real reason for each group of dates without rows."""
        job = job or self._snapshot()
        today = now_utc(self.client).date()
        days = charts.complete_days(job.report)
        access = self.request_info.get("access_type", "")
        first = self._first_processing_date(job) if access == "ONGOING" else None
        groups: dict[str, list[date]] = {}
        for d in missing:
            if d > today - timedelta(days=days):
                why = f"not published yet (Apple's numbers for a day come within about {days} days)"
            elif (
                access == "ONE_TIME_SNAPSHOT"
                and self.instances is not None
                and len(self.instances)
                and d > pd.Timestamp(self.instances["processing_date"].max()).date()
            ):
                why = "after the snapshot was taken: a snapshot gets no new data (an ONGOING request does)"
            elif first is not None and d < first:
                if (today - first).days >= RETENTION_DAYS - 1:
                    why = "past Apple's 35-day instance retention (older instances are deleted)"
                else:
                    why = (
                        f"before this ONGOING request's first report ({first}): an ongoing request covers the days "
                        "from its creation on; a ONE_TIME_SNAPSHOT request holds the history"
                    )
            else:
                why = "no rows: Apple leaves out rows under its privacy thresholds, so a small app's day can be empty"
            groups.setdefault(why, []).append(d)
        parts = []
        for why, ds in groups.items():
            shown = ", ".join(x.isoformat() for x in ds[:4]) + (" …" if len(ds) > 4 else "")
            parts.append(f"{len(ds)} date(s) without rows ({shown}): {why}.")
        return " ".join(parts)

    def _first_processing_date(self, job: _Job) -> date | None:
        """The oldest live instance of the report (one listing), i.e. where the request's data starts."""
        try:
            inst = self.client.instances(self.report.value, granularity=job.granularity)
        except Exception:
            return None
        if inst.empty:
            return None
        return pd.Timestamp(inst["processing_date"].min()).date()

    # ------------------------------------------------------------------ chart

    def _setup_chart(self, frame: pd.DataFrame, job: _Job) -> None:
        opts = charts.measure_options(frame, job.report)
        if not opts or frame.empty:
            self.chart_controls.layout.display = "none"
            self.plot.layout.display = "none"
            self.chart_note.value = _muted("Nothing to chart: no rows, or no measure column.")
            return
        with self.hold_trait_notifications():
            self.measure.unobserve(self._redraw, names="value")
            self.breakdown.unobserve(self._redraw, names="value")
            self.view.unobserve(self._redraw, names="value")
            self.measure.options = [(m.label, m.key) for m in opts]
            self.measure.value = opts[0].key
            dims = charts.dimensions(frame, job.report)
            self.breakdown.options = [("None", "")] + [(charts.human(c, job.report), c) for c in dims]
            self.breakdown.value = ""
            self.view.value = ""
            self.view.layout.display = None if job.granularity == "DAILY" else "none"
            for control in (self.measure, self.breakdown, self.view):
                control.observe(self._redraw, names="value")
        self.chart_controls.layout.display = None
        self._redraw()

    def chart_options(self) -> dict[str, Any]:
        """The arguments of :func:`charts.chart_data` the chart controls stand for."""
        job = self._snapshot()
        return {
            "measures": [self.measure.value],
            "breakdown": self.breakdown.value or None,
            "top": int(self.top.value),
            "period": self.view.value or None,
            "granularity": job.granularity,
            "today": now_utc(self.client).date().isoformat(),
        }

    def plot_options(self) -> dict[str, Any]:
        """The arguments of :func:`charts.plot_chart` besides the data: the title and the measure's legend text."""
        by = f" by {self.breakdown.label}" if self.breakdown.value else ""
        return {
            "title": f"{self.report_name} — {self.measure.label}{by}",
            "labels": {self.measure.value: self.measure.label},
        }

    def _redraw(self, _change: dict | None = None) -> None:
        if self.frame is None or not self.measure.value:
            return
        report = str(self.report_name)
        try:
            data = charts.chart_data(self.frame, report, **self.chart_options())
        except NonAdditiveMetricError as exc:
            self.chart_data = None
            self.figure = None
            self.plot.layout.display = "none"
            self.chart_note.value = _muted(str(exc))
            return
        self.chart_data = data
        label = self.measure.label
        provisional = int((~data["complete"]).sum()) if len(data) else 0
        by = f" by {self.breakdown.label}" if self.breakdown.value else ""
        self.chart_note.value = _muted(
            f"{label}{by}, from zero. "
            + (
                f"The last dates are provisional (inside the report's {charts.complete_days(report)}-day completeness "
                "window: Apple may still revise them), drawn dashed on a grey band."
                if provisional
                else "Every date shown is past the report's completeness window."
            )
        )
        try:  # the same public function the generated code calls (``.code``), so both draw one chart
            self.figure = charts.plot_chart(data, **self.plot_options())
        except ImportError:  # no matplotlib: the note and chart_data still say what the chart would show
            self.figure = None
        if self.figure is not None:
            self.plot.value = charts.figure_png(self.figure)
            self.plot.layout.display = None

    # ------------------------------------------------------------------ grid

    def _show_grid(self, frame: pd.DataFrame, report: str) -> None:
        frame = frame[grid_columns(frame)]  # measures first: what a reader came for, without scrolling right
        shown = frame.rename(columns={c: charts.human(c, report) for c in frame.columns})
        try:
            from itables import JavascriptFunction
            from itables.widget import ITable
        except ImportError:  # the grid is an optional nicety: a plain table still shows every column
            self.grid_box.children = (w.HTML(frame_html(shown, max_rows=50)),)
            return
        ints = [
            i
            for i, c in enumerate(frame.columns)
            if pd.api.types.is_integer_dtype(frame[c]) and not str(c).endswith(("_id", "identifier"))
        ]
        thousands = JavascriptFunction(
            "function (data, type) { return type === 'display' && data !== null && data !== undefined "
            "? Number(data).toLocaleString('en-US') : data; }"
        )
        options = {
            "maxBytes": GRID_MAX_BYTES,
            "lengthMenu": [10, 25, 50, 100],
            "pageLength": 10,
            "columnDefs": [{"targets": ints, "render": thousands, "className": "dt-right"}] if ints else [],
            "classes": "display compact nowrap",
            "scrollX": True,
            "column_filters": "footer",
            # itables' default (True) makes only the small arrow sort, not a click on the header's text
            "text_in_header_can_be_selected": False,
            "showIndex": False,
        }
        if self.grid is None:
            self.grid = ITable(shown, **options)
        else:
            self.grid.update(shown, **options)
        note = ""
        cut = self.grid._dt_args.get("filtered_row_count")
        if cut:
            note = _muted(
                f"The grid holds {len(frame) - cut:,} of {len(frame):,} rows (first and last); Export "
                "writes them all."
            )
        self.grid_box.children = (w.HTML(note), self.grid) if note else (self.grid,)

    # ------------------------------------------------------------------ code and export

    def _code(self) -> str:
        r = self.result or {}
        lines = [
            f"df = client.fetch({r.get('request_id')!r}, {r.get('report')!r}, granularity={r.get('granularity')!r}, "
            f"start={r.get('start')!r}, end={r.get('end')!r})",
        ]
        if self.chart_data is not None:
            args = ", ".join(f"{k}={v!r}" for k, v in self.chart_options().items())
            plot = ", ".join(f"{k}={v!r}" for k, v in self.plot_options().items())
            lines += [
                "",
                "# the chart the panel draws: provisional dates dashed on a grey band, y from zero",
                "from asc_nb.widgets import chart_data, plot_chart",
                f"chart = chart_data(df, {r.get('report')!r}, {args})",
                f"fig = plot_chart(chart, {plot})",
                "fig",
            ]
        return "\n".join(lines)

    def default_export_name(self) -> str:
        r = self.result or {}
        slug = "-".join(str(r.get("report") or "report").lower().split())
        return f"{slug}_{r.get('granularity', '').lower()}_{r.get('start')}_{r.get('end')}.csv"


def category_rank(category: Any) -> int:
    """Where a category sits in the lists: the App Store and App Usage ones (what analysts read most) first."""
    text = enum_text(category) if category is not None and category is not pd.NA else ""
    return CATEGORY_ORDER.index(text) if text in CATEGORY_ORDER else len(CATEGORY_ORDER)


def report_rank(name: Any, category: Any) -> tuple[int, bool, str]:
    """The report list's order: by category (App Store, App Usage first), Standard before Detailed, then by name."""
    text = str(name)
    return category_rank(category), text.endswith("Detailed"), text


def grid_columns(frame: pd.DataFrame) -> list[str]:
    """The grid's column order: the date, the measures, the dimensions, then the provenance columns."""
    measures = charts.measure_columns(frame)
    provenance = [c for c in frame.columns if c in charts.PROVENANCE and c != "date"]
    first = [c for c in ("date",) if c in frame.columns]
    rest = [c for c in frame.columns if c not in measures and c not in provenance and c not in first]
    return first + measures + rest + provenance


def _muted(text: str) -> str:
    return f'<span style="color: var(--jp-ui-font-color2);">{html.escape(text)}</span>'


def _fields_html(report: str | None) -> str:
    """The registry's description of the report's fields (``asc_nb.describe_report``)."""
    if not report:
        return ""
    try:
        fields = describe_report(report)
    except Exception as exc:  # a report the registry does not know: say so, the rest of the panel works
        return _muted(f"No field descriptions for {report}: {exc}")
    return frame_html(fields, max_rows=60)
