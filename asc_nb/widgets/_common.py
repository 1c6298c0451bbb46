"""Pieces every panel shares — the widgets conventions — plus a themed status line, error wording, the app picker.

Conventions (the store and overview panels reuse them; see :class:`Panel`):

* every panel is an ``ipywidgets.VBox`` subclass with a ``busy`` traitlet; every API call runs on
  the panel's one worker thread (``panel.run(fn)``), never on the kernel's, and the controls listed
  in ``panel.busy_controls`` are disabled meanwhile; ``panel.wait(timeout=None)`` joins the work
  (notebooks and in-process tests call it after ``button.click()``);
* ``panel.frame`` is the DataFrame the panel shows (or ``None``); ``panel.code`` is Python that,
  run with ``client`` (or ``store``) bound, leaves ``df`` equal to ``panel.frame``;
  ``panel.export(path)`` writes it as CSV or Parquet by suffix; "Show code" and "Export" buttons do
  the same by clicking;
* errors land in the panel's status line, never as a traceback; a wait announced by
  ``client.on_wait`` (Retry-After, the hourly budget) shows as a countdown in ``panel.waiting``.

Colours are JupyterLab CSS variables only, so the panels follow the light and dark themes; icons are
FontAwesome 4.7 names, the icon set ipywidgets ships (no emoji that may render as a box).
"""

from __future__ import annotations

import contextlib
import html
import logging
import math
import os
import re
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as w
import pandas as pd
import traitlets

from asc_nb import errors
from asc_nb.models import SNAPSHOT_COOLDOWN_DAYS
from asc_nb.protocols import ClientInfo, PanelClient, WidgetClient

from .static import StaticRendering

if TYPE_CHECKING:  # pragma: no cover
    from asc_nb.store import Store

_log = logging.getLogger("asc_nb.widgets")

#: status level -> (accent colour, FontAwesome 4.7 icon); colours are JupyterLab theme variables
_LEVELS = {
    "info": ("var(--jp-brand-color1)", "info-circle"),
    "busy": ("var(--jp-brand-color1)", "hourglass-half"),
    "ok": ("var(--jp-success-color1)", "check-circle"),
    "warn": ("var(--jp-warn-color1)", "exclamation-triangle"),
    "error": ("var(--jp-error-color1)", "times-circle"),
}


class Status(w.HTML):
    """One line (or a short paragraph) telling the user what just happened, coloured by level.

    ``text`` keeps the plain message and ``level`` its kind, so tests assert on words, not markup.
    """

    text = traitlets.Unicode("")
    level = traitlets.Unicode("")

    def show(self, level: str, text: str) -> None:
        """Show ``text`` (escaped; newlines kept) at ``level``: info, busy, ok, warn or error."""
        colour, icon = _LEVELS.get(level, _LEVELS["info"])
        self.text, self.level = text, level
        body = html.escape(text).replace("\n", "<br>")
        self.value = (
            f'<div class="asc-nb-status asc-nb-{level}" style="border-left: 3px solid {colour}; '
            "padding: 4px 8px; margin: 4px 0; color: var(--jp-ui-font-color1); "
            f'background: var(--jp-layout-color2); font-size: var(--jp-ui-font-size1);">'
            f'<i class="fa fa-{icon}" style="color: {colour};" aria-hidden="true"></i> {body}</div>'
        )


#: keep tables left-aligned and cells on one line (JupyterLab's own rules give the colours)
TABLE_CSS = (
    "<style>.asc-nb-table table { margin-left: 0; } "
    ".asc-nb-table td, .asc-nb-table th { white-space: nowrap; }</style>"
)


def frame_html(frame: pd.DataFrame, *, max_rows: int = 20, empty: str = "Nothing to show yet.") -> str:
    """A DataFrame as a table styled by JupyterLab's own rendered-HTML rules (theme-aware)."""
    if frame is None or frame.empty:
        return f'<div style="color: var(--jp-ui-font-color2); padding: 4px 0;">{html.escape(empty)}</div>'
    table = frame.head(max_rows).to_html(index=False, border=0, na_rep="", escape=True)
    more = ""
    if len(frame) > max_rows:
        more = f'<div style="color: var(--jp-ui-font-color2);">… {len(frame) - max_rows} more rows</div>'
    return f'<div class="jp-RenderedHTMLCommon asc-nb-table" style="overflow-x: auto; padding: 0;">{TABLE_CSS}{table}{more}</div>'


