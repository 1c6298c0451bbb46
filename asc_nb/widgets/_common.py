"""Pieces every panel shares: a themed status line, error wording, HTML tables, the app picker.

Colours are JupyterLab CSS variables only, so the panels follow the light and dark themes.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import ipywidgets as w
import pandas as pd
import traitlets

from asc_nb import errors
from asc_nb.models import SNAPSHOT_COOLDOWN_DAYS

#: status level -> (accent colour, icon); all JupyterLab theme variables
_LEVELS = {
    "info": ("var(--jp-brand-color1)", "ℹ"),
    "busy": ("var(--jp-brand-color1)", "⏳"),
    "ok": ("var(--jp-success-color1)", "✔"),
    "warn": ("var(--jp-warn-color1)", "⚠"),
    "error": ("var(--jp-error-color1)", "✖"),
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
            f'<span style="color: {colour};">{icon}</span> {body}</div>'
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


def now_utc(client: Any) -> datetime:
    """The sandbox's simulated time when there is one (reports follow that clock), else real UTC."""
    sandbox = getattr(client, "sandbox", None)
    now = getattr(sandbox, "now", None) if sandbox is not None else None
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
        return f"This API key may not read this: it needs the Admin, Sales and Reports or Finance role.\n({exc})"
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


def expected_window(client: Any) -> tuple[datetime, datetime]:
    """When the first reports of a request made now should appear (Apple: in 1–2 days)."""
    now = now_utc(client)
    return now + timedelta(hours=24), now + timedelta(hours=48)


class AppPicker(w.VBox):
    """Search box + dropdown over every app (all pages): filter by name, bundle id or id as you type.

    ``value`` is the chosen app id; ``frame`` the full apps DataFrame the options come from.
    """

    value = traitlets.Unicode(None, allow_none=True)

    def __init__(self, client: Any, *, description: str = "App") -> None:
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
        return f"{row.get('name')}{extra} ({row['id']})"

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
            raise traitlets.TraitError(f"no app with id {app_id!r} (known: {', '.join(self.frame['id'].astype(str))})")
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
        for fn in list(self._items):
            fn(*args)
