"""Every metric of the catalog has a line in docs/metrics.md naming the Apple page that defines it, and the
catalog's source for it is one of Apple's pages."""

from __future__ import annotations

import re
from pathlib import Path

import asc_nb

DOC = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"


def test_every_catalog_metric_has_a_doc_line_citing_apple():
    text = DOC.read_text("utf-8")
    rows = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line]
    cat = asc_nb.metric_catalog()
    for name, source in zip(cat["name"], cat["source"], strict=True):
        assert source.startswith("https://developer.apple.com/"), name
        line = next(
            (r for r in rows if re.search(rf"(^\| |[ /,]){re.escape(name)}( |,|$)", r.split("|")[1] + " ")),
            None,
        )
        assert line is not None, f"{name} has no row in docs/metrics.md"
        cited = line.rstrip(" |").rsplit("|", 1)[-1].strip()
        assert re.search(r"Help|page|Measuring", cited), (name, cited)
