""" "Show code" reproduces the honest chart, not just the frame: the code calls the function the panel draws with,
and its figure has the panel's lines, provisional band, legend and title."""

from __future__ import annotations

import matplotlib.colors as mcolors
import numpy as np
import pytest

import asc_nb
from asc_nb.widgets import ReportsExplorer, plot_chart

DOWNLOADS = "App Downloads Standard"


@pytest.fixture
def explorer(client, app_ids, sandbox) -> ReportsExplorer:
    req = client.create_report_request(app_ids[0], "ONGOING")
    sandbox.advance(days=6)
    ex = ReportsExplorer(client, req.id)
    assert ex.wait(30) and ex.error is None, ex.status.text
    ex.select_report(DOWNLOADS)
    ex.download.click()
    assert ex.wait(120) and ex.error is None, ex.status.text
    return ex


def signature(fig) -> dict:
    """What a reader sees in a figure: each line's points and style, the shaded bands, the legend and the title."""
    (ax,) = fig.axes
    return {
        "title": ax.get_title(),
        "lines": [
            (np.round(ln.get_xydata(), 6).tolist(), ln.get_linestyle(), ln.get_color()) for ln in ax.lines
        ],
        "bands": [np.round(p.get_xy(), 6).tolist() for p in ax.patches],
        "legend": [t.get_text() for t in ax.get_legend().get_texts()],
        "ylim0": ax.get_ylim()[0],
    }


def run_code(ex: ReportsExplorer, client) -> dict:
    ns: dict = {"client": client}
    exec(compile(ex.code, "<explorer.code>", "exec"), ns)
    return ns


@pytest.mark.parametrize("breakdown", ["", "territory"])
def test_code_draws_the_panels_chart(explorer, client, breakdown) -> None:
    ex = explorer
    ex.top.value = 3
    ex.breakdown.value = breakdown
    assert "plot_chart(" in ex.code
    ns = run_code(ex, client)
    assert ns["df"].equals(ex.frame) and ns["chart"].equals(ex.chart_data)
    panel, pasted = signature(ex.figure), signature(ns["fig"])
    assert pasted == panel
    # the honest parts are there, not just a plain line chart
    assert panel["bands"] and "provisional (Apple may still revise)" in panel["legend"]
    assert any(style == "--" for _, style, _ in panel["lines"]) and panel["ylim0"] == 0
    assert panel["title"] == f"{DOWNLOADS} — {ex.measure.label}" + (" by Territory" if breakdown else "")
    # the figure shows itself as a PNG in a notebook (a plain matplotlib Figure shows only its repr)
    assert ns["fig"]._repr_png_()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_panel_draws_with_the_public_function(explorer) -> None:
    ex = explorer
    again = plot_chart(ex.chart_data, **ex.plot_options())
    assert signature(again) == signature(ex.figure)
    assert asc_nb.widgets.plot_chart is plot_chart


def test_chart_text_is_dark_enough_to_read() -> None:
    import pandas as pd

    data = pd.DataFrame(
        {"date": pd.to_datetime(["2026-03-01", "2026-03-02"]), "downloads": [3, 4], "complete": [True, False]}
    )
    fig = plot_chart(data, title="t")
    (ax,) = fig.axes
    texts = [ax.title, *ax.get_xticklabels(), *ax.get_yticklabels(), *ax.get_legend().get_texts()]

    def luminance(colour) -> float:
        lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in mcolors.to_rgb(colour)]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    background = luminance(fig.get_facecolor())
    for text in texts:  # WCAG AAA contrast (7:1): dark text on the chart's own light background
        lum = luminance(text.get_color())
        assert (background + 0.05) / (lum + 0.05) >= 7, (text.get_text(), text.get_color())
