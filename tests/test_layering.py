"""Data flows one way: every import arrow inside asc_nb/ is on the allow-list, and there is no cycle.

The graph is read from the source (``ast``), module by module: ``import``/``from … import`` at
any depth — lazy imports inside functions count — plus ``import_module("asc_nb.…")`` with a
literal name; imports under ``if TYPE_CHECKING:`` do not (they never run). Each module belongs
to a layer (:data:`LAYERS`), and :data:`ALLOWED` says which layers a layer may import. The rules
are those of docs/CONTRACTS.md; the rows for layers that do not exist yet (registry, store,
metrics, the CLI) are here already. The last tests run the same checker on a throw-away package
to show that a forbidden arrow and a cycle do fail it.
"""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Mapping
from pathlib import Path

import pytest

import asc_nb

#: (module-name prefix, layer): the longest matching prefix wins
LAYERS: tuple[tuple[str, str], ...] = (
    ("asc_nb", "facade"),  # the package itself: the public surface, re-exports everything
    ("asc_nb.__main__", "cli"),
    ("asc_nb.cli", "cli"),
    ("asc_nb.protocols", "protocols"),
    ("asc_nb.views", "views"),
    ("asc_nb.report", "report"),
    ("asc_nb.mcp", "mcp"),
    ("asc_nb.alerts", "alerts"),
    ("asc_nb.models", "models"),
    ("asc_nb.errors", "errors"),
    ("asc_nb.config", "config"),
    ("asc_nb.redact", "redact"),
    ("asc_nb.registry", "registry"),
    ("asc_nb.auth", "auth"),
    ("asc_nb.http", "http"),
    ("asc_nb.data", "data"),
    ("asc_nb.metrics", "metrics"),
    ("asc_nb.records", "records"),
    ("asc_nb.frames", "frames"),
    ("asc_nb.client", "client"),
    ("asc_nb.connection", "connect"),
    ("asc_nb.store", "store"),
    ("asc_nb.widgets", "widgets"),
    ("asc_nb.sandbox", "sandbox"),
)

#: layer -> the layers it may import (its own is always allowed, acyclically)
ALLOWED: dict[str, frozenset[str]] = {
    k: frozenset(v)
    for k, v in {
        "models": (),
        "errors": (),
        "config": (),  # the environment, read once: stdlib only
        "redact": (),  # log/URL redaction: stdlib only
        "registry": ("models", "errors"),
        "auth": ("errors", "models", "config"),
        "http": ("auth", "errors", "models"),
        "data": ("errors", "models", "registry", "http", "config"),  # never client
        "metrics": ("errors", "models", "registry", "protocols"),  # fed frames by a callable
        "records": ("models", "errors", "redact"),
        "frames": ("models", "records"),
        "client": (
            "auth",
            "http",
            "records",
            "frames",
            "data",
            "registry",
            "metrics",
            "models",
            "errors",
            "config",
            "redact",
        ),
        "connect": (
            "client",
            "auth",
            "config",
            "errors",
            "models",
            "sandbox",
        ),  # connect(): the composition root
        "store": ("client", "data", "registry", "metrics", "models", "errors", "config", "protocols"),
        "widgets": (
            "client",
            "connect",
            "store",
            "metrics",
            "registry",
            "models",
            "errors",
            "protocols",
            "views",
        ),  # never httpx/http/data
        "sandbox": ("models", "registry"),
        "protocols": ("models", "records", "errors"),  # what store/metrics/widgets need of a client, as types
        "views": (
            "metrics",
            "store",
            "registry",
            "models",
            "errors",
            "protocols",
        ),  # analyses over metrics frames
        "report": ("views", "metrics", "store", "registry", "models", "errors", "config"),  # offline HTML
        "mcp": (
            "store",
            "metrics",
            "registry",
            "models",
            "errors",
            "config",
        ),  # read-only answers over a store
        "alerts": (
            "store",
            "metrics",
            "registry",
            "models",
            "errors",
        ),  # anomalies on the ledger's final days
        "cli": ("*",),
        "facade": ("*",),
    }.items()
}

#: third-party modules a layer must never import, whatever the allow-list says
FORBIDDEN_EXTERNAL: dict[str, tuple[str, ...]] = {
    "widgets": ("httpx",),
    "errors": ("httpx",),
    "models": ("httpx",),
}


