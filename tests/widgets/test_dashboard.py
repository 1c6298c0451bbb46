"""Dashboard: the panels wired together, and the rate-limit meter."""

from __future__ import annotations

import asc_nb
from asc_nb.widgets import Dashboard, dashboard


def test_dashboard_wires_the_panels(client, app_ids) -> None:
    dash = dashboard(client)
    assert isinstance(dash, Dashboard)
    assert dash.tabs.selected_index == 0
    assert [dash.tabs.get_title(i) for i in range(3)] == ["Request", "Requests", "Reports"]
    panel, table = dash.request_panel, dash.requests_table

    panel.app.value = app_ids[2]
    assert table.app.value == app_ids[2]  # the table follows the chosen app
    panel.submit.click()
    req = panel.result
    assert list(table.frame["id"]) == [req.id] and table.selected.value == req.id

    panel.submit.click()  # 409: open the existing one in the Requests tab
    panel.open_existing.click()
    assert dash.tabs.selected_index == 1 and table.selected.value == req.id

    table.explore.click()
    assert dash.tabs.selected_index == 2 and dash.explorer.request_id == req.id
    assert len(dash.explorer.report.options) > 50


def test_meter_follows_the_rate_limit_header(client, app_ids) -> None:
    dash = Dashboard(client)
    rl = client.http.rate_limit
    assert dash.meter.remaining == rl.remaining and dash.meter.limit == rl.limit
    assert f"{rl.remaining:,} of {rl.limit:,} calls left this hour" in dash.meter.label.value
    before = rl.remaining
    dash.request_panel.submit.click()
    assert dash.meter.remaining < before
    assert dash.meter.bar.value == dash.meter.remaining and dash.meter.bar.max == rl.limit


def test_dashboard_without_a_client_opens_the_sandbox(monkeypatch) -> None:
    for name in ("ASC_KEY_ID", "ASC_ISSUER_ID", "ASC_PRIVATE_KEY_PATH", "ASC_PRIVATE_KEY", "ASC_PRIVATE_KEY_B64",
                 "ASC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    dash = dashboard()
    assert dash.client.sandbox is not None
    assert "sandbox" in dash.mode.value
    assert len(dash.request_panel.frame) > 0
    dash.client.close()


def test_reprs_are_short_and_stable(client) -> None:
    dash = Dashboard(client)
    assert repr(dash) == "Dashboard(tabs=['Request', 'Requests', 'Reports'], apps=5)"
    assert len(dash._repr_mimebundle_()["text/plain"]) < 110
    assert isinstance(dash.client, asc_nb.Client)


def test_dashboard_lists_apps_once(client, sandbox) -> None:
    before = len(sandbox.calls)
    Dashboard(client)
    paths = [path for _method, _host, path in sandbox.calls[before:]]
    assert sum(p.split("?")[0] == "/v1/apps" for p in paths) == 1
