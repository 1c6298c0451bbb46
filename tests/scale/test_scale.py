"""The big world at small scale: its rows are exactly ``tiles`` x the world model's, and a sync through a real
dask.distributed LocalCluster (worker processes; Parquet and Delta destinations) stores what the local executor
stores, read alike by DuckDB, Polars and Dask (benchmarks/bench_scale.py runs the same at 1x / 4x / 16x)."""

from __future__ import annotations

import logging

import pandas as pd
import pytest

import asc_nb
from asc_nb.sandbox import Sandbox
from asc_nb.sandbox.bigworld import BigSandbox, tile_column
from asc_nb.sandbox.catalog import find_report

from .conftest import canonical

distributed = pytest.importorskip("distributed")
dd = pytest.importorskip("dask.dataframe")
pl = pytest.importorskip("polars")

REPORTS = ("App Sessions Detailed", "App Downloads Detailed")
MEASURE = {"App Sessions Detailed": "sessions", "App Downloads Detailed": "counts"}
WORLD = {"seed": 7, "apps": 2, "history_days": 4, "data_scale": 3}


def _sync(sb: Sandbox, root, executor=None, fmt: str = "parquet") -> asc_nb.Store:
    store = asc_nb.Store(root / "store", format=fmt)
    with (
        sb.serve() as handle,
        asc_nb.Client(sandbox=sb, base_url=handle.base_url, cache_dir=root / "cache") as c,
    ):
        result = store.sync(c, reports=list(REPORTS), executor=executor, progress=False)
    assert set(result["status"]) == {"ok"}, result
    return store


def test_big_world_rows_are_exactly_tiles_times_the_world_model(tmp_path):
    plain = _sync(Sandbox(**WORLD), tmp_path / "plain")
    big = _sync(BigSandbox(tiles=3, **WORLD), tmp_path / "big")
    for report in REPORTS:
        a, b = plain.read(report), big.read(report)
        m = MEASURE[report]
        assert len(a) > 100 and len(b) == 3 * len(a)
        assert int(b[m].sum()) == 3 * int(a[m].sum())
        # every row is still a distinct dimension combination: the tile sits in one text dimension
        col = find_report(report).columns[tile_column(find_report(report))].name
        dims = [
            c
            for c in b.columns
            if c not in (m, "processing_date", "instance_id", "segment_id")
            and b[c].dtype.kind not in "iuf"
            and str(b[c].dtype) not in ("Int64", "Float64")
        ]
        assert not b.duplicated(dims).any(), col
        # tile 0 is the world model's rows themselves
        snake = asc_nb.data.parse.snake_columns([col])[0]
        first = b[~b[snake].astype("string").str.contains("~", regex=False, na=False)]
        pd.testing.assert_frame_equal(
            canonical(first.drop(columns=["segment_id"])), canonical(a.drop(columns=["segment_id"]))
        )


def test_dask_cluster_and_local_executor_store_the_same_big_world(tmp_path):
    sb = BigSandbox(tiles=2, **WORLD)
    logging.getLogger("distributed").setLevel(logging.ERROR)
    local = _sync(sb, tmp_path / "local")
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
        on_dask = _sync(sb, tmp_path / "dask", executor=dask_client)
        # Delta from worker processes: commits serialised by the destination's flock, none lost
        delta_dask = _sync(sb, tmp_path / "dask-delta", executor=dask_client, fmt="delta")
        for report in REPORTS:
            pd.testing.assert_frame_equal(canonical(local.read(report)), canonical(on_dask.read(report)))
            pd.testing.assert_frame_equal(canonical(local.read(report)), canonical(delta_dask.read(report)))
            m = MEASURE[report]
            view = asc_nb.store.view_name(report, "DAILY")
            sql = on_dask.sql(f"select count(*) n, sum({m}) s from {view}")
            polars = (
                pl.scan_parquet(on_dask.destination.glob(report, "DAILY"), hive_partitioning=True)
                .select(pl.len().alias("n"), pl.col(m).sum().alias("s"))
                .collect()
            )
            frame = dd.read_parquet(
                str(on_dask.destination.report_dir(report, "DAILY")),
                columns=[m],
                dataset={"partitioning": "hive"},
            )
            n, s = dask_client.compute([frame[m].size, frame[m].sum()], sync=True)
            got = {
                (int(sql["n"][0]), int(sql["s"][0])),
                (int(polars["n"][0]), int(polars["s"][0])),
                (int(n), int(s)),
            }
            assert got == {(len(local.read(report)), int(local.read(report)[m].sum()))}
