"""The sandbox's data faults, seen through the API (in-process and loopback): each does what docs/sandbox.md says."""

from __future__ import annotations

import pandas as pd
import pytest

from asc_nb.errors import NotFoundError
from asc_nb.sandbox import DataFault, Sandbox
from asc_nb.sandbox.faults import DUPLICATE_PERCENT, place

REPORT = "App Sessions Standard"
NOW = "2026-03-02"  # the sandbox's default start day


def world(**fault) -> Sandbox:
    sb = Sandbox(seed=5, apps=1, history_days=20)
    app = next(iter(sb.world.apps))
    return Sandbox(
        seed=5,
        apps=1,
        history_days=20,
        data_faults=[DataFault(app_id=app, report=REPORT, **fault)] if fault else None,
    )


def instances(client, sb):
    app = next(iter(sb.world.apps))
    req = client.ensure_ongoing(app)
    rep = client.reports(req.id, name=REPORT)["id"].iloc[0]
    return client.instances(rep, granularity="DAILY")


def rows(client, inst_id):
    return client.read_instance(inst_id, report=REPORT)


def by_pdate(listing, day):
    return listing[listing["processing_date"] == pd.Timestamp(day)]


def test_gap_removes_the_dates_from_every_instance(make_client):
    sb = world(kind="gap", date="2026-02-20", days=2)
    client = make_client(sb)
    listing = instances(client, sb)
    assert len(listing) == len(instances(make_client(world()), world()))  # the instances are all there
    for p in ("2026-02-21", "2026-02-22", "2026-02-23", "2026-02-24"):
        dates = set(rows(client, by_pdate(listing, p)["id"].iloc[0])["date"].dt.date.astype(str))
        assert dates and not dates & {"2026-02-20", "2026-02-21"}


def test_empty_instance_is_header_only_and_its_date_never_comes(make_client):
    sb = world(kind="empty", date="2026-02-20")
    client = make_client(sb)
    listing = instances(client, sb)
    assert rows(client, by_pdate(listing, "2026-02-20")["id"].iloc[0]).empty
    later = pd.concat(
        [rows(client, by_pdate(listing, p)["id"].iloc[0]) for p in ("2026-02-21", "2026-02-22")]
    )
    assert "2026-02-19" not in set(later["date"].dt.date.astype(str))


def test_duplicate_is_a_second_instance_for_one_processing_date(make_client):
    sb = world(kind="duplicate", date="2026-02-20")
    client = make_client(sb)
    twins = by_pdate(instances(client, sb), "2026-02-20")
    assert len(twins) == 2 and twins["id"].nunique() == 2
    a, b = (rows(client, i) for i in twins["id"])
    assert len(a) == len(b)
    total = (a if a["sessions"].sum() > b["sessions"].sum() else b)["sessions"].sum()
    other = min(a["sessions"].sum(), b["sessions"].sum())
    assert other == pytest.approx(total * DUPLICATE_PERCENT / 100, rel=0.02)


def test_late_restatement_changes_an_old_date(make_client):
    sb = world(kind="restatement", date="2026-02-10", at="2026-02-18", percent=150)
    client = make_client(sb)
    listing = instances(client, sb)
    late = rows(client, by_pdate(listing, "2026-02-18")["id"].iloc[0])
    final = rows(client, by_pdate(listing, "2026-02-13")["id"].iloc[0])
    late_day = late[late["date"] == "2026-02-10"]
    final_day = final[final["date"] == "2026-02-10"]
    assert len(late_day) == len(final_day) > 0
    assert late_day["sessions"].sum() == pytest.approx(final_day["sessions"].sum() * 1.5, rel=0.02)


def test_expired_instances_are_gone_from_listings_and_404(make_client):
    clean_sb = world()
    gone = by_pdate(instances(make_client(clean_sb), clean_sb), "2026-02-20")["id"].iloc[0]
    sb = world(kind="expired", date="2026-02-20", days=2)
    client = make_client(sb)
    listing = instances(client, sb)
    assert by_pdate(listing, "2026-02-20").empty and by_pdate(listing, "2026-02-21").empty
    assert not by_pdate(listing, "2026-02-22").empty
    with pytest.raises(NotFoundError):
        client.segments(gone)


def test_a_snapshot_is_never_faulted(make_client):
    sb = world(kind="gap", date="2026-02-20", days=1)
    client = make_client(sb)
    app = next(iter(sb.world.apps))
    snap = client.create_report_request(app, "ONE_TIME_SNAPSHOT")
    sb.advance(days=2)
    rep = client.reports(snap.id, name=REPORT)["id"].iloc[0]
    inst = client.instances(rep, granularity="DAILY", processing_date="2026-02-21")["id"].iloc[0]
    assert set(rows(client, inst)["date"].dt.date.astype(str)) == {"2026-02-20"}


def test_counted_faults_are_placed_by_the_seed():
    a = Sandbox(seed=11, history_days=40, data_faults="gap=2,empty=1,duplicate=1,restatement=1,expired=1")
    b = Sandbox(
        seed=11,
        history_days=40,
        data_faults={"gap": 2, "empty": 1, "duplicate": 1, "restatement": 1, "expired": 1},
    )
    c = Sandbox(seed=12, history_days=40, data_faults="gap=2,empty=1,duplicate=1,restatement=1,expired=1")
    assert a.data_faults == b.data_faults != c.data_faults
    assert len(a.data_faults) == 6


def test_bad_fault_options_are_refused():
    with pytest.raises(ValueError, match="unknown data fault 'hole'.*gap, empty"):
        Sandbox(history_days=40, data_faults="hole=1")
    with pytest.raises(ValueError, match="need a history"):
        Sandbox(data_faults="gap=1")
    with pytest.raises(ValueError, match="days must be >= 1"):
        DataFault("gap", "1", REPORT, "2026-02-01", days=0)
    with pytest.raises(ValueError, match="no room left"):
        place({"gap": 40}, seed=0, apps=["1"], first="2026-02-01", last="2026-02-20", reports=(REPORT,))
