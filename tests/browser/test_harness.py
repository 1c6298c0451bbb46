"""Prove the harness itself: a click in the page reaches the kernel and the answer shows in the page."""

from __future__ import annotations

import nbformat
import pytest

pytestmark = pytest.mark.browser

PING_CELL = """\
import os
import ipywidgets as w

button = w.Button(description="Ping")
answer = w.Label(value="waiting")
button.on_click(lambda _: setattr(answer, "value", f"pong from kernel {os.getpid()}"))
w.VBox([button, answer])
"""


def test_button_round_trip(lab) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(PING_CELL)]
    nbformat.write(nb, lab.root / "harness-ping.ipynb")

    lab.open("harness-ping.ipynb")
    lab.run_all()
    page = lab.page
    label = page.locator(".jp-OutputArea-output .widget-label")
    label.filter(has_text="waiting").wait_for()
    assert page.get_by_text("Error displaying widget").count() == 0
    page.locator(".jp-OutputArea-output").get_by_role("button", name="Ping").click()
    label.filter(has_text="pong from kernel").wait_for(timeout=15_000)
    lab.screenshot("harness-ping.png")
