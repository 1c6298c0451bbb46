"""Re-execute the example notebooks in place, keeping what a reader without a kernel needs.

nbval compares the stored outputs, so after changing a notebook (or the library under it) run
``make notebooks`` and commit the result.

What is kept, and why: a widget output is only a pointer into the kernel (``widget-view+json``);
opened on GitHub, nbviewer or through ``jupyter nbconvert --to html`` offline it shows nothing. The
asc-nb panels therefore put a static rendering of themselves (their tables and chart images, as
they were when shown) in the same output as ``text/html`` (:mod:`asc_nb.widgets.static`). For those
outputs the pointer is dropped here, so every reader — nbconvert (which would otherwise prefer the
pointer and load a widget renderer from a CDN), nbviewer, GitHub, JupyterLab before the notebook is
run again — shows the static rendering; running the cell again brings the live panel back. Any other
widget output keeps its pointer, and the notebook keeps the widget state (``metadata.widgets``) of
exactly the models those outputs need, so it renders from saved state where a widget renderer is at
hand. Stripped: each cell's ``metadata.execution`` timestamps.

    python tools/run_notebooks.py [notebook.ipynb ...]     # default: notebooks/*.ipynb
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import nbformat
from nbconvert.preprocessors import ExecutePreprocessor

VIEW = "application/vnd.jupyter.widget-view+json"
STATE = "application/vnd.jupyter.widget-state+json"
#: the class of a static rendering (asc_nb.widgets.static.MARK; kept literal so this tool imports no asc_nb)
MARK = "asc-nb-static"


def _refs(value: Any) -> set[str]:
    """Model ids a piece of widget state refers to (``"IPY_MODEL_<id>"`` strings, at any depth)."""
    text = json.dumps(value)
    out, start = set(), 0
    while (i := text.find("IPY_MODEL_", start)) >= 0:
        j = text.find('"', i)
        out.add(text[i + len("IPY_MODEL_") : j])
        start = j
    return out


def keep_static(nb: Any) -> dict[str, int]:
    """Drop the widget pointer of outputs that carry a static rendering; prune the widget state to the models
    the remaining pointers reach. Returns counts (``static``, ``live``, ``models``) for the log line."""
    live: set[str] = set()
    static = 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if VIEW not in data:
                continue
            if MARK in str(data.get("text/html", "")):
                del data[VIEW]
                static += 1
            else:
                live.add(str(data[VIEW].get("model_id", "")))
    widgets = nb.metadata.get("widgets", {})
    state = widgets.get(STATE, {}).get("state", {})
    keep, todo = set(), [m for m in live if m in state]
    while todo:
        m = todo.pop()
        if m in keep or m not in state:
            continue
        keep.add(m)
        todo.extend(_refs(state[m]) - keep)
    if keep:
        widgets[STATE]["state"] = {m: state[m] for m in sorted(keep)}
        nb.metadata["widgets"] = widgets
    else:
        nb.metadata.pop("widgets", None)
    return {"static": static, "live": len(live), "models": len(keep)}


def run(path: Path, out: Path | None = None) -> None:
    """Execute ``path`` (in its own folder) and write it to ``out`` (default: in place)."""
    nb = nbformat.read(path, as_version=4)
    ep = ExecutePreprocessor(timeout=300, kernel_name="python3", store_widget_state=True)
    ep.preprocess(nb, {"metadata": {"path": str(path.parent)}})
    counts = keep_static(nb)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    nbformat.write(nb, out or path)
    print(
        f"executed {path}: {counts['static']} static panel rendering(s), {counts['live']} live widget output(s), "
        f"{counts['models']} widget model(s) kept"
    )


if __name__ == "__main__":
    paths = [Path(p) for p in sys.argv[1:]] or sorted(Path("notebooks").glob("*.ipynb"))
    for p in paths:
        run(p)
