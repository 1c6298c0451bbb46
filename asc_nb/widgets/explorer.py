"""Follow a request to data: category → report → granularity + dates → instances → download → preview.

The dates are data dates (the report's ``Date`` column), as in ``client.fetch``: the instances
listed are those processed from the start date up to a few days after the end date, because
later instances carry late rows and corrections for earlier dates.

The download runs in a thread, so the kernel keeps answering and the progress bar moves while
segments arrive: it is one ``client.fetch`` call whose progress callback drives the bar, so the
preview is exactly what ``fetch`` returns (latest vintage of each row) and no call is repeated.
"""

from __future__ import annotations

import io
import threading
import warnings
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import ipywidgets as w
import pandas as pd
import traitlets

from ._common import (
    Listeners,
    Status,
    describe_error,
    enum_text,
    frame_html,
    heading,
    heading_html,
    now_utc,
    set_options,
)

#: the measure plotted first when a report has it (snake_case, as the parsed frames name columns)
PREFERRED_MEASURES = ("counts", "sessions", "crashes", "total_downloads", "unique_devices", "unique_counts")
NOT_MEASURES = ("app_apple_identifier",)
#: the widest default date window (history starts 2024-01-01; instances live 35 days)
MAX_DAYS = 3660


def main_measure(frame: pd.DataFrame) -> str | None:
    """The column worth plotting over Date: a known count column, else the first numeric non-id column."""
    numeric = [
        c for c in frame.columns
        if pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
        and c not in NOT_MEASURES and not str(c).endswith(("_id", "identifier"))
    ]  # fmt: skip
    for name in PREFERRED_MEASURES:
        if name in numeric:
            return name
    return numeric[0] if numeric else None


def date_column(frame: pd.DataFrame) -> str | None:
    for name in ("date", "Date"):
        if name in frame.columns:
            return name
    return None