# --------------------------------------------------------------------------- the checker


def _module_name(root: Path, package: str, file: Path) -> str:
    parts = list(file.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join([package, *parts])


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imported_names(tree: ast.AST, module: str, is_package: bool) -> list[str]:
    """Every module name an AST imports at run time (relative imports resolved; TYPE_CHECKING skipped)."""
    found: list[str] = []
    here = module.split(".") if is_package else module.split(".")[:-1]

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = here[: len(here) - node.level + 1] if node.level else []
            target = ".".join([*base, *(node.module.split(".") if node.module else [])])
            # `from pkg import submodule` imports the submodule, `from mod import name` the module
            found.extend(f"{target}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Call):
            func = node.func
            name = (
                func.attr
                if isinstance(func, ast.Attribute)
                else func.id
                if isinstance(func, ast.Name)
                else ""
            )
            if name == "import_module" and node.args and isinstance(node.args[0], ast.Constant):
                found.append(str(node.args[0].value))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def import_graph(root: Path, package: str) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(module -> internal modules it imports, module -> top-level external packages it imports)."""
    files = {_module_name(root, package, f): f for f in sorted(root.rglob("*.py"))}
    graph: dict[str, set[str]] = {}
    external: dict[str, set[str]] = {}
    for module, file in files.items():
        names = _imported_names(ast.parse(file.read_text()), module, file.name == "__init__.py")
        graph[module] = set()
        external[module] = set()
        for name in names:
            if name == package or name.startswith(package + "."):
                # the longest known module the name starts with (`pkg.mod.attr` is `pkg.mod`)
                parts = name.split(".")
                while ".".join(parts) not in files:
                    parts.pop()
                target = ".".join(parts)
                if target != module:
                    graph[module].add(target)
            else:
                external[module].add(name.split(".")[0])
    return graph, external


def layer_of(module: str, layers: tuple[tuple[str, str], ...]) -> str:
    """The layer of the longest matching prefix; the package itself (no dot) matches only itself,
    so a new module without a row has no layer (and fails the test) instead of the facade's rules."""
    matches = [p for p, _ in layers if module == p or ("." in p and module.startswith(p + "."))]
    if not matches:
        raise LookupError(f"{module} has no row in LAYERS: add it with the layer it belongs to")
    return dict(layers)[max(matches, key=len)]


def find_cycle(graph: Mapping[str, set[str]]) -> list[str] | None:
    """One import cycle (as a path that ends where it starts), or ``None``."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def violations(
    root: Path,
    package: str,
    layers: tuple[tuple[str, str], ...],
    allowed: Mapping[str, frozenset[str]],
    forbidden_external: Mapping[str, tuple[str, ...]] | None = None,
) -> list[str]:
    """Every problem of a package: arrows outside the allow-list, forbidden third-party imports, a cycle."""
    graph, external = import_graph(root, package)
    problems = []
    for module, targets in sorted(graph.items()):
        src = layer_of(module, layers)
        for target in sorted(targets):
            dst = layer_of(target, layers)
            if dst != src and "*" not in allowed[src] and dst not in allowed[src]:
                problems.append(f"{module} ({src}) imports {target} ({dst})")
        for name in sorted(external[module] & set((forbidden_external or {}).get(src, ()))):
            problems.append(f"{module} ({src}) imports {name}")
    cycle = find_cycle(graph)
    if cycle:
        problems.append("import cycle: " + " -> ".join(cycle))
    return problems


# --------------------------------------------------------------------------- asc_nb itself

ROOT = Path(asc_nb.__file__).parent


def test_every_arrow_is_allowed_and_there_is_no_cycle() -> None:
    assert violations(ROOT, "asc_nb", LAYERS, ALLOWED, FORBIDDEN_EXTERNAL) == []


def test_every_module_has_a_layer_with_rules() -> None:
    graph, _ = import_graph(ROOT, "asc_nb")
    assert len(graph) > 30
    for module in graph:
        assert layer_of(module, LAYERS) in ALLOWED, module


def test_the_allow_list_itself_is_acyclic() -> None:
    layer_graph = {k: {v for v in vs if v != "*"} for k, vs in ALLOWED.items() if "*" not in vs}
    assert find_cycle(layer_graph) is None


def test_the_checker_sees_the_arrows_that_matter() -> None:
    graph, external = import_graph(ROOT, "asc_nb")
    assert "asc_nb.data.transfer" in graph["asc_nb.client"]  # a from-import of a submodule
    assert "asc_nb.http" in graph["asc_nb.data.transfer"]  # a relative import two levels up
    assert "asc_nb.widgets" in graph["asc_nb"]  # a lazy import_module("asc_nb.widgets")
    assert "asc_nb.connection" in graph["asc_nb.widgets.dashboard"]  # a lazy import inside a function
    assert "asc_nb.sandbox" not in graph["asc_nb.client"]  # under TYPE_CHECKING: never runs
    assert not any(
        layer_of(t, LAYERS) == "client" for m in graph if m.startswith("asc_nb.data") for t in graph[m]
    )
    assert "httpx" in external["asc_nb.data.transfer"] and "httpx" not in external["asc_nb.errors"]


# --------------------------------------------------------------------------- the checker fails when it should

TOY_LAYERS = (("toy", "facade"), ("toy.models", "models"), ("toy.client", "client"), ("toy.data", "data"))


def test_a_module_without_a_row_fails(tmp_path) -> None:
    with pytest.raises(LookupError, match="toy.metrics has no row"):
        violations(_toy(tmp_path, {"metrics.py": "from . import models\n"}), "toy", TOY_LAYERS, TOY_ALLOWED)


TOY_ALLOWED = {
    "facade": frozenset({"*"}),
    "models": frozenset(),
    "client": frozenset({"models", "data"}),
    "data": frozenset({"models"}),
}


def _toy(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "toy"
    for name, text in {
        "__init__.py": "",
        "models.py": "X = 1\n",
        "data/__init__.py": "",
        "data/engine.py": "from ..models import X\n",
        "client.py": "from .data import engine\nfrom . import models\n",
        **files,
    }.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(textwrap.dedent(text))
    return root


def test_a_clean_toy_package_passes(tmp_path) -> None:
    assert violations(_toy(tmp_path, {}), "toy", TOY_LAYERS, TOY_ALLOWED) == []


@pytest.mark.parametrize(
    "engine, expected",
    [
        # the data layer calls back into the client: forbidden, and a cycle with client -> data
        (
            "from ..client import Client\n",
            ["toy.data.engine (data) imports toy.client (client)", "import cycle"],
        ),
        # the same arrow, lazily inside a function, still counts
        (
            "def run():\n    from toy import client\n    return client\n",
            ["toy.data.engine (data) imports toy.client (client)", "import cycle"],
        ),
        # and through import_module with a literal name
        (
            "from importlib import import_module\n\ndef run():\n    return import_module('toy.client')\n",
            ["toy.data.engine (data) imports toy.client (client)", "import cycle"],
        ),
    ],
)
def test_a_forbidden_arrow_fails(tmp_path, engine, expected) -> None:
    problems = violations(_toy(tmp_path, {"data/engine.py": engine}), "toy", TOY_LAYERS, TOY_ALLOWED)
    assert [p[: len(e)] for p, e in zip(problems, expected, strict=True)] == expected


def test_type_checking_imports_do_not_count(tmp_path) -> None:
    engine = "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from ..client import Client\n"
    assert violations(_toy(tmp_path, {"data/engine.py": engine}), "toy", TOY_LAYERS, TOY_ALLOWED) == []


def test_a_cycle_inside_one_layer_fails(tmp_path) -> None:
    files = {
        "data/engine.py": "from . import parse\n",
        "data/parse.py": "def f():\n    from . import engine\n",
    }
    problems = violations(_toy(tmp_path, files), "toy", TOY_LAYERS, TOY_ALLOWED)
    assert problems == ["import cycle: toy.data.engine -> toy.data.parse -> toy.data.engine"]


def test_a_forbidden_third_party_import_fails(tmp_path) -> None:
    files = {"models.py": "import httpx\n"}
    problems = violations(_toy(tmp_path, files), "toy", TOY_LAYERS, TOY_ALLOWED, {"models": ("httpx",)})
    assert problems == ["toy.models (models) imports httpx"]
