"""Create report requests and look after them: ``RequestPanel``, ``RequestsTable`` and ``RequestsOverview``.

The panels only call client methods, on their worker thread (``_common.Panel``); every failure
lands in their status line in plain words (a 409 names the request in the way and says what is true
of it, a 403 explains the Admin rule, a refused snapshot says when the next one is possible).
Apps are named by name everywhere; ids sit in tooltips and in the code.
"""

from __future__ import annotations

import html
import warnings
from typing import Any

import ipywidgets as w
import pandas as pd
import traitlets

from asc_nb import errors
from asc_nb.models import SNAPSHOT_COOLDOWN_DAYS
from asc_nb.protocols import WidgetClient

from ._common import (
    AppPicker,
    Listeners,
    Panel,
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
    f"One per app every {SNAPSHOT_COOLDOWN_DAYS} days.",
}
#: where the "a deleted snapshot still counts" rule comes from: Apple's documentation only says one
#: snapshot per month; Apple engineers answering on the Apple Developer Forums say deleting one does not
#: give the allowance back (the sandbox models it that way)
SNAPSHOT_DELETE_NOTE = (
    f"Deleting a snapshot does not give the allowance back: the next one for this app is still possible only "
    f"{SNAPSHOT_COOLDOWN_DAYS} days after this one was requested (Apple's documentation says one snapshot per "
    "month; that a deleted snapshot still counts comes from Apple engineers' answers on the Apple Developer Forums)."
)

STATUS_WAITING = "waiting for first reports"
STATUS_ACTIVE = "active"
STATUS_STOPPED = "stopped due to inactivity"
STATUS_SNAPSHOT = "snapshot"
STATUS_NONE = "no request"
#: a report every request has; its instances show whether the first reports have arrived
PROBE_REPORT = "App Sessions Standard"


def _request_line(req: Any) -> str:
    stopped = " (stopped due to inactivity)" if is_true(value_of(req, "stopped_due_to_inactivity")) else ""
    return f"{value_of(req, 'id')} · {enum_text(value_of(req, 'access_type'))}{stopped}"


def app_name(apps: pd.DataFrame | None, app_id: Any) -> str:
    """An app's name from an apps frame (its id when the frame does not know it)."""
    if apps is not None and len(apps) and app_id is not None:
        rows = apps[apps["id"].astype(str) == str(app_id)]
        if len(rows) and isinstance(rows["name"].iloc[0], str):
            return str(rows["name"].iloc[0])
    return f"app {app_id}"


def _has_instances(client: WidgetClient, request_id: str) -> bool:
    """Whether Apple has generated anything yet: one report's instances tell (2 small calls).

    Only the first instance matters, so the listing stops after its first page: a snapshot
    holds about a thousand instances, which would cost five calls of the hourly budget.
    Listing instances counts as reading the request, as on Apple's side.
    """
    reports = client.reports(request_id, name=PROBE_REPORT)
    if len(reports) == 0:
        reports = client.reports(request_id)
    if len(reports) == 0:
        return False
    return next(iter(client.iter_instances(str(reports["id"].iloc[0]))), None) is not None


def status_of(client: WidgetClient, req: Any) -> str:
    """Waiting / active / stopped / snapshot, from the request's flag and whether any instance exists yet."""
    access = enum_text(value_of(req, "access_type"))
    if is_true(value_of(req, "stopped_due_to_inactivity")):
        return STATUS_STOPPED
    has_data = _has_instances(client, str(value_of(req, "id")))
    if access == "ONE_TIME_SNAPSHOT":
        return STATUS_SNAPSHOT if has_data else f"{STATUS_SNAPSHOT} ({STATUS_WAITING})"
    return STATUS_ACTIVE if has_data else STATUS_WAITING


def with_status(client: WidgetClient, requests: pd.DataFrame) -> pd.DataFrame:
    """``client.report_requests(app)`` plus a ``status`` column (what ``RequestsTable.frame`` holds)."""
    frame = requests.copy()
    frame["status"] = pd.array([status_of(client, row) for _, row in frame.iterrows()], dtype="string")
    return frame


