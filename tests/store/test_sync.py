"""Store.sync against the sandbox (in-process and over loopback HTTP): correctness and cost."""

from __future__ import annotations

import threading
import time

import pandas as pd
import pytest

import asc_nb
from asc_nb.errors import StoreLockedError
from asc_nb.sandbox.datagen import rows_for_date
from asc_nb.store import SYNC_COLUMNS, view_name
from asc_nb.store.lock import StoreLock

from .conftest import REPORTS, canonical, small_world


def api_calls(sb, since: int) -> list:
    return [c for c in sb.calls[since:] if c[1] == "api"]


def download_calls(sb, since: int) -> list:
    return [c for c in sb.calls[since:] if c[1] == "download"]


def test_first_sync_equals_fetch_and_noop_resync_is_cheap(make_client, store):
    sb = small_world()
    client = make_client(sb)
    result = store.sync(client, reports=REPORTS, progress=False)
    assert list(result.columns) == list(SYNC_COLUMNS)
    assert len(result) == 2 * len(REPORTS)
    assert set(result["status"]) == {"ok"}, result
    assert (result["new_instances"] > 0).all() and (result["downloads"] > 0).all()

    for app_id in sb.world.apps:
        req = client.ensure_ongoing(app_id)
        for report in REPORTS:
            fetched = client.fetch(req.id, report, progress=False)
            stored = store.read(report, apps=[app_id])
            assert len(stored) == len(fetched) > 0
            data = [c for c in fetched.columns if c not in ("segment_id",)]
            left = canonical(stored[data].reset_index(drop=True))
            right = canonical(fetched[data].astype(left.dtypes.to_dict()))
            pd.testing.assert_frame_equal(left, right)

    before = len(sb.calls)
    again = store.sync(client, reports=REPORTS, progress=False)
    calls = api_calls(sb, before)
    assert len(calls) <= 2 * len(REPORTS), calls  # ≤ one per app × report × granularity
    assert all("/instances" in path for _, _, path in calls)
    assert download_calls(sb, before) == []
    assert set(again["status"]) == {"ok"}
    assert again["downloads"].sum() == 0 and again["new_instances"].sum() == 0
    assert again["api_calls"].sum() == len(calls)


def test_restatement_replaces_rows_and_history_outlives_retention(store, tmp_path):
    sb = small_world(inactivity_days=1000)
    client = asc_nb.connect(sandbox=sb, cache_dir=tmp_path / "cache")
    report = "App Sessions Standard"
    store.sync(client, reports=[report], progress=False)
    newest = store.read(report)["date"].max()
    app_id = next(iter(sb.world.apps))
    app = sb.world.apps[app_id]

    def day_rows(day):
        got = store.read(report, apps=[app_id], start=day, end=day)
        return int(got["sessions"].sum())

    truth_final = int(rows_for_date(sb.seed, app, report, "DAILY", newest.date())["Sessions"].sum())
    first = day_rows(newest)
    assert first < truth_final  # vintage 0: 80 % of the final value

    sb.advance(days=3)
    store.sync(client, reports=[report], progress=False)
    assert day_rows(newest) == truth_final  # restated in place, not added
    per_day = store.read(report, apps=[app_id])
    assert per_day["processing_date"].groupby(per_day["date"]).nunique().max() == 1  # one vintage per date

    oldest = store.read(report)["date"].min()
    sb.advance(days=40)  # every instance seen so far is deleted by Apple now
    req = client.ensure_ongoing(app_id)
    rid = client.reports(req.id, name=report)["id"][0]
    alive = client.instances(rid, "DAILY")
    # a daily instance holds its three previous days: none still at Apple holds the oldest stored date
    assert alive["processing_date"].min() - pd.Timedelta(days=3) > oldest
    kept = store.read(report)
    assert kept["date"].min() == oldest  # the store still has it
    store.sync(client, reports=[report], progress=False)
    cov = store.coverage()
    assert cov["date"].min() == oldest
    assert (cov["status"] == "stored").sum() > 40
    assert "Store coverage" in cov._repr_html_()


