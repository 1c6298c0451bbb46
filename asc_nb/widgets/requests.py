"""Create report requests and look after them: ``RequestPanel`` and ``RequestsTable``.

Both panels only call client methods; every failure lands in their status line in plain words
(a 409 names the request in the way, a 403 explains the Admin rule, a refused snapshot says when
the next one is possible), never as a traceback.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as w
import pandas as pd
import traitlets

from asc_nb import errors

from ._common import (
    AppPicker,
    Listeners,
    Status,
    cooldown_message,
    describe_error,
    enum_text,
    expected_window,
    frame_html,
    heading,
    is_true,
    set_options,
    value_of,
)

ACCESS_TYPES = [("Ongoing", "ONGOING"), ("One-time snapshot", "ONE_TIME_SNAPSHOT")]
ACCESS_HELP = {
    "ONGOING": "Current data, generated every day (daily, weekly and monthly reports) until you delete it. "
    "The usual choice.",
    "ONE_TIME_SNAPSHOT": "All history Apple has (from 2024-01-01) up to today, once; no new data afterwards. "
    "One per app every 31 days.",
}


def _request_line(req: Any) -> str:
    stopped = " (stopped due to inactivity)" if is_true(value_of(req, "stopped_due_to_inactivity")) else ""
    return f"{value_of(req, 'id')} · {enum_text(value_of(req, 'access_type'))}{stopped}"


class RequestPanel(w.VBox):
    """Pick an app, choose ONGOING or ONE_TIME_SNAPSHOT, press Submit; see the request or why not.

    Controls: ``.app`` (app picker; ``.app.value`` is an app id), ``.access_type``, ``.submit``.
    State: ``.result`` (the created request), ``.error`` (the last exception), ``.existing``
    (the request in the way after a 409), ``.frame`` (the apps the picker offers).
    """

    result = traitlets.Any(None)
    error = traitlets.Any(None)
    existing = traitlets.Any(None)

    def __init__(self, client: Any, *, load: bool = True) -> None:
        self.client = client
        self.app = AppPicker(client)
        self.access_type = w.ToggleButtons(options=ACCESS_TYPES, value="ONGOING", description="Access")
        self.access_help = w.HTML()
        self.submit = w.Button(description="Submit", button_style="primary", icon="paper-plane")
        self.open_existing = w.Button(description="Open existing request", icon="external-link")
        self.open_existing.layout.display = "none"
        self.status = Status()
        #: called with a request id when the user asks to open one (the dashboard shows it)
        self.on_open = Listeners()
        #: called with the created request
        self.on_created = Listeners()
        #: called after every call to the API (the dashboard refreshes its rate-limit meter)
        self.on_change = Listeners()
        super().__init__(
            [
                heading("Request analytics reports"),
                self.app,
                self.access_type,
                self.access_help,
                w.HBox([self.submit, self.open_existing]),
                self.status,
            ]
        )
        self.add_class("asc-nb-request-panel")  # a stable hook for browser tests and user CSS
        self.access_type.observe(self._on_access, names="value")
        self.submit.on_click(self._on_submit)
        self.open_existing.on_click(self._on_open_existing)
        self._on_access({"new": self.access_type.value})
        if load:
            self.reload()

    @property
    def frame(self) -> pd.DataFrame:
        return self.app.frame

    def __repr__(self) -> str:
        return f"RequestPanel(apps={len(self.app.frame)}, app={self.app.value!r}, access_type={self.access_type.value!r})"

    def reload(self) -> None:
        """Load every app into the picker; a failure shows in the status line."""
        try:
            self.app.load()
        except Exception as exc:  # shown in the panel, never raised into the notebook
            self.error = exc
            self.status.show("error", f"Could not list apps. {describe_error(exc)}")
        self.on_change()

    def _on_access(self, change: dict) -> None:
        self.access_help.value = (
            f'<div style="color: var(--jp-ui-font-color2); font-size: var(--jp-ui-font-size1); margin-left: 4px;">'
            f"{ACCESS_HELP.get(change['new'], '')}</div>"
        )

    def _on_submit(self, _button: Any = None) -> None:
        app_id, access = self.app.value, self.access_type.value
        self.result = self.error = self.existing = None
        self.open_existing.layout.display = "none"
        if not app_id:
            self.status.show("warn", "Choose an app first.")
            return
        self.submit.disabled = True
        self.status.show("busy", f"Creating a {access} request for app {app_id}…")
        try:
            req = self.client.create_report_request(app_id, access)
        except errors.ConflictError as exc:
            self.error = exc
            self._explain_conflict(exc, app_id, access)
        except Exception as exc:  # shown in the panel, never raised into the notebook
            self.error = exc
            self.status.show("error", describe_error(exc))
        else:
            self.result = req
            first, last = expected_window(self.client)
            self.status.show(
                "ok",
                f"Created {access} request {value_of(req, 'id')} for app {app_id}. "
                f"First reports expected between {first:%Y-%m-%d %H:%M} and {last:%Y-%m-%d %H:%M} UTC "
                "(Apple: 1–2 days).",
            )
            self.on_created(req)
        finally:
            self.submit.disabled = False
            self.on_change()

    def _explain_conflict(self, exc: Exception, app_id: str, access: str) -> None:
        """A 409 is either an existing request of that type (name it, offer to open it) or the snapshot cooldown."""
        existing = getattr(exc, "existing", None)  # the client looked it up already
        if existing is not None:
            self.existing = existing
            self.open_existing.description = f"Open {value_of(existing, 'id')}"
            self.open_existing.layout.display = None
            stopped = is_true(value_of(existing, "stopped_due_to_inactivity"))
            advice = (
                "It was stopped due to inactivity: delete it in the Requests tab, then submit again."
                if stopped
                else "Reuse it: its reports keep coming; there is no need for a second one."
            )
            self.status.show(
                "warn",
                f"App {app_id} already has a {access} request: {_request_line(existing)}. "
                f"Apple allows one request per access type per app. {advice}\n({exc})",
            )
        elif access == "ONE_TIME_SNAPSHOT":
            self.status.show("warn", cooldown_message(exc))
        else:
            self.status.show("error", describe_error(exc))

    def _on_open_existing(self, _button: Any = None) -> None:
        if self.existing is None:
            return
        req_id = str(value_of(self.existing, "id"))
        if self.on_open:
            self.on_open(req_id)
            return
        # on its own (no dashboard around it) the panel says how to open the request
        self.status.show(
            "info",
            f"Request {_request_line(self.existing)} of app {self.app.value}. Open it with "
            f"RequestsTable(client, app_id={self.app.value!r}) or ReportsExplorer(client, {req_id!r}), "
            "or use asc_nb.widgets.dashboard(client), where this button jumps to it.",
        )


STATUS_WAITING = "waiting for first reports"
STATUS_ACTIVE = "active"
STATUS_STOPPED = "stopped due to inactivity"
STATUS_SNAPSHOT = "snapshot"
#: a report every request has; its instances show whether the first reports have arrived
PROBE_REPORT = "App Sessions Standard"


class RequestsTable(w.VBox):
    """An app's report requests with a status each; refresh, delete (after an explicit confirm), recreate.

    Controls: ``.app``, ``.selected`` (a request id), ``.refresh``, ``.delete``, ``.recreate``,
    ``.confirm`` / ``.cancel`` (the confirm step), ``.explore``.
    State: ``.frame`` (the requests with a ``status`` column), ``.result`` (the last request created or
    deleted), ``.error``, ``.pending`` (the action waiting for confirmation, or "").
    """

    frame = traitlets.Instance(pd.DataFrame, allow_none=True)
    result = traitlets.Any(None)
    error = traitlets.Any(None)
    pending = traitlets.Unicode("")

    def __init__(
        self, client: Any, app_id: str | None = None, *, apps: pd.DataFrame | None = None, load: bool = True
    ) -> None:
        """``apps``: an apps frame already fetched (the dashboard shares one listing between pickers)."""
        self.client = client
        self.app = AppPicker(client)
        self.table = w.HTML()
        self.selected = w.Dropdown(options=[], description="Request", layout=w.Layout(width="520px"))
        self.refresh = w.Button(description="Refresh", icon="refresh")
        self.delete = w.Button(description="Delete…", icon="trash", button_style="danger")
        self.recreate = w.Button(description="Recreate…", icon="repeat", tooltip="Delete a stopped request, then request again")
        self.explore = w.Button(description="Explore reports", icon="search")
        self.confirm = w.Button(description="Yes, delete", button_style="danger")
        self.cancel = w.Button(description="Cancel")
        self.confirm_text = w.HTML()
        self.confirm_box = w.HBox([self.confirm_text, self.confirm, self.cancel])
        self.confirm_box.layout.display = "none"
        self.status = Status()
        self.on_open = Listeners()
        self.on_change = Listeners()
        super().__init__(
            [
                heading("Report requests"),
                self.app,
                self.table,
                w.HBox([self.selected, self.refresh]),
                w.HBox([self.explore, self.recreate, self.delete]),
                self.confirm_box,
                self.status,
            ]
        )
        self.add_class("asc-nb-requests-table")  # a stable hook for browser tests and user CSS
        self.app.observe(self._on_app, names="value")
        self.selected.observe(self._on_selected, names="value")
        self.refresh.on_click(self._on_refresh)
        self.delete.on_click(self._on_delete)
        self.recreate.on_click(self._on_recreate)
        self.confirm.on_click(self._on_confirm)
        self.cancel.on_click(self._on_cancel)
        self.explore.on_click(self._on_explore)
        self._loading = False
        self._render()
        if load:
            self._loading = True  # list requests once, for the app finally chosen
            try:
                self.app.load(apps)
                if app_id is not None:
                    self.app.value = app_id
            except Exception as exc:  # shown in the panel
                self.error = exc
                self.status.show("error", f"Could not list apps. {describe_error(exc)}")
            finally:
                self._loading = False
            self.load()

    def __repr__(self) -> str:
        n = 0 if self.frame is None else len(self.frame)
        return f"RequestsTable(app={self.app.value!r}, requests={n})"

    # ------------------------------------------------------------------ loading

    def load(self) -> pd.DataFrame | None:
        """List the chosen app's requests and work out each one's status."""
        app_id = self.app.value
        self._close_confirm()
        if not app_id:
            self.frame = None
            self._render()
            return None
        try:
            frame = self.client.report_requests(app_id).copy()
            frame["status"] = [self.status_of(row) for _, row in frame.iterrows()]
        except Exception as exc:  # shown in the panel
            self.error = exc
            self.status.show("error", f"Could not list requests. {describe_error(exc)}")
            self.on_change()
            return None
        self.frame = frame
        self._render()
        self.on_change()
        return frame

    def status_of(self, req: Any) -> str:
        """Waiting / active / stopped / snapshot, from the request's flag and whether any instance exists yet."""
        access = enum_text(value_of(req, "access_type"))
        if is_true(value_of(req, "stopped_due_to_inactivity")):
            return STATUS_STOPPED
        has_data = self._has_instances(str(value_of(req, "id")))
        if access == "ONE_TIME_SNAPSHOT":
            return STATUS_SNAPSHOT if has_data else f"{STATUS_SNAPSHOT} ({STATUS_WAITING})"
        return STATUS_ACTIVE if has_data else STATUS_WAITING

    def _has_instances(self, request_id: str) -> bool:
        """Whether Apple has generated anything yet: one report's instances tell (2 small calls).

        Only the first instance matters, so the listing stops after its first page: a snapshot
        holds about a thousand instances, which would cost five calls of the hourly budget.
        Listing instances counts as reading the request, as on Apple's side.
        """
        reports = self.client.reports(request_id, name=PROBE_REPORT)
        if len(reports) == 0:
            reports = self.client.reports(request_id)
        if len(reports) == 0:
            return False
        return next(iter(self.client.iter_instances(str(reports["id"].iloc[0]))), None) is not None

    def _render(self) -> None:
        frame = self.frame
        if frame is None:
            self.table.value = frame_html(None, empty="Choose an app.")
            self.selected.options = []
            return
        cols = [c for c in ("id", "access_type", "status", "stopped_due_to_inactivity") if c in frame.columns]
        self.table.value = frame_html(frame[cols], empty="This app has no report requests yet.")
        options = [(f"{row['id']} · {enum_text(row['access_type'])} · {row['status']}", str(row["id"]))
                   for _, row in frame.iterrows()]
        set_options(self.selected, options)
        self._on_selected()

    def select(self, request_id: str) -> None:
        """Show the app that owns ``request_id`` and select the request (used by "Open existing request")."""
        request_id = str(request_id)
        if self.frame is None or request_id not in set(self.frame["id"].astype(str)):
            try:
                req = self.client.report_request(request_id)
            except Exception as exc:  # shown in the panel
                self.error = exc
                self.status.show("error", describe_error(exc))
                return
            app_id = value_of(req, "app_id")
            if app_id and app_id != self.app.value:
                self.app.value = str(app_id)  # loads that app's requests
            elif self.frame is None or request_id not in set(self.frame["id"].astype(str)):
                self.load()
        if request_id in [v for _, v in self.selected.options]:
            self.selected.value = request_id

    def _row(self, request_id: str | None) -> pd.Series | None:
        if request_id is None or self.frame is None:
            return None
        rows = self.frame[self.frame["id"].astype(str) == str(request_id)]
        return rows.iloc[0] if len(rows) else None

    # ------------------------------------------------------------------ handlers

    def _on_app(self, _change: dict) -> None:
        if not self._loading:
            self.load()

    def _on_selected(self, _change: dict | None = None) -> None:
        row = self._row(self.selected.value)
        has = row is not None
        self.delete.disabled = not has
        self.explore.disabled = not has
        self.recreate.disabled = not (has and row["status"] == STATUS_STOPPED)
        self._close_confirm()

    def _on_refresh(self, _button: Any = None) -> None:
        if self.load() is not None:
            self.status.show("info", f"{len(self.frame)} request(s) for app {self.app.value}.")

    def _ask(self, action: str, text: str, confirm_label: str) -> None:
        self.pending = action
        self.confirm.description = confirm_label
        self.confirm_text.value = f'<span style="color: var(--jp-warn-color1);">{text}</span>'
        self.confirm_box.layout.display = None

    def _close_confirm(self) -> None:
        self.pending = ""
        self.confirm_box.layout.display = "none"

    def _on_delete(self, _button: Any = None) -> None:
        req_id = self.selected.value
        if req_id is None:
            self.status.show("warn", "Choose a request first.")
            return
        self._ask("delete", f"Delete request {req_id}? Apple stops generating its reports.", "Yes, delete")
        self.status.show("warn", f"Confirm to delete request {req_id}.")

    def _on_recreate(self, _button: Any = None) -> None:
        row = self._row(self.selected.value)
        if row is None or row["status"] != STATUS_STOPPED:
            self.status.show("warn", "Only a request stopped due to inactivity needs recreating.")
            return
        self._ask(
            "recreate",
            f"Delete stopped request {row['id']} and request {enum_text(row['access_type'])} again?",
            "Yes, recreate",
        )
        self.status.show("warn", f"Confirm to recreate request {row['id']}.")

    def _on_cancel(self, _button: Any = None) -> None:
        self._close_confirm()
        self.status.show("info", "Nothing was deleted.")

    def _on_confirm(self, _button: Any = None) -> None:
        action, row = self.pending, self._row(self.selected.value)
        self._close_confirm()
        if not action or row is None:
            return
        req_id, access, app_id = str(row["id"]), enum_text(row["access_type"]), self.app.value
        self.error = None
        try:
            self.client.delete_report_request(req_id)
            self.result = req_id
            done = f"Deleted request {req_id}."
            if action == "recreate":
                new = self.client.create_report_request(app_id, access)
                self.result = new
                done = f"Deleted stopped request {req_id} and created {access} request {value_of(new, 'id')}."
        except Exception as exc:  # shown in the panel
            self.error = exc
            self.status.show("error", describe_error(exc))
            self.load()
            return
        self.load()
        if action == "recreate" and self.result is not None:
            self.select(str(value_of(self.result, "id")))
        self.status.show("ok", done)

    def _on_explore(self, _button: Any = None) -> None:
        if self.selected.value:
            self.on_open(self.selected.value)
