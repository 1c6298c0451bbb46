"""The verified, checksum-keyed segment cache: real files, a real killed process."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from asc_nb.data.cache import STALE_PARTIAL_SECONDS, SegmentCache, VerificationError, default_cache_dir

DATA = os.urandom(300_000)
MD5 = hashlib.md5(DATA).hexdigest()


def chunks(data: bytes, n: int = 65536):
    for i in range(0, len(data), n):
        yield data[i : i + n]


def cache_files(root: Path) -> list[Path]:
    """Entries a lookup could return (temporary files excluded)."""
    return [p for p in root.rglob("*.gz") if ".partial" not in p.parts]


def test_put_get_roundtrip(tmp_path):
    cache = SegmentCache(tmp_path)
    assert cache.get(MD5) is None
    path = cache.put(MD5.upper(), len(DATA), chunks(DATA))
    assert path.read_bytes() == DATA
    assert cache.get(MD5) == path == cache.path(MD5)
    assert cache.get(MD5, size=len(DATA)) == path
    assert cache.get(MD5, size=1) is None
    assert MD5 in cache
    assert cache.verify(MD5)
    assert path.parent.parent == tmp_path  # <root>/<2 hex>/<md5>.gz
    assert list((tmp_path / ".partial").iterdir()) == []


@pytest.mark.parametrize(
    ("size", "checksum", "kind"),
    [
        (len(DATA), "0" * 32, "checksum"),
        (len(DATA) + 1, MD5, "size"),
        (len(DATA) - 1, MD5, "size"),  # fails fast, before the whole body is read
    ],
)
def test_mismatch_leaves_nothing(tmp_path, size, checksum, kind):
    cache = SegmentCache(tmp_path)
    with pytest.raises(VerificationError) as info:
        cache.put(checksum, size, chunks(DATA))
    assert info.value.kind == kind
    assert cache_files(tmp_path) == []
    assert list((tmp_path / ".partial").iterdir()) == []


def test_exception_midway_leaves_nothing(tmp_path):
    cache = SegmentCache(tmp_path)

    def broken():
        yield DATA[:1000]
        raise ConnectionError("peer went away")

    with pytest.raises(ConnectionError):
        cache.put(MD5, len(DATA), broken())
    assert cache_files(tmp_path) == []
    assert list((tmp_path / ".partial").iterdir()) == []


@pytest.mark.parametrize(
    "bad", ["../../etc/passwd", "..", "a" * 31, "g" * 32, "/" + "a" * 31, "", "a" * 32 + "/"]
)
def test_checksum_cannot_become_a_path(tmp_path, bad):
    cache = SegmentCache(tmp_path)
    with pytest.raises(ValueError):
        cache.path(bad)
    with pytest.raises(ValueError):
        cache.writer(bad, 1)


def test_env_override_and_default(tmp_path, monkeypatch):
    monkeypatch.setenv("ASC_NB_CACHE_DIR", str(tmp_path / "x"))
    assert default_cache_dir() == tmp_path / "x"
    assert SegmentCache().root == tmp_path / "x"
    monkeypatch.delenv("ASC_NB_CACHE_DIR")
    assert default_cache_dir().name == "asc-nb"
    from asc_nb.client import resolve_cache_dir

    assert default_cache_dir() == resolve_cache_dir(None)  # a bare SegmentCache and a Client agree


def test_killed_writer_leaves_no_cache_entry(tmp_path):
    """SIGKILL a process halfway through a write: no entry appears, a later put works."""
    script = textwrap.dedent(
        f"""
        import sys, time
        from asc_nb.data.cache import SegmentCache
        cache = SegmentCache({str(tmp_path)!r})
        w = cache.writer({MD5!r}, {len(DATA)})
        w.write(b"x" * 100_000)
        w._file.flush()
        print("half", flush=True)
        time.sleep(60)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "half"
        partials = list((tmp_path / ".partial").iterdir())
        assert len(partials) == 1 and partials[0].stat().st_size == 100_000
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    cache = SegmentCache(tmp_path)
    assert cache.get(MD5) is None and cache_files(tmp_path) == []
    assert cache.put(MD5, len(DATA), chunks(DATA)).read_bytes() == DATA


def test_stale_partials_are_swept(tmp_path):
    (tmp_path / ".partial").mkdir()
    old = tmp_path / ".partial" / "old.part"
    new = tmp_path / ".partial" / "new.part"
    old.write_bytes(b"x")
    new.write_bytes(b"y")
    past = time.time() - STALE_PARTIAL_SECONDS - 60
    os.utime(old, (past, past))
    SegmentCache(tmp_path).put(MD5, len(DATA), [DATA])
    assert not old.exists() and new.exists()
