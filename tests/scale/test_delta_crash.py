"""Crashes of a Delta store: kill -9 mid-sync and a disk that fills up mid-sync.

Readers never see a half-written commit (every table loads, every partition holds one whole vintage), and a
re-sync gives exactly the rows of a clean sync. The sync runs in a real child process killed with SIGKILL; the
full disk is a real, small tmpfs mounted for the test (root, or an unprivileged user + mount namespace is not
enough: the test skips when it cannot mount).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

import asc_nb

from .conftest import REPORTS, assert_same_lake, sandbox_cli_process

deltalake = pytest.importorskip("deltalake")

ROOT = Path(__file__).resolve().parents[2]
SEED, APPS, HISTORY = 14, 2, 10


@pytest.fixture(scope="module")
def sandbox_cli(tmp_path_factory):
    """The sandbox CLI on 127.0.0.1 and its credentials."""
    with sandbox_cli_process(tmp_path_factory, SEED, APPS, HISTORY) as line:
        yield {k: line[k] for k in ("base_url", "key_id", "issuer_id", "key_path")}


def connect(creds: dict[str, str], cache: Path) -> asc_nb.Client:
    return asc_nb.connect(
        key_id=creds["key_id"],
        issuer_id=creds["issuer_id"],
        private_key=creds["key_path"],
        base_url=creds["base_url"],
        cache_dir=cache,
    )


def sync(creds: dict[str, str], store_dir: Path, cache: Path, fmt: str = "delta") -> pd.DataFrame:
    client = connect(creds, cache)
    try:
        store = asc_nb.Store(store_dir, format=fmt)
        try:
            return store.sync(client, reports=list(REPORTS), progress=False)
        finally:
            store.close()
    finally:
        client.close()


def commits(store_dir: Path) -> int:
    """Delta commits that landed (log entries of the current tables)."""
    return sum(1 for _ in (store_dir / "delta").glob("*/*/_delta_log/0*.json"))


@pytest.fixture(scope="module")
def clean(sandbox_cli, tmp_path_factory):
    root = tmp_path_factory.mktemp("clean")
    out = {}
    for fmt in ("delta", "parquet"):
        result = sync(sandbox_cli, root / fmt, root / "cache", fmt)
        assert set(result["status"]) == {"ok"}, result
        out[fmt] = asc_nb.Store(root / fmt, format=fmt)
    return out


def assert_whole(store_dir: Path, clean_store: asc_nb.Store, fmt: str = "delta") -> None:
    """What a reader sees of a crashed store: every table loads; every (app, date) holds one vintage, with all
    of that vintage's rows (as many as the clean store recorded for it)."""
    partial = asc_nb.Store(store_dir, format=fmt)
    try:
        if fmt == "delta":
            for table in (store_dir / "delta").glob("*/*"):
                if (table / "_delta_log").is_dir() and any((table / "_delta_log").glob("0*.json")):
                    deltalake.DeltaTable(str(table)).to_pyarrow_table()  # loads and reads whole
        held = {r for r, _ in partial.destination.reports()}
        for report in REPORTS:
            if report not in held:  # killed before its first commit
                continue
            got = partial.read(report)
            if got.empty:
                continue
            per = got.groupby(["app_id", "date", "processing_date", "instance_id"], observed=True).size()
            assert per.groupby(level=["app_id", "date"]).size().max() == 1  # one vintage per partition
            known = clean_store.vintages(report).set_index(
                ["app_id", "date", "processing_date", "instance_id"]
            )
            for key, n in per.items():
                assert int(known.loc[key, "rows"]) == int(n), (report, key)
    finally:
        partial.close()


# --------------------------------------------------------------------------- kill -9

CHILD = textwrap.dedent("""
    import json, sys
    import asc_nb
    creds, store_dir, cache = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
    client = asc_nb.connect(key_id=creds["key_id"], issuer_id=creds["issuer_id"], private_key=creds["key_path"],
                            base_url=creds["base_url"], cache_dir=cache)
    asc_nb.Store(store_dir, format="delta").sync(client, reports=json.loads(sys.argv[4]), progress=False)
""")

#: a random number of landed commits (printed on failure, so a red run can be replayed by hand)
RANDOM_COMMITS = random.Random().randint(2, 30)


@pytest.mark.parametrize("point", ["first", "random", "two-thirds"])
def test_kill9_mid_delta_sync_then_resync_equals_clean(point, sandbox_cli, clean, tmp_path):
    total = commits(clean["delta"].path)
    assert total > 40
    at = {"first": 1, "random": RANDOM_COMMITS, "two-thirds": 2 * total // 3}[point]
    store_dir, cache = tmp_path / "store", tmp_path / "cache"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            CHILD,
            json.dumps(sandbox_cli),
            str(store_dir),
            str(cache),
            json.dumps(list(REPORTS)),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if commits(store_dir) >= at:
            os.kill(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.005)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL, (
        f"the sync ended ({proc.returncode}) before {at} commits: {err}"
    )
    assert commits(store_dir) < total
    assert_whole(store_dir, clean["delta"])  # kill point {point}, RANDOM_COMMITS={RANDOM_COMMITS}
    result = sync(sandbox_cli, store_dir, cache)
    assert set(result["status"]) == {"ok"}, result
    resumed = asc_nb.Store(store_dir, format="delta")
    assert_same_lake(resumed, clean["delta"])
    for report in REPORTS:
        pd.testing.assert_frame_equal(resumed.vintages(report), clean["delta"].vintages(report))


# --------------------------------------------------------------------------- disk full


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


@pytest.fixture
def small_disk(tmp_path):
    """A real tmpfs of a given size, mounted for the test (skips where mounting is not allowed)."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    mounted = []

    def mount(size: int) -> Path:
        r = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)], capture_output=True, text=True
        )
        if r.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here (needs root): {r.stderr.strip()}")
        mounted.append(mnt)
        return mnt

    def grow(size: int) -> None:
        subprocess.run(["mount", "-o", f"remount,size={size}", str(mnt)], check=True)

    mount.grow = grow  # type: ignore[attr-defined]
    yield mount
    for m in mounted:
        subprocess.run(["umount", "-l", str(m)], check=False)


@pytest.mark.skipif(shutil.which("mount") is None, reason="no mount(8)")
@pytest.mark.parametrize("fmt", ["delta", "parquet"])
def test_disk_full_mid_sync_leaves_whole_commits_and_resync_equals_clean(
    fmt, sandbox_cli, clean, small_disk, tmp_path
):
    clean_store = clean[fmt]
    need = _size(clean_store.path)
    disk = small_disk(need // 3)  # fills up about a third of the way through
    store_dir, cache = (
        disk / "store",
        tmp_path / "cache",
    )  # the download cache is elsewhere: only the store fills
    try:
        result = sync(sandbox_cli, store_dir, cache, fmt)
        failed = (result["status"] != "ok").any()
    except OSError as err:  # the store's own bookkeeping may be what hits the full disk first
        failed = True
        assert err.errno in (28, None) or "disk" in str(err).lower(), err
    except Exception as err:  # e.g. sqlite3.OperationalError: database or disk is full
        failed = True
        assert "full" in str(err).lower() or "space" in str(err).lower(), err
    assert failed, f"the sync fitted in {need // 3} bytes: the test did not fill the disk"
    assert_whole(store_dir, clean_store, fmt)
    small_disk.grow(64 << 20)
    result = sync(sandbox_cli, store_dir, cache, fmt)
    assert set(result["status"]) == {"ok"}, result
    resumed = asc_nb.Store(store_dir, format=fmt)
    assert_same_lake(resumed, clean_store)
    resumed.close()
