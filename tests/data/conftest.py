"""Shared helpers for the data-layer tests: real gzip bytes, real files, no mocks."""

from __future__ import annotations

import gzip

import pytest

import asc_nb
from asc_nb.sandbox import Sandbox


def gz(text: str | bytes, *, bom: bool = False) -> bytes:
    """Gzip bytes of ``text`` (UTF-8), optionally with a BOM, mtime 0 like Apple's/the sandbox's."""
    raw = text.encode() if isinstance(text, str) else text
    return gzip.compress((b"\xef\xbb\xbf" if bom else b"") + raw, mtime=0)


def table_text(header: list[str], rows: list[list[object]], delimiter: str = "\t") -> str:
    """A report file body: header + rows, ``None`` written as an empty field."""
    lines = [delimiter.join(header)]
    lines += [delimiter.join("" if v is None else str(v) for v in row) for row in rows]
    return "\n".join(lines) + "\n"


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    """Never touch the real user cache from a test."""
    monkeypatch.setenv("ASC_NB_CACHE_DIR", str(tmp_path_factory.mktemp("asc-cache")))


# one small world for the fetch and data-plane tests (seed 3: one app, 12 days, 60-row segments)
@pytest.fixture
def sb() -> Sandbox:
    return Sandbox(seed=3, apps=1, history_days=12, segment_rows=60)


@pytest.fixture
def client(sb, tmp_path):
    with asc_nb.connect(sandbox=sb, cache_dir=tmp_path / "cache") as c:
        yield c


@pytest.fixture
def req(client):
    return client.ensure_ongoing(client.apps().id[0])
