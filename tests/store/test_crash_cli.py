"""kill -9 at several moments of `python -m asc_nb sync` against the sandbox CLI, then re-sync == clean sync.

Also the CLI's contract for cron: exit 0 / 1 / 75 and one JSON object per result row.
"""

from __future__ import annotations

import json
import os
import random
import signal
from pathlib import Path

import pytest

import asc_nb
from asc_nb.store.lock import StoreLock

from .conftest import APPS, REPORTS, assert_same_lake, run_sync


def lake_files(store_dir: Path) -> int:
    return sum(1 for _ in (store_dir / "lake").rglob("*.parquet"))


@pytest.fixture(scope="module")
def clean(sandbox_cli, tmp_path_factory):
    """A clean sync of the same world (in-process client over the same loopback server)."""
    root = tmp_path_factory.mktemp("clean")
    client = asc_nb.connect(
        key_id=sandbox_cli["ASC_KEY_ID"],
        issuer_id=sandbox_cli["ASC_ISSUER_ID"],
        private_key=sandbox_cli["ASC_PRIVATE_KEY_PATH"],
        base_url=sandbox_cli["ASC_BASE_URL"],
        cache_dir=root / "cache",
    )
    store = asc_nb.Store(root / "store")
    result = store.sync(client, reports=REPORTS, progress=False)
    assert set(result["status"]) == {"ok"}
    client.close()
    return store, lake_files(root / "store")


#: a random number of committed files (printed on failure, so a red run can be replayed by hand)
RANDOM_FILES = random.Random().randint(2, 40)

KILL_POINTS = {
    "state-created": lambda d: (d / "state.sqlite").exists(),
    "random-files": lambda d: lake_files(d) >= RANDOM_FILES,
    "first-file": lambda d: lake_files(d) >= 1,
    "a-third": lambda d: lake_files(d) >= 12,
    "two-thirds": lambda d: lake_files(d) >= 30,
}


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_kill9_then_resync_equals_clean_sync(point, sandbox_cli, clean, tmp_path):
    clean_store, total = clean
    assert total > 40
    store_dir = tmp_path / "store"
    code, _, _ = run_sync(sandbox_cli, store_dir, tmp_path / "cache", wait_for=KILL_POINTS[point])
    assert code == -signal.SIGKILL, f"the sync ended ({code}) before the kill point {point} ({RANDOM_FILES=})"
    partial = lake_files(store_dir)
    assert partial < total
    # nothing half-written is visible: every file in the lake is a whole Parquet file
    import pyarrow.parquet as pq

    for f in (store_dir / "lake").rglob("*"):
        if f.is_file():
            assert f.suffix == ".parquet"
            pq.read_metadata(f)
    code, out, err = run_sync(
        sandbox_cli, store_dir, tmp_path / "cache", "--json"
    )  # the killed lock is taken over
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert {r["status"] for r in rows} == {"ok"}
    resumed = asc_nb.Store(store_dir)
    assert_same_lake(resumed, clean_store)  # kill point {point}, RANDOM_FILES={RANDOM_FILES}
    assert lake_files(store_dir) == total
    assert not any((store_dir / "staging").glob("*"))


def test_cli_exit_codes_and_json(sandbox_cli, tmp_path):
    store_dir = tmp_path / "store"
    code, out, err = run_sync(
        sandbox_cli,
        store_dir,
        tmp_path / "cache",
        "--json",
        "--apps",
        "1",
        "--reports",
        "App Sessions Standard",
    )
    assert code == 1
    assert "asc_nb sync: 1 App Sessions Standard DAILY:" in err  # one line per failed part
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["status"] for r in rows] == ["failed"]
    assert set(rows[0]) == set(asc_nb.store.SYNC_COLUMNS)

    holder = StoreLock(store_dir / "sync.lock")
    holder.acquire()
    try:
        code, out, err = run_sync(sandbox_cli, store_dir, tmp_path / "cache", "--json")
        assert code == 75
        assert str(os.getpid()) in err
    finally:
        holder.release()

    code, out, err = run_sync(sandbox_cli, store_dir, tmp_path / "cache", "--json", "--wait")
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == APPS * len(REPORTS)
    assert all(r["status"] == "ok" and r["new_instances"] > 0 and r["first_date"] for r in rows)
    code, out, _ = run_sync(sandbox_cli, store_dir, tmp_path / "cache", "--json")
    assert code == 0
    assert sum(json.loads(line)["api_calls"] for line in out.splitlines()) <= APPS * len(REPORTS)
