"""One line to open everything: ``asc_nb.widgets.dashboard()``: tabs over the three panels and a rate-limit meter."""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as w

from .explorer import ReportsExplorer
from .requests import RequestPanel, RequestsTable

TAB_REQUEST, TAB_REQUESTS, TAB_REPORTS = 0, 1, 2


class RateLimitMeter(w.HBox):
    """Remaining calls of the key's rolling hour, from the last ``X-Rate-Limit`` header the client saw."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.bar = w.IntProgress(value=0, min=0, max=1, description="API budget", bar_style="info")
        self.label = w.HTML()
        super().__init__([self.bar, self.label])
        self.add_class("asc-nb-rate-meter")  # a stable hook for browser tests and user CSS
        self.refresh()

    @property
    def rate_limit(self) -> Any:
        http = getattr(self.client, "http", None)
        return getattr(http, "rate_limit", None)

    @property
    def remaining(self) -> int | None:
        return getattr(self.rate_limit, "remaining", None)

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
        self.label.value = f'<span style="color: var(--jp-ui-font-color2);">{text}</span>'

    def __repr__(self) -> str:
        return f"RateLimitMeter(remaining={self.remaining}, limit={self.limit})"


def connection_label(client: Any) -> str:
    """Say plainly what the data is: simulated, Apple's, or another server (a proxy, the sandbox CLI)."""
    mode = client.mode
    if mode == "sandbox":
        return "sandbox (simulated data)"
    if mode == "apple":
        return "App Store Connect"
    return f"{html.escape(str(client.base_url).rstrip('/'))} (not Apple's API host)"


class Dashboard(w.VBox):
    """The three panels in tabs, wired together: a created request shows up in the table, "open" jumps
    to it, "Explore reports" opens the explorer on it, and the meter follows every call."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.meter = RateLimitMeter(client)
        self.request_panel = RequestPanel(client)
        # one apps listing serves both pickers
        self.requests_table = RequestsTable(client, self.request_panel.app.value, apps=self.request_panel.frame)
        self.explorer = ReportsExplorer(client)
        self.mode = w.HTML(f'<span style="color: var(--jp-ui-font-color2);">Connected to {connection_label(client)}</span>')
        self.tabs = w.Tab(children=[self.request_panel, self.requests_table, self.explorer])
        for i, title in enumerate(("Request", "Requests", "Reports")):
            self.tabs.set_title(i, title)
        self.tabs.selected_index = TAB_REQUEST
        super().__init__([w.HBox([self.mode, self.meter]), self.tabs])

        self.add_class("asc-nb-dashboard")  # a stable hook for browser tests and user CSS
        for panel in (self.request_panel, self.requests_table, self.explorer):
            panel.on_change.add(self.meter.refresh)
        self.request_panel.app.observe(self._follow_app, names="value")
        self.request_panel.on_created.add(self._on_created)
        self.request_panel.on_open.add(self.show_request)
        self.requests_table.on_open.add(self.explore)
        self.meter.refresh()

    def __repr__(self) -> str:
        return f"Dashboard(tabs=['Request', 'Requests', 'Reports'], apps={len(self.request_panel.frame)})"

    def _follow_app(self, change: dict) -> None:
        if change["new"] and change["new"] != self.requests_table.app.value:
            self.requests_table.app.value = change["new"]

    def _on_created(self, req: Any) -> None:
        self.requests_table.load()
        self.requests_table.select(str(getattr(req, "id", req)))

    def show_request(self, request_id: str) -> None:
        """Show ``request_id`` in the Requests tab."""
        self.requests_table.select(request_id)
        self.tabs.selected_index = TAB_REQUESTS

    def explore(self, request_id: str) -> None:
        """Open the Reports tab on ``request_id``."""
        self.explorer.load(request_id)
        self.tabs.selected_index = TAB_REPORTS


def dashboard(client: Any = None) -> Dashboard:
    """Open the dashboard on ``client`` (default: ``asc_nb.connect()``: Apple with credentials, else the sandbox)."""
    if client is None:
        from asc_nb.connection import connect

        client = connect()
    return Dashboard(client)
