"""RequestsTable: list with status, delete only after an explicit confirm, recreate a stopped request."""

from __future__ import annotations

import asc_nb
from asc_nb.widgets import RequestsTable


def test_lists_requests_with_a_status_each(client, app_ids, sandbox) -> None:
    ongoing = client.create_report_request(app_ids[0], "ONGOING")
    snap = client.create_report_request(app_ids[0], "ONE_TIME_SNAPSHOT")
    table = RequestsTable(client, app_id=app_ids[0])
    status = dict(zip(table.frame["id"], table.frame["status"], strict=True))
    assert status == {
        ongoing.id: "waiting for first reports",
        snap.id: "snapshot (waiting for first reports)",
    }
    sandbox.advance(days=3)
    table.refresh.click()
    table.wait()
    status = dict(zip(table.frame["id"], table.frame["status"], strict=True))
    assert status == {ongoing.id: "active", snap.id: "snapshot"}
    assert table.status.text == f"2 request(s) for {client.app(app_ids[0]).name}."


def test_switching_app_lists_that_apps_requests(client, app_ids) -> None:
    req = client.create_report_request(app_ids[2], "ONGOING")
    table = RequestsTable(client, app_id=app_ids[0])
    assert table.frame.empty and "no report requests yet" in table.table.value
    assert table.delete.disabled and table.explore.disabled
    table.app.value = app_ids[2]
    table.wait()
    assert list(table.frame["id"]) == [req.id] and table.selected.value == req.id
    assert not table.delete.disabled


def test_delete_needs_an_explicit_confirm(client, app_ids) -> None:
    req = client.create_report_request(app_ids[0], "ONGOING")
    table = RequestsTable(client, app_id=app_ids[0])
    table.selected.value = req.id

    table.delete.click()  # asks, deletes nothing

    table.wait()
    assert table.pending == "delete" and table.confirm_box.layout.display is None
    assert req.id in table.confirm_text.value
    assert list(client.report_requests(app_ids[0])["id"]) == [req.id]

    table.cancel.click()

    table.wait()
    assert table.pending == "" and table.confirm_box.layout.display == "none"
    assert list(client.report_requests(app_ids[0])["id"]) == [req.id]
    table.confirm.click()  # nothing pending: a stray confirm does nothing
    table.wait()
    assert list(client.report_requests(app_ids[0])["id"]) == [req.id]

    table.delete.click()

    table.wait()
    table.confirm.click()
    table.wait()
    assert client.report_requests(app_ids[0]).empty
    assert table.frame.empty and table.result == req.id
    assert table.status.level == "ok" and f"Deleted request {req.id}" in table.status.text


def test_delete_with_a_read_only_key_explains_the_admin_rule(client, reader, app_ids) -> None:
    req = client.create_report_request(app_ids[0], "ONGOING")
    table = RequestsTable(reader, app_id=app_ids[0])
    table.delete.click()
    table.wait()
    table.confirm.click()
    table.wait()
    assert isinstance(table.error, asc_nb.ForbiddenError)
    assert "only an Admin key may create or delete report requests" in table.status.text
    assert list(client.report_requests(app_ids[0])["id"]) == [req.id]


def test_recreate_a_request_stopped_due_to_inactivity(client, app_ids, sandbox) -> None:
    old = client.create_report_request(app_ids[0], "ONGOING")
    sandbox.advance(days=45)  # nobody reads it: it stops
    table = RequestsTable(client, app_id=app_ids[0])
    assert list(table.frame["status"]) == ["stopped due to inactivity"]
    assert not table.recreate.disabled
    table.recreate.click()
    table.wait()
    assert table.pending == "recreate"
    assert list(client.report_requests(app_ids[0])["id"]) == [old.id]
    table.confirm.click()
    table.wait()
    new_ids = list(client.report_requests(app_ids[0])["id"])
    assert len(new_ids) == 1 and new_ids[0] != old.id
    assert table.result.id == new_ids[0] and table.selected.value == new_ids[0]
    assert list(table.frame["status"]) == ["waiting for first reports"]
    assert table.recreate.disabled  # only stopped requests can be recreated


def test_explore_button_hands_the_request_on(client, app_ids) -> None:
    req = client.create_report_request(app_ids[0], "ONGOING")
    table = RequestsTable(client, app_id=app_ids[0])
    opened: list[str] = []
    table.on_open.add(opened.append)
    table.explore.click()
    table.wait()
    assert opened == [req.id]


def test_select_finds_the_owning_app(client, app_ids) -> None:
    req = client.create_report_request(app_ids[3], "ONGOING")
    table = RequestsTable(client, app_id=app_ids[0])
    table.select(req.id)
    assert table.app.value == app_ids[3] and table.selected.value == req.id
