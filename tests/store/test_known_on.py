"""A vintage is ranked by when its rows became known (``known_on``): Apple's processing date for an ONGOING
instance, the day the store first saw a ONE_TIME_SNAPSHOT's instance. So ``as_of=D`` reproduces what was known
on D after a backfill, a snapshot replaces the vintages known before it, and a later ONGOING restatement still
wins over the snapshot. The rows keep Apple's ``processing_date``."""

from __future__ import annotations

import pandas as pd
import pytest

import asc_nb
from asc_nb.models import AccessType
from asc_nb.sandbox import DataFault, Sandbox

REPORT = "App Sessions Standard"
SEED = 14
ASK = {"by": ("date",), "start": "2026-02-05", "end": "2026-03-01"}
GAP = ("2026-02-15", "2026-02-16")


def _bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode() + repr(sorted(frame.attrs.items(), key=str)).encode()


def _world(tmp_path, faults):
    sb = Sandbox(seed=SEED, apps=1, history_days=30, inactivity_days=1000, data_faults=faults)
    client = asc_nb.connect(sandbox=sb, cache_dir=tmp_path / "cache")
    store = asc_nb.Store(tmp_path / "store")
    return sb, client, store


def _app() -> str:
    return next(iter(Sandbox(seed=SEED, apps=1).world.apps))


def _snapshot_ids(store: asc_nb.Store) -> set[str]:
    return {r[0] for r in store.state.instances() if r[5] == AccessType.ONE_TIME_SNAPSHOT.value}


def _merge_snapshot(sb: Sandbox, client, store: asc_nb.Store) -> str:
    """Ask for a snapshot, let Apple make it, merge it from the start of ASK; the day the store first saw it."""
    first = store.sync(client, reports=[REPORT], start=ASK["start"], backfill=True, progress=False)
    assert set(first["status"]) == {"pending"}, first
    sb.advance(days=2)
    merged = store.sync(client, reports=[REPORT], start=ASK["start"], progress=False)
    assert set(merged["status"]) == {"ok"}, merged
    assert _snapshot_ids(store)
    return store.reference_day.isoformat()


def test_as_of_before_a_backfill_is_reproduced_byte_for_byte_after_it(tmp_path):
    app = _app()
    sb, client, store = _world(tmp_path, [DataFault("gap", app, REPORT, GAP[0], days=2)])
    with client:
        store.sync(client, reports=[REPORT], start=ASK["start"], progress=False)
        day = store.reference_day.isoformat()
        earlier = (store.reference_day - pd.Timedelta(days=5)).isoformat()
        then = store.metrics(app, ["sessions", "session_duration"], **ASK, as_of=day)
        then_earlier = store.metrics(app, ["sessions"], **ASK, as_of=earlier)
        rows_then = store.read(REPORT, start=ASK["start"], as_of=day)
        assert not set(GAP) & {d.date().isoformat() for d in then["date"]}  # the gap: unknown on `day`

        seen = _merge_snapshot(sb, client, store)
        assert seen > day
        now = store.metrics(app, ["sessions", "session_duration"], **ASK)
        assert set(GAP) <= {d.date().isoformat() for d in now.dropna(subset=["sessions"])["date"]}  # repaired
        sb.advance(days=6)  # later ONGOING instances restate the newest days
        store.sync(client, reports=[REPORT], start=ASK["start"], progress=False)

        again = store.metrics(app, ["sessions", "session_duration"], **ASK, as_of=day)
        assert _bytes(again) == _bytes(then)
        assert _bytes(store.metrics(app, ["sessions"], **ASK, as_of=earlier)) == _bytes(then_earlier)
        assert _bytes(store.read(REPORT, start=ASK["start"], as_of=day)) == _bytes(rows_then)
        # as_of the day the snapshot was first seen: its rows, with Apple's (old) processing dates
        known = store.read(REPORT, start=ASK["start"], as_of=seen)
        gap_rows = known[known["date"].isin(pd.to_datetime(list(GAP)))]
        assert len(gap_rows) and set(gap_rows["instance_id"]) <= _snapshot_ids(store)
        assert (gap_rows["processing_date"] == gap_rows["date"] + pd.Timedelta(days=1)).all()
        vintages = store.vintages(REPORT)
        assert list(vintages.columns) == [
            "app_id",
            "date",
            "processing_date",
            "known_on",
            "instance_id",
            "rows",
            "current",
        ]
        snap = vintages[vintages["instance_id"].isin(_snapshot_ids(store))]
        assert (snap["known_on"] == pd.Timestamp(seen)).all()
        assert (snap["processing_date"] < snap["known_on"]).all()
        ongoing = vintages[~vintages["instance_id"].isin(_snapshot_ids(store))]
        assert (ongoing["known_on"] == ongoing["processing_date"]).all()
    store.close()


def test_a_snapshot_replaces_vintages_known_before_it_and_a_later_restatement_replaces_the_snapshot(tmp_path):
    app = _app()
    restated_on = "2026-03-10"  # after the snapshot is first seen (2026-03-04)
    fault = DataFault("restatement", app, REPORT, "2026-02-20", at=restated_on, percent=150)
    sb, client, store = _world(tmp_path, [fault])
    with client:
        store.sync(client, reports=[REPORT], start=ASK["start"], progress=False)
        before = store.read(REPORT, start=ASK["start"])
        seen = _merge_snapshot(sb, client, store)
        assert seen < restated_on
        merged = store.read(REPORT, start=ASK["start"], end="2026-02-26")
        # every date the snapshot holds is now its rows (final values, equal to the final ONGOING ones)
        assert set(merged["instance_id"]) <= _snapshot_ids(store)
        final = before[before["date"] <= pd.Timestamp("2026-02-26")]
        assert merged.groupby("date")["sessions"].sum().equals(final.groupby("date")["sessions"].sum())

        sb.advance(days=7)
        store.sync(client, reports=[REPORT], start=ASK["start"], progress=False)
        day = pd.Timestamp(fault.date)
        current = store.read(REPORT, start=fault.date, end=fault.date)
        assert set(current["processing_date"]) == {pd.Timestamp(restated_on)}  # the ONGOING restatement won
        assert not set(current["instance_id"]) & _snapshot_ids(store)
        assert current["sessions"].sum() == pytest.approx(
            merged.loc[merged["date"] == day, "sessions"].sum() * 1.5, rel=0.02
        )
        at_snapshot = store.read(REPORT, start=fault.date, end=fault.date, as_of=seen)
        assert set(at_snapshot["instance_id"]) <= _snapshot_ids(store)
        v = store.vintages(REPORT)
        v = v[v["date"] == day]
        assert v.loc[v["current"], "known_on"].tolist() == [pd.Timestamp(restated_on)]
        assert pd.Timestamp(seen) in set(v.loc[~v["current"], "known_on"])  # the snapshot's vintage is kept
        # the ledger still sees the late restatement (the usual lag is learned from the vintages the snapshot
        # replaced), with Apple's processing dates as evidence
        ledger = store.health(states="restated")
        assert list(ledger["date"]) == [day]
        assert ledger["processing_dates"].iloc[0][0] == restated_on
        assert (day + pd.Timedelta(days=1)).date().isoformat() in ledger["processing_dates"].iloc[0]
    store.close()
