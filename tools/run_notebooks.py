"""Re-execute the example notebooks in place and strip what would make every diff noisy.

nbval compares the stored outputs, so after changing a notebook (or the library under it) run
``make notebooks`` and commit the result. Stripped: ``metadata.widgets`` (widget state that
nbconvert saves) and each cell's ``metadata.execution`` timestamps.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbconvert.preprocessors import ExecutePreprocessor


def run(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    ExecutePreprocessor(timeout=300, kernel_name="python3").preprocess(nb, {"metadata": {"path": str(path.parent)}})
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    nbformat.write(nb, path)
    print(f"executed {path}")


if __name__ == "__main__":
    paths = [Path(p) for p in sys.argv[1:]] or sorted(Path("notebooks").glob("*.ipynb"))
    for p in paths:
        run(p)
