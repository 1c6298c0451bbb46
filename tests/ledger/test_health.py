"""Store.health: every injected fault found (100 % recall), nothing flagged on a clean world, typed errors."""

from __future__ import annotations

import sqlite3

import pandas as pd
import pytest

import asc_nb
from asc_nb.errors import ASCError, ConfigError
from asc_nb.store.health import HEALTH_COLUMNS, STATES

from .conftest import REPORTS, flagged, make_world, recall, truth


def test_clean_world_flags_nothing(clean):
    ledger = clean.store.health()
    assert list(ledger.columns) == HEALTH_COLUMNS
    assert len(ledger) == 3 * 3 * 37  # apps x reports x the dates the 35-day listing brings
    assert flagged(ledger).empty, flagged(ledger)[["app_id", "report", "date", "state", "reason"]]
    # the newest dates are provisional (inside the report's window), the older ones final
    assert set(ledger["state"].astype(str)) == {"final", "provisional"}
    newest = ledger[ledger["date"] == ledger["date"].max()]
    assert set(newest["state"].astype(str)) == {"provisional"}


def test_every_injected_fault_is_found_and_nothing_else(faulted):
    ledger = faulted.store.health()
    found, missed = recall(faulted, ledger)
    assert len(faulted.sandbox.data_faults) == 20
    assert {f.kind for f in faulted.sandbox.data_faults} == {
        "gap",
        "empty",
        "duplicate",
        "restatement",
        "expired",
    }
    assert len({f.app_id for f in faulted.sandbox.data_faults}) == 3
    assert missed == [] and len(found) == 20
    bad = {(r.app_id, r.report, r.date.date().isoformat()) for r in flagged(ledger).itertuples()}
    assert bad == truth(faulted)  # no flagged date that no fault explains


def test_rows_carry_evidence_and_a_reason(faulted):
    ledger = faulted.store.health()
    assert ledger["state"].dtype == "category" and list(ledger["state"].cat.categories) == list(STATES)
    assert ledger["reason"].str.len().min() > 20
    dup = ledger[ledger["state"] == "duplicate"]
    assert len(dup) == 4
    for r in dup.itertuples():
        assert (
            len(r.instance_ids) == 2 and len(set(r.processing_dates)) == 1
        )  # two instances, one processing date
        assert r.instance_ids[0] in r.reason and r.instance_ids[1] in r.reason
    restated = ledger[ledger["state"] == "restated"]
    for r in restated.itertuples():
        fault = next(
            f
            for f in faulted.sandbox.data_faults
            if f.kind == "restatement" and f.app_id == r.app_id and f.report == r.report
        )
        final = (pd.Timestamp(fault.date) + pd.Timedelta(days=3)).date().isoformat()
        # the restating instance, then the final vintage it replaced (kept in the store's history for as_of)
        assert (
            r.processing_dates == [fault.at, final] and fault.at in r.reason and "kept for as_of" in r.reason
        )
    empty = ledger[(ledger["state"] == "empty") & ledger["rows"].isna()]
    assert len(empty) >= 4 and "no rows" in empty["reason"].iloc[0]


def test_filters(faulted):
    app = faulted.sandbox.data_faults[0].app_id
    part = faulted.store.health(
        apps=[app],
        reports="App Sessions Standard",
        states=["missing", "empty"],
        start="2026-02-01",
        end="2026-02-20",
    )
    assert set(part["app_id"]) == {app} and set(part["report"]) == {"App Sessions Standard"}
    assert set(part["state"].astype(str)) <= {"missing", "empty"}
    assert part["date"].between(pd.Timestamp("2026-02-01"), pd.Timestamp("2026-02-20")).all()


def test_expiring_an_instance_listed_but_not_stored(tmp_path):
    """A download that keeps failing leaves the instance listed, not stored: expiring, then a sync fixes it."""
    sb = asc_nb.Sandbox(seed=3, apps=1, history_days=12)
    client = asc_nb.connect(sandbox=sb, cache_dir=tmp_path / "cache", sleep=lambda s: None)
    store = asc_nb.Store(tmp_path / "store")
    sb.faults.add("server_error", host="download", count=None)
    store.sync(client, reports=["App Sessions Standard"], progress=False)
    sb.faults.clear()
    ledger = store.health()
    assert set(ledger["state"].astype(str)) == {"expiring"}
    assert "listed but not stored" in ledger["reason"].iloc[0] and "sync now" in ledger["reason"].iloc[0]
    plan = store.repair_plan()
    assert set(plan["action"]) == {"resync"}
    from asc_nb.store.repair import repair

    repair(store, client)
    assert set(store.health()["state"].astype(str)) <= {"final", "provisional"}


def test_unknown_state_future_now_and_unreadable_store_are_typed(faulted, tmp_path):
    with pytest.raises(ConfigError, match="unknown ledger state.*'stale'.*final, provisional"):
        faulted.store.health(states=["missing", "stale"])
    with pytest.raises(ConfigError, match="after the store's reference day"):
        faulted.store.health(now="2027-01-01")
    with pytest.raises(ConfigError, match="start"):
        faulted.store.health(start="yesterday")
    with pytest.raises(
        ASCError, match="no report 'App Sesions Standard'; did you mean 'App Sessions Standard'"
    ):
        faulted.store.health(reports="App Sesions Standard")
    with pytest.raises(ConfigError, match="granularity"):
        faulted.store.health(granularity="HOURLY")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "state.sqlite").write_bytes(b"this is not a database" * 100)
    with pytest.raises(ASCError, match="cannot be read"):
        asc_nb.Store(broken).health()
    assert issubclass(ConfigError, ASCError)
    assert sqlite3  # the damaged file is refused as a ConfigError, not a sqlite3 error


def test_same_seed_same_ledger(faulted, tmp_path):
    again = make_world(tmp_path)
    a, b = faulted.store.health(), again.store.health()
    pd.testing.assert_frame_equal(a.drop(columns=["reason"]), b.drop(columns=["reason"]))
    assert list(again.store.reports()["report"]) == sorted(REPORTS)
