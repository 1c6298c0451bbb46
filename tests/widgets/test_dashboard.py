"""Dashboard: the panels wired together, the rate-limit meter, the sandbox clock, the requests overview."""

from __future__ import annotations

import datetime
import time

import pandas as pd

import asc_nb
from asc_nb.widgets import Dashboard, dashboard


def ready(client) -> Dashboard:
    dash = dashboard(client)
    assert dash.wait(60)
    return dash


def test_dashboard_wires_the_panels(client, app_ids) -> None:
    dash = ready(client)
    assert isinstance(dash, Dashboard)
    assert dash.tabs.selected_index == 0
    assert [dash.tabs.get_title(i) for i in range(3)] == ["Request", "Requests", "Reports"]
    panel, table = dash.request_panel, dash.requests_table

    panel.app.value = app_ids[2]
    dash.wait()
    assert table.app.value == app_ids[2]  # the table follows the chosen app
    panel.submit.click()
    dash.wait()
    req = panel.result
    assert list(table.frame["id"]) == [req.id] and table.selected.value == req.id

    panel.submit.click()  # 409: open the existing one in the Requests tab
    dash.wait()
    panel.open_existing.click()
    dash.wait()
    assert dash.tabs.selected_index == 1 and table.selected.value == req.id

    table.explore.click()
    dash.wait()
    assert dash.tabs.selected_index == 2 and dash.explorer.request_id == req.id
    assert len(dash.explorer.report.options) > 50


def test_409_message_goes_away_when_another_app_is_chosen(client, app_ids) -> None:
    client.create_report_request(app_ids[0], "ONGOING")
    dash = ready(client)
    panel = dash.request_panel
    panel.submit.click()
    dash.wait()
    assert isinstance(panel.error, asc_nb.ConflictError) and panel.open_existing.layout.display is None
    assert "Reuse it" in panel.status.text and "Apple keeps generating its reports" in panel.status.text
    name0 = client.app(app_ids[0]).name
    assert f"{name0} already has an ONGOING request" in panel.status.text  # the app by name
    panel.app.value = app_ids[1]
    assert panel.error is None and panel.existing is None and panel.open_existing.layout.display == "none"
    assert panel.status.level == "info"


def test_snapshot_409_says_it_gets_no_new_data_and_deleting_does_not_help(client, app_ids) -> None:
    client.create_report_request(app_ids[0], "ONE_TIME_SNAPSHOT")
    dash = ready(client)
    panel = dash.request_panel
    panel.access_type.value = "ONE_TIME_SNAPSHOT"
    panel.submit.click()
    dash.wait()
    text = panel.status.text
    assert "gets no new data" in text and "Reuse it" not in text
    assert "a deleted snapshot still counts" in text and "Apple Developer Forums" in text


def test_deleting_a_snapshot_warns_the_cooldown_remains(client, app_ids) -> None:
    snap = client.create_report_request(app_ids[0], "ONE_TIME_SNAPSHOT")
    dash = ready(client)
    table = dash.requests_table
    table.selected.value = snap.id
    table.delete.click()
    assert "does not give the allowance back" in table.confirm_text.value
    table.confirm.click()
    dash.wait()
    assert table.frame.empty and table.selected.options == () and table.delete.disabled
    assert table.explore.disabled  # no "open" on a deleted request


def test_every_click_returns_at_once(client, app_ids, sandbox) -> None:
    dash = ready(client)
    sandbox.faults.add("slow", path="/v1/analyticsReportRequests", method="POST", seconds=0.6)
    began = time.monotonic()
    dash.request_panel.submit.click()
    assert time.monotonic() - began < 0.3
    assert dash.request_panel.busy and dash.request_panel.submit.disabled
    dash.wait()
    assert dash.request_panel.result is not None and not dash.request_panel.submit.disabled


def test_meter_follows_the_rate_limit_header(client, app_ids) -> None:
    dash = ready(client)
    rl = client.http.rate_limit
    assert dash.meter.remaining == rl.remaining and dash.meter.limit == rl.limit
    assert f"{rl.remaining:,} of {rl.limit:,} calls left this hour" in dash.meter.label.value
    before = rl.remaining
    dash.request_panel.submit.click()
    dash.wait()
    assert dash.meter.remaining < before
    assert dash.meter.bar.value == dash.meter.remaining and dash.meter.bar.max == rl.limit


