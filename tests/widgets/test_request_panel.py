"""RequestPanel: pick an app, submit, and read the outcome (or the plain-language reason why not)."""

from __future__ import annotations

import pytest
import traitlets

import asc_nb
from asc_nb.widgets import RequestPanel, RequestsTable


def test_picker_offers_every_app_and_filters_as_you_type(client, app_ids) -> None:
    panel = RequestPanel(client)
    assert [v for _, v in panel.app.dropdown.options] == app_ids
    assert panel.app.value == app_ids[0]
    name = str(client.apps()["name"].iloc[2])
    panel.app.search.value = name[:4].lower()
    shown = [v for _, v in panel.app.dropdown.options]
    assert app_ids[2] in shown and len(shown) < len(app_ids)
    assert panel.app.value == shown[0]
    panel.app.search.value = "no such app"
    assert panel.app.dropdown.options == () and panel.app.value is None
    assert "0 of 5 apps" in panel.app.count.value
    # choosing an app from code works whatever the filter shows
    panel.app.value = app_ids[3]
    assert panel.app.search.value == "" and panel.app.dropdown.value == app_ids[3]
    with pytest.raises(traitlets.TraitError):
        panel.app.value = "0000"


def test_picker_loads_all_pages(tmp_path) -> None:
    sandbox = asc_nb.Sandbox(seed=1, apps=230)  # more than one page of 200
    with asc_nb.connect(sandbox=sandbox, cache_dir=tmp_path) as client:
        panel = RequestPanel(client)
    assert len(panel.app.dropdown.options) == 230 == len(panel.frame)


def test_submit_creates_request_and_table_shows_it(client, app_ids, sandbox) -> None:
    panel = RequestPanel(client)
    panel.app.value = app_ids[1]
    panel.access_type.value = "ONGOING"
    panel.submit.click()
    panel.wait()
    req = panel.result
    assert panel.error is None and req is not None
    assert panel.status.level == "ok"
    assert req.id in panel.status.text and "ONGOING" in panel.status.text
    assert "First reports expected between 2026-03-03" in panel.status.text

    table = RequestsTable(client, app_id=app_ids[1])
    assert list(table.frame["id"]) == [req.id]
    assert list(table.frame["status"]) == ["waiting for first reports"]
    assert req.id in table.table.value
    sandbox.advance(days=3)
    table.refresh.click()
    table.wait()
    assert list(table.frame["status"]) == ["active"]


def test_access_type_explains_itself(client) -> None:
    panel = RequestPanel(client)
    assert "every day" in panel.access_help.value
    panel.access_type.value = "ONE_TIME_SNAPSHOT"
    assert "31 days" in panel.access_help.value


def test_409_names_the_existing_request_and_offers_to_open_it(client, app_ids) -> None:
    first = client.create_report_request(app_ids[0], "ONGOING")
    panel = RequestPanel(client)
    opened: list[str] = []
    panel.on_open.add(opened.append)
    panel.app.value = app_ids[0]
    panel.submit.click()
    panel.wait()
    assert isinstance(panel.error, asc_nb.ConflictError)
    assert panel.result is None
    assert panel.existing is not None and panel.existing.id == first.id
    assert panel.status.level == "warn"
    assert f"already has an ONGOING request: {first.id}" in panel.status.text
    assert "Traceback" not in panel.status.value
    assert panel.open_existing.layout.display is None
    panel.open_existing.click()
    panel.wait()
    assert opened == [first.id]


def test_403_explains_the_admin_rule(reader, app_ids) -> None:
    panel = RequestPanel(reader)
    panel.app.value = app_ids[0]
    panel.submit.click()
    panel.wait()
    assert isinstance(panel.error, asc_nb.ForbiddenError)
    assert panel.status.level == "error"
    assert "only an Admin key may create or delete report requests" in panel.status.text
    assert panel.result is None


def test_snapshot_cooldown_says_when_the_next_is_possible(client, app_ids) -> None:
    snap = client.create_report_request(app_ids[0], "ONE_TIME_SNAPSHOT")
    client.delete_report_request(snap.id)  # deleted snapshots still count
    panel = RequestPanel(client)
    panel.app.value = app_ids[0]
    panel.access_type.value = "ONE_TIME_SNAPSHOT"
    panel.submit.click()
    panel.wait()
    assert isinstance(panel.error, asc_nb.ConflictError)
    assert panel.existing is None
    assert "one ONE_TIME_SNAPSHOT per app every 31 days" in panel.status.text
    assert "The next snapshot is possible from 2026-04-02 09:00 UTC" in panel.status.text


def test_server_failure_shows_in_the_panel(client, app_ids, sandbox) -> None:
    panel = RequestPanel(client)
    sandbox.faults.add("server_error", path=r"/v1/analyticsReportRequests", method="POST", status=500)
    panel.app.value = app_ids[0]
    panel.submit.click()  # must not raise
    panel.wait()
    assert isinstance(panel.error, asc_nb.ServerError)
    assert panel.status.level == "error" and "500" in panel.status.text
    assert not panel.submit.disabled


def test_no_app_chosen(client) -> None:
    panel = RequestPanel(client)
    panel.app.search.value = "no such app"
    panel.submit.click()
    panel.wait()
    assert panel.status.level == "warn" and panel.result is None


def test_open_existing_on_its_own_says_how(client, app_ids) -> None:
    first = client.create_report_request(app_ids[0], "ONGOING")
    panel = RequestPanel(client)
    panel.submit.click()
    panel.wait()
    panel.open_existing.click()  # no dashboard listening
    panel.wait()
    assert panel.status.level == "info"
    assert f"ReportsExplorer(client, {first.id!r})" in panel.status.text
