"""Opening the dashboard's Overview tab makes no API call on the kernel's thread (it reuses the dashboard's apps)."""

from __future__ import annotations

import datetime as dt
import threading

import asc_nb
from asc_nb.widgets.dashboard import TAB_OVERVIEW, Dashboard


def test_overview_tab_lists_nothing_on_the_kernel_thread(tmp_path):
    client = asc_nb.connect(sandbox=asc_nb.Sandbox(seed=0, apps=3), cache_dir=tmp_path / "cache")
    kernel = threading.get_ident()
    on_kernel: list[str] = []

    def spy(response):
        if threading.get_ident() == kernel:
            on_kernel.append(f"{response.request.method} {response.request.url.path}")

    http = client.http.client
    http.event_hooks = {**http.event_hooks, "response": [*http.event_hooks.get("response", []), spy]}
    dash = Dashboard(client)
    assert dash.wait(60)
    dash.tabs.selected_index = TAB_OVERVIEW  # what a click on the tab does
    assert dash.overview is not None
    assert on_kernel == []
    assert dash.wait(180)
    apps = dash.apps_frame
    assert dash.overview.app_names == {str(i): str(n) for i, n in zip(apps["id"], apps["name"], strict=True)}
    client.close()


def test_overview_dates_follow_the_sandbox_clock(tmp_path):
    client = asc_nb.connect(
        sandbox=asc_nb.Sandbox(seed=0, apps=1, history_days=20), cache_dir=tmp_path / "cache"
    )
    dash = Dashboard(client)
    assert dash.wait(60)
    ov = dash.open_overview()
    assert dash.wait(180)
    start, end = ov.start.value, ov.end.value
    dash.clock.advance_2.click()
    assert dash.wait(180)
    assert (ov.start.value, ov.end.value) == (start + dt.timedelta(days=2), end + dt.timedelta(days=2))
    assert f"end={ov.end.value.isoformat()!r}" in ov.kpis.code  # the cards were reloaded for the new window
    client.close()