def plot_png(frame: pd.DataFrame, *, title: str = "") -> bytes | None:
    """The main measure summed per Date as a PNG (transparent, neutral ink: readable on light and dark)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return None
    measure, when = main_measure(frame), date_column(frame)
    if measure is None or when is None or frame.empty:
        return None
    series = frame.groupby(when)[measure].sum().sort_index()
    ink = "#8a8a8a"
    fig = Figure(figsize=(7, 2.6), dpi=100)
    fig.patch.set_alpha(0)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_facecolor("none")
    ax.plot(series.index, series.to_numpy(dtype="float64", na_value=float("nan")), color="#3b8fd9", marker="o", ms=3)
    ax.set_title(f"{title} — {measure} per {when}" if title else f"{measure} per {when}", color=ink, fontsize=10)
    ax.tick_params(colors=ink, labelsize=8)
    for spine in ax.spines.values():
        spine.set_color(ink)
    fig.autofmt_xdate()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", transparent=True)
    return buf.getvalue()


def _iso(d: date | None) -> str | None:
    return d.isoformat() if d else None


@dataclass(frozen=True)
class _Job:
    """One "Download all": the plan that was listed when it was clicked (the thread reads nothing else)."""

    request_id: str
    report: str | None
    granularity: str
    start: str | None
    end: str | None
    plan: Any  # the client's FetchPlan: its instances are the ones shown, fetched without listing them again


class ReportsExplorer(w.VBox):
    """Browse one request's reports and pull an instance range into a DataFrame.

    Controls: ``.category``, ``.search``, ``.report`` (a report id), ``.granularity``, ``.start``,
    ``.end``, ``.list_instances``, ``.download``.
    State: ``.reports`` and ``.instances`` (DataFrames), ``.frame`` (the downloaded data, equal to
    ``client.fetch(...)``), ``.progress`` (0–100), ``.result`` (a summary dict), ``.error``.
    """

    request_id = traitlets.Unicode(None, allow_none=True)
    reports = traitlets.Instance(pd.DataFrame, allow_none=True)
    instances = traitlets.Instance(pd.DataFrame, allow_none=True)
    frame = traitlets.Instance(pd.DataFrame, allow_none=True)
    result = traitlets.Any(None)
    error = traitlets.Any(None)
    busy = traitlets.Bool(False)

    def __init__(self, client: Any, request_id: str | None = None, *, days: int = 7) -> None:
        if not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
            raise ValueError(f"days must be a whole number of days from 1 to {MAX_DAYS}; got {days!r}")
        self.client = client
        self.days = days
        first, last = self._default_dates()
        self.title = heading("Reports")
        self.category = w.Dropdown(options=[("All categories", "")], value="", description="Category")
        self.search = w.Text(placeholder="filter reports by name", description="Search", continuous_update=True)
        self.report = w.Dropdown(options=[], description="Report", layout=w.Layout(width="520px"))
        self.granularity = w.ToggleButtons(options=["DAILY", "WEEKLY", "MONTHLY"], value="DAILY",
                                           description="Granularity")
        self.start = w.DatePicker(value=first, description="Dates from")
        self.end = w.DatePicker(value=last, description="to")
        self.list_instances = w.Button(description="List instances", icon="list")
        self.instances_table = w.HTML()
        self.download = w.Button(description="Download all", icon="download", button_style="primary")
        self.progress = w.IntProgress(value=0, min=0, max=100, description="Download")
        self.progress_text = w.HTML()
        self.status = Status()
        self.preview = w.HTML()
        self.plot = w.Image(format="png", layout=w.Layout(max_width="720px"))
        self.plot.layout.display = "none"
        self.on_change = Listeners()
        self._thread: threading.Thread | None = None
        self._plan: Any = None  # the client's FetchPlan behind `.instances`
        super().__init__(
            [
                self.title,
                w.HBox([self.category, self.search]),
                self.report,
                self.granularity,
                w.HBox([self.start, self.end, self.list_instances]),
                self.instances_table,
                w.HBox([self.download, self.progress, self.progress_text]),
                self.status,
                self.preview,
                self.plot,
            ]
        )
        self.add_class("asc-nb-explorer")  # a stable hook for browser tests and user CSS
        self.category.observe(self._refilter, names="value")
        self.search.observe(self._refilter, names="value")
        self.report.observe(self._on_choice, names="value")
        self.granularity.observe(self._on_choice, names="value")
        self.start.observe(self._on_choice, names="value")
        self.end.observe(self._on_choice, names="value")
        self.list_instances.on_click(self._on_list)
        self.download.on_click(self._on_download)
        self._sync_buttons()
        if request_id is not None:
            self.load(request_id)

    def _default_dates(self) -> tuple[date, date]:
        """The last ``days`` complete days: today's rows are published tomorrow at the earliest."""
        last = now_utc(self.client).date() - timedelta(days=1)
        return last - timedelta(days=self.days - 1), last

    def __repr__(self) -> str:
        n = 0 if self.reports is None else len(self.reports)
        return f"ReportsExplorer(request_id={self.request_id!r}, reports={n})"

    # ------------------------------------------------------------------ choosing

    def load(self, request_id: str) -> pd.DataFrame | None:
        """Show ``request_id``'s reports (one listing; category and search filter it locally)."""
        self.request_id = str(request_id)
        self.instances = self.frame = self.result = self.error = self._plan = None
        self.instances_table.value = self.preview.value = ""
        self.plot.layout.display = "none"
        self.progress.value = 0
        self.progress_text.value = ""
        self.start.value, self.end.value = self._default_dates()  # the sandbox's clock may have moved
        self.title.value = heading_html(f"Reports of request {request_id}")
        try:
            reports = self.client.reports(self.request_id)
        except Exception as exc:  # shown in the panel
            self.error = exc
            self.status.show("error", f"Could not list reports. {describe_error(exc)}")
            self.on_change()
            return None
        self.reports = reports
        cats = sorted({enum_text(c) for c in reports["category"].dropna()})
        self.category.options = [("All categories", "")] + [(c.replace("_", " ").title(), c) for c in cats]
        self.category.value = ""
        self._refilter()
        self.status.show("info", f"{len(reports)} reports. Choose one, a granularity and dates, then list instances.")
        self.on_change()
        return reports

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
        options = [(str(row["name"]), str(row["id"])) for _, row in shown.sort_values("name").iterrows()]
        set_options(self.report, options)
        self._sync_buttons()

    def select_report(self, name: str) -> None:
        """Choose a report by its name (clearing filters that hide it)."""
        rows = self.reports[self.reports["name"].astype(str) == name] if self.reports is not None else []
        if not len(rows):
            raise ValueError(f"no report named {name!r} for request {self.request_id}")
        self.category.value, self.search.value = "", ""
        self.report.value = str(rows.iloc[0]["id"])

    @property
    def report_name(self) -> str | None:
        return self.report.label

    def _on_choice(self, _change: dict) -> None:
        """Another report, granularity or date: the listed instances no longer apply."""
        self.instances = self._plan = None
        self.instances_table.value = ""
        self._sync_buttons()

    def _sync_buttons(self) -> None:
        self.list_instances.disabled = self.busy or not self.report.value
        self.download.disabled = self.busy or not self.report.value

    # ------------------------------------------------------------------ instances

    def _on_list(self, _button: Any = None) -> pd.DataFrame | None:
        return self.find_instances()

    def find_instances(self) -> pd.DataFrame | None:
        """The chosen report's instances of the granularity that hold rows for the chosen data dates."""
        if not self.report.value:
            self.status.show("warn", "Choose a report first.")
            return None
        start, end = self.start.value, self.end.value
        if start and end and start > end:
            self.status.show("warn", f"The range is empty: {start} is after {end}.")
            return None
        chosen = self.reports[self.reports["id"].astype(str) == self.report.value].iloc[0]
        try:  # the listing row stands for the report: planning costs one call, the instances listing
            plan = self.client.plan_fetch(self.request_id, chosen, self.granularity.value, _iso(start), _iso(end))
        except Exception as exc:  # shown in the panel
            self.error = exc
            self.status.show("error", f"Could not list instances. {describe_error(exc)}")
            self.on_change()
            return None
        inst = plan.instances
        self.instances, self._plan = inst, plan
        cols = [c for c in ("id", "granularity", "processing_date") if c in inst.columns]
        self.instances_table.value = frame_html(
            inst[cols], max_rows=10,
            empty="No instances in this range yet (a new request's first reports take 1–2 days).",
        )  # fmt: skip
        self.status.show("info", f"{len(inst)} {self.granularity.value} instance(s) of {self.report_name}.")
        self.on_change()
        return inst

    # ------------------------------------------------------------------ download

    def _on_download(self, _button: Any = None) -> None:
        self.start_download()

    def start_download(self) -> threading.Thread | None:
        """Download every segment of the listed instances in a thread; ``wait()`` joins it."""
        if self.busy:
            return self._thread
        if self.instances is None and self.find_instances() is None:
            return None
        self.busy = True
        self._sync_buttons()
        self.error = None
        self.progress.value = 0
        self.progress.bar_style = ""
        # what to download is fixed now, on the kernel's thread: the user may load another request
        # (or change the dates) while the thread runs, and its result must stay labelled as this one
        plan = self._plan
        job = _Job(str(self.request_id), self.report_name, plan.granularity.value, _iso(plan.start), _iso(plan.end),
                   plan)
        self._thread = threading.Thread(target=self._download_all, args=(job,), name="asc-nb-download", daemon=True)
        self._thread.start()
        return self._thread

    def wait(self, timeout: float | None = None) -> None:
        """Block until the current download finishes (tests and scripts; the UI never needs it)."""
        if self._thread is not None:
            self._thread.join(timeout)

    def _current(self, job: _Job) -> bool:
        """Whether the panel still shows the request ``job`` was started for."""
        return self.request_id == job.request_id

    def _download_all(self, job: _Job) -> None:
        try:
            self._run_download(job)
        except Exception as exc:  # shown in the panel: the thread must never die with a traceback
            if self._current(job):
                self.error = exc
                self.progress.bar_style = "danger"
                self.status.show("error", f"Download failed. {describe_error(exc)}")
        finally:
            self.busy = False
            self._sync_buttons()
            self.on_change()

    def _run_download(self, job: _Job) -> None:
        from asc_nb.errors import MissingDatesWarning

        name, gran, start, end, ids = job.report, job.granularity, job.start, job.end, list(job.plan.instances["id"])
        counts = {"segments": 0, "planned": 0, "bytes": 0}
        lock = threading.Lock()

        def on_progress(done: int, planned: int, nbytes: int, _planned_bytes: int) -> None:
            # segments are planned as each instance is listed (every instance has at least one), so
            # the estimate can dip when a late instance brings several: the bar never moves back
            if not self._current(job):
                return  # another request is shown now: its bar is not ours to move
            with lock:
                counts.update(segments=done, planned=planned, bytes=nbytes)
                estimate = min(99, round(99 * done / max(planned, len(ids), 1)))
                self.progress.value = max(self.progress.value, estimate)
                self.progress_text.value = _progress_html(counts)
            self.on_change()  # e.g. the dashboard's rate-limit meter follows the listing calls live

        self.status.show("busy", f"Downloading the segments of {len(ids)} instance(s)…")
        self.progress_text.value = _progress_html(counts)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MissingDatesWarning)  # shown in the status line instead
            frame = self.client.fetch(job.plan, progress=on_progress)  # only segment listings remain
        if not self._current(job):
            self.status.show("info", f"The download of {name} for request {job.request_id} finished after "
                                     f"request {self.request_id} was opened; it is not shown here.")
            return
        self.frame = frame
        self.progress.value = 100
        self.progress.bar_style = "success"
        missing = list(frame.attrs.get("missing_dates") or [])
        self.result = {
            "request_id": job.request_id, "report": name, "granularity": gran, "start": start, "end": end,
            "instances": len(ids), "segments": counts["segments"], "bytes": counts["bytes"],
            "shape": frame.shape, "missing_dates": missing,
        }  # fmt: skip
        self._show_preview(frame, name)
        text = (f"Downloaded {counts['segments']} segment(s) of {len(ids)} instance(s): "
                f"{frame.shape[0]} rows × {frame.shape[1]} columns (latest vintage of each row).")
        if missing:
            shown = ", ".join(d.isoformat() for d in missing[:5]) + (" …" if len(missing) > 5 else "")
            text += (f" No rows yet for {len(missing)} date(s): {shown} (not published yet, privacy-suppressed "
                     "or past the 35-day retention).")
        self.status.show("warn" if missing else "ok", text)

    def _show_preview(self, frame: pd.DataFrame, name: str | None) -> None:
        self.preview.value = (
            f'<div style="color: var(--jp-ui-font-color1); margin: 4px 0;">'
            f"<b>{frame.shape[0]}</b> rows × <b>{frame.shape[1]}</b> columns</div>"
            + frame_html(frame, max_rows=5, empty="The instances hold no rows.")
        )
        png = plot_png(frame, title=name or "")
        if png is not None:
            self.plot.value = png
            self.plot.layout.display = None
        else:
            self.plot.layout.display = "none"


def _progress_html(counts: dict[str, int]) -> str:
    return (f'<span style="color: var(--jp-ui-font-color2);">{counts["segments"]}/{counts["planned"]} segments · '
            f'{counts["bytes"] / 1e6:.1f} MB</span>')
