"""Widgets read without a kernel: a panel's mime bundle carries a static rendering, run_notebooks keeps it,
and nbconvert's HTML of the notebooks, opened in Chromium with the network cut off, shows every chart."""

from __future__ import annotations

import base64
import importlib.util
import io
import json

import ipywidgets as w
import nbformat
import numpy as np
import pytest
from nbconvert import HTMLExporter

from asc_nb.widgets.static import MARK, static_html, with_static
from asc_nb.widgets.views import ViewsPanel

from .conftest import REPO

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
VIEW = "application/vnd.jupyter.widget-view+json"


def _tool():
    spec = importlib.util.spec_from_file_location("run_notebooks", REPO / "tools" / "run_notebooks.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_static_html_shows_markup_images_and_values_but_not_hidden_parts():
    png = base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
    )
    hidden = w.HTML("<b>secret of the live panel</b>")
    hidden.layout.display = "none"
    tree = w.VBox(
        [
            w.HTML("<table><tr><td>42</td></tr></table>"),
            w.Image(value=png, format="png"),
            w.HBox(
                [
                    w.Dropdown(options=[("Apples", "a"), ("Pears", "p")], value="p", description="Fruit"),
                    w.Button(description="Click me"),
                ]
            ),
            hidden,
            w.Tab(children=[w.HTML("first"), w.HTML("second")], titles=("One", "Two"), selected_index=1),
        ]
    )
    out = static_html(tree)
    assert "<td>42</td>" in out and "data:image/png;base64," in out and "Fruit: <b>Pears</b>" in out
    assert "secret" not in out and "Click me" not in out
    assert "<details><summary><b>One</b></summary>first</details>" in out and "<details open>" in out
    bundle = with_static(tree, tree._repr_mimebundle_())
    assert MARK in bundle["text/html"] and VIEW in bundle


def test_a_panel_bundle_carries_its_chart_and_table(synced):
    _store, apps, client = synced
    panel = ViewsPanel(client, apps[0], start="2026-02-16", end="2026-02-27")
    panel.wait(120)
    bundle = panel._repr_mimebundle_()
    assert VIEW in bundle and MARK in bundle["text/html"]
    text = bundle["text/html"]
    assert base64.b64encode(panel.chart.value).decode() in text  # the chart as shown
    assert f"{int(panel.frame['value'].iloc[0]):,}" in text or str(int(panel.frame["value"].iloc[0])) in text
    assert "Show code" not in text and "Export to" not in text  # live-only controls are left out
    panel.close()


def test_run_notebooks_keeps_static_renderings_and_only_the_state_live_widgets_need():
    tool = _tool()
    nb = nbformat.v4.new_notebook()
    static_out = nbformat.v4.new_output(
        "display_data",
        data={
            "text/plain": "Panel()",
            VIEW: {"model_id": "p1", "version_major": 2, "version_minor": 0},
            "text/html": f'<div class="{MARK}">table</div>',
        },
    )
    live_out = nbformat.v4.new_output(
        "display_data",
        data={"text/plain": "IntSlider()", VIEW: {"model_id": "s1", "version_major": 2, "version_minor": 0}},
    )
    nb.cells = [
        nbformat.v4.new_code_cell("p", outputs=[static_out]),
        nbformat.v4.new_code_cell("s", outputs=[live_out]),
    ]
    state = {
        "p1": {"state": {"children": ["IPY_MODEL_p2"]}},
        "p2": {"state": {}},
        "s1": {"state": {"layout": "IPY_MODEL_l1"}},
        "l1": {"state": {}},
    }
    nb.metadata["widgets"] = {
        "application/vnd.jupyter.widget-state+json": {"state": state, "version_major": 2, "version_minor": 0}
    }
    counts = tool.keep_static(nb)
    assert counts == {"static": 1, "live": 1, "models": 2}
    assert VIEW not in nb.cells[0].outputs[0]["data"] and "text/html" in nb.cells[0].outputs[0]["data"]
    assert VIEW in nb.cells[1].outputs[0]["data"]
    kept = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    assert sorted(kept) == ["l1", "s1"]  # the live slider and its layout; the static panel's models dropped


def test_every_stored_widget_output_reads_without_a_kernel():
    """After ``make notebooks`` (tools/run_notebooks.py) no stored output is a bare pointer into a kernel."""
    bare = []
    for path in NOTEBOOKS:
        nb = json.loads(path.read_text("utf-8"))
        state = nb.get("metadata", {}).get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
        for i, cell in enumerate(nb["cells"]):
            for out in cell.get("outputs", []):
                data = out.get("data", {})
                if (
                    VIEW in data
                    and data[VIEW].get("model_id") not in state.get("state", {})
                    and MARK not in "".join(data.get("text/html", ""))
                ):
                    bare.append(f"{path.name} cell {i}")
    assert bare == [], (
        f"widget outputs with neither saved state nor a static rendering (re-run make notebooks): {bare}"
    )


@pytest.mark.browser
def test_nbconvert_html_of_every_notebook_shows_its_charts_offline(chromium, tmp_path):
    from PIL import Image

    shown = 0
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        body, _ = HTMLExporter().from_notebook_node(nb)  # what `jupyter nbconvert --to html` writes
        target = tmp_path / (path.stem + ".html")
        target.write_text(body, encoding="utf-8")
        expected = 0  # stored PNG outputs, and the chart images inside static panel renderings
        for cell in nb.cells:
            for out in cell.get("outputs", []):
                data = out.get("data", {})
                expected += "image/png" in data
                expected += (
                    str(data.get("text/html", "")).count("<img")
                    if MARK in str(data.get("text/html", ""))
                    else 0
                )

        def check(page, asked, name=path.name, expected=expected):
            images = page.query_selector_all("img")
            assert len(images) >= expected, (name, len(images), expected)
            for k, img in enumerate(images):
                assert page.evaluate("(i) => i.complete && i.naturalWidth > 0", img), (
                    f"{name}: image {k} did not load"
                )
                img.scroll_into_view_if_needed()
                shot = np.asarray(Image.open(io.BytesIO(img.screenshot())).convert("L"), dtype=float)
                assert shot.std() > 3, f"{name}: image {k} is blank"
            return len(images)

        shown += chromium(target, check)
    assert shown >= 12  # 02, 04, 06 and 07 draw charts (more once 06 is re-run with its static Overview)
