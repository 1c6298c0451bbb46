"""What the dashboard shows before anyone has clicked much: the Reports tab has a request's reports, the list starts
with the App Store and App Usage reports, the Overview and the explorer open on the same week, labels are words."""

from __future__ import annotations

import datetime

import ipywidgets as w

import asc_nb
from asc_nb.widgets import Dashboard, Overview, dashboard
from asc_nb.widgets.dashboard import TAB_REPORTS
from asc_nb.widgets.overview import DEFAULT_KPIS


def ready(client) -> Dashboard:
    dash = dashboard(client)
    assert dash.wait(60)
    return dash


def test_the_reports_tab_opened_directly_shows_the_apps_ongoing_request(client, app_ids) -> None:
    req = client.create_report_request(app_ids[0], "ONGOING")
    dash = ready(client)
    assert dash.explorer.request_id is None  # nothing listed before the tab is opened
    dash.tabs.selected_index = TAB_REPORTS
    assert dash.wait(60)
    ex = dash.explorer
    assert ex.request_id == req.id and ex.error is None, ex.status.text
    assert len(ex.report.options) > 50 and ex.hint.layout.display == "none"


def test_the_report_list_starts_with_app_store_and_app_usage(client, app_ids) -> None:
    req = client.create_report_request(app_ids[0], "ONGOING")
    dash = ready(client)
    dash.explore(req.id)
    assert dash.wait(60)
    ex = dash.explorer
    names = [label for label, _ in ex.report.options]
    assert names[0] == "App Downloads Standard" and ex.report.label == "App Downloads Standard"
    reports = ex.reports.set_index("name")["category"].astype(str)
    cats = [reports[n] for n in names]
    firsts = {"COMMERCE", "APP_STORE_ENGAGEMENT", "APP_USAGE"}
    head = cats[: sum(c in firsts for c in cats)]
    assert set(head) <= firsts  # every App Store / App Usage report comes before any other
    assert [label for label, _ in ex.category.options][1:4] == [
        "Commerce",
        "App Store Engagement",
        "App Usage",
    ]
    assert names.index("App Downloads Standard") < names.index("App Downloads Detailed")


def test_overview_and_explorer_open_on_the_same_week(client, app_ids) -> None:
    dash = ready(client)
    overview = dash.open_overview()
    assert dash.wait(120)
    assert (dash.explorer.start.value, dash.explorer.end.value) == (overview.start.value, overview.end.value)
    assert overview.end.value - overview.start.value == datetime.timedelta(days=6)
    dash.clock.advance_1.click()
    assert dash.wait(120)
    assert (dash.explorer.start.value, dash.explorer.end.value) == (overview.start.value, overview.end.value)


def test_kpi_cards_are_labelled_in_words(tmp_path) -> None:
    with asc_nb.connect(
        sandbox=asc_nb.Sandbox(seed=0, apps=2, history_days=40), cache_dir=tmp_path
    ) as client:
        overview = Overview(client)
        assert overview.wait(120) and overview.kpis.frame is not None, overview.status.text
        labels = {}
        for box in overview.kpis.cards.children:
            html = box.children[0].value
            metric = html.split('data-metric="')[1].split('"')[0]
            labels[metric] = html.split("asc-nb-kpi-label")[1].split(">")[1].split("<")[0]
    assert set(labels) == set(DEFAULT_KPIS)
    assert (
        labels["product_page_views"] == "Product page views" and labels["active_devices"] == "Active devices"
    )
    assert not any("_" in text for text in labels.values()), labels
    options = [label for label, _ in overview.breakdown.metric.options]
    assert "Product page views" in options and not any("_" in o for o in options)


def test_no_button_is_narrower_than_its_label(client, app_ids) -> None:
    """ipywidgets gives every button 148 px; the long labels ("Ensure ONGOING for all apps") were cut off."""
    dash = ready(client)
    dash.open_overview()
    assert dash.wait(120)
    stack, buttons = [dash], []
    while stack:
        widget = stack.pop()
        if isinstance(widget, w.Button):
            buttons.append(widget)
        elif isinstance(widget, w.ToggleButtons):
            assert widget.style.button_width == "auto", widget.options
        stack.extend(getattr(widget, "children", ()) or ())
    labels = {b.description for b in buttons}
    assert {"List all apps' requests", "Ensure ONGOING for all apps", "Show code", "Export"} <= labels
    for b in buttons:
        assert b.layout.width in ("auto", "max-content"), b.description
