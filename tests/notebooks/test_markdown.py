"""Every markdown cell of the shipped notebooks renders as written: no heading swallowed into a code block.

A markdown cell indented by four spaces is, to CommonMark (JupyterLab's renderer), an indented code
block: the title shows as code with literal ``**``. The cells are parsed with mistune (the Markdown
parser nbconvert uses), which tells an indented code block from a fenced one.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import mistune
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))
HEADING = re.compile(r"^\s*#{1,6}\s+\S", re.M)
EMPHASIS = re.compile(r"\*\*[^*\s][^*]*\*\*")


def _walk(tokens: list) -> list[dict]:
    out = []
    for tok in tokens:
        out.append(tok)
        out += _walk(tok.get("children") or [])
    return out


def problems(source: str) -> list[str]:
    """What in ``source`` would not render as written (empty: fine)."""
    found = []
    for tok in _walk(mistune.create_markdown(renderer=None)(source)):
        if tok.get("type") == "block_code" and tok.get("style") == "indent":  # not a ``` fence
            text = tok.get("raw", "")
            first = text.strip().splitlines()[0] if text.strip() else ""
            if HEADING.search(text):
                found.append(f"heading indented into a code block: {first!r}")
            elif EMPHASIS.search(text):
                found.append(f"**bold** indented into a code block: {first!r}")
    return found


def test_the_check_catches_an_indented_heading() -> None:
    assert problems("    # Title\n\n    Some **bold** text.\n")
    assert problems("Intro\n\n    **Note** indented\n")
    assert not problems("# Title\n\nText with **bold**.\n\n```python\n# a comment in a fence\n```\n")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_markdown_cells_render_as_written(path: Path) -> None:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    bad = [
        f"cell {i}: {p}"
        for i, c in enumerate(cells)
        if c["cell_type"] == "markdown"
        for p in problems("".join(c["source"]))
    ]
    assert not bad, "\n".join(bad)
