"""Hive-partitioned Parquet read back by DuckDB and pandas."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

import asc_nb.data.export as export
from asc_nb.data.export import read_parquet, to_parquet
from asc_nb.data.parse import parse_segment

from .conftest import gz, table_text


def fetched(rows, report="App Sessions Standard", granularity="DAILY"):
    df = pd.DataFrame(
        rows, columns=["date", "territory", "sessions", "processing_date", "instance_id", "segment_id"]
    )
    df = df.astype({"date": "datetime64[ns]", "processing_date": "datetime64[ns]", "sessions": "Int64"})
    df.attrs.update(report=report, granularity=granularity, report_id="r1-req")
    return df


def duck(root, sql="select date, territory, sessions, report, granularity from t order by date, territory"):
    con = duckdb.connect()
    con.execute(f"create view t as select * from read_parquet('{root}/**/*.parquet', hive_partitioning=true)")
    return con.execute(sql).df()


def test_roundtrip_duckdb_and_pandas(tmp_path):
    df = fetched(
        [
            ("2026-03-01", "US", 3, "2026-03-04", "i1", "s1"),
            ("2026-03-01", "NA", None, "2026-03-04", "i1", "s1"),
            ("2026-03-02", "FR", 7, "2026-03-04", "i1", "s2"),
        ],
        report="App Crashes / Expanded",
    )
    to_parquet(df, tmp_path)
    dirs = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("date=*"))
    assert dirs == [
        "report=App Crashes %2F Expanded/granularity=DAILY/date=2026-03-01",
        "report=App Crashes %2F Expanded/granularity=DAILY/date=2026-03-02",
    ]
    got = duck(tmp_path)
    assert got["report"].unique().tolist() == ["App Crashes / Expanded"]
    assert got["granularity"].unique().tolist() == ["DAILY"]
    assert [str(d)[:10] for d in got["date"]] == ["2026-03-01", "2026-03-01", "2026-03-02"]
    assert got["territory"].tolist() == ["NA", "US", "FR"]  # Namibia stays a value
    assert got["sessions"].isna().tolist() == [True, False, False]
    assert duck(tmp_path, "select sum(sessions) s from t").iloc[0, 0] == 10
    typed = read_parquet(tmp_path).sort_values(["date", "territory"]).reset_index(drop=True)
    assert typed["date"].dtype == "datetime64[ns]"
    assert typed["sessions"].dtype == "Int64"
    assert typed["sessions"].sum() == 10
    assert set(typed.columns) >= {
        "date",
        "territory",
        "sessions",
        "processing_date",
        "instance_id",
        "segment_id",
        "report",
        "granularity",
    }
    plain = pd.read_parquet(tmp_path)  # what a pandas user writes
    assert len(plain) == 3 and int(plain["sessions"].sum()) == 10


def test_rewrite_is_idempotent_and_newer_vintage_replaces_older(tmp_path):
    old = fetched(
        [("2026-03-01", "US", 8, "2026-03-02", "i1", "s1"), ("2026-03-01", "FR", 1, "2026-03-02", "i1", "s1")]
    )
    to_parquet(old, tmp_path)
    to_parquet(old, tmp_path)
    assert duck(tmp_path, "select count(*) from t").iloc[0, 0] == 2
    new = fetched([("2026-03-01", "US", 10, "2026-03-04", "i3", "s9")])
    to_parquet(new, tmp_path)
    got = duck(tmp_path)
    assert got["sessions"].tolist() == [10]
    to_parquet(old, tmp_path)  # a stale export arriving late does not win either
    assert duck(tmp_path)["sessions"].tolist() == [10]


def test_series_do_not_prune_each_other(tmp_path):
    a = fetched([("2026-03-01", "US", 1, "2026-03-04", "i1", "s1")])
    b = fetched([("2026-03-01", "US", 2, "2026-03-02", "i2", "s2")])
    b.attrs["report_id"] = "r1-other-app"
    to_parquet(a, tmp_path)
    to_parquet(b, tmp_path)
    assert sorted(duck(tmp_path)["sessions"].tolist()) == [1, 2]


def test_all_vintages_kept_when_asked(tmp_path):
    df = fetched(
        [
            ("2026-03-01", "US", 8, "2026-03-02", "i1", "s1"),
            ("2026-03-01", "US", 10, "2026-03-04", "i3", "s9"),
        ]
    )
    to_parquet(df, tmp_path, latest_only=False)
    assert sorted(duck(tmp_path)["sessions"].tolist()) == [8, 10]


def test_plain_frame_needs_names_then_appends(tmp_path):
    df = parse_segment(
        gz(table_text(["Date", "Territory", "Counts"], [["2026-03-01", "US", 1], ["", "FR", 2]]))
    )
    with pytest.raises(ValueError, match="report="):
        to_parquet(df, tmp_path)
    to_parquet(df, tmp_path, report="Custom", granularity="WEEKLY")
    to_parquet(df, tmp_path, report="Custom", granularity="WEEKLY")
    got = duck(tmp_path, "select date, counts from t order by counts")
    assert got["counts"].tolist() == [1, 1, 2, 2]
    assert got["date"].isna().sum() == 2  # a blank Date lands in the default partition
    typed = read_parquet(tmp_path)
    assert typed["date"].isna().sum() == 2 and len(typed) == 4


def test_no_temporary_files_left(tmp_path):
    to_parquet(fetched([("2026-03-01", "US", 1, "2026-03-04", "i1", "s1")]), tmp_path)
    names = [p.name for p in tmp_path.rglob("*") if p.is_file()]
    assert names == ["r1-req__20260304__i1__s1.parquet"]
    assert export.prune_to_latest([]) == 0
