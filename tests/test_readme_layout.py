"""The README's Development layout names every folder there is, and every page of docs/ is linked from the README."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()


def layout() -> dict[str, str]:
    """top-level folder -> the text of its entry in the Development block."""
    block = re.search(r"## Development\n\n```\n(.*?)```", README, flags=re.S).group(1)
    entries: dict[str, str] = {}
    current = None
    for line in block.splitlines():
        m = re.match(r"(\S+)/\s+(.*)", line)
        if m:
            current = m.group(1)
            entries[current] = m.group(2)
        elif current:
            entries[current] += " " + line.strip()
    return entries


def tracked_top_level_folders() -> set[str]:
    """The repository's own folders (what git tracks): not .venv, lab/, artifacts/ or other ignored output."""
    files = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    return {line.split("/", 1)[0] for line in files.splitlines() if "/" in line and not line.startswith(".")}


def test_every_top_level_folder_is_in_the_layout() -> None:
    folders = tracked_top_level_folders()
    assert {"asc_nb", "tests", "notebooks"} <= folders  # the listing itself works
    assert folders <= set(layout())


def test_every_package_and_test_folder_is_named() -> None:
    entries = layout()
    packages = {p.parent.name for p in (REPO / "asc_nb").glob("*/__init__.py")}
    assert [p for p in sorted(packages) if f"{p}/" not in entries["asc_nb"]] == []
    tiers = {p.name for p in (REPO / "tests").iterdir() if p.is_dir() and not p.name.startswith("__")}
    assert [t for t in sorted(tiers) if not re.search(rf"\b{t}\b", entries["tests"])] == []


def test_every_docs_page_is_linked_from_the_readme() -> None:
    pages = sorted(p.name for p in (REPO / "docs").glob("*.md"))
    assert [p for p in pages if f"](docs/{p})" not in README] == []


def test_make_bench_runs_every_benchmark_script() -> None:
    make = (REPO / "Makefile").read_text()
    target = re.search(r"^bench:.*?\n((?:\t.*\n)+)", make, flags=re.M).group(1)
    scripts = sorted(p.name for p in (REPO / "benchmarks").glob("bench_*.py"))
    assert [s for s in scripts if f"benchmarks/{s}" not in target] == []


def test_the_widgets_section_names_every_tab_and_handle() -> None:
    section = README[README.index("## Widgets") : README.index("## Connecting")]
    for handle in (
        "request_panel",
        "requests_table",
        "requests_overview",
        "explorer",
        "overview",
        "store_panel",
    ):
        assert f"dash.{handle}" in section, handle
    assert "Overview" in section and "Store tab" in section
