"""Store(path, format="delta"): the Destination protocol on Delta tables — the same rows as the Parquet lake,
restatements as whole-partition overwrites, superseded vintages kept and read ``as_of`` (by Delta version where
one is the answer), concurrent writers, and DuckDB / Polars / Dask reading the tables."""

from __future__ import annotations

import concurrent.futures as cf

import pandas as pd
import pyarrow as pa
import pytest

import asc_nb
from asc_nb.store.destination import Destination, open_destination

from .conftest import REPORTS, assert_same_lake, canonical, small_world

deltalake = pytest.importorskip("deltalake")
REPORT = "App Sessions Standard"


@pytest.fixture
def stores(tmp_path):
    made = {fmt: asc_nb.Store(tmp_path / fmt, format=fmt) for fmt in ("parquet", "delta")}
    yield made
    for s in made.values():
        s.close()


def test_delta_store_holds_what_the_parquet_store_holds(make_client, stores):
    sb = small_world()
    client = make_client(sb)
    for s in stores.values():
        r = s.sync(client, reports=REPORTS, progress=False)
        assert set(r["status"]) == {"ok"}, r
    delta = stores["delta"]
    assert isinstance(delta.destination, Destination) and delta.destination.format == "delta"
    assert not (delta.path / "lake").exists() or not any((delta.path / "lake").rglob("*.parquet"))
    assert_same_lake(stores["parquet"], delta)
    assert delta.destination.stored() == stores["parquet"].destination.stored()
    assert sorted(delta.destination.reports()) == sorted(stores["parquet"].destination.reports())
    # SQL over both: same answer
    q = "select app_id, count(*) n, sum(sessions) s from app_sessions_standard_daily group by app_id order by app_id"
    pd.testing.assert_frame_equal(stores["parquet"].sql(q), delta.sql(q))
    # the spec travels to a worker and rebuilds the same destination
    again = open_destination(delta.destination.spec())
    assert again.format == "delta" and again.root == delta.path


def test_restatement_overwrites_the_partition_and_keeps_the_old_vintage(make_client, stores):
    sb = small_world(apps=1, inactivity_days=1000)
    client = make_client(sb)
    for s in stores.values():
        s.sync(client, reports=[REPORT], progress=False)
    delta = stores["delta"]
    before = canonical(delta.read(REPORT))
    day_one = delta.reference_day
    sb.advance(days=3)
    for s in stores.values():
        s.sync(client, reports=[REPORT], progress=False)
    after = canonical(delta.read(REPORT))
    assert not after.equals(before)
    pd.testing.assert_frame_equal(after, canonical(stores["parquet"].read(REPORT)))
    # one vintage per (app, date) in the current table: DuckDB sees no doubled date
    got = delta.sql(
        "select date, count(distinct processing_date) n from app_sessions_standard_daily group by date"
    )
    assert got["n"].max() == 1

    v = delta.vintages(REPORT)
    pd.testing.assert_frame_equal(v, stores["parquet"].vintages(REPORT))
    assert (~v["current"]).any() and v.groupby(["app_id", "date"])["current"].sum().max() == 1

    # as_of: the Delta version of the first sync is the answer (commits are in processing-date order)
    dest = delta.destination
    version = dest.version_as_of(REPORT, "DAILY", day_one.isoformat())
    assert version is not None and version >= 0
    then = canonical(delta.read(REPORT, as_of=day_one))
    pd.testing.assert_frame_equal(then[before.columns].reset_index(drop=True), before)
    pd.testing.assert_frame_equal(then, canonical(stores["parquet"].read(REPORT, as_of=day_one)))
    # ... and the vintage path gives the same rows
    by_vintage = dest._read_by_vintage(REPORT, "DAILY", None, day_one.isoformat())
    pd.testing.assert_frame_equal(
        canonical(by_vintage.to_pandas()).reset_index(drop=True),
        canonical(dest.read(REPORT, "DAILY", as_of=day_one.isoformat()).to_pandas()),
    )
    # vacuumed: the old version's files are gone, the history table still answers
    removed = deltalake.DeltaTable(str(dest.table_path(REPORT, "DAILY"))).vacuum(
        retention_hours=0, enforce_retention_duration=False, dry_run=False
    )
    assert removed  # the superseded partitions' files
    pd.testing.assert_frame_equal(canonical(delta.read(REPORT, as_of=day_one)), then)


