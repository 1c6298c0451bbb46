"""The sandbox shares only asc_nb.models and the report registry with the rest of the package (never the
client side; COORD.md's layering rule: sandbox -> models, registry)."""

from __future__ import annotations

import ast
from pathlib import Path

import asc_nb.sandbox

ALLOWED = ("asc_nb.models", "asc_nb.registry", "asc_nb.sandbox")


def test_sandbox_imports_only_models() -> None:
    root = Path(asc_nb.sandbox.__file__).parent
    for file in sorted(root.glob("*.py")):
        for node in ast.walk(ast.parse(file.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module] if node.module != "asc_nb" else [f"asc_nb.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            for name in names:
                if name.startswith("asc_nb"):
                    assert name.startswith(ALLOWED), f"{file.name} imports {name}"