def test_backfill_pending_then_merged_once_across_requests(store, tmp_path):
    sb = small_world(history_days=6, history_start="2026-02-01", inactivity_days=1000)
    client = asc_nb.connect(sandbox=sb, cache_dir=tmp_path / "cache")
    report = "App Downloads Standard"
    first = store.sync(client, reports=[report], backfill=True, progress=False)
    assert set(first["status"]) == {"pending"}, first
    assert first["error"].str.contains("expect it by").all()
    assert store.read(report)["date"].min() > pd.Timestamp("2026-02-20")  # ONGOING rows already stored

    sb.advance(days=2)
    second = store.sync(
        client, reports=[report], progress=False
    )  # no backfill flag: the snapshot is remembered
    assert set(second["status"]) == {"ok"}, second
    frame = store.read(report)
    assert frame["date"].min() == pd.Timestamp("2026-02-01")
    # overlapping dates (ONGOING and snapshot both hold them) are stored once, from the latest processing date
    assert frame["processing_date"].groupby([frame["app_id"], frame["date"]]).nunique().max() == 1
    for app_id, app in sb.world.apps.items():
        for day in ("2026-02-01", "2026-02-25", "2026-03-02"):
            got = frame[(frame["app_id"] == app_id) & (frame["date"] == day)]
            truth = rows_for_date(sb.seed, app, report, "DAILY", day)
            metric = "total_downloads" if "total_downloads" in got else got.columns[-4]
            assert len(got) == len(truth), day
            if day != "2026-03-02":  # the newest day is still vintage 0 in the ONGOING request
                assert int(got[metric].sum()) == int(
                    truth[[c for c in truth.columns if asc_nb.models.snake(c) == metric][0]].sum()
                )
    before = len(sb.calls)
    third = store.sync(client, reports=[report], progress=False)
    assert (
        len(api_calls(sb, before)) <= 2 and third["downloads"].sum() == 0
    )  # the snapshot is done: not listed
    fourth = store.sync(
        client, reports=[report], backfill=True, progress=False
    )  # cron with --backfill every day
    assert set(fourth["status"]) == {"ok"} and fourth["error"].str.contains("already merged").all()


def test_failing_report_keeps_the_others(store, tmp_path):
    sb = small_world()
    client = asc_nb.connect(sandbox=sb, cache_dir=tmp_path / "cache", retry=asc_nb.RetryPolicy(max_retries=0))
    store.sync(client, reports=[REPORTS[0]], apps=list(sb.world.apps)[:1], progress=False)  # ids known
    broken = store.state.report_id(store.state.request(next(iter(sb.world.apps)), "ONGOING")[0], REPORTS[0])
    sb.advance(days=1)
    sb.faults.add("server_error", path=f"{broken}/instances", count=None, status=500)
    result = store.sync(client, reports=REPORTS, progress=False).set_index(["app_id", "report"])
    app1 = next(iter(sb.world.apps))
    assert result.loc[(app1, REPORTS[0]), "status"] == "failed"
    assert (
        "500" in result.loc[(app1, REPORTS[0]), "error"]
        or "Server" in result.loc[(app1, REPORTS[0]), "error"]
    )
    others = result.drop(index=(app1, REPORTS[0]))
    assert set(others["status"]) == {"ok"} and (others["new_instances"] > 0).all()
    assert not store.read(REPORTS[1]).empty
    sb.faults.clear()
    healed = store.sync(client, reports=REPORTS, progress=False)
    assert set(healed["status"]) == {"ok"}


def test_bad_segment_is_an_issue_and_instance_retried(store, tmp_path):
    sb = small_world()
    client = asc_nb.connect(sandbox=sb, cache_dir=tmp_path / "cache")
    sb.faults.add("corrupt", host="download", count=None)
    result = store.sync(client, reports=[REPORTS[0]], apps=list(sb.world.apps)[:1], progress=False)
    assert result["status"].tolist() == ["failed"]
    assert "ChecksumError" in result["error"][0]
    sb.faults.clear()
    again = store.sync(client, reports=[REPORTS[0]], apps=list(sb.world.apps)[:1], progress=False)
    assert again["status"].tolist() == ["ok"] and again["new_instances"][0] > 0
    assert isinstance(store.issues(), pd.DataFrame)


