"""One line to open everything: ``asc_nb.widgets.dashboard()``: tabs over the three panels and a rate-limit meter."""

from __future__ import annotations

import html
import time
from typing import TYPE_CHECKING, Any

import ipywidgets as w

from asc_nb.protocols import PanelClient, RateLimitInfo, WidgetClient

from ._common import Listeners, enum_text, is_true
from .explorer import EMPTY_HELP, ReportsExplorer
from .overview import Overview, default_window
from .requests import RequestPanel, RequestsOverview, RequestsTable
from .static import StaticRendering
from .views import attach as attach_views

if TYPE_CHECKING:  # pragma: no cover
    from asc_nb.store import Store

TAB_REQUEST, TAB_REQUESTS, TAB_REPORTS, TAB_OVERVIEW, TAB_STORE = 0, 1, 2, 3, 4
TITLES = ("Request", "Requests", "Reports", "Overview")
STORE_TITLE = "Store"


class RateLimitMeter(w.HBox):
    """Remaining calls of the key's rolling hour, from the last ``X-Rate-Limit`` header the client saw."""

    def __init__(self, client: PanelClient) -> None:
        self.client = client
        self.bar = w.IntProgress(value=0, min=0, max=1, description="API budget", bar_style="info")
        self.label = w.HTML()
        super().__init__([self.bar, self.label])
        self.add_class("asc-nb-rate-meter")  # a stable hook for browser tests and user CSS
        self.refresh()

    @property
    def rate_limit(self) -> RateLimitInfo | None:
        return self.client.rate_limit

    @property
    def remaining(self) -> int | None:
        rate_limit = self.rate_limit
        return rate_limit.remaining if rate_limit is not None else None

    @property
    def limit(self) -> int | None:
        return getattr(self.rate_limit, "limit", None)

    def refresh(self, *_args: Any) -> None:
        """Re-read the client's last rate-limit header (panels call this after each action)."""
        limit, remaining = self.limit, self.remaining
        if limit is None or remaining is None:
            self.bar.max, self.bar.value = 1, 0
            text = "no calls yet this session"
        else:
            self.bar.max, self.bar.value = max(limit, 1), max(min(remaining, limit), 0)
            share = remaining / limit if limit else 0
            self.bar.bar_style = "success" if share > 0.5 else "warning" if share > 0.1 else "danger"
            text = f"{remaining:,} of {limit:,} calls left this hour"
        self.label.value = (
            f'<span style="color: var(--jp-ui-font-color2); white-space: nowrap;">{text}</span>'
        )

    def __repr__(self) -> str:
        return f"RateLimitMeter(remaining={self.remaining}, limit={self.limit})"


def connection_label(client: WidgetClient) -> str:
    """Say plainly what the data is: simulated, Apple's, or another server (a proxy, the sandbox CLI)."""
    mode = client.mode
    if mode == "sandbox":
        return "sandbox (simulated data)"
    if mode == "apple":
        return "App Store Connect"
    return f"{html.escape(str(client.base_url).rstrip('/'))} (not Apple's API host)"


class SandboxClock(w.HBox):
    """The sandbox's simulated clock, and buttons that move it (Apple's reports follow real days; the sandbox's
    follow this clock, so without it a new request would never show data)."""

    def __init__(self, sandbox: Any) -> None:
        self.sandbox = sandbox
        self.label = w.HTML(layout=w.Layout(width="auto"))
        self.advance_1 = w.Button(
            description="Advance 1 day",
            icon="forward",
            tooltip="Move the simulated clock",
            layout=w.Layout(width="auto"),
        )
        self.advance_2 = w.Button(
            description="Advance 2 days",
            icon="fast-forward",
            tooltip="Move the simulated clock (a new request's first reports take 1–2 days)",
            layout=w.Layout(width="auto"),
        )
        self.on_advance = Listeners()
        super().__init__([self.label, self.advance_1, self.advance_2])
        self.add_class("asc-nb-sandbox-clock")
        self.advance_1.on_click(lambda _b: self.advance(1))
        self.advance_2.on_click(lambda _b: self.advance(2))
        self.show()

    def show(self) -> None:
        self.label.value = (
            f'<span style="color: var(--jp-ui-font-color2); white-space: nowrap;" title="simulated time: reports appear '
            f'as it moves"><i class="fa fa-clock-o"></i> Simulated clock: '
            f"{self.sandbox.now:%Y-%m-%d %H:%M} UTC</span>"
        )

    def advance(self, days: float) -> None:
        """Move the simulated clock ``days`` forward; the panels follow (date fields, request statuses)."""
        self.sandbox.advance(days=days)
        self.show()
        self.on_advance(days)


