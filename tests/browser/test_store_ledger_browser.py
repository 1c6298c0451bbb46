"""The Store tab's ledger in real JupyterLab: the states render in their colours, the reason is on hover,
and a Repair clicked in the page reaches the kernel and answers in the status line."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.browser

NOTEBOOK = "store-ledger-browser.ipynb"
CELLS = [
    "import tempfile, asc_nb\n"
    "sb = asc_nb.Sandbox(seed=7, apps=2, history_days=40, data_faults='gap=1,duplicate=1')\n"
    "client = asc_nb.connect(sandbox=sb)\n"
    "store = asc_nb.Store(tempfile.mkdtemp())\n"
    "store.sync(client, reports=['App Sessions Standard', 'App Downloads Standard',\n"
    "                            'App Store Discovery and Engagement Standard'], progress=False)\n"
    "panel = asc_nb.widgets.StorePanel(client, store, reports=('App Sessions Standard',))\n"
    "panel.wait()\n"
    "panel",
]


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


def test_ledger_states_render_coloured_and_repair_answers_in_the_page(lab) -> None:
    _write_notebook(lab.root)
    page = lab.page
    lab.open(NOTEBOOK)
    lab.run_all()
    view = page.locator(".jp-OutputArea-output .asc-nb-ledger-view").first
    view.wait_for(timeout=60_000)
    assert page.get_by_text("Error displaying widget").count() == 0
    final = view.locator(".asc-nb-state-final").first
    bad = view.locator(".asc-nb-state-duplicate").first
    gap = view.locator(".asc-nb-state-missing, .asc-nb-state-empty").first
    colour = "e => getComputedStyle(e).backgroundColor"
    seen = {final.evaluate(colour), bad.evaluate(colour), gap.evaluate(colour)}
    assert len(seen) == 3 and "rgba(0, 0, 0, 0)" not in seen, seen  # three states, three real colours
    assert bad.get_attribute("title").split(": ", 1)[1].startswith("duplicate — Apple published 2 instances")
    assert view.locator("table.asc-nb-ledger-table").count() == 1

    page.locator(".asc-nb-repair button, button.asc-nb-repair").first.click()
    status = page.locator(".asc-nb-store-status .asc-nb-warn").filter(has_text="pending")
    status.wait_for(timeout=60_000)
    assert "cannot be repaired now" in status.inner_text()
    view.screenshot(path=str(lab.screenshot_path("store-ledger.png")))
