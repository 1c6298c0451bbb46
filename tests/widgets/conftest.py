"""Widgets against the in-process sandbox: no kernel, no browser — set ``.value``, ``.click()``, assert on traits."""

from __future__ import annotations

import pytest

import asc_nb


@pytest.fixture
def sandbox():
    return asc_nb.Sandbox(seed=0, apps=5)


@pytest.fixture
def client(sandbox, tmp_path):
    with asc_nb.connect(sandbox=sandbox, cache_dir=tmp_path / "cache") as c:
        yield c


@pytest.fixture
def app_ids(client) -> list[str]:
    return [str(i) for i in client.apps()["id"]]


@pytest.fixture
def reader(sandbox, tmp_path):
    """A client whose key has the Sales and Reports role: it may read but not create or delete."""
    key = sandbox.add_key(role="SALES_AND_REPORTS")
    with asc_nb.connect(
        key_id=key["key_id"], issuer_id=key["issuer_id"], private_key=key["private_key_pem"],
        sandbox=sandbox, cache_dir=tmp_path / "reader-cache",
    ) as c:  # fmt: skip
        yield c
