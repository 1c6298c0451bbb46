"""``make lab`` works on a git-ignored copy of the notebooks: git status stays clean, user edits survive."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


def test_make_lab_leaves_git_status_clean(tmp_path) -> None:
    if shutil.which("make") is None:
        import pytest

        pytest.skip("make is not installed")
    repo = tmp_path / "repo"
    (repo / "tools").mkdir(parents=True)
    shutil.copytree(
        REPO / "notebooks", repo / "notebooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints")
    )
    for rel in ("Makefile", ".gitignore", "tools/lab_copy.py"):
        shutil.copy2(REPO / rel, repo / rel)
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "shipped")

    def make_lab_dir() -> None:
        subprocess.run(
            ["make", "-s", "lab-dir", f"PYTHON={sys.executable}"], cwd=repo, check=True, capture_output=True
        )

    make_lab_dir()
    lab = repo / "lab"
    shipped = sorted(p.name for p in (repo / "notebooks").glob("*.ipynb"))
    assert sorted(p.name for p in lab.glob("*.ipynb")) == shipped
    # the user edits a notebook and saves a new one, as JupyterLab's autosave would
    edited = lab / shipped[0]
    nb = json.loads(edited.read_text())
    nb["cells"].append({"cell_type": "markdown", "metadata": {}, "source": ["my notes"]})
    edited.write_text(json.dumps(nb))
    (lab / "Untitled.ipynb").write_text(
        json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    )
    (lab / ".ipynb_checkpoints").mkdir()
    make_lab_dir()  # a second `make lab` tops up, never overwrites
    assert "my notes" in edited.read_text() and (lab / "Untitled.ipynb").exists()
    assert _git(repo, "status", "--porcelain") == ""
    # and the test run only ever sees the shipped notebooks
    assert not list((repo / "notebooks").glob("Untitled*"))