def test_sql_views_and_read_agree(store, tmp_path):
    sb = small_world()
    client = asc_nb.connect(sandbox=sb, cache_dir=tmp_path / "cache")
    store.sync(client, reports=REPORTS, progress=False)
    assert set(store.views()) == {view_name(r, "DAILY") for r in REPORTS}
    assert "app_sessions_standard_daily" in store.views()
    q = store.sql(
        "select app_id, count(*) as n, sum(sessions) as s, min(date) as d0 "
        "from app_sessions_standard_daily group by app_id order by app_id"
    )
    frame = store.read("App Sessions Standard")
    expect = frame.groupby("app_id").agg(n=("sessions", "size"), s=("sessions", "sum"), d0=("date", "min"))
    assert q["n"].tolist() == expect["n"].tolist()
    assert q["s"].astype("int64").tolist() == expect["s"].astype("int64").tolist()
    assert pd.to_datetime(q["d0"]).tolist() == expect["d0"].tolist()
    with pytest.raises(asc_nb.ReportNotFoundError, match="did you mean"):
        store.read("App Sessions Standar")
    # only finished Parquet files in the lake
    assert all(p.suffix == ".parquet" for p in store.lake.rglob("*") if p.is_file())


def test_lock_blocks_a_second_sync_and_wait_queues(store, tmp_path):
    sb = small_world()
    client = asc_nb.connect(sandbox=sb, cache_dir=tmp_path / "cache")
    holder = StoreLock(store.path / "sync.lock")
    holder.acquire()
    try:
        with pytest.raises(StoreLockedError) as info:
            store.sync(client, reports=[REPORTS[0]], progress=False)
        assert info.value.pid is not None and info.value.started
        assert isinstance(info.value, asc_nb.ASCError)
        threading.Timer(0.5, holder.release).start()
        t0 = time.monotonic()
        result = store.sync(client, reports=[REPORTS[0]], progress=False, wait=True)
        assert time.monotonic() - t0 >= 0.4
        assert set(result["status"]) == {"ok"}
    finally:
        holder.release()


def test_bad_arguments_say_what_to_fix(store, tmp_path):
    sb = small_world()
    client = asc_nb.connect(sandbox=sb, cache_dir=tmp_path / "cache")
    with pytest.raises(ValueError, match="granularit"):
        store.sync(client, granularities=["HOURLY"], progress=False)
    with pytest.raises(ValueError, match="reports"):
        store.sync(client, reports=[], progress=False)
    with pytest.raises(TypeError, match="executor"):
        store.sync(client, reports=[REPORTS[0]], executor=object(), progress=False)
    unknown = store.sync(
        client, reports=["App Sesions Standard"], apps=list(sb.world.apps)[:1], progress=False
    )
    assert unknown["status"].tolist() == ["failed"] and "did you mean" in unknown["error"][0]


def test_registry_types_skipped_granularity_and_issues_kept(store, tmp_path):
    sb = small_world(history_days=4)
    client = asc_nb.connect(sandbox=sb, cache_dir=tmp_path / "cache")
    app_id = next(iter(sb.world.apps))
    result = store.sync(
        client,
        apps=[app_id],
        reports=["App Downloads Standard", "App Sessions Standard"],
        granularities=["DAILY", "WEEKLY"],
        progress=False,
    ).set_index(["report", "granularity"])
    # the registry says App Downloads Standard has no WEEKLY instances: not asked, said so
    assert result.loc[("App Downloads Standard", "WEEKLY"), "status"] == "skipped"
    assert result.loc[("App Downloads Standard", "WEEKLY"), "api_calls"] == 0
    assert result.loc[("App Sessions Standard", "WEEKLY"), "status"] == "ok"
    frame = store.read("App Downloads Standard")
    from asc_nb import registry

    for f in registry.get("App Downloads Standard").fields:
        if f.column in frame.columns:
            assert str(frame[f.column].dtype).lower() in (f.dtype.lower(), "str", "string"), f.column
    # a column the registry does not document is kept, and said once per report × granularity, not per instance
    issues = store.issues()
    drift = issues[issues["kind"] == "schema_drift"]
    assert len(drift) == len(drift.drop_duplicates(["report", "granularity", "column"]))
    again = store.sync(client, apps=[app_id], reports=["App Sessions Standard"], progress=False)
    assert again["status"].tolist() == ["ok"] and len(store.issues()) == len(issues)


