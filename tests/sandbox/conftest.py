"""Fixtures for the sandbox tests (helpers live in ``helpers.py``)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from asc_nb.sandbox import Sandbox

from .helpers import Api


@pytest.fixture
def sb() -> Sandbox:
    return Sandbox(seed=0)


@pytest.fixture
def api(sb: Sandbox) -> Iterator[Api]:
    client = Api(sb)
    yield client
    client.close()
    assert not sb.internal_errors, sb.internal_errors[0]


@pytest.fixture
def make_api() -> Iterator[Callable[..., Api]]:
    made: list[Api] = []

    def make(*args: Any, **kwargs: Any) -> Api:
        a = Api(*args, **kwargs)
        made.append(a)
        return a

    yield make
    for a in made:
        a.close()
        assert not a.sb.internal_errors, a.sb.internal_errors[0]


@pytest.fixture
def downloader(sb: Sandbox) -> Iterator[httpx.Client]:
    """A client for the download host: no Authorization header, like a correct client."""
    with httpx.Client(transport=sb.transport(), timeout=10) as c:
        yield c


@dataclass
class Front:
    """One sandbox behind one front: ``api`` (spec-checked raw client) and ``dl`` (download host client)."""

    mode: str
    sb: Sandbox
    api: Api
    dl: httpx.Client


@pytest.fixture
def front(transport_mode: str, sb: Sandbox) -> Iterator[Front]:
    """``sb`` through the in-process transport or the loopback server (tests using it run for both)."""
    with contextlib.ExitStack() as stack:
        if transport_mode == "inprocess":
            api, dl = Api(sb), httpx.Client(transport=sb.transport(), timeout=10)
        else:
            srv = stack.enter_context(sb.serve())
            api, dl = Api(sb, base_url=srv.base_url), httpx.Client(timeout=10)
        stack.callback(api.close)
        stack.callback(dl.close)
        yield Front(transport_mode, sb, api, dl)
    assert not sb.internal_errors, sb.internal_errors[0]