def test_a_late_older_vintage_is_recorded_not_current_and_as_of_leaves_time_travel(tmp_path):
    lake = open_destination({"format": "delta", "root": str(tmp_path / "d")})
    first = lake.write_partition(
        "R", "DAILY", "2026-03-01", "1", pa.table({"sessions": [10]}), ("2026-03-04", "i3")
    )
    assert first == asc_nb.store.destination.WriteResult(True, 1, None)
    assert lake.version_as_of("R", "DAILY", "2026-03-04") == 0
    late = lake.write_partition(
        "R", "DAILY", "2026-03-01", "1", pa.table({"sessions": [8]}), ("2026-03-02", "i1")
    )
    assert late.written is False
    assert lake.read("R", "DAILY").column("sessions").to_pylist() == [10]
    assert lake.version_as_of("R", "DAILY", "2026-03-03") is None  # a late vintage: no version is the answer
    assert lake.read("R", "DAILY", as_of="2026-03-03").column("sessions").to_pylist() == [8]
    assert lake.read("R", "DAILY", as_of="2026-03-01").num_rows == 0
    assert lake.vintages("R", "DAILY")["current"].tolist() == [False, True]
    newer = lake.write_partition(
        "R", "DAILY", "2026-03-01", "1", pa.table({"sessions": [11]}), ("2026-03-05", "i4")
    )
    assert newer.replaced == ("2026-03-04", "i3")
    v = lake.vintages("R", "DAILY")
    assert v["current"].tolist() == [False, False, True] and v["rows"].tolist() == [1, 1, 1]
    assert lake.read("R", "DAILY", as_of="2026-03-04").column("sessions").to_pylist() == [10]
    # the same vintage again (a retry): nothing written, nothing duplicated
    again = lake.write_partition(
        "R", "DAILY", "2026-03-01", "1", pa.table({"sessions": [11]}), ("2026-03-05", "i4")
    )
    assert again.written is False and lake.read("R", "DAILY").num_rows == 1


def test_concurrent_writers_of_one_table_all_land(tmp_path):
    lake = open_destination({"format": "delta", "root": str(tmp_path / "d")})
    days = [f"2026-03-{d:02d}" for d in range(1, 9)]

    def write(i: int) -> bool:
        day, app = days[i % len(days)], str(i // len(days))
        t = pa.table({"sessions": pa.array([i, i], pa.int64())})
        return lake.write_partition("R", "DAILY", day, app, t, ("2026-03-10", f"i{i}")).written

    with cf.ThreadPoolExecutor(6) as pool:
        assert all(pool.map(write, range(24)))
    back = lake.read("R", "DAILY")
    assert back.num_rows == 48 and sorted(set(back.column("sessions").to_pylist())) == list(range(24))
    assert lake.stored() == {("R", "DAILY"): dict.fromkeys(days, 3)}


def test_duckdb_polars_and_dask_read_the_delta_tables(make_client, stores):
    pl = pytest.importorskip("polars")
    dd = pytest.importorskip("dask.dataframe")
    sb = small_world()
    client = make_client(sb)
    delta = stores["delta"]
    delta.sync(client, reports=[REPORT], progress=False)
    expect = delta.read(REPORT).groupby("app_id")["sessions"].agg(["sum", "count"]).astype("int64")
    path = str(delta.destination.table_path(REPORT, "DAILY"))
    # DuckDB (through the Store: the current version's files)
    by_sql = (
        delta.sql(
            "select app_id, sum(sessions) as sum, count(sessions) as count "
            "from app_sessions_standard_daily group by app_id"
        )
        .set_index("app_id")
        .sort_index()
    )
    # Polars reads the Delta table itself
    by_polars = (
        pl.read_delta(path)
        .group_by("app_id")
        .agg(pl.col("sessions").sum().alias("sum"), pl.col("sessions").count().alias("count"))
        .sort("app_id")
        .to_pandas()
        .set_index("app_id")
    )
    # Dask over the current version's files (hive partitions: date=, app_id=)
    frame = dd.read_parquet(
        delta.destination.files(REPORT, "DAILY"), engine="pyarrow", dataset={"partitioning": "hive"}
    )
    by_dask = frame.groupby("app_id")["sessions"].agg(["sum", "count"]).compute()
    by_dask.index = by_dask.index.astype(str)
    for got in (by_sql, by_polars, by_dask.sort_index()):
        assert got["sum"].astype("int64").tolist() == expect["sum"].tolist()
        assert got["count"].astype("int64").tolist() == expect["count"].tolist()
    assert len(expect) == 2 and expect["sum"].sum() > 0


def test_a_table_deleted_and_made_again_in_one_process_is_written_afresh(tmp_path):
    import shutil

    root = tmp_path / "d"
    lake = open_destination({"format": "delta", "root": str(root)})
    for i in range(3):
        lake.write_partition(
            "R", "DAILY", f"2026-03-0{i + 1}", "1", pa.table({"sessions": [i]}), ("2026-03-09", "i")
        )
    shutil.rmtree(root)  # a user removes the store; the same process syncs again
    lake = open_destination({"format": "delta", "root": str(root)})
    assert lake.write_partition(
        "R", "DAILY", "2026-03-01", "1", pa.table({"sessions": [7]}), ("2026-03-09", "i")
    ).written
    assert lake.read("R", "DAILY").column("sessions").to_pylist() == [7]
