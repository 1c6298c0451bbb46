"""Store fixtures: small worlds (2 apps, days of history), a store in tmp, helpers to compare lakes."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

import asc_nb
from asc_nb.sandbox import Sandbox

REPORTS = ("App Sessions Standard", "App Downloads Standard")
ROOT = Path(__file__).resolve().parents[2]
SEED, APPS, HISTORY = 14, 2, 10
KEY = ["app_id", "date", "processing_date", "instance_id", "segment_id"]


def small_world(**kwargs) -> Sandbox:
    kwargs.setdefault("seed", 14)
    kwargs.setdefault("apps", 2)
    kwargs.setdefault("history_days", 8)
    return Sandbox(**kwargs)


@pytest.fixture
def world() -> Sandbox:
    return small_world()


@pytest.fixture
def store(tmp_path) -> asc_nb.Store:
    s = asc_nb.Store(tmp_path / "store")
    yield s
    s.close()


def canonical(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows in one order, so two reads of the same data compare equal whatever wrote them."""
    cols = [c for c in frame.columns if c != "segment_id"]
    out = frame.sort_values(cols, kind="stable", ignore_index=True, na_position="first")
    return out


def lake_snapshot(store: asc_nb.Store, reports=REPORTS, granularity="DAILY") -> dict[str, pd.DataFrame]:
    return {r: canonical(store.read(r, granularity=granularity)) for r in reports}


def assert_same_lake(a: asc_nb.Store, b: asc_nb.Store, reports=REPORTS) -> None:
    left, right = lake_snapshot(a, reports), lake_snapshot(b, reports)
    for r in reports:
        assert len(left[r]) > 0, r
        pd.testing.assert_frame_equal(left[r], right[r], check_like=False)


@contextlib.contextmanager
def sandbox_cli_process(
    tmp_path_factory, seed: int = SEED, apps: int = APPS, history: int = HISTORY
) -> Iterator[dict[str, str]]:
    """The sandbox CLI on 127.0.0.1 in a real child process; yields the JSON line it prints first
    (base_url, key_id, issuer_id, key_path) and stops it (SIGTERM, then kill) on the way out.

    One helper for every test that needs the sandbox as a separate server (store and scale crash tests)."""
    keys = tmp_path_factory.mktemp("keys")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "asc_nb.sandbox",
            "--write-credentials",
            str(keys),
            "--seed",
            str(seed),
            "--apps",
            str(apps),
            "--history-days",
            str(history),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        yield json.loads(proc.stdout.readline())
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:  # pragma: no cover
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def sandbox_cli(tmp_path_factory):
    """The sandbox CLI on 127.0.0.1, its credentials as the env a cron job would have."""
    with sandbox_cli_process(tmp_path_factory) as line:
        yield {
            "ASC_BASE_URL": line["base_url"],
            "ASC_KEY_ID": line["key_id"],
            "ASC_ISSUER_ID": line["issuer_id"],
            "ASC_PRIVATE_KEY_PATH": line["key_path"],
        }


def run_sync(creds, store_dir, cache_dir, *extra, wait_for=None, timeout=120):
    env = {**os.environ, **creds, "PYTHONPATH": str(ROOT), "ASC_NB_CACHE_DIR": str(cache_dir)}
    cmd = [
        sys.executable,
        "-m",
        "asc_nb",
        "sync",
        "--store",
        str(store_dir),
        "--reports",
        ",".join(REPORTS),
        *extra,
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    if wait_for is None:
        out, err = proc.communicate(timeout=timeout)
        return proc.returncode, out, err
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        if wait_for(Path(store_dir)):
            os.kill(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.005)
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err
