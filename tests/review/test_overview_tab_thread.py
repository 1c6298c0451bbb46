"""Opening the dashboard's Overview tab makes no API call on the kernel's thread (it reuses the dashboard's apps)."""

from __future__ import annotations

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
