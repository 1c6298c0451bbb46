"""notebooks/03-widgets.ipynb in real JupyterLab, driven by clicking: a 409 and its message, a download whose grid
shows the measure columns, Export, Show code, Cancel, and the sandbox clock.

One page serves the whole module (JupyterLab and the notebook's kernel start once); the tests run in file order
and each leaves the dashboard usable for the next.
"""

from __future__ import annotations

import os
import re
import shutil

import pytest

pytestmark = pytest.mark.browser

NOTEBOOK = "03-widgets.ipynb"
#: the README's screenshot; `ASC_NB_UPDATE_SCREENSHOT=1 pytest tests/browser` rewrites it
REPO_SCREENSHOT = "docs/dashboard.png"


@pytest.fixture(scope="module")
def nb(module_lab):
    """The notebook opened and run once for the module."""
    module_lab.open(NOTEBOOK)
    module_lab.run_all()
    return module_lab


def tab(page, title: str):
    """The dashboard's tab header called exactly ``title`` ("Request" must not match "Requests")."""
    return page.locator(".asc-nb-dashboard .lm-TabBar-tab").filter(has_text=re.compile(rf"^\s*{title}\s*$"))


def dash(page):
    return page.locator(".jp-OutputArea-output .asc-nb-dashboard").first


def button(scope, text: str):
    """A widget button labelled exactly ``text`` (the grid's sort headers are "buttons" too)."""
    return scope.locator("button.widget-button").filter(has_text=re.compile(rf"^\s*{re.escape(text)}\s*$"))


def kernel_exec(page, code: str) -> None:
    """Run ``code`` in the notebook's kernel (as a user typing it in a new cell would), without waiting on a promise."""
    page.evaluate(
        "code => { const k = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;"
        " k.requestExecute({code: code, silent: true}); }",
        code,
    )


def test_dashboard_renders_without_errors(nb) -> None:
    page = nb.page
    dash(page).wait_for()
    assert page.get_by_text("Error displaying widget").count() == 0
    # the sandbox notice is no red stderr box anywhere
    assert page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").count() == 0
    meter = dash(page).locator(".asc-nb-rate-meter")
    assert re.search(r"[\d,]+ of [\d,]+ calls left this hour", meter.inner_text())


def test_a_409_and_its_message(nb) -> None:
    page = nb.page
    tab(page, "Request").click()
    panel = dash(page).locator(".asc-nb-request-panel")
    panel.get_by_text("Request analytics reports").wait_for()
    select = panel.locator("select").first
    select.select_option(index=1)  # another app than the notebook's; it too holds an ONGOING request
    label = select.locator("option").nth(1).inner_text()
    name = re.split(r"\s+—\s+", label)[0].strip()
    button(panel, "Submit").click()
    warn = panel.locator(".asc-nb-status.asc-nb-warn").filter(
        has_text=f"{name} already has an ONGOING request"
    )
    warn.wait_for(timeout=20_000)
    assert "Reuse it: Apple keeps generating its reports every day" in warn.inner_text()
    assert button(panel, "Open it").is_visible()
    # another app: the old 409 and its Open button go away
    select.select_option(index=2)
    panel.locator(".asc-nb-status.asc-nb-info").wait_for()
    assert not button(panel, "Open it").is_visible()
    nb.screenshot("dashboard-409.png")


def test_download_shows_the_measure_columns_in_the_grid(nb) -> None:
    page = nb.page
    tab(page, "Reports").click()
    explorer = dash(page).locator(".asc-nb-explorer")
    report = explorer.locator("select").filter(has=page.locator("option", has_text="App Sessions Standard"))
    report.select_option(label="App Sessions Standard")
    button(explorer, "Download").click()
    explorer.locator(".asc-nb-status.asc-nb-ok").filter(has_text="Downloaded App Sessions Standard").wait_for(
        timeout=30_000
    )
    grid = explorer.locator(".asc-nb-grid")
    headers = grid.locator("th").all_inner_texts()
    for measure in ("Sessions", "Unique Devices"):
        assert measure in [h.strip() for h in headers], headers
    assert grid.locator("tbody tr").count() == 10  # paged, ten rows a page
    assert re.search(r"\d", grid.locator("tbody tr").first.inner_text())
    assert explorer.locator("img").first.evaluate("img => img.complete && img.naturalWidth > 0")
    page.set_viewport_size({"width": 1400, "height": 2400})
    dash(page).screenshot(path=str(nb.screenshot_path("dashboard-reports.png")))
    page.set_viewport_size({"width": 1400, "height": 1000})
    if os.environ.get("ASC_NB_UPDATE_SCREENSHOT") == "1":  # refresh the README's picture on purpose only
        shutil.copyfile(nb.screenshot_path("dashboard-reports.png"), nb.repo / REPO_SCREENSHOT)


def test_show_code_and_export(nb) -> None:
    page = nb.page
    explorer = dash(page).locator(".asc-nb-explorer")
    button(explorer, "Show code").click()
    code = explorer.locator("pre.asc-nb-code")
    code.wait_for()
    assert "df = client.fetch(" in code.inner_text() and "App Sessions Standard" in code.inner_text()
    path = explorer.get_by_placeholder("file.csv or file.parquet")
    path.fill("sessions-export.csv")
    button(explorer, "Export").click()
    done = explorer.locator(".asc-nb-status.asc-nb-ok").filter(has_text="Exported")
    done.wait_for(timeout=20_000)
    rows = int(re.search(r"Exported ([\d,]+) rows", done.inner_text()).group(1).replace(",", ""))
    written = nb.root / "sessions-export.csv"
    assert written.exists() and len(written.read_text().splitlines()) == rows + 1


def test_cancel_stops_a_download(nb) -> None:
    page = nb.page
    explorer = dash(page).locator(".asc-nb-explorer")
    kernel_exec(page, "client.sandbox.faults.add('slow', host='download', count=None, seconds=3)")
    report = explorer.locator("select").filter(has=page.locator("option", has_text="App Downloads Standard"))
    report.select_option(label="App Downloads Detailed")
    button(explorer, "Download").click()
    cancel = button(explorer, "Cancel")
    page.wait_for_function("el => !el.disabled", arg=cancel.element_handle(), timeout=20_000)
    cancel.click()
    explorer.locator(".asc-nb-status.asc-nb-warn").filter(has_text="Download cancelled").wait_for(
        timeout=20_000
    )
    kernel_exec(page, "client.sandbox.faults.clear()")
    # the status is written inside the job; the panel leaves `busy` (and re-enables Download) as the job returns
    download = button(explorer, "Download")
    page.wait_for_function("el => !el.disabled", arg=download.element_handle(), timeout=5_000)
    assert not download.is_disabled()


def test_sandbox_clock_moves_and_the_dates_follow(nb) -> None:
    page = nb.page
    clock = dash(page).locator(".asc-nb-sandbox-clock")
    before = re.search(r"Simulated clock: (\d{4}-\d{2}-\d{2})", clock.inner_text()).group(1)
    explorer = dash(page).locator(".asc-nb-explorer")
    end_before = explorer.locator("input[type=date]").nth(1).input_value()
    button(clock, "Advance 1 day").click()
    page.wait_for_function(
        "([el, d]) => !el.innerText.includes('Simulated clock: ' + d)", arg=[clock.element_handle(), before]
    )
    after = re.search(r"Simulated clock: (\d{4}-\d{2}-\d{2})", clock.inner_text()).group(1)
    assert after > before
    end = explorer.locator("input[type=date]").nth(1)
    page.wait_for_function("([el, v]) => el.value !== v", arg=[end.element_handle(), end_before])
    assert end.input_value() > end_before
