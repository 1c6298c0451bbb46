"""Make (or top up) the git-ignored working copy of the notebooks that ``make lab`` opens.

A shipped notebook is copied only when the working copy has no file of that name, so the user's
edits (and any notebook they created there) are never overwritten; the repository's ``notebooks/``
stay exactly as committed, and only they are tested.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def make_copy(source: Path, target: Path) -> list[Path]:
    """Copy every ``*.ipynb`` (and the sanitize file) of ``source`` missing from ``target``; returns what was copied."""
    target.mkdir(parents=True, exist_ok=True)
    copied = []
    for src in sorted(source.glob("*.ipynb")):
        dst = target / src.name
        if not dst.exists():
            shutil.copy2(src, dst)
            copied.append(dst)
    return copied


if __name__ == "__main__":
    src, dst = (Path(a) for a in sys.argv[1:3])
    new = make_copy(src, dst)
    print(f"{dst}/: {len(new)} notebook(s) copied from {src}/ (existing ones kept as you left them)")
