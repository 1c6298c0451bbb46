"""Fixtures for the sandbox tests (helpers live in ``helpers.py``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
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
