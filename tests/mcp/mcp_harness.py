"""MCP test harness (imported by conftest and the tests): the real server — ``python -m asc_nb mcp --store DIR``
in a subprocess — driven through the official SDK's stdio client.

``mcp_server`` is one server for the folder (started once: about 2 s); it runs with the same ``ASC_*``
credentials in its environment as the sync had, and its stderr goes to a file, so the leak test can grep
every response and everything the server printed. ``mcp_server.call(name, args)`` returns the
``CallToolResult``; ``mcp_server.texts`` is every text the server sent.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import json
import os
import queue
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asc_nb
from asc_nb.sandbox import Sandbox

ROOT = Path(__file__).resolve().parents[2]
REPORTS = ("App Downloads Standard", "App Sessions Standard", "App Store Discovery and Engagement Standard")
#: the server's limits in these tests (small, so the limit tests are quick)
MAX_ROWS = 300
TIMEOUT = 3.0


@dataclass
class World:
    sandbox: Sandbox
    store_dir: Path
    env: dict[str, str]  # the ASC_* variables the sync had (the server gets them too)
    key_path: Path
    apps: list[str]
    store: asc_nb.Store


@contextlib.contextmanager
def environ(values: dict[str, str]) -> Iterator[None]:
    """os.environ with ``values`` set and every other ASC_* variable removed, restored afterwards."""
    saved = dict(os.environ)
    try:
        for name in [n for n in os.environ if n.startswith("ASC_")]:
            del os.environ[name]
        os.environ.update(values)
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


class Server:
    """One ``python -m asc_nb mcp`` subprocess and an SDK ``Client`` session on a thread of its own."""

    def __init__(self, args: list[str], env: dict[str, str], errlog: Path) -> None:
        self.args, self.env, self.errlog_path = args, env, errlog
        self.texts: list[str] = []
        self._jobs: queue.Queue[Any] = queue.Queue()
        self._ready = cf.Future()
        self._thread = threading.Thread(target=self._loop, name="mcp-test-client", daemon=True)
        self._thread.start()
        self._ready.result(60)

    def _loop(self) -> None:
        import anyio

        anyio.run(self._main)

    async def _main(self) -> None:
        import anyio
        from mcp import Client, StdioServerParameters
        from mcp.client.stdio import stdio_client

        params = StdioServerParameters(command=sys.executable, args=self.args, env=self.env, cwd=str(ROOT))
        with open(self.errlog_path, "w") as errlog:
            try:
                async with Client(
                    stdio_client(params, errlog=errlog), read_timeout_seconds=120, cache=None
                ) as client:
                    self._ready.set_result(client)
                    while True:
                        job = await anyio.to_thread.run_sync(self._jobs.get)
                        if job is None:
                            return
                        fn, fut = job
                        try:
                            fut.set_result(await fn(client))
                        except BaseException as err:  # handed to the test's thread
                            fut.set_exception(err)
            except BaseException as err:
                if not self._ready.done():
                    self._ready.set_exception(err)
                raise

    def run(self, fn: Callable[[Any], Any], timeout: float = 120) -> Any:
        fut: cf.Future = cf.Future()
        self._jobs.put((fn, fut))
        return fut.result(timeout)

    def call(self, name: str, arguments: dict[str, Any] | None = None) -> Any:
        result = self.run(lambda c: c.call_tool(name, arguments or {}))
        for block in result.content:
            self.texts.append(getattr(block, "text", ""))
        if result.structured_content is not None:
            self.texts.append(json.dumps(result.structured_content))
        return result

    def ok(self, name: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
        """The structured answer of a call that must succeed."""
        result = self.call(name, arguments)
        assert not result.is_error, result.content[0].text
        return result.structured_content

    def error(self, name: str, arguments: dict[str, Any] | None = None) -> str:
        """The message of a call that must fail as a tool error (not a protocol error, not a crash)."""
        result = self.call(name, arguments)
        assert result.is_error, result.structured_content
        return result.content[0].text

    def stderr(self) -> str:
        return self.errlog_path.read_text()

    def close(self) -> None:
        self._jobs.put(None)
        self._thread.join(30)


def server_env(world: World) -> dict[str, str]:
    return {**world.env, "PYTHONPATH": str(ROOT), "HOME": os.environ.get("HOME", "/tmp")}


@dataclass
class Answer:
    """A tool's table (``columns``/``rows``) as records."""

    columns: list[str]
    rows: list[list[Any]]
    records: list[dict[str, Any]] = field(init=False)

    def __post_init__(self) -> None:
        self.records = [dict(zip(self.columns, r, strict=True)) for r in self.rows]


def table(block: dict[str, Any]) -> Answer:
    return Answer(block["columns"], block["rows"])
