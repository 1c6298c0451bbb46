"""`python -m asc_nb check` and `sync --repair` for cron, against the sandbox CLI over loopback HTTP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

import asc_nb

from .conftest import HISTORY, REPORTS, SEED, flagged

ROOT = Path(__file__).resolve().parents[2]
FAULTS = "gap=1,duplicate=1,expired=1"


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), **extra}


def run(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "asc_nb", *args],
        capture_output=True,
        text=True,
        env=env or _env(),
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def sandbox_cli(tmp_path_factory):
    keys = tmp_path_factory.mktemp("keys")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "asc_nb.sandbox",
            "--write-credentials",
            str(keys),
            "--seed",
            str(SEED),
            "--apps",
            "2",
            "--history-days",
            str(HISTORY),
            "--data-faults",
            FAULTS,
            "--fault-reports",
            "App Sessions Standard",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=_env(),
    )
    try:
        line = json.loads(proc.stdout.readline())
        yield line
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:  # pragma: no cover
            proc.kill()
            proc.wait()


def test_sandbox_cli_prints_its_data_faults(sandbox_cli):
    faults = sandbox_cli["data_faults"]
    assert sorted(f["kind"] for f in faults) == ["duplicate", "expired", "gap"]
    assert {f["report"] for f in faults} == {"App Sessions Standard"}


def test_check_then_sync_repair_end_to_end(sandbox_cli, tmp_path):
    env = _env(
        ASC_BASE_URL=sandbox_cli["base_url"],
        ASC_KEY_ID=sandbox_cli["key_id"],
        ASC_ISSUER_ID=sandbox_cli["issuer_id"],
        ASC_PRIVATE_KEY_PATH=sandbox_cli["key_path"],
        ASC_NB_CACHE_DIR=str(tmp_path / "cache"),
    )
    store = tmp_path / "store"
    reports = ",".join(REPORTS)
    assert run("sync", "--store", str(store), "--reports", reports, env=env).returncode == 0
    checked = run("check", "--store", str(store), "--json", env=env)
    assert checked.returncode == 1, checked.stderr
    out = json.loads(checked.stdout)
    assert out["ok"] is False and out["counts"]["duplicate"] == 1 and out["counts"]["missing"] >= 1
    assert {d["state"] for d in out["dates"]} >= {"missing", "duplicate"}
    human = run("check", "--store", str(store), env=env)
    assert human.returncode == 1 and "duplicate" in human.stdout and "reference day" in human.stdout

    first = run("sync", "--store", str(store), "--reports", reports, "--repair", "--json", env=env)
    assert first.returncode == 0, first.stderr
    lines = [json.loads(x) for x in first.stdout.splitlines()]
    assert any(x.get("plan", {}).get("action") == "snapshot" for x in lines)
    assert any(x.get("status") == "pending" for x in lines)  # the snapshot is not made yet
    httpx.post(f"{sandbox_cli['base_url']}/_sandbox/advance", json={"days": 2}).raise_for_status()
    second = run("sync", "--store", str(store), "--reports", reports, "--repair", env=env)
    assert second.returncode == 0, second.stderr

    s = asc_nb.Store(store)
    ledger = s.health()
    left = flagged(ledger)
    # what stays is what cannot be repaired: the duplicate and the early vintages the expired instances left
    assert set(left["state"].astype(str)) <= {"duplicate", "missing"}
    assert (ledger["state"] == "duplicate").sum() == 1
    plan = s.repair_plan()
    assert set(plan["action"]) <= {"not_repairable"}
    gap = next(f for f in sandbox_cli["data_faults"] if f["kind"] == "gap")
    day = ledger[
        (ledger["app_id"] == gap["app_id"])
        & (ledger["report"] == gap["report"])
        & (ledger["date"] == gap["date"])
    ]
    assert list(day["state"]) == ["final"] and "ONE_TIME_SNAPSHOT" in day["reason"].iloc[0]


def test_check_exit_codes(clean, tmp_path):
    ok = run("check", "--store", str(clean.store.path))
    assert ok.returncode == 0 and "final" in ok.stdout and "Traceback" not in ok.stderr
    nothing = run("check", "--store", str(tmp_path / "nope"))
    assert nothing.returncode == 2 and "no store at" in nothing.stderr and not (tmp_path / "nope").exists()
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "state.sqlite").write_bytes(b"garbage" * 500)
    bad = run("check", "--store", str(broken))
    assert bad.returncode == 2 and "cannot be read" in bad.stderr and "Traceback" not in bad.stderr
    future = run("check", "--store", str(clean.store.path), "--now", "2030-01-01")
    assert future.returncode == 2 and "reference day" in future.stderr