def set_options(dropdown: w.Dropdown, options: list[tuple[str, str]]) -> None:
    """Replace a dropdown's options, keeping the current choice when it is still offered, else the first."""
    keep = dropdown.value
    dropdown.options = options
    values = [v for _, v in options]
    if keep in values:
        dropdown.value = keep
    elif values:
        dropdown.index = 0  # a Dropdown emptied earlier keeps value=None otherwise
    else:
        dropdown.index = None


def heading_html(text: str) -> str:
    return (
        f'<div style="font-weight: 600; color: var(--jp-ui-font-color1); '
        f'font-size: var(--jp-ui-font-size2); margin: 4px 0;">{html.escape(text)}</div>'
    )


def heading(text: str) -> w.HTML:
    """A panel title in the theme's font colour."""
    return w.HTML(heading_html(text))


def now_utc(client: object) -> datetime:
    """The sandbox's simulated time when there is one (reports follow that clock), else real UTC.

    ``client``: a client, or anything else (a store): only a :class:`~asc_nb.protocols.ClientInfo` has a sandbox."""
    sandbox = client.sandbox if isinstance(client, ClientInfo) else None
    now = sandbox.now if sandbox is not None else None
    return now if isinstance(now, datetime) else datetime.now(timezone.utc)


def value_of(record: Any, name: str, default: Any = None) -> Any:
    """An attribute of a record or a key of a mapping/Series, whichever the client returned."""
    if isinstance(record, dict | pd.Series):
        return record.get(name, default)
    return getattr(record, name, default)


def is_true(value: Any) -> bool:
    """True only for a real true value (a nullable boolean column holds ``pd.NA``, which ``bool()`` refuses)."""
    return value is not None and value is not pd.NA and bool(value)


def enum_text(value: Any) -> str:
    """``AccessType.ONGOING`` or ``"ONGOING"`` -> ``"ONGOING"``."""
    return str(getattr(value, "value", value))


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?)?")


def date_in(text: str | None) -> datetime | None:
    """The last ISO date mentioned in an error's text (e.g. when a snapshot becomes possible again)."""
    if not text:
        return None
    found = _ISO_DATE.findall(text)
    if not found:
        return None
    stamp = pd.Timestamp(found[-1])
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    return stamp.to_pydatetime()


