"""The Views panel in real JupyterLab (headless Chromium): live, it renders as the widget (chart drawn, no
static copy beside it); the committed notebook 07 opened without running shows the static rendering."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest


def _browser_tier():
    """tests/browser/conftest.py loaded by path: its JupyterLab fixtures (one server, its own HOME and settings)."""
    path = Path(__file__).resolve().parents[1] / "browser" / "conftest.py"
    spec = importlib.util.spec_from_file_location("asc_nb_tests_browser_tier", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_tier = _browser_tier()
# its server fixtures only: the pages run on this package's own Chromium thread (conftest.Chromium), so they never
# meet the browser tier's Playwright, which holds the main thread for the session
chromium_path, lab_root, lab_server = _tier.chromium_path, _tier.lab_root, _tier.lab_server


def in_lab(chromium, url: str, root: Path, fn):
    """``fn(lab)`` with a :class:`Lab` (the tier's page helper) on a page of the shared JupyterLab."""
    return chromium(None, lambda page, _asked: fn(_tier.Lab(page, url, root)), offline=False)


pytestmark = pytest.mark.browser

NOTEBOOK = "views-browser.ipynb"
CELL = (
    "import asc_nb\n"
    "from asc_nb.widgets.views import ViewsPanel\n"
    "client = asc_nb.connect(sandbox=asc_nb.Sandbox(seed=0, history_days=40))\n"
    "panel = ViewsPanel(client, start='2026-02-16', end='2026-02-27', view='territories')\n"
    "panel.wait()\n"
    "panel"
)


def test_live_panel_is_the_widget_and_its_chart_draws(chromium, lab_server, lab_root) -> None:
    nb = {
        "cells": [
            {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": CELL}
        ],
        "metadata": {
            "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (lab_root / NOTEBOOK).write_text(json.dumps(nb))
    in_lab(chromium, lab_server, lab_root, _live)


def _live(lab) -> None:
    lab.open(NOTEBOOK)
    lab.run_all()
    page = lab.page
    widget = page.locator(".jp-OutputArea-output .jupyter-widgets img").first
    widget.wait_for(timeout=60_000)
    page.wait_for_function(
        "() => { const i = document.querySelector('.jp-OutputArea-output .jupyter-widgets img');"
        " return i && i.complete && i.naturalWidth > 100; }",
        timeout=60_000,
    )
    assert page.get_by_text("Error displaying widget").count() == 0
    assert page.locator(".asc-nb-static").count() == 0  # the widget, not the static copy, in a live kernel
    assert page.get_by_text("Total downloads by territory: ").count() >= 1
    lab.screenshot("views-panel-live.png")


def test_committed_notebook_shows_the_static_panel_before_running(chromium, lab_server, lab_root) -> None:
    in_lab(chromium, lab_server, lab_root, _static)


def _static(lab) -> None:
    lab.open("07-views-and-report.ipynb")
    page = lab.page
    static = page.locator(".asc-nb-static").first
    static.wait_for(timeout=30_000)
    img = static.locator("img").first
    assert img.evaluate("i => i.complete && i.naturalWidth > 100")
    assert static.locator("table").count() >= 1
    assert page.get_by_text("Error displaying widget").count() == 0