class Dashboard(StaticRendering, w.VBox):
    """The panels in tabs, wired together: a created request shows up in the table, "Open it" jumps
    to it, "Explore reports" opens the explorer on it, and the meter follows every call.

    The Reports tab opened before any request was explored shows the chosen app's ONGOING request; the explorer
    and the Overview open on the same week. Documented handles: ``.request_panel`` (Request tab), ``.requests_table`` and ``.requests_overview``
    (Requests tab), ``.explorer`` (Reports tab), ``.overview`` (Overview tab: ``None`` until first opened, see
    :meth:`open_overview`), ``.store_panel`` (Store tab, with ``store=``; else ``None``), ``.meter``, ``.clock``
    (sandbox only, else ``None``).
    ``wait(timeout=None)`` joins the work of every panel (their calls run on worker threads).
    """

    def __init__(self, client: WidgetClient, store: Store | None = None) -> None:
        self.client = client
        self.meter = RateLimitMeter(client)
        #: the Store tab (``dashboard(client, store=asc_nb.Store(...))``), else ``None``
        self.store_panel = None
        if store is not None:
            from .store import StorePanel

            self.store_panel = StorePanel(client, store)
        self.request_panel = RequestPanel(client, load=False)
        self.requests_table = RequestsTable(client, load=False)
        self.requests_overview = RequestsOverview(client)
        # the explorer opens on the Overview's week (the last seven days every KPI's report has completed)
        self.explorer = ReportsExplorer(client, window=lambda: default_window(client))
        self.mode = w.HTML(
            f'<span style="color: var(--jp-ui-font-color2);">Connected to {connection_label(client)}</span>'
        )
        sandbox = client.sandbox
        self.clock = SandboxClock(sandbox) if sandbox is not None else None
        #: the Overview tab (App Analytics metrics) is built the first time it is opened: its loads are not free
        self.overview: Overview | None = None
        #: the apps listing the panels share (loaded once, on the Request panel's worker)
        self.apps_frame: Any = None
        self._overview_box = w.VBox(
            [w.HTML("Open this tab to load App Analytics metrics for the chosen app.")]
        )
        self.tabs = w.Tab(
            children=[
                self.request_panel,
                w.VBox([self.requests_table, self.requests_overview]),
                self.explorer,
                self._overview_box,
            ]
            + ([self.store_panel] if self.store_panel is not None else [])
        )
        for i, title in enumerate(self.titles):
            self.tabs.set_title(i, title)
        attach_views(self)  # the Views tab (asc_nb.widgets.views), built when first opened
        self.tabs.selected_index = TAB_REQUEST
        top = [self.mode, self.meter] + ([self.clock] if self.clock is not None else [])
        bar = w.HBox(top, layout=w.Layout(flex_flow="row wrap", align_items="center", grid_gap="4px 16px"))
        super().__init__([bar, self.tabs])

        self.add_class("asc-nb-dashboard")  # a stable hook for browser tests and user CSS
        for panel in self.panels:
            panel.on_change.add(self.meter.refresh)
        self.request_panel.app.observe(self._follow_app, names="value")
        self.request_panel.on_created.add(self._on_created)
        self.request_panel.on_open.add(self.show_request)
        self.requests_table.on_open.add(self.explore)
        self.requests_table.on_deleted.add(self._on_deleted)
        if self.clock is not None:
            self.clock.on_advance.add(self._on_clock)
        self.tabs.observe(self._on_tab, names="selected_index")
        self.request_panel.run(self._load_apps)  # one apps listing serves every panel
        self.meter.refresh()

    @property
    def panels(self) -> tuple[Any, ...]:
        store = (self.store_panel,) if self.store_panel is not None else ()
        extra = () if self.overview is None else (self.overview,)
        return (
            self.request_panel,
            self.requests_table,
            self.requests_overview,
            self.explorer,
            *extra,
            *store,
        )

    @property
    def titles(self) -> tuple[str, ...]:
        return TITLES + ((STORE_TITLE,) if self.store_panel is not None else ())

    def _on_tab(self, change: dict) -> None:
        if change["new"] == TAB_OVERVIEW:
            self.open_overview()
        elif change["new"] == TAB_REPORTS and self.explorer.request_id is None:
            # the Reports tab opened directly: show the chosen app's ONGOING request (after its requests list)
            self.requests_table.run(self._open_default_request)

    def _open_default_request(self) -> None:
        """Open the Requests table's ONGOING request (else its first) in the explorer, if none is open yet."""
        frame = self.requests_table.frame
        if self.explorer.request_id is not None or frame is None or frame.empty:
            return
        live = [
            enum_text(a) == "ONGOING" and not is_true(s)
            for a, s in zip(frame["access_type"], frame["stopped_due_to_inactivity"], strict=True)
        ]
        ongoing = frame[live]
        row = (ongoing if len(ongoing) else frame).iloc[0]
        self.explorer.run(self.explorer.load, str(row["id"]))

    def open_overview(self) -> Overview:
        """Build the Overview (first time: for the app chosen in the Request tab) and show its tab."""
        if self.overview is None:
            # the apps come from the dashboard's own listing: selecting the tab makes no API call on the kernel
            self.overview = Overview(
                self.client, self.request_panel.app.value or None, app_frame=self.apps_frame
            )
            self._overview_box.children = [self.overview]
        if self.tabs.selected_index != TAB_OVERVIEW:
            self.tabs.selected_index = TAB_OVERVIEW
        return self.overview

    def __repr__(self) -> str:
        return f"Dashboard(tabs={list(self.titles)})"

    def wait(self, timeout: float | None = None) -> bool:
        """Block until no panel has work left (or ``timeout`` s passed); True when all are idle."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            for panel in self.panels:
                left = None if deadline is None else max(0.0, deadline - time.monotonic())
                if not panel.wait(left):
                    return False
            if not any(p.busy for p in self.panels):
                return True

    def _load_apps(self) -> None:
        apps = self.client.apps()
        self.apps_frame = apps
        self.request_panel._reload(apps)
        self.requests_overview.apps = apps
        self.explorer.app_names.update(
            {str(a): str(n) for a, n in zip(apps["id"], apps["name"], strict=False)}
        )
        self.requests_table.run(self.requests_table._initial, apps, self.request_panel.app.value)

    def _follow_app(self, change: dict) -> None:
        if (
            change["new"]
            and change["new"] != self.requests_table.app.value
            and self.requests_table.app.frame is not None
            and change["new"] in set(self.requests_table.app.frame["id"].astype(str))
        ):
            self.requests_table.app.value = change["new"]

    def _on_created(self, req: Any) -> None:
        self.requests_table.run(self.requests_table._select, str(getattr(req, "id", req)))

    def _on_deleted(self, request_id: str) -> None:
        """A deleted request: no 409 about it, no Open button to it, no explorer showing it."""
        existing = self.request_panel.existing
        if existing is not None and str(getattr(existing, "id", "")) == request_id:
            self.request_panel._forget()
        if self.explorer.request_id == request_id:
            self.explorer.run(self.explorer.forget_request, f"Request {request_id} was deleted. {EMPTY_HELP}")

    def _on_clock(self, _days: float) -> None:
        self.explorer.follow_clock()
        if self.overview is not None:  # its dates follow the clock too (and its cards reload on its workers)
            self.overview.follow_clock()
        if self.requests_table.app.value:
            self.requests_table.run(
                self.requests_table._load
            )  # statuses move with the clock (waiting -> active)

    def show_request(self, request_id: str) -> None:
        """Show ``request_id`` in the Requests tab (looked up on the table's worker)."""
        self.requests_table.run(self.requests_table._select, str(request_id))
        self.tabs.selected_index = TAB_REQUESTS

    def explore(self, request_id: str) -> None:
        """Open the Reports tab on ``request_id`` (its reports list on the explorer's worker)."""
        self.explorer.run(self.explorer.load, str(request_id))
        self.tabs.selected_index = TAB_REPORTS


def dashboard(client: WidgetClient | None = None, store: Store | None = None) -> Dashboard:
    """Open the dashboard on ``client`` (default: ``asc_nb.connect()``: Apple with credentials, else the sandbox).

    Returns the :class:`Dashboard`; its ``.request_panel``, ``.requests_table``, ``.requests_overview`` and
    ``.explorer`` are the panels (each with ``.frame``, ``.code``, ``.export(path)``, ``.wait()``);
    with ``store=`` (an :class:`asc_nb.Store`) a Store tab (``.store_panel``) shows its coverage and syncs it.
    """
    if client is None:
        from asc_nb.connection import connect

        client = connect()
    return Dashboard(client, store)
