"""What a person sees on the dashboard in real JupyterLab (issue 24's screenshots): no cut-off button label or
Reports field, no empty-box glyph in the sandbox notice, the Reports tab with content when opened directly, the
report list starting with App Store reports, KPI labels in words, the Overview and the explorer on the same week,
a grid that sorts on a header click with the measures first, chart text dark enough to read, and an Export that
answers beside its button.

One page and one kernel serve the module; the tests run in file order.
"""

from __future__ import annotations

import json
import re

import pytest

pytestmark = pytest.mark.browser

NOTEBOOK = "dashboard-polish.ipynb"
CELLS = [
    "import tempfile\nimport asc_nb\nclient = asc_nb.connect()  # the embedded sandbox: its notice shows",
    "dash = asc_nb.widgets.dashboard(client, store=asc_nb.Store(tempfile.mkdtemp()))\ndash.wait()\ndash",
]

#: JS: the buttons (and toggle buttons) visible in ``root`` whose label does not fit (cut off with "…")
JS_CUT_BUTTONS = """root => [...root.querySelectorAll('button')]
  .filter(b => b.offsetParent !== null && b.clientWidth > 0 && b.scrollWidth > b.clientWidth + 1)
  .map(b => b.innerText.trim())"""

#: JS: pixels of an <img> darker than a threshold (text drawn in dark ink), counted on a canvas
JS_DARK_PIXELS = """img => { const c = document.createElement('canvas'); c.width = img.naturalWidth;
  c.height = img.naturalHeight; const g = c.getContext('2d'); g.drawImage(img, 0, 0);
  const d = g.getImageData(0, 0, c.width, c.height).data; let n = 0;
  for (let i = 0; i < d.length; i += 4) { const lum = 0.2126 * d[i] + 0.7152 * d[i + 1] + 0.0722 * d[i + 2];
    if (d[i + 3] > 200 && lum < 80) n++; } return n; }"""


