"""MCP fixtures (the harness is mcp_harness.py): ``world`` — a store synced by the CLI from the sandbox over
loopback with credentials in the environment, a restatement included — and ``mcp_server``, the real
``python -m asc_nb mcp --store DIR`` subprocess driven through the SDK's stdio client, once for the folder.

No ``__init__.py`` here: as a package this folder would be importable as ``mcp`` and hide the SDK.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

pytest.importorskip(
    "mcp.server.mcpserver", reason="the mcp extra (pip install 'asc-nb[mcp]') is not installed"
)

from mcp_harness import MAX_ROWS, REPORTS, TIMEOUT, Server, World, environ, server_env  # noqa: E402

import asc_nb  # noqa: E402
from asc_nb.__main__ import main  # noqa: E402
from asc_nb.sandbox import Sandbox  # noqa: E402


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("mcp-world")
    sb = Sandbox(seed=14, apps=2, history_days=24)
    key_path = tmp / f"AuthKey_{sb.key_id}.p8"
    key_path.write_text(sb.private_key_pem)
    store_dir = tmp / "store"
    with sb.serve() as handle:
        env = {
            "ASC_KEY_ID": sb.key_id,
            "ASC_ISSUER_ID": sb.issuer_id,
            "ASC_PRIVATE_KEY": sb.private_key_pem,
            "ASC_PRIVATE_KEY_PATH": str(key_path),
            "ASC_BASE_URL": handle.base_url,
            "ASC_NB_CACHE_DIR": str(tmp / "cache"),
        }
        argv = ["sync", "--store", str(store_dir), "--reports", ",".join(REPORTS), "--json"]
        with environ({k: v for k, v in env.items() if k != "ASC_PRIVATE_KEY"}):
            assert main(argv) == 0
            sb.advance(days=3)  # later instances restate the last days: the store keeps the newest vintage
            assert main(argv) == 0
    store = asc_nb.Store(store_dir)
    apps = sorted(store.read("App Sessions Standard")["app_id"].astype(str).unique())
    assert len(apps) == 2
    yield World(sb, store_dir, env, key_path, apps, store)
    store.close()


@pytest.fixture(scope="session")
def mcp_server(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    errlog = tmp_path_factory.mktemp("mcp-server") / "stderr.txt"
    server = Server(
        [
            "-m",
            "asc_nb",
            "mcp",
            "--store",
            str(world.store_dir),
            "--max-rows",
            str(MAX_ROWS),
            "--timeout",
            str(TIMEOUT),
        ],
        server_env(world),
        errlog,
    )
    yield server
    server.close()
