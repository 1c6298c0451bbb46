"""An ``expired``/``empty`` fault leaves dates at an early vintage (the instance that should finalise them is
gone or has no rows); a ONE_TIME_SNAPSHOT, ranked by the day the store first saw it, repairs them: the plan
says ``snapshot``, and after the repair the dates are ``final`` with the snapshot's rows current."""

from __future__ import annotations

import pandas as pd

from asc_nb.models import AccessType, snake
from asc_nb.sandbox.datagen import rows_for_date
from asc_nb.store.repair import repair

from .conftest import make_world


def _plan_days(plan: pd.DataFrame, action: str) -> set[tuple[str, str, str]]:
    out = set()
    for r in plan[plan["action"] == action].itertuples():
        out.update((r.app_id, r.report, d.date().isoformat()) for d in pd.date_range(r.start, r.end))
    return out


def test_expired_and_empty_early_vintages_end_final_with_the_snapshots_rows(tmp_path):
    w = make_world(tmp_path, faults="expired=1,empty=1")
    ledger = w.store.health()
    early = {
        (r.app_id, r.report, r.date.date().isoformat())
        for r in ledger.itertuples()
        if r.state in ("missing", "empty") and pd.notna(r.rows)
    }  # rows stored, but an early vintage
    faulted = {(f.app_id, f.report, d) for f in w.sandbox.data_faults for d in f.affected()}
    assert early and early <= faulted
    assert {
        f.kind for f in w.sandbox.data_faults if any((f.app_id, f.report, d) in early for d in f.affected())
    } == {"expired", "empty"}
    plan = w.store.repair_plan()
    assert early <= _plan_days(plan, "snapshot")
    assert "not_repairable" not in set(plan["action"])
    for r in plan[plan["action"] == "snapshot"].itertuples():
        if any((r.app_id, r.report, d.date().isoformat()) in early for d in pd.date_range(r.start, r.end)):
            assert "early vintage" in r.reason and "ranks it by the day it first sees it" in r.reason

    repair(w.store, w.client)
    w.sandbox.advance(days=2)  # Apple makes the snapshot
    repair(w.store, w.client)
    after = w.store.health()
    state = {
        (r.app_id, r.report, r.date.date().isoformat()): (str(r.state), str(r.reason))
        for r in after.itertuples()
    }
    assert {d: state[d][0] for d in faulted} == {d: "final" for d in faulted}
    assert all("ONE_TIME_SNAPSHOT" in state[d][1] for d in early)

    snapshots = {r[0]: r for r in w.store.state.instances() if r[5] == AccessType.ONE_TIME_SNAPSHOT.value}
    world = w.sandbox.world
    for app, report, day in sorted(early):
        rows = w.store.read(report, apps=[app], start=day, end=day)
        assert set(rows["instance_id"]) <= set(snapshots)  # the snapshot's rows are current
        # with Apple's own processing date (the snapshot's instance for the date: the day after it)
        assert set(rows["processing_date"]) == {pd.Timestamp(day) + pd.Timedelta(days=1)}
        truth = rows_for_date(world.seed, world.apps[app], report, "DAILY", day)  # Apple's final values
        assert len(rows) == len(truth)
        measures = [
            c for c in truth.columns if str(truth[c].dtype) == "Int64" and c != "App Apple Identifier"
        ]
        assert measures
        for c in measures:
            assert int(rows[snake(c)].sum()) == int(truth[c].sum()), (report, day, c)
        v = w.store.vintages(report)
        v = v[(v["app_id"] == app) & (v["date"] == pd.Timestamp(day))]
        assert (~v["current"]).any()  # the early vintage is kept in history, for as_of
        assert v.loc[v["current"], "known_on"].iloc[0] > v.loc[~v["current"], "known_on"].max()
    assert not ({"snapshot", "resync", "not_repairable"} & set(w.store.repair_plan()["action"]))
