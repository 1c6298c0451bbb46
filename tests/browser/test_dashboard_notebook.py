"""notebooks/03-widgets.ipynb in real JupyterLab: the panels render, and Submit clicked in the page creates a request."""

from __future__ import annotations

import os
import re
import shutil

import pytest

pytestmark = pytest.mark.browser

NOTEBOOK = "03-widgets.ipynb"
#: the README's screenshot; `ASC_NB_UPDATE_SCREENSHOT=1 pytest tests/browser` rewrites it
REPO_SCREENSHOT = "docs/dashboard.png"


def tab(page, title: str):
    """The dashboard's tab header called exactly ``title`` ("Request" must not match "Requests")."""
    return page.locator(".asc-nb-dashboard .lm-TabBar-tab").filter(has_text=re.compile(rf"^\s*{title}\s*$"))


def test_dashboard_renders_and_submit_creates_a_request(lab) -> None:
    page = lab.page
    lab.open(NOTEBOOK)
    lab.run_all()

    dash = page.locator(".jp-OutputArea-output .asc-nb-dashboard").first
    dash.wait_for()
    assert page.get_by_text("Error displaying widget").count() == 0
    assert page.locator(".jp-OutputArea-output [data-mime-type='application/vnd.jupyter.stderr']").count() == 0
    meter = dash.locator(".asc-nb-rate-meter")
    assert re.search(r"[\d,]+ of [\d,]+ calls left this hour", meter.inner_text())

    tab(page, "Request").click()
    panel = dash.locator(".asc-nb-request-panel")
    panel.get_by_text("Request analytics reports").wait_for()
    # the notebook gave the first app its ONGOING request; choose the second app in the page
    select = panel.locator("select").first
    labels = select.locator("option").all_inner_texts()
    assert len(labels) >= 2
    app_id = re.search(r"\((\d+)\)\s*$", labels[1]).group(1)  # labels read "Name — bundle.id (id)"
    # filter as you type: the app's id narrows the picker to that one app
    search = panel.get_by_placeholder("filter apps by name, bundle id or id")
    search.press_sequentially(app_id[:6])
    panel.get_by_text(f"1 of {len(labels)} apps").wait_for()
    assert select.locator("option").count() == 1
    search.fill("")
    panel.get_by_text(f"{len(labels)} of {len(labels)} apps").wait_for()
    select.select_option(index=1)
    panel.get_by_role("button", name="Submit").click()

    # the status already holds the notebook's own submit (first app): wait for this app's answer
    created = panel.locator(".asc-nb-status.asc-nb-ok").filter(has_text=f"for app {app_id}")
    created.wait_for(timeout=20_000)
    text = created.inner_text()
    request_id = re.search(r"Created ONGOING request ([0-9a-f-]{36})", text).group(1)
    lab.screenshot("dashboard-request.png")
    dash.screenshot(path=str(lab.screenshot_path("dashboard.png")))

    tab(page, "Requests").click()
    table = dash.locator(".asc-nb-requests-table")
    table.locator("table").filter(has_text=request_id).wait_for()
    assert "waiting for first reports" in table.locator("table").inner_text()
    lab.screenshot("dashboard-requests.png")

    # the notebook downloaded a week of App Sessions Standard through the explorer: preview and plot show
    tab(page, "Reports").click()
    explorer = dash.locator(".asc-nb-explorer")
    explorer.get_by_text("rows × 16 columns").first.wait_for()
    assert explorer.locator("img").first.evaluate("img => img.complete && img.naturalWidth > 0")
    page.set_viewport_size({"width": 1400, "height": 2200})  # the whole explorer, plot included
    explorer.locator("img").first.scroll_into_view_if_needed()
    dash.screenshot(path=str(lab.screenshot_path("dashboard-reports.png")))
    page.set_viewport_size({"width": 1400, "height": 1000})

    # dark theme: the panels use JupyterLab's CSS variables, so they follow it
    page.evaluate("() => { window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Dark'}); }")
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'", timeout=20_000)
    tab(page, "Request").click()
    dash.screenshot(path=str(lab.screenshot_path("dashboard-dark.png")))

    if os.environ.get("ASC_NB_UPDATE_SCREENSHOT") == "1":  # refresh the README's picture on purpose only
        shutil.copyfile(lab.screenshot_path("dashboard-reports.png"), lab.repo / REPO_SCREENSHOT)
