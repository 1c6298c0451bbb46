"""notebooks/06-app-analytics.ipynb reads without a kernel: its charts are static PNGs that
``jupyter nbconvert --to html`` embeds (GitHub and nbviewer show the same stored outputs).
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "06-app-analytics.ipynb"


def test_html_export_embeds_every_chart_as_png():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    stored = sum(
        1
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if "image/png" in o.get("data", {})
    )
    assert stored >= 4  # KPIs, funnel, breakdowns, the non-additivity comparison
    # the Overview's static rendering (tools/run_notebooks.py keeps it) carries its own chart images
    in_static = sum(
        str(o.get("data", {}).get("text/html", "")).count('src="data:image/png;base64,')
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
    )
    body, _ = HTMLExporter().from_notebook_node(nb)
    assert body.count('src="data:image/png;base64,') == stored + in_static


def test_the_notebook_shows_the_non_additivity_refusal_and_the_weekly_comparison():
    text = json.dumps(json.loads(NOTEBOOK.read_text("utf-8"))["cells"])
    assert "NonAdditiveMetricError: active_devices is a unique count" in text
    assert "App Sessions Standard WEEKLY" in text and "over-counts by" in text