def test_sandbox_clock_moves_and_the_panels_follow(client, app_ids, sandbox) -> None:
    req = client.create_report_request(app_ids[0], "ONGOING")
    dash = ready(client)
    assert dash.clock is not None and "2026-03-02 09:00 UTC" in dash.clock.label.value
    assert list(dash.requests_table.frame["status"]) == ["waiting for first reports"]
    ex = dash.explorer
    # the Overview's week: the last seven days every KPI's report has completed (Sessions, Crashes: five days)
    assert (ex.start.value, ex.end.value) == (datetime.date(2026, 2, 19), datetime.date(2026, 2, 25))
    dash.clock.advance_2.click()
    dash.wait()
    assert sandbox.now.date() == datetime.date(2026, 3, 4) and "2026-03-04" in dash.clock.label.value
    assert ex.end.value == datetime.date(2026, 2, 27) and ex.start.value == datetime.date(2026, 2, 21)
    assert list(dash.requests_table.frame["status"]) == ["active"]
    dash.clock.advance_1.click()
    assert sandbox.now.date() == datetime.date(2026, 3, 5)
    assert req.id in dash.requests_table.table.value


def test_requests_overview_and_ensure_ongoing_for_all_apps(client, app_ids) -> None:
    client.create_report_request(app_ids[1], "ONGOING")
    dash = ready(client)
    ov = dash.requests_overview
    ov.list_all.click()
    dash.wait()
    assert set(ov.frame["app_id"]) == set(app_ids)
    assert (ov.frame["status"] == "no request").sum() == len(app_ids) - 1
    ov.ensure_all.click()
    dash.wait()
    assert ov.result["existing"] and len(ov.result["created"]) == len(app_ids) - 1
    assert ov.status.level == "ok" and "already had one" in ov.status.text
    assert "no request" not in set(ov.frame["status"])
    ns: dict = {"client": client}
    exec(ov.code, ns)
    pd.testing.assert_frame_equal(ns["df"], ov.frame)


def test_ensure_all_with_a_read_only_key_says_what_an_admin_must_do(reader, app_ids) -> None:
    dash = ready(reader)
    ov = dash.requests_overview
    ov.ensure_all.click()
    dash.wait()
    assert len(ov.result["refused"]) == len(app_ids) and ov.status.level == "warn"
    assert "an Admin must" in ov.status.text


def test_dashboard_without_a_client_opens_the_sandbox(monkeypatch) -> None:
    for name in (
        "ASC_KEY_ID",
        "ASC_ISSUER_ID",
        "ASC_PRIVATE_KEY_PATH",
        "ASC_PRIVATE_KEY",
        "ASC_PRIVATE_KEY_B64",
        "ASC_BASE_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    dash = dashboard()
    dash.wait()
    assert dash.client.sandbox is not None
    assert "sandbox" in dash.mode.value
    assert len(dash.request_panel.frame) > 0
    dash.client.close()


def test_reprs_are_short_and_stable(client) -> None:
    dash = ready(client)
    assert repr(dash) == "Dashboard(tabs=['Request', 'Requests', 'Reports', 'Overview'])"
    assert len(dash._repr_mimebundle_()["text/plain"]) < 110
    assert isinstance(dash.client, asc_nb.Client)


def test_dashboard_lists_apps_once(client, sandbox) -> None:
    before = len(sandbox.calls)
    ready(client)
    paths = [path for _method, _host, path in sandbox.calls[before:]]
    assert sum(p.split("?")[0] == "/v1/apps" for p in paths) == 1


def test_deleting_a_request_drops_everything_that_pointed_at_it(client, app_ids) -> None:
    req = client.create_report_request(app_ids[0], "ONGOING")
    dash = ready(client)
    panel, table, ex = dash.request_panel, dash.requests_table, dash.explorer
    panel.submit.click()  # 409 with an "Open it" button to req
    dash.wait()
    assert panel.existing is not None and panel.open_existing.layout.display is None
    table.explore.click()
    dash.wait()
    assert ex.request_id == req.id and ex.reports is not None
    table.delete.click()
    table.confirm.click()
    dash.wait()
    assert table.status.level == "ok"
    assert panel.existing is None and panel.open_existing.layout.display == "none" and panel.error is None
    assert ex.request_id is None and ex.reports is None and ex.report.options == ()
    assert "was deleted" in ex.status.text and ex.hint.layout.display is None


def test_request_panel_shows_code_and_exports_the_apps(client, tmp_path) -> None:
    dash = ready(client)
    panel = dash.request_panel
    assert panel.tools in panel.children
    ns: dict = {"client": client}
    exec(panel.code, ns)
    pd.testing.assert_frame_equal(ns["df"], panel.frame)
    assert len(pd.read_csv(panel.export(tmp_path / "apps.csv"))) == len(panel.frame)
