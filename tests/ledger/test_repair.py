"""Store.repair_plan and repair(): every repairable fault ends final; what cannot be repaired says why."""

from __future__ import annotations

import pandas as pd

from asc_nb.store.repair import ACTIONS, PLAN_COLUMNS, repair

from .conftest import REPORTS, flagged, make_world


def _dates(plan: pd.DataFrame, action: str) -> set[tuple[str, str, str]]:
    out = set()
    for r in plan[plan["action"] == action].itertuples():
        for d in pd.date_range(r.start, r.end):
            out.add((r.app_id, r.report, d.date().isoformat()))
    return out


def _flagged(ledger: pd.DataFrame) -> set[tuple[str, str, str]]:
    return {
        (r.app_id, r.report, r.date.date().isoformat())
        for r in flagged(ledger).itertuples()
        if r.state != "restated"
    }


def test_plan_covers_every_bad_date_once(faulted):
    plan = faulted.store.repair_plan()
    assert list(plan.columns) == PLAN_COLUMNS and set(plan["action"]) <= set(ACTIONS)
    covered = [d for a in ACTIONS for d in _dates(plan, a) if a != "ensure_ongoing"]
    assert len(covered) == len(set(covered))  # one action per date
    assert set(covered) == _flagged(faulted.store.health())  # and every bad date has one
    # duplicates cannot be repaired: Apple does not say which instance is right
    dups = faulted.store.health(states="duplicate")
    for r in dups.itertuples():
        row = plan[(plan["app_id"] == r.app_id) & (plan["report"] == r.report) & (plan["start"] == r.date)]
        assert list(row["action"]) == ["not_repairable"] and "does not say which" in row["reason"].iloc[0]
    # every gap day (no rows at all) is a snapshot; no app has a snapshot yet, so none has to wait
    gaps = {
        (f.app_id, f.report, d) for f in faulted.sandbox.data_faults if f.kind == "gap" for d in f.affected()
    }
    assert gaps <= _dates(plan, "snapshot")
    assert "wait" not in set(plan["action"]) and "ensure_ongoing" not in set(plan["action"])


def test_repair_turns_every_repairable_date_final(tmp_path):
    w = make_world(tmp_path)
    before = w.store.repair_plan()
    repairable = _dates(before, "snapshot") | _dates(before, "resync")
    unrepairable = _dates(before, "not_repairable")
    assert repairable and unrepairable
    calls = len(w.sandbox.calls)
    plan, synced = repair(w.store, w.client)
    assert set(synced["status"]) == {"pending"}  # Apple makes a snapshot 1-2 days after it is asked for
    snapshots = [c for c in w.sandbox.calls[calls:] if c[0] == "POST"]
    assert len(snapshots) == len(
        {a for a, _r, _d in repairable}
    )  # one ONE_TIME_SNAPSHOT per app that needs it
    w.sandbox.advance(days=2)
    plan2, synced2 = repair(w.store, w.client)
    assert set(synced2["status"]) == {"ok"}
    after = w.store.health()
    state = {(r.app_id, r.report, r.date.date().isoformat()): str(r.state) for r in after.itertuples()}
    assert {d for d in repairable if state[d] != "final"} == set()
    # only duplicates are not repairable (a person compares them); early vintages were planned as a snapshot
    dups = {
        (r.app_id, r.report, r.date.date().isoformat())
        for r in w.store.health(states="duplicate").itertuples()
    }
    before_dups = {
        (f.app_id, f.report, d) for f in w.sandbox.data_faults if f.kind == "duplicate" for d in f.affected()
    }
    assert unrepairable == before_dups
    reasons = {(r.app_id, r.report, r.date.date().isoformat()): str(r.reason) for r in after.itertuples()}
    for d in (
        unrepairable - dups
    ):  # a snapshot merged for other dates replaced both twins: final, and it says so
        assert state[d] == "final" and "replaced the rows of a duplicated instance" in reasons[d], (
            d,
            reasons[d],
        )
    again = w.store.repair_plan()
    assert not ({"snapshot", "resync"} & set(again["action"]))
    # the snapshot was merged only from the oldest date to repair, not its whole history since 2024
    assert after["date"].min() >= pd.Timestamp("2026-01-20")


def test_a_second_snapshot_within_31_days_waits(tmp_path):
    w = make_world(tmp_path, faults="gap=1")
    repair(w.store, w.client)
    w.sandbox.advance(days=2)
    repair(w.store, w.client)
    assert _flagged(w.store.health()) == set()
    fault = w.sandbox.data_faults[0]
    day = (w.sandbox.now + pd.Timedelta(days=1)).date().isoformat()
    w.sandbox.world.data_faults.add("gap", fault.app_id, fault.report, day, days=1)
    w.sandbox.advance(days=8)
    w.store.sync(w.client, reports=[fault.report], apps=[fault.app_id], progress=False)
    plan = w.store.repair_plan()
    row = plan[plan["start"] == pd.Timestamp(day)]
    assert list(row["action"]) == ["wait"]
    assert "allows the next one from about" in row["reason"].iloc[0]


def test_a_report_left_unsynced_is_flagged_and_resynced(tmp_path):
    """A pipeline that stopped syncing a report: its dates Apple has finalised since are missing, and a sync fixes it."""
    w = make_world(tmp_path, faults=None, apps=1)
    w.sandbox.advance(days=10)
    w.store.sync(w.client, reports=["App Sessions Standard"], progress=False)  # the other two are left behind
    ledger = w.store.health()
    behind = ledger[(ledger["report"] != "App Sessions Standard") & (ledger["state"] == "missing")]
    assert len(behind) >= 2 * 5 and behind["reason"].str.startswith("not listed yet").all()
    assert flagged(ledger[ledger["report"] == "App Sessions Standard"]).empty
    plan = w.store.repair_plan()
    assert set(plan["action"]) == {"resync"}
    repair(w.store, w.client)
    assert flagged(w.store.health()).empty


def test_a_stopped_ongoing_request_is_replaced_and_its_silence_backfilled(tmp_path):
    """Apple stops an unread ONGOING request: the plan replaces it and asks a snapshot for the silent days."""
    w = make_world(tmp_path, faults=None, apps=1, inactivity_days=6)
    w.sandbox.advance(days=12)  # nobody reads for 12 days: stopped after 6
    w.store.sync(w.client, reports=list(REPORTS), progress=False)
    plan = w.store.repair_plan()
    assert "ensure_ongoing" in set(plan["action"]) and "snapshot" in set(plan["action"])
    assert "stopped it for inactivity" in plan[plan["action"] == "ensure_ongoing"]["reason"].iloc[0]
    silent = _dates(plan, "snapshot")
    repair(w.store, w.client)
    w.sandbox.advance(days=2)
    repair(w.store, w.client)  # merges the snapshot from the oldest silent day on (not its whole history)
    ledger = w.store.health()
    state = {(r.app_id, r.report, r.date.date().isoformat()): str(r.state) for r in ledger.itertuples()}
    assert silent and {d for d in silent if state.get(d) != "final"} == set()
