"""Shared fixtures: a fresh sandbox, the same sandbox over loopback HTTP, and a client for both.

- ``sandbox``         a fresh ``Sandbox(seed=0)`` (override it in a sub-conftest for another world)
- ``served_sandbox``  ``sandbox`` served on 127.0.0.1: ``.sandbox``, ``.base_url``, ``.download_base_url``
- ``transport_mode``  ``"inprocess"`` | ``"loopback"`` (tests using ``client``/``make_client`` run for both)
- ``sleeps``          a recorder injected as the client's ``sleep``: retries never wait for real
- ``make_client``     ``make_client(sandbox=None, **client_kwargs)`` -> ``Client`` in the current mode
- ``client``          ``make_client(sandbox)``
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import settings

from asc_nb.client import Client
from asc_nb.sandbox import Sandbox

# CI replays the same examples every run (a red build must be reproducible); locally each run explores anew
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


class Sleeps(list):
    """Records every requested sleep instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@dataclass
class Served:
    sandbox: Sandbox
    base_url: str
    download_base_url: str
    handle: Any


@pytest.fixture
def sandbox() -> Sandbox:
    return Sandbox(seed=0)


@pytest.fixture
def served_sandbox(sandbox: Sandbox) -> Iterator[Served]:
    with sandbox.serve() as handle:
        yield Served(sandbox, handle.base_url, handle.download_base_url, handle)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture(params=["inprocess", "loopback"])
def transport_mode(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def make_client(transport_mode: str, sleeps: Sleeps, tmp_path_factory: pytest.TempPathFactory):
    """Build clients against any sandbox, in-process or over real loopback HTTP (closed after the test)."""
    stack = contextlib.ExitStack()

    def make(sb: Sandbox | None = None, **kwargs: Any) -> Client:
        sb = sb if sb is not None else Sandbox(seed=0)
        if transport_mode == "loopback" and "base_url" not in kwargs:
            handle = stack.enter_context(sb.serve())
            kwargs["base_url"] = handle.base_url
        kwargs.setdefault("sleep", sleeps)
        kwargs.setdefault("cache_dir", tmp_path_factory.mktemp("asc-cache"))
        client = Client(sandbox=sb, **kwargs)
        stack.callback(client.close)
        return client

    with stack:
        yield make


@pytest.fixture
def client(make_client, sandbox: Sandbox) -> Client:
    return make_client(sandbox)