def _write_notebook(root) -> None:
    nb = {
        "cells": [
            {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": c}
            for c in CELLS
        ],
        "metadata": {
            "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (root / NOTEBOOK).write_text(json.dumps(nb))


@pytest.fixture(scope="module")
def nb(module_lab):
    _write_notebook(module_lab.root)
    module_lab.open(NOTEBOOK)
    module_lab.run_all()
    module_lab.page.locator(".jp-OutputArea-output .asc-nb-dashboard").first.wait_for()
    return module_lab


def dash(page):
    return page.locator(".jp-OutputArea-output .asc-nb-dashboard").first


def tab(page, title: str):
    return page.locator(".asc-nb-dashboard .lm-TabBar-tab").filter(has_text=re.compile(rf"^\s*{title}\s*$"))


def button(scope, text: str):
    return scope.locator("button.widget-button").filter(has_text=re.compile(rf"^\s*{re.escape(text)}\s*$"))


def test_the_sandbox_notice_has_no_glyph_a_font_may_lack(nb) -> None:
    notice = nb.page.locator(".asc-nb-notice").first
    notice.wait_for()
    text = notice.inner_text()
    assert "sandbox mode" in text
    odd = sorted({ch for ch in text if not (ch.isascii() or ch == "—")})
    assert not odd, f"characters a font may draw as an empty box: {odd}"
    notice.screenshot(path=str(nb.screenshot_path("polish-notice.png")))


def test_the_reports_tab_opened_first_shows_a_request_and_app_store_reports(nb) -> None:
    page = nb.page
    tab(page, "Reports").click()
    explorer = dash(page).locator(".asc-nb-explorer")
    explorer.get_by_text(re.compile(r"Reports of .+ · ongoing request")).wait_for(timeout=30_000)
    report = explorer.locator("select").filter(has=page.locator("option", has_text="App Downloads Standard"))
    options = [
        o.replace("\xa0", " ").strip() for o in report.locator("option").all_inner_texts()
    ]  # ipywidgets: nbsp
    assert options[0] == "App Downloads Standard", options[:5]
    assert (
        report.evaluate("s => s.options[s.selectedIndex].text").replace("\xa0", " ")
        == "App Downloads Standard"
    )
    assert len(options) > 50
    assert not page.locator(".asc-nb-explorer").get_by_text("No request is open here yet").is_visible()


def test_a_header_click_sorts_the_grid_and_measures_come_first(nb) -> None:
    page = nb.page
    explorer = dash(page).locator(".asc-nb-explorer")
    button(explorer, "Download").click()
    explorer.locator(".asc-nb-status.asc-nb-ok").filter(
        has_text="Downloaded App Downloads Standard"
    ).wait_for(timeout=60_000)
    grid = explorer.locator(".asc-nb-grid")
    head = (
        grid.locator(".dt-scroll-head thead th")
        if grid.locator(".dt-scroll-head").count()
        else grid.locator("thead th")
    )
    headers = [h.strip() for h in head.all_inner_texts()]
    assert headers[:2] == ["Date", "Counts"], headers

    def counts() -> list[int]:
        cells = grid.locator(".dt-scroll-body tbody tr td:nth-child(2)").all_inner_texts()
        return [int(c.replace(",", "")) for c in cells]

    shown = counts()
    assert len(shown) == 10
    header = head.nth(1).locator(".dt-column-title")
    header.click()  # on the header's text, where a person clicks
    page.wait_for_function(
        "el => el.closest('th').classList.contains('dt-ordering-asc')",
        arg=header.element_handle(),
        timeout=10_000,
    )
    up = counts()
    assert up == sorted(up) and up != shown
    header.click()
    page.wait_for_function(
        "el => el.closest('th').classList.contains('dt-ordering-desc')",
        arg=header.element_handle(),
        timeout=10_000,
    )
    down = counts()
    assert down == sorted(down, reverse=True) and down[0] >= max(up)


def test_chart_text_is_dark(nb) -> None:
    explorer = dash(nb.page).locator(".asc-nb-explorer")
    img = explorer.locator("img").first
    assert img.evaluate("i => i.complete && i.naturalWidth > 0")
    dark = img.evaluate(JS_DARK_PIXELS)
    assert dark > 500, f"only {dark} dark pixels: the title, ticks and legend are too light to read"
    img.screenshot(path=str(nb.screenshot_path("polish-chart.png")))


def test_export_answers_beside_its_button(nb) -> None:
    explorer = dash(nb.page).locator(".asc-nb-explorer")
    explorer.get_by_placeholder("file.csv or file.parquet").fill("downloads-export.csv")
    button(explorer, "Export").click()
    note = explorer.locator(".asc-nb-tools .asc-nb-export-note")
    note.locator(".asc-nb-ok").wait_for(timeout=20_000)
    text = note.inner_text()
    found = re.search(r"Exported ([\d,]+) rows to (\S+)\.$", text.strip())
    assert found, text
    written = nb.root / "downloads-export.csv"
    assert found.group(2) == str(written.resolve())
    assert len(written.read_text().splitlines()) == int(found.group(1).replace(",", "")) + 1
    assert note.is_visible()
    explorer.locator(".asc-nb-tools").screenshot(path=str(nb.screenshot_path("polish-export.png")))


def test_overview_is_on_the_explorers_week_and_its_labels_are_words(nb) -> None:
    page = nb.page
    explorer = dash(page).locator(".asc-nb-explorer")
    week = [explorer.locator("input[type=date]").nth(i).input_value() for i in (0, 1)]
    tab(page, "Overview").click()
    ov = dash(page).locator(".asc-nb-overview")
    ov.locator(".asc-nb-overview-status .asc-nb-ok").wait_for(timeout=60_000)
    shown = [
        ov.locator(".asc-nb-overview-start input[type=date]").input_value(),
        ov.locator(".asc-nb-overview-end input[type=date]").input_value(),
    ]
    assert shown == week
    labels = [t.strip() for t in ov.locator(".asc-nb-kpi-label").all_inner_texts()]
    assert "Product page views" in labels and "Active devices" in labels, labels
    assert not [t for t in labels if "_" in t], labels
    ov.screenshot(path=str(nb.screenshot_path("polish-overview.png")))


@pytest.mark.parametrize("title", ["Request", "Requests", "Reports", "Overview", "Store"])
def test_no_button_label_is_cut_off(nb, title) -> None:
    page = nb.page
    tab(page, title).click()
    page.wait_for_timeout(500)  # the tab's widgets lay out
    root = dash(page)
    cut = root.evaluate(JS_CUT_BUTTONS)
    assert not cut, f"cut-off labels on the {title} tab: {cut}"
    page.set_viewport_size({"width": 1400, "height": 1800})
    root.screenshot(path=str(nb.screenshot_path(f"polish-tab-{title.lower()}.png")))
    page.set_viewport_size({"width": 1400, "height": 1000})


def test_the_store_reports_field_shows_every_name(nb) -> None:
    page = nb.page
    tab(page, "Store").click()
    field = None
    for candidate in dash(page).locator(".widget-text input, .widget-textarea textarea").all():
        if candidate.is_visible() and candidate.input_value().startswith("App Sessions Standard"):
            field = candidate
    assert field is not None
    assert "App Store Installation and Deletion Standard" in field.input_value()
    size = "el => [el.scrollWidth, el.clientWidth, el.scrollHeight, el.clientHeight]"
    fits = field.evaluate(
        "el => el.scrollWidth <= el.clientWidth + 1 && el.scrollHeight <= el.clientHeight + 1"
    )
    assert fits, field.evaluate(size)
    dash(page).screenshot(path=str(nb.screenshot_path("polish-store-field.png")))