def requests_overview(client: WidgetClient, apps: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every app with its requests and their status (an app with none gets one row saying so)."""
    apps = client.apps() if apps is None else apps
    rows = []
    for _, app in apps.iterrows():
        reqs = with_status(client, client.report_requests(str(app["id"])))
        if reqs.empty:
            rows.append(
                {
                    "app_id": app["id"],
                    "app_name": app["name"],
                    "request_id": pd.NA,
                    "access_type": pd.NA,
                    "status": STATUS_NONE,
                }
            )
        for _, req in reqs.iterrows():
            rows.append(
                {
                    "app_id": app["id"],
                    "app_name": app["name"],
                    "request_id": req["id"],
                    "access_type": enum_text(req["access_type"]),
                    "status": req["status"],
                }
            )
    return pd.DataFrame(rows, columns=["app_id", "app_name", "request_id", "access_type", "status"]).astype(
        "string"
    )


class RequestPanel(Panel):
    """Pick an app, choose ONGOING or ONE_TIME_SNAPSHOT, press Submit; see the request or why not.

    Controls: ``.app`` (app picker; ``.app.value`` is an app id), ``.access_type``, ``.submit``.
    State: ``.result`` (the created request), ``.error`` (the last exception), ``.existing``
    (the request in the way after a 409), ``.frame`` (the apps the picker offers).
    """

    result = traitlets.Any(None)
    existing = traitlets.Any(None)

    def __init__(self, client: WidgetClient, *, load: bool = True) -> None:
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
            ],
            client=client,
        )
        self.children = (*self.children, self.tools)  # the apps table: Show code / Export
        self.busy_controls = [
            self.submit,
            self.app.dropdown,
            self.app.search,
            self.access_type,
            self.open_existing,
        ]
        self.add_class("asc-nb-request-panel")  # a stable hook for browser tests and user CSS
        self.access_type.observe(self._on_access, names="value")
        self.access_type.observe(self._forget, names="value")
        self.app.observe(self._forget, names="value")
        self.submit.on_click(lambda _b: self.submit_request())
        self.open_existing.on_click(self._on_open_existing)
        self._on_access({"new": self.access_type.value})
        if load:
            self.reload()

    def __repr__(self) -> str:
        return f"RequestPanel(app={self.app.value!r}, access_type={self.access_type.value!r})"

    def reload(self, apps: pd.DataFrame | None = None) -> None:
        """Load every app (or take ``apps``) into the picker; a failure shows in the status line."""
        self.settle()
        self._reload(apps)

    def _reload(self, apps: pd.DataFrame | None) -> None:
        try:
            frame = self.app.load(apps)
        except Exception as exc:  # shown in the panel, never raised into the notebook
            self.error = exc
            self.status.show("error", f"Could not list apps. {describe_error(exc)}")
            return
        self.frame = frame

    def _code(self) -> str:
        return "df = client.apps()"

    def default_export_name(self) -> str:
        return "apps.csv"

    def _on_access(self, change: dict) -> None:
        self.access_help.value = (
            f'<div style="color: var(--jp-ui-font-color2); font-size: var(--jp-ui-font-size1); margin-left: 4px;">'
            f"{html.escape(ACCESS_HELP.get(change['new'], ''))}</div>"
        )

    def _forget(self, _change: dict | None = None) -> None:
        """Another app or access type: the last answer (a 409, its Open button) no longer applies."""
        if self.busy:
            return
        self.result = self.error = self.existing = None
        self.open_existing.layout.display = "none"
        if self.status.level in ("ok", "warn", "error"):
            self.status.show("info", "Choose an app and an access type, then Submit.")

    def app_name(self, app_id: Any) -> str:
        return app_name(self.app.frame, app_id)

    def submit_request(self) -> None:
        """Create the chosen request (on the worker)."""
        app_id, access = self.app.value, self.access_type.value
        self._forget()
        if not app_id:
            self.status.show("warn", "Choose an app first.")
            return
        self.status.show("busy", f"Creating a {access} request for {self.app_name(app_id)}…")
        self.run(self._submit, app_id, access)

    def _submit(self, app_id: str, access: str) -> None:
        name = self.app_name(app_id)
        try:
            req = self.client.create_report_request(app_id, access)
        except errors.ConflictError as exc:
            self.error = exc
            self._explain_conflict(exc, app_id, access)
            return
        except Exception as exc:  # shown in the panel, never raised into the notebook
            self.error = exc
            self.status.show("error", describe_error(exc))
            return
        self.result = req
        first, last = expected_window(self.client)
        self.status.show(
            "ok",
            f"Created {access} request {value_of(req, 'id')} for {name}. "
            f"First reports expected between {first:%Y-%m-%d %H:%M} and {last:%Y-%m-%d %H:%M} UTC "
            "(Apple: 1–2 days).",
        )
        self.on_created(req)

    def _explain_conflict(self, exc: Exception, app_id: str, access: str) -> None:
        """A 409 is either an existing request of that type (name it, say what is true of it) or the cooldown."""
        existing = getattr(exc, "existing", None)  # the client looked it up already
        name = self.app_name(app_id)
        if existing is not None:
            self.existing = existing
            self.open_existing.description = "Open it"
            self.open_existing.tooltip = f"request {value_of(existing, 'id')}"
            self.open_existing.layout.display = None
            stopped = is_true(value_of(existing, "stopped_due_to_inactivity"))
            if stopped:
                advice = "It was stopped due to inactivity: delete it in the Requests tab, then submit again."
            elif enum_text(value_of(existing, "access_type")) == "ONE_TIME_SNAPSHOT":
                advice = (
                    "A snapshot holds the history up to the day it was requested and gets no new data; for "
                    "current data use an ONGOING request. " + SNAPSHOT_DELETE_NOTE
                )
            else:
                advice = "Reuse it: Apple keeps generating its reports every day; there is no need for a second one."
            self.status.show(
                "warn",
                f"{name} already has {'an' if access[0] in 'AEIOU' else 'a'} {access} request: {_request_line(existing)}. "
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
            f"Request {_request_line(self.existing)} of {self.app_name(self.app.value)}. Open it with "
            f"RequestsTable(client, app_id={self.app.value!r}) or ReportsExplorer(client, {req_id!r}), "
            "or use asc_nb.widgets.dashboard(client), where this button jumps to it.",
        )


class RequestsTable(Panel):
    """An app's report requests with a status each; refresh, delete (after an explicit confirm), recreate.

    Controls: ``.app``, ``.selected`` (a request id), ``.refresh``, ``.delete``, ``.recreate``,
    ``.confirm`` / ``.cancel`` (the confirm step), ``.explore``.
    State: ``.frame`` (the requests with a ``status`` column), ``.result`` (the last request created or
    deleted), ``.error``, ``.pending`` (the action waiting for confirmation, or "").
    """

    result = traitlets.Any(None)
    pending = traitlets.Unicode("")

    def __init__(
        self,
        client: WidgetClient,
        app_id: str | None = None,
        *,
        apps: pd.DataFrame | None = None,
        load: bool = True,
    ) -> None:
        """``apps``: an apps frame already fetched (the dashboard shares one listing between pickers)."""
        self.app = AppPicker(client)
        self.table = w.HTML()
        self.selected = w.Dropdown(options=[], description="Request", layout=w.Layout(width="520px"))
        self.refresh = w.Button(description="Refresh", icon="refresh")
        self.delete = w.Button(description="Delete…", icon="trash", button_style="danger")
        self.recreate = w.Button(
            description="Recreate…", icon="repeat", tooltip="Delete a stopped request, then request again"
        )
        self.explore = w.Button(description="Explore reports", icon="search")
        self.confirm = w.Button(description="Yes, delete", button_style="danger", icon="check")
        self.cancel = w.Button(description="Cancel", icon="times")
        self.confirm_text = w.HTML()
        self.confirm_box = w.HBox([self.confirm_text, self.confirm, self.cancel])
        self.confirm_box.layout.display = "none"
        self.status = Status()
        self.on_open = Listeners()
        self.on_change = Listeners()
        #: called with a request id after it was deleted (the dashboard drops what pointed at it)
        self.on_deleted = Listeners()
        super().__init__(
            [
                heading("Report requests"),
                self.app,
                self.table,
                w.HBox([self.selected, self.refresh]),
                w.HBox([self.explore, self.recreate, self.delete]),
                self.confirm_box,
                self.status,
            ],
            client=client,
        )
        self.children = (*self.children, self.tools)
        self.busy_controls = [
            self.app.dropdown,
            self.app.search,
            self.selected,
            self.refresh,
            self.confirm,
            self.cancel,
        ]
        self.add_class("asc-nb-requests-table")  # a stable hook for browser tests and user CSS
        self.app.observe(self._on_app, names="value")
        self.selected.observe(self._on_selected, names="value")
        self.refresh.on_click(lambda _b: self.run(self._load, True))
        self.delete.on_click(self._on_delete)
        self.recreate.on_click(self._on_recreate)
        self.confirm.on_click(self._on_confirm)
        self.cancel.on_click(self._on_cancel)
        self.explore.on_click(self._on_explore)
        self._loading = False
        self._render()
        if load:
            self._initial(apps, app_id)

    def __repr__(self) -> str:
        return f"RequestsTable(app={self.app.value!r})"

    def _initial(self, apps: pd.DataFrame | None, app_id: str | None) -> None:
        self._loading = True  # list requests once, for the app finally chosen
        try:
            self.app.load(apps)
            if app_id is not None:
                self.app.value = app_id
        except Exception as exc:  # shown in the panel
            self.error = exc
            self.status.show("error", f"Could not list apps. {describe_error(exc)}")
            return
        finally:
            self._loading = False
        self._load(False)

    def app_name(self, app_id: Any = None) -> str:
        return app_name(self.app.frame, self.app.value if app_id is None else app_id)

    # ------------------------------------------------------------------ loading

    def load(self, say: bool = False) -> pd.DataFrame | None:
        """List the chosen app's requests and work out each one's status (Refresh queues it on the worker)."""
        self.settle()
        return self._load(say)

    def _load(self, say: bool = False) -> pd.DataFrame | None:
        app_id = self.app.value
        self._close_confirm()
        if not app_id:
            self.frame = None
            self._render()
            return None
        try:
            frame = with_status(self.client, self.client.report_requests(app_id))
        except Exception as exc:  # shown in the panel
            self.error = exc
            self.status.show("error", f"Could not list requests. {describe_error(exc)}")
            return None
        if app_id != self.app.value:
            return None  # another app was chosen meanwhile: its own listing follows
        self.frame = frame
        self._render()
        if say:
            self.status.show("info", f"{len(frame)} request(s) for {self.app_name()}.")
        return frame

    def _code(self) -> str:
        return (
            "from asc_nb.widgets.requests import with_status\n"
            f"df = with_status(client, client.report_requests({self.app.value!r}))"
        )

    def default_export_name(self) -> str:
        return f"requests_{self.app.value}.csv"

    def status_of(self, req: Any) -> str:
        return status_of(self.client, req)

    def _render(self) -> None:
        frame = self.frame
        if frame is None:
            self.table.value = frame_html(None, empty="Choose an app.")
            self.selected.options = []
            self._on_selected()
            return
        shown = pd.DataFrame({
            "Request": frame["id"].astype(str),
            "Access type": [enum_text(a) for a in frame["access_type"]],
            "Status": frame["status"],
        })  # fmt: skip
        self.table.value = frame_html(shown, empty=f"{self.app_name()} has no report requests yet.")
        options = [
            (f"{enum_text(row['access_type'])} · {row['status']} · {row['id']}", str(row["id"]))
            for _, row in frame.iterrows()
        ]
        set_options(self.selected, options)
        self._on_selected()

    def select(self, request_id: str) -> None:
        """Show the app that owns ``request_id`` and select the request (used by "Open it")."""
        self.settle()
        self._select(str(request_id))

    def _select(self, request_id: str) -> None:
        if self.frame is None or request_id not in set(self.frame["id"].astype(str)):
            try:
                req = self.client.report_request(request_id)
            except Exception as exc:  # shown in the panel
                self.error = exc
                self.status.show("error", describe_error(exc))
                return
            app_id = value_of(req, "app_id")
            if app_id and app_id != self.app.value:
                self._loading = True
                try:
                    self.app.value = str(app_id)
                finally:
                    self._loading = False
            self._load()
        if request_id in [v for _, v in self.selected.options]:
            self.selected.value = request_id

    def _row(self, request_id: str | None) -> pd.Series | None:
        if request_id is None or self.frame is None:
            return None
        rows = self.frame[self.frame["id"].astype(str) == str(request_id)]
        return rows.iloc[0] if len(rows) else None

    # ------------------------------------------------------------------ handlers

    def _on_app(self, _change: dict) -> None:
        """Another app: the old table, selection, confirmation and messages no longer apply."""
        self.frame = None
        self.result = self.error = None
        self._render()
        if self.status.level in ("ok", "warn", "error"):
            self.status.show("info", f"Listing the requests of {self.app_name()}…")
        if not self._loading:
            self.run(self._load)

    def _on_selected(self, _change: dict | None = None) -> None:
        self._on_selected_buttons()
        self._close_confirm()

    def _sync_controls(self) -> None:
        super()._sync_controls()
        if hasattr(self, "delete"):
            self._on_selected_buttons()

    def _on_selected_buttons(self) -> None:
        row = self._row(self.selected.value)
        has = row is not None
        self.delete.disabled = not has or self.busy
        self.explore.disabled = not has or self.busy
        self.recreate.disabled = not (has and row["status"] == STATUS_STOPPED) or self.busy

    def _ask(self, action: str, text: str, confirm_label: str) -> None:
        self.pending = action
        self.confirm.description = confirm_label
        self.confirm_text.value = f'<span style="color: var(--jp-warn-color1);">{html.escape(text)}</span>'
        self.confirm_box.layout.display = None

    def _close_confirm(self) -> None:
        self.pending = ""
        self.confirm_box.layout.display = "none"

    def _on_delete(self, _button: Any = None) -> None:
        row = self._row(self.selected.value)
        if row is None:
            self.status.show("warn", "Choose a request first.")
            return
        access = enum_text(row["access_type"])
        if access == "ONE_TIME_SNAPSHOT":
            text = f"Delete snapshot request {row['id']}? Its reports stop being available here. {SNAPSHOT_DELETE_NOTE}"
        else:
            text = (
                f"Delete ONGOING request {row['id']}? Apple stops generating its reports; you can request "
                "ONGOING again afterwards, but the days in between get no reports."
            )
        self._ask("delete", text, "Yes, delete")
        self.status.show("warn", f"Confirm to delete request {row['id']} of {self.app_name()}.")

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
        self.status.show("busy", f"Deleting request {row['id']}…")
        self.run(self._act, action, str(row["id"]), enum_text(row["access_type"]), self.app.value)

    def _act(self, action: str, req_id: str, access: str, app_id: str) -> None:
        self.error = None
        try:
            self.client.delete_report_request(req_id)
            self.result = req_id
            self.on_deleted(req_id)
            done = f"Deleted request {req_id} of {self.app_name(app_id)}."
            if action == "recreate":
                new = self.client.create_report_request(app_id, access)
                self.result = new
                done = f"Deleted stopped request {req_id} and created {access} request {value_of(new, 'id')}."
        except Exception as exc:  # shown in the panel
            self.error = exc
            self._load()
            self.status.show("error", describe_error(exc))
            return
        self._load()
        if action == "recreate" and self.result is not None:
            self._select(str(value_of(self.result, "id")))
        self.status.show("ok", done)

    def _on_explore(self, _button: Any = None) -> None:
        if self.selected.value:
            self.on_open(self.selected.value)


class RequestsOverview(Panel):
    """Every app with its requests and status; "Ensure ONGOING for all apps" creates what is missing.

    Controls: ``.list_all``, ``.ensure_all``. State: ``.frame`` (see :func:`requests_overview`),
    ``.result`` (what ensure did: created / existing / refused app ids).
    """

    result = traitlets.Any(None)

    def __init__(self, client: WidgetClient, *, apps: pd.DataFrame | None = None) -> None:
        self.apps = apps
        self.list_all = w.Button(description="List all apps' requests", icon="list")
        self.ensure_all = w.Button(
            description="Ensure ONGOING for all apps",
            icon="check-square-o",
            tooltip="Create an ONGOING request for every app that has none",
        )
        self.table = w.HTML()
        self.status = Status()
        self.on_change = Listeners()
        super().__init__(
            [heading("All apps"), w.HBox([self.list_all, self.ensure_all]), self.table, self.status],
            client=client,
        )
        self.children = (*self.children, self.tools)
        self.busy_controls = [self.list_all, self.ensure_all]
        self.add_class("asc-nb-requests-overview")
        self.list_all.on_click(lambda _b: self.load())
        self.ensure_all.on_click(lambda _b: self.ensure_ongoing_all())

    def __repr__(self) -> str:
        return "RequestsOverview()"

    def load(self) -> None:
        """List every app's requests (one listing per app plus a status probe per request), on the worker."""
        self.status.show("busy", "Listing every app's requests…")
        self.run(self._load)

    def _load(self) -> None:
        if self.apps is None:
            self.apps = self.client.apps()
        self.frame = requests_overview(self.client, self.apps)
        shown = self.frame.rename(
            columns={
                "app_name": "App",
                "access_type": "Access type",
                "status": "Status",
                "request_id": "Request",
            }
        ).drop(columns="app_id")
        self.table.value = frame_html(shown, max_rows=200)
        self.status.show(
            "info",
            f"{self.frame['app_id'].nunique()} apps, {int(self.frame['request_id'].notna().sum())} requests.",
        )

    def _code(self) -> str:
        return "from asc_nb.widgets.requests import requests_overview\ndf = requests_overview(client)"

    def default_export_name(self) -> str:
        return "requests_overview.csv"

    def ensure_ongoing_all(self) -> None:
        """``client.ensure_ongoing`` for every app; says which apps need an Admin key."""
        self.status.show("busy", "Making sure every app has an ONGOING request…")
        self.run(self._ensure)

    def _ensure(self) -> None:
        if self.apps is None:
            self.apps = self.client.apps()
        created, existing, refused, stopped, failed = [], [], [], [], []
        for _, app in self.apps.iterrows():
            app_id = str(app["id"])
            before = self.client.report_requests(app_id, "ONGOING")
            if len(before):
                (stopped if is_true(before["stopped_due_to_inactivity"].iloc[0]) else existing).append(
                    app["name"]
                )
                continue
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    self.client.ensure_ongoing(app_id)
                created.append(app["name"])
            except errors.ForbiddenError:
                refused.append(app["name"])
            except Exception as exc:  # one app's failure must not hide the others'
                failed.append(f"{app['name']} ({describe_error(exc).splitlines()[0]})")
        self.result = {
            "created": created,
            "existing": existing,
            "stopped": stopped,
            "refused": refused,
            "failed": failed,
        }
        self._load()
        parts = [
            f"Created an ONGOING request for {len(created)} app(s)"
            + (f": {', '.join(created)}" if created else ""),
            f"{len(existing)} already had one",
        ]
        if stopped:
            parts.append(
                f"{len(stopped)} hold one stopped due to inactivity (recreate it in the table above): "
                + ", ".join(stopped)
            )
        if refused:
            parts.append(
                f"this key may not create requests for {', '.join(refused)}: an Admin must, with an Admin "
                "key or in App Store Connect (Sales and Reports and Finance keys can only read)"
            )
        if failed:
            parts.append("failed: " + "; ".join(failed))
        self.status.show("warn" if (refused or failed or stopped) else "ok", ". ".join(parts) + ".")