def test_a_stopped_request_is_named_and_a_deleted_one_is_found_again(store, tmp_path):
    sb = small_world(inactivity_days=3)
    client = asc_nb.connect(sandbox=sb, cache_dir=tmp_path / "cache")
    app_id = next(iter(sb.world.apps))
    assert store.sync(client, apps=[app_id], reports=[REPORTS[0]], progress=False)["status"].tolist() == [
        "ok"
    ]
    sb.advance(days=8)  # nobody read anything for 8 days: the ONGOING request stopped after 3
    before = len(sb.calls)
    quiet = store.sync(client, apps=[app_id], reports=[REPORTS[0]], progress=False)
    assert quiet["status"].tolist() == ["failed"]
    assert "stopped due to inactivity" in quiet["error"][0] and "restart_stopped=True" in quiet["error"][0]
    assert quiet["new_instances"][0] > 0  # what Apple still lists is stored all the same
    assert any(
        path.startswith("/v1/analyticsReportRequests/") and "/reports" not in path
        for _, host, path in sb.calls[before:]
        if host == "api"
    )

    with warnings_ignored():
        old = client.ensure_ongoing(app_id)
    client.delete_report_request(old.id)  # e.g. an Admin replaced it by hand
    fresh = store.sync(client, apps=[app_id], reports=[REPORTS[0]], progress=False)
    assert fresh["status"].tolist() == ["pending"], fresh  # a new request: Apple starts it within 1-2 days
    assert store.state.request(app_id, "ONGOING")[0] != old.id
    sb.advance(days=2)
    later = store.sync(client, apps=[app_id], reports=[REPORTS[0]], progress=False)
    assert later["status"].tolist() == ["ok"] and later["new_instances"][0] > 0


def warnings_ignored():
    import warnings

    ctx = warnings.catch_warnings()
    ctx.__enter__()
    warnings.simplefilter("ignore")

    class _Exit:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            ctx.__exit__(*exc)

    return _Exit()


def test_an_expired_url_is_listed_again_by_the_caller_and_the_job_resent(store, tmp_path):
    sb = small_world(history_days=3)
    client = asc_nb.connect(sandbox=sb, cache_dir=tmp_path / "cache")
    app_id = next(iter(sb.world.apps))
    sb.faults.add("expired", host="download", count=1)
    before = len(sb.calls)
    result = store.sync(client, apps=[app_id], reports=[REPORTS[0]], progress=False)
    assert result["status"].tolist() == ["ok"], result
    listings = [p for _, h, p in sb.calls[before:] if h == "api" and "/segments" in p]
    assert len(listings) == result["new_instances"][0] + 1  # one instance's segments listed twice
    assert not any(
        p.startswith("/v1/analyticsReportSegments/") for _, h, p in sb.calls[before:] if h == "api"
    )


def test_coverage_marks_unstored_instances_near_deletion_at_risk(store, tmp_path):
    sb = small_world(history_days=3, inactivity_days=1000)
    client = asc_nb.connect(sandbox=sb, cache_dir=tmp_path / "cache")
    app_id = next(iter(sb.world.apps))
    sb.faults.add("corrupt", host="download", count=None)  # nothing can be stored
    failed = store.sync(client, apps=[app_id], reports=[REPORTS[0]], progress=False)
    assert failed["status"].tolist() == ["failed"]
    assert (
        store.coverage().empty or (store.coverage()["status"] != "at_risk").all()
    )  # seen today: not at risk yet
    sb.advance(days=30)
    store.sync(client, apps=[app_id], reports=[REPORTS[0]], progress=False)  # still failing; "today" moves on
    cov = store.coverage()
    risky = cov[cov["status"] == "at_risk"]
    assert len(risky) >= 2 and risky["date"].max() < pd.Timestamp(sb.now.date()) - pd.Timedelta(days=28)
    assert "at risk" in cov._repr_html_()
    sb.faults.clear()
    store.sync(client, apps=[app_id], reports=[REPORTS[0]], progress=False)  # still within 35 days: rescued
    assert (store.coverage()["status"] != "at_risk").all()