def describe_error(exc: BaseException) -> str:
    """A plain-language line for any failure; API errors already carry Apple's status, code and detail."""
    if isinstance(exc, errors.ForbiddenError) and getattr(exc, "method", None) in ("POST", "DELETE"):
        return (
            "This API key may not do that: only an Admin key may create or delete report requests. "
            "Sales and Reports or Finance keys can list and download reports once an Admin has created "
            f"the request.\n({exc})"
        )
    if isinstance(exc, errors.ForbiddenError):
        return (
            f"This API key may not read this: it needs the Admin, Sales and Reports or Finance role.\n({exc})"
        )
    if isinstance(exc, errors.RateLimitError):
        wait = f" Try again in {exc.retry_after:.0f} s." if getattr(exc, "retry_after", None) else ""
        return f"The key's hourly request budget is spent.{wait}\n({exc})"
    if isinstance(exc, errors.AuthenticationError):
        return f"App Store Connect did not accept the credentials.\n({exc})"
    if isinstance(exc, errors.ASCError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def cooldown_message(exc: BaseException) -> str:
    """Why a ONE_TIME_SNAPSHOT was refused and when the next one is possible."""
    detail = " ".join(str(x) for x in (getattr(exc, "detail", None), getattr(exc, "title", None)) if x)
    when = date_in(detail)
    if when is None and getattr(exc, "errors", None):
        for item in exc.errors:  # the date may sit in the error's meta instead of its text
            when = date_in(str(item.get("meta", "")))
            if when is not None:
                break
    text = (
        f"Apple allows one ONE_TIME_SNAPSHOT per app every {SNAPSHOT_COOLDOWN_DAYS} days "
        "(deleted snapshots count)."
    )
    if when is not None:
        text += f" The next snapshot is possible from {when:%Y-%m-%d %H:%M} UTC."
    else:
        text += f" The next one is possible {SNAPSHOT_COOLDOWN_DAYS} days after the previous snapshot was requested."
    text += " An ONGOING request gives daily data in the meantime."
    return text + f"\n({exc})"


def expected_window(client: ClientInfo) -> tuple[datetime, datetime]:
    """When the first reports of a request made now should appear (Apple: in 1–2 days)."""
    now = now_utc(client)
    return now + timedelta(hours=24), now + timedelta(hours=48)


class AppPicker(w.VBox):
    """Search box + dropdown over every app (all pages): filter by name, bundle id or id as you type.

    ``value`` is the chosen app id; ``frame`` the full apps DataFrame the options come from.
    """

    value = traitlets.Unicode(None, allow_none=True)

    def __init__(self, client: WidgetClient, *, description: str = "App") -> None:
        self.client = client
        self.frame: pd.DataFrame = pd.DataFrame(columns=["id", "name", "bundle_id"])
        self.search = w.Text(
            placeholder="filter apps by name, bundle id or id",
            description="Search",
            continuous_update=True,
            layout=w.Layout(width="520px"),
        )
        self.dropdown = w.Dropdown(options=[], description=description, layout=w.Layout(width="520px"))
        self.count = w.HTML()
        super().__init__([self.search, w.HBox([self.dropdown, self.count])])
        self.search.observe(self._on_search, names="value")
        self.dropdown.observe(self._on_choice, names="value")

    def load(self, frame: pd.DataFrame | None = None) -> pd.DataFrame:
        """Fetch every app (the client pages to the end), or take ``frame``, and rebuild the options."""
        self.frame = self.client.apps() if frame is None else frame
        self._apply_filter()
        return self.frame

    def matches(self, text: str) -> pd.DataFrame:
        frame = self.frame
        text = text.strip().lower()
        if not text or frame.empty:
            return frame
        hay = pd.Series("", index=frame.index)
        for col in ("name", "bundle_id", "id", "sku"):
            if col in frame.columns:
                hay = hay + " " + frame[col].astype("string").fillna("").str.lower()
        return frame[hay.str.contains(text, regex=False)]

    def _label(self, row: pd.Series) -> str:
        bundle = row.get("bundle_id")
        extra = f" — {bundle}" if isinstance(bundle, str) and bundle else ""
        return f"{row.get('name')}{extra}"  # by name; the search box also matches the id

    def _apply_filter(self) -> None:
        shown = self.matches(self.search.value)
        options = [(self._label(row), str(row["id"])) for _, row in shown.iterrows()]
        set_options(self.dropdown, options)
        self.count.value = (
            f'<span style="color: var(--jp-ui-font-color2);">{len(options)} of {len(self.frame)} apps</span>'
        )
        self.value = self.dropdown.value

    def _on_search(self, _change: dict) -> None:
        self._apply_filter()

    def _on_choice(self, change: dict) -> None:
        self.value = change["new"]

    @traitlets.validate("value")
    def _valid_app(self, proposal: dict) -> str | None:
        app_id = proposal["value"]
        if app_id is None:
            return None
        app_id = str(app_id)
        if app_id not in set(self.frame["id"].astype(str)):
            raise traitlets.TraitError(
                f"no app with id {app_id!r} (known: {', '.join(self.frame['id'].astype(str))})"
            )
        return app_id

    @traitlets.observe("value")
    def _follow_value(self, change: dict) -> None:
        """``picker.value = id`` from code selects it in the dropdown, clearing a search that hides it."""
        app_id = change["new"]
        if app_id is None or app_id == self.dropdown.value:
            return
        if app_id not in [v for _, v in self.dropdown.options]:
            self.search.value = ""
        self.dropdown.value = app_id


Listener = Callable[..., None]


class Listeners:
    """A tiny callback list (panels tell the dashboard what changed without knowing it)."""

    def __init__(self) -> None:
        self._items: list[Listener] = []

    def add(self, fn: Listener) -> None:
        self._items.append(fn)

    def __bool__(self) -> bool:
        return bool(self._items)

    def __call__(self, *args: Any) -> None:
        """Call every listener; one that raises is logged and the others still run."""
        for fn in list(self._items):
            try:
                fn(*args)
            except Exception:  # a broken listener must not silence the rest (nor the panel that told them)
                _log.exception("listener %r failed", fn)


# ---------------------------------------------------------------------- the panel conventions

#: every live panel's worker thread -> panel, so a wait announced on that thread finds its panel
_WORKERS: dict[threading.Thread, Panel] = {}


def export_frame(frame: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write ``frame`` to ``path`` as CSV or Parquet (by suffix), all at once: a temporary file renamed into place."""
    target = Path(path).expanduser()
    suffix = target.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise errors.ConfigError(f"Export to a .csv or .parquet file; got {str(path)!r}")
    target.parent.mkdir(parents=True, exist_ok=True)
    out = frame.copy()
    out.attrs = {}  # attrs (missing dates, provenance notes) are not part of the table
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    os.close(fd)
    try:
        if suffix == ".csv":
            out.to_csv(tmp, index=False)
        else:
            out.to_parquet(tmp, index=False)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return target


def code_html(code: str) -> str:
    """Code in a selectable, themed block."""
    return (
        '<pre class="asc-nb-code" style="user-select: text; white-space: pre; overflow-x: auto; margin: 4px 0; '
        "padding: 6px 8px; background: var(--jp-layout-color2); color: var(--jp-content-font-color1); "
        f'font-family: var(--jp-code-font-family); font-size: var(--jp-code-font-size);">{html.escape(code)}</pre>'
    )


def _note(level: str, text: str) -> str:
    """A short answer beside a control: icon and text in the level's colour."""
    colour, icon = _LEVELS.get(level, _LEVELS["info"])
    return (
        f'<span class="asc-nb-{level}" style="color: var(--jp-ui-font-color1); margin-left: 8px;">'
        f'<i class="fa fa-{icon}" style="color: {colour};" aria-hidden="true"></i> {html.escape(text)}</span>'
    )


def fit(widget: w.Widget) -> w.Widget:
    """Size a button (or toggle buttons) to its label, so no label is cut off with "…"; returns the widget."""
    if isinstance(widget, w.ToggleButtons):
        widget.style.button_width = "auto"
    else:
        widget.layout.width = "max-content"  # not "auto": in a column, auto stretches it across the panel
        widget.layout.flex = "0 0 auto"  # and a crowded row does not squeeze it
    return widget


def fit_controls(root: w.Widget) -> None:
    """:func:`fit` every button and toggle-button group under ``root`` (ipywidgets' fixed 148 px cuts labels)."""
    stack = [root]
    while stack:
        widget = stack.pop()
        if isinstance(widget, w.Button | w.ToggleButtons):
            fit(widget)
        stack.extend(getattr(widget, "children", ()) or ())


def fit_text(widget: w.Textarea, *, chars_per_line: int = 70) -> w.Textarea:
    """A text area as wide as the panel with as many lines as its value needs, so no part of it is cut off."""

    def size(_change: Any = None) -> None:
        widget.rows = max(1, math.ceil(len(widget.value) / chars_per_line))

    widget.layout.width = "100%"
    size()
    widget.observe(size, names="value")
    return widget


class Panel(StaticRendering, w.VBox):
    """The base of every panel: one worker thread, ``busy``, ``wait()``, ``frame``/``code``/``export``.

    Displayed, a panel's mime bundle also carries a static rendering (``text/html``: its tables and
    chart images as they are now, :mod:`asc_nb.widgets.static`), so a notebook read without a kernel
    still shows the data.

    Subclasses build their widgets, pass them to ``super().__init__(children, client=...)`` (the
    "Show code"/"Export" row is ``self.tools``, placed where the subclass wants it), list the
    controls to disable while working in ``self.busy_controls``, and override :meth:`_code`.
    """

    busy = traitlets.Bool(False)
    frame = traitlets.Instance(pd.DataFrame, allow_none=True)
    error = traitlets.Any(None)
    #: what the current call waits for ("Retry-After: 12 s left"), "" when nothing
    waiting = traitlets.Unicode("")

    def __init__(
        self, children: list[w.Widget], *, client: PanelClient | Store | None = None, **kwargs: Any
    ) -> None:
        self.client = client
        if not hasattr(self, "status"):
            self.status = Status()
        self.on_change = getattr(self, "on_change", None) or Listeners()
        self.show_code = fit(
            w.Button(description="Show code", icon="code", tooltip="The Python that gives this table as df")
        )
        self.export_path = w.Text(
            placeholder="file.csv or file.parquet", description="Export to", layout=w.Layout(width="340px")
        )
        self.export_button = fit(
            w.Button(description="Export", icon="floppy-o", tooltip="Write the table to the file")
        )
        #: the Export's answer beside its button (the status line may be scrolled out of view): path and rows
        self.export_note = w.HTML(layout=w.Layout(flex="1 1 auto", min_width="0"))  # wraps, never squeezes
        self.export_note.add_class("asc-nb-export-note")
        self.code_view = w.HTML()
        self.code_view.layout.display = "none"
        self.tools = w.VBox(
            [
                w.HBox(
                    [self.show_code, self.export_path, self.export_button, self.export_note],
                    layout=w.Layout(align_items="center"),
                ),
                self.code_view,
            ]
        )
        self.tools.add_class("asc-nb-tools")
        self.busy_controls: list[w.Widget] = getattr(self, "busy_controls", [])
        self._jobs: deque[tuple[Callable[..., Any], tuple, dict]] = deque()
        self._cond = threading.Condition()
        self._pending = 0
        self._thread: threading.Thread | None = None
        self._wait_until = 0.0
        self._ticker: threading.Thread | None = None
        super().__init__(children, **kwargs)
        fit_controls(self)  # no button label cut off with "…"
        self.show_code.on_click(self._on_show_code)
        self.export_button.on_click(self._on_export)
        self.observe(self._on_busy, names="busy")
        self.observe(self._on_frame, names="frame")
        self.observe(self._on_waiting, names="waiting")
        self._before_wait: tuple[str, str] | None = None
        self._on_frame()
        # a store (the Overview reads one) has no API calls to wait for
        self._remove_wait_listener = (
            client.on_wait(self._on_wait) if isinstance(client, PanelClient) else None
        )

    # ------------------------------------------------------------------ the worker

    def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Run ``fn(*args, **kwargs)`` on this panel's worker thread (after the jobs before it).

        ``busy`` is true until the queue is empty; an exception lands in ``.error`` and the status line.
        """
        with self._cond:
            self._jobs.append((fn, args, kwargs))
            self._pending += 1
            start = self._thread is None or not self._thread.is_alive()
            if start:
                self._thread = threading.Thread(
                    target=self._work, name=f"asc-nb-{type(self).__name__}", daemon=True
                )
                _WORKERS[self._thread] = self
        self.busy = True
        if start:
            self._thread.start()

    def _work(self) -> None:
        me = threading.current_thread()
        while True:
            with self._cond:
                if not self._jobs:
                    _WORKERS.pop(me, None)
                    self._thread = None if self._thread is me else self._thread
                    return
                fn, args, kwargs = self._jobs.popleft()
            try:
                fn(*args, **kwargs)
            except Exception as exc:  # shown in the panel: the thread never dies with a traceback
                self.error = exc
                self.status.show("error", describe_error(exc))
            finally:
                self._wait_until = 0.0
                self.waiting = ""
                with self._cond:
                    self._pending -= 1
                    idle = self._pending == 0
                    if idle:
                        self.busy = False
                    self._cond.notify_all()
                with contextlib.suppress(Exception):
                    self.on_change()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every queued call has finished (or ``timeout`` s passed); True when idle."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._pending:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def settle(self) -> None:
        """From outside the worker: wait for queued work, so code reads what the last call produced."""
        if self.busy and threading.current_thread() is not self._thread:
            self.wait()

    def _on_busy(self, _change: dict | None = None) -> None:
        self._sync_controls()

    def _sync_controls(self) -> None:
        """Disable what must not be clicked while busy; subclasses add their own rules."""
        for control in self.busy_controls:
            control.disabled = self.busy
        self._on_frame()

    # ------------------------------------------------------------------ waits (Retry-After, pacer)

    def _on_wait(self, reason: str, seconds: float) -> None:
        """A call is about to wait: show a countdown if the call is this panel's."""
        owner = _WORKERS.get(threading.current_thread())
        if owner is not self and not (owner is None and self.busy):
            return
        self._wait_until = time.monotonic() + seconds
        self._tick(reason)
        if self._ticker is None or not self._ticker.is_alive():
            self._ticker = threading.Thread(
                target=self._countdown, args=(reason,), daemon=True, name="asc-nb-countdown"
            )
            self._ticker.start()

    def _tick(self, reason: str) -> None:
        left = max(0.0, self._wait_until - time.monotonic())
        why = {
            "pacer": "the key's hourly budget is spent",
            "retry-after": "Apple asked to retry later (Retry-After)",
            "backoff": "retrying after a failed call",
        }.get(reason, reason)
        self.waiting = f"Waiting {math.ceil(left)} s: {why}." if left > 0.05 else ""

    def _on_waiting(self, change: dict) -> None:
        """The countdown replaces the status line while it runs; the line comes back after it."""
        if change["new"]:
            if self._before_wait is None:
                self._before_wait = (self.status.level, self.status.text)
            self.status.show("busy", change["new"])
        elif self._before_wait is not None:
            level, text = self._before_wait
            self._before_wait = None
            if self.status.level == "busy" and self.status.text.startswith("Waiting "):
                self.status.show(level or "info", text)

    def _countdown(self, reason: str) -> None:
        while self._wait_until and time.monotonic() < self._wait_until:
            self._tick(reason)
            time.sleep(min(1.0, max(0.05, self._wait_until - time.monotonic())))
        self.waiting = ""

    # ------------------------------------------------------------------ frame, code, export

    @property
    def code(self) -> str:
        """Python that, run with ``client`` bound, leaves ``df`` equal to ``.frame`` ("" before there is one)."""
        return self._code() if self.frame is not None else ""

    def _code(self) -> str:
        return ""

    def export(self, path: str | os.PathLike[str]) -> Path:
        """Write ``.frame`` to ``path`` (``.csv`` or ``.parquet``); returns the path written."""
        if self.frame is None:
            raise errors.ConfigError("Nothing to export yet: this panel shows no table")
        return export_frame(self.frame, path)

    def default_export_name(self) -> str:
        return f"{type(self).__name__.lower()}.csv"

    def _on_frame(self, _change: dict | None = None) -> None:
        empty = self.frame is None
        self.show_code.disabled = empty
        self.export_button.disabled = empty or self.busy
        if _change is not None:  # a new table: the answer about the earlier one no longer describes it
            self.export_note.value = ""
        if empty:
            self.code_view.value = ""
            self.code_view.layout.display = "none"
            self.show_code.description = "Show code"
        elif self.code_view.layout.display != "none":
            self.code_view.value = code_html(self.code)
        if not empty and self.export_path.value in ("", getattr(self, "_auto_name", None)):
            # a name the user typed stays; the one we suggested follows the table
            self._auto_name = self.default_export_name()
            self.export_path.value = self._auto_name

    def _on_show_code(self, _button: Any = None) -> None:
        shown = self.code_view.layout.display != "none"
        if shown:
            self.code_view.layout.display = "none"
            self.show_code.description = "Show code"
        else:
            self.code_view.value = code_html(self.code)
            self.code_view.layout.display = None
            self.show_code.description = "Hide code"

    def _on_export(self, _button: Any = None) -> None:
        path = self.export_path.value.strip() or self.default_export_name()
        try:
            written = self.export(path)
        except Exception as exc:  # shown in the panel, beside the button and in the status line
            text = f"Export failed. {describe_error(exc)}"
            self.export_note.value = _note("error", text)
            self.status.show("error", text)
            return
        text = f"Exported {len(self.frame):,} rows to {written.resolve()}."  # type: ignore[arg-type]
        self.export_note.value = _note("ok", text)
        self.status.show("ok", text)

    def close(self) -> None:
        """Close the widget and stop listening to the client's waits."""
        remove = getattr(self, "_remove_wait_listener", None)  # absent when __init__ stopped early
        if remove is not None:
            remove()
            self._remove_wait_listener = None
        super().close()
