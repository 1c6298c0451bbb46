"""executor=: a dask.distributed LocalCluster (2 worker processes) and a thread pool give the local sync's lake.

Workers are other processes: they reach the sandbox through its loopback server, never through
the in-process transport. One cluster for the module (~3 s to start on 2 cores).
"""

from __future__ import annotations

import concurrent.futures as cf
import logging

import pandas as pd
import pytest

import asc_nb

from .conftest import REPORTS, assert_same_lake, small_world

distributed = pytest.importorskip("distributed")
dd = pytest.importorskip("dask.dataframe")


@pytest.fixture(scope="module")
def cluster():
    logging.getLogger("distributed").setLevel(logging.ERROR)
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        ) as lc,
        distributed.Client(lc) as dask_client,
    ):
        yield dask_client


@pytest.fixture(scope="module")
def served():
    sb = small_world(history_days=6)
    with sb.serve() as handle:
        yield sb, handle.base_url


def _client(served, tmp_path, name):
    sb, base_url = served
    return asc_nb.Client(sandbox=sb, base_url=base_url, cache_dir=tmp_path / f"cache-{name}")


def test_dask_executor_equals_local_sync(cluster, served, tmp_path):
    local = asc_nb.Store(tmp_path / "local")
    on_dask = asc_nb.Store(tmp_path / "dask")
    a = local.sync(_client(served, tmp_path, "local"), reports=REPORTS, progress=False)
    sb = served[0]
    before = len(sb.calls)
    b = on_dask.sync(_client(served, tmp_path, "dask"), reports=REPORTS, executor=cluster, progress=False)
    assert set(b["status"]) == {"ok"}, b
    cols = [
        "app_id",
        "report",
        "granularity",
        "status",
        "new_instances",
        "rows",
        "downloads",
        "first_date",
        "last_date",
    ]
    pd.testing.assert_frame_equal(a[cols], b[cols])
    # downloads happened (in the workers: they are separate processes with their own httpx client)
    assert sum(1 for c in sb.calls[before:] if c[1] == "download") == int(b["downloads"].sum()) > 0
    assert_same_lake(local, on_dask)

    # the lake read by dask.dataframe and by DuckDB gives the same aggregates
    lake = str(on_dask.lake / "report=App Sessions Standard" / "granularity=DAILY")
    frame = dd.read_parquet(lake, engine="pyarrow", dataset={"partitioning": "hive"})
    by_dask = frame.groupby("app_id")["sessions"].agg(["sum", "count"]).compute().sort_index()
    by_sql = on_dask.sql(
        "select app_id, sum(sessions) as sum, count(sessions) as count "
        "from app_sessions_standard_daily group by app_id order by app_id"
    ).set_index("app_id")
    assert by_dask["sum"].astype("int64").tolist() == by_sql["sum"].astype("int64").tolist()
    assert by_dask["count"].astype("int64").tolist() == by_sql["count"].astype("int64").tolist()
    days = (
        dd.read_parquet(lake, engine="pyarrow", dataset={"partitioning": "hive"})["date"].nunique().compute()
    )
    assert days == on_dask.sql("select count(distinct date) from app_sessions_standard_daily").iloc[0, 0]


def test_thread_pool_executor_equals_local_sync(served, tmp_path):
    local = asc_nb.Store(tmp_path / "local")
    pooled = asc_nb.Store(tmp_path / "pooled")
    local.sync(_client(served, tmp_path, "local"), reports=REPORTS, progress=False)
    with cf.ThreadPoolExecutor(2) as pool:
        r = pooled.sync(_client(served, tmp_path, "pool"), reports=REPORTS, executor=pool, progress=False)
    assert set(r["status"]) == {"ok"}
    assert_same_lake(local, pooled)
