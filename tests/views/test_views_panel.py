"""The Views panel and the dashboard's Views tab: each view computed on the worker, shown, its code reproducing it."""

from __future__ import annotations

import pandas as pd

from asc_nb import views
from asc_nb.widgets import dashboard
from asc_nb.widgets.views import CHOICES, ViewsPanel

from .conftest import END, START


def test_every_choice_shows_the_view_and_its_code_reproduces_it(world):
    _sb, client, apps = world
    panel = ViewsPanel(client, apps[0], start=START, end=END)
    assert panel.wait(120) and panel.error is None
    for _label, key in CHOICES:
        panel.choice.value = key
        assert panel.wait(120), key
        # a year back the sandbox has no rows: said as a warning, not hidden
        assert panel.error is None and panel.status.level == ("warn" if key == "last_year" else "ok"), (
            key,
            panel.status.text,
        )
        assert panel.chart.value[:8] == b"\x89PNG\r\n\x1a\n"
        ns = {"client": client}
        exec(panel.code, ns)
        pd.testing.assert_frame_equal(ns["df"], panel.frame)
    panel.choice.value = "funnel"
    panel.wait(120)
    direct = views.funnel(client, apps[0], start=START, end=END, approx=True)
    pd.testing.assert_frame_equal(panel.frame, direct.frame)
    panel.close()


def test_a_refused_question_lands_in_the_status_line(world):
    _sb, client, apps = world
    panel = ViewsPanel(client, apps[0], start=START, end=END, view="previous", autoload=False)
    panel.wait(60)
    panel.approx.value = False  # conversion rate over a week needs bounds: refused, not drawn
    panel.load()
    panel.wait(120)
    assert panel.status.level == "error" and "unique count" in panel.status.text
    panel.close()


def test_dashboard_has_a_views_tab_built_when_opened(world):
    _sb, client, apps = world
    dash = dashboard(client)
    assert dash.wait(120)
    last = len(dash.tabs.children) - 1
    assert dash.tabs.get_title(last) == "Views" and dash.views_panel is None
    dash.tabs.selected_index = last
    assert dash.views_panel is not None
    assert dash.views_panel.wait(120) and dash.views_panel.error is None
    assert list(dash.views_panel.apps.value) == [dash.request_panel.app.value]
    assert dash.views_panel.frame is not None and dash.views_panel.view.name == "funnel"
