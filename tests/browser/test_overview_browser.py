"""The Overview in real JupyterLab: the cards render; choosing another app and another range in the
page (clicks and typing, not code) reloads them and the numbers change.
"""

from __future__ import annotations

import json
import re

import pytest

pytestmark = pytest.mark.browser

NOTEBOOK = "overview-browser.ipynb"
CELLS = [
    "import asc_nb\n"
    "client = asc_nb.connect(sandbox=asc_nb.Sandbox(seed=0, history_days=40))\n"
    "overview = asc_nb.widgets.Overview(client)\n"
    "overview.wait()\n"
    "overview",
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


def card(ov, metric: str):
    return ov.locator(f".asc-nb-kpi[data-metric='{metric}'] .asc-nb-kpi-value")


def test_overview_cards_follow_the_app_and_range_chosen_in_the_page(lab) -> None:
    _write_notebook(lab.root)
    page = lab.page
    lab.open(NOTEBOOK)
    lab.run_all()

    ov = page.locator(".jp-OutputArea-output .asc-nb-overview").first
    ov.wait_for()
    assert page.get_by_text("Error displaying widget").count() == 0
    status = ov.locator(".asc-nb-overview-status")
    status.locator(".asc-nb-ok").wait_for(timeout=30_000)
    first_status = status.inner_text()
    assert re.search(r"\d{4}-\d{2}-\d{2} – \d{4}-\d{2}-\d{2}", first_status)
    before = {m: card(ov, m).inner_text() for m in ("impressions", "sessions", "active_devices")}
    assert re.fullmatch(r"[\d,]+", before["impressions"]), before
    assert before["active_devices"].startswith("≤"), before  # a unique count over days is shown as a bound
    assert ov.locator(".asc-nb-kpi").count() == 7
    assert ov.locator(".asc-nb-overview-kpis img").count() == 7  # one sparkline per card
    assert ov.locator(".asc-nb-overview-funnel img").first.evaluate("i => i.complete && i.naturalWidth > 0")

    # another app, picked in the multi-select
    apps = ov.locator(".asc-nb-overview-apps select")
    labels = [t.replace("\xa0", " ") for t in apps.locator("option").all_inner_texts()]  # ipywidgets: nbsp
    assert len(labels) >= 2
    apps.select_option(label=labels[1])
    # another range, typed into the date pickers
    start = ov.locator(".asc-nb-overview-start input[type=date]")
    end = ov.locator(".asc-nb-overview-end input[type=date]")
    start.fill("2026-02-09")
    start.press("Tab")
    end.fill("2026-02-20")
    end.press("Tab")
    ov.locator(".asc-nb-overview-refresh").click()

    name = labels[1].rsplit(" (", 1)[0]
    done = status.locator(".asc-nb-ok").filter(has_text=f"{name}: 2026-02-09 – 2026-02-20")
    done.wait_for(timeout=60_000)
    after = {m: card(ov, m).inner_text() for m in before}
    assert after != before
    assert all(after[m] != before[m] for m in before), (before, after)
    assert (
        page.locator(".jp-OutputArea-output [data-mime-type='application/vnd.jupyter.stderr']").count() == 0
    )
    ov.screenshot(path=str(lab.screenshot_path("overview.png")))
