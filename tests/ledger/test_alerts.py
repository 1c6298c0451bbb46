"""Alerts: a finalized day far off its trailing baseline is reported; provisional days never are."""

from __future__ import annotations

import pandas as pd
import pytest

import asc_nb
from asc_nb.alerts import ALERT_COLUMNS, alerts
from asc_nb.errors import ConfigError
from asc_nb.sandbox import DataFault, Sandbox

REPORT = "App Downloads Standard"
METRIC = "total_downloads"


def world(tmp_path, faults):
    sb = Sandbox(seed=4, apps=2, history_days=40, data_faults=faults)
    client = asc_nb.connect(sandbox=sb, cache_dir=tmp_path / "cache")
    store = asc_nb.Store(tmp_path / "store")
    store.sync(client, reports=[REPORT], progress=False)
    return sb, store


def test_spike_on_a_final_day_is_reported_and_not_on_a_provisional_one(tmp_path):
    apps = list(Sandbox(seed=4, apps=2).world.apps)
    final_day, fresh_day = "2026-02-26", "2026-03-01"  # the reference day is 2026-03-02
    faults = [
        DataFault("restatement", apps[0], REPORT, final_day, at="2026-03-02", percent=400),
        DataFault("restatement", apps[1], REPORT, fresh_day, at="2026-03-02", percent=400),
    ]
    _sb, store = world(tmp_path, faults)
    states = store.health(reports=REPORT).set_index(["app_id", "date"])["state"].astype(str)
    assert states[(apps[1], pd.Timestamp(fresh_day))] == "provisional"
    found = alerts(store, metrics=[METRIC], threshold=1.5, baseline_days=14)
    assert list(found.columns) == ALERT_COLUMNS
    assert [(r.app_id, r.date.date().isoformat(), r.kind) for r in found.itertuples()] == [
        (apps[0], final_day, "spike")
    ]
    r = found.iloc[0]
    assert r["change"] == pytest.approx(r["value"] / r["baseline"] - 1) and r["change"] > 1.5
    assert "above the median" in r["reason"] and r["baseline_days"] == 14
    # the provisional spike is there in the numbers, just never judged
    m = store.metrics(apps[1], [METRIC], by=("date",))
    assert bool(m.loc[m["date"] == fresh_day, "provisional"].iloc[0])


def test_a_drop_and_the_missing_days_of_a_gap_are_not_confused(tmp_path):
    apps = list(Sandbox(seed=4, apps=2).world.apps)
    faults = [
        DataFault("restatement", apps[0], REPORT, "2026-02-25", at="2026-03-02", percent=20),
        DataFault("gap", apps[1], REPORT, "2026-02-20", days=3),
    ]
    _sb, store = world(tmp_path, faults)
    found = alerts(store, metrics=[METRIC], threshold=0.6, baseline_days=10, recent_days=10)
    got = {(r.app_id, r.date.date().isoformat(), r.kind) for r in found.itertuples()}
    assert (apps[0], "2026-02-25", "drop") in got
    assert not {g for g in got if g[0] == apps[1]}  # a missing day is the ledger's business, not a "drop"


def test_clean_world_default_metrics_and_bad_arguments(tmp_path):
    _sb, store = world(tmp_path, None)
    assert alerts(store, metrics=[METRIC], threshold=3.0).empty  # the clean world: nothing 4x off its median
    with pytest.raises(ConfigError, match="threshold"):
        alerts(store, threshold=0)
    with pytest.raises(ConfigError, match="baseline_days"):
        alerts(store, baseline_days=1)
    defaults = __import__("asc_nb.alerts", fromlist=["default_metrics"]).default_metrics(store)
    assert METRIC in defaults
    catalog = asc_nb.metric_catalog().set_index("name")
    assert all(bool(catalog.loc[m, "additive"]) for m in defaults)


def test_check_alert_exits_1_and_reports_the_spike(tmp_path):
    import json
    import subprocess
    import sys
    from pathlib import Path

    apps = list(Sandbox(seed=4, apps=2).world.apps)
    _sb, store = world(
        tmp_path, [DataFault("restatement", apps[0], REPORT, "2026-02-26", at="2026-03-02", percent=400)]
    )
    root = Path(__file__).resolve().parents[2]
    cmd = [
        sys.executable,
        "-m",
        "asc_nb",
        "check",
        "--store",
        str(store.path),
        "--alert",
        "--metrics",
        METRIC,
        "--threshold",
        "1.5",
        "--baseline-days",
        "14",
    ]
    env = {"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"}
    human = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert human.returncode == 1, human.stderr
    assert f"ALERT spike {METRIC} of app {apps[0]} on 2026-02-26" in human.stdout
    as_json = subprocess.run([*cmd, "--json"], capture_output=True, text=True, env=env, timeout=120)
    out = json.loads(as_json.stdout)
    assert (
        as_json.returncode == 1 and out["counts"]["missing"] == 0
    )  # the ledger itself is fine: only the alert
    assert [(a["app_id"], a["date"], a["kind"]) for a in out["alerts"]] == [(apps[0], "2026-02-26", "spike")]
