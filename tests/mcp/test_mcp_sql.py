"""The sql tool over stdio: one SELECT over the store's views, answered as store.sql answers it; every way to write,
read a file, change a setting or run too long is refused as a tool error, and the store is left byte for byte."""

from __future__ import annotations

import hashlib
import sqlite3

import pytest
from mcp_harness import MAX_ROWS, TIMEOUT, table

from asc_nb.errors import QueryError
from asc_nb.mcp.sql import check_query


def test_a_select_answers_as_store_sql_does_with_provenance(mcp_server, world) -> None:
    query = (
        "select app_id, territory, sum(counts) as n from app_downloads_standard_daily "
        "where download_type = 'First-time download' group by all order by app_id, territory"
    )
    got = mcp_server.ok("sql", {"query": query})
    want = world.store.sql(query)
    res = table(got["result"])
    assert res.columns == ["app_id", "territory", "n"]
    assert res.rows == [[a, t, int(n)] for a, t, n in want.itertuples(index=False)]
    assert got["result"]["types"][-1] in ("HUGEINT", "BIGINT", "DOUBLE")
    prov = got["provenance"]
    assert prov["reports"] == [{"view": "app_downloads_standard_daily"}]
    assert prov["code"].endswith(f"df = store.sql({query!r})")
    scope: dict = {}
    exec(prov["code"], scope)  # noqa: S102 - the printed code is under test
    assert scope["df"].equals(want)


def test_describe_and_dates_come_back_as_json(mcp_server) -> None:
    cols = table(mcp_server.ok("sql", {"query": "describe app_sessions_standard_daily"})["result"])
    names = [r["column_name"] for r in cols.records]
    assert {"app_id", "date", "sessions", "processing_date", "instance_id"} <= set(names)
    got = table(
        mcp_server.ok(
            "sql", {"query": "select max(date) d, max(processing_date) p from app_sessions_standard_daily"}
        )["result"]
    )
    d, p = got.rows[0]
    assert len(d) == 10 and d[4] == "-" and p >= d  # ISO dates, processed after the day they cover


REFUSED = [
    # writes and catalog changes
    ("insert into app_sessions_standard_daily select * from app_sessions_standard_daily", "INSERT"),
    ("create table t as select 1", "CREATE"),
    ("create or replace view app_sessions_standard_daily as select 1", "CREATE"),
    ("drop view app_sessions_standard_daily", "DROP"),
    ("update app_sessions_standard_daily set sessions = 0", "UPDATE"),
    ("delete from app_sessions_standard_daily", "DELETE"),
    ("copy (select 1) to '{lake}/report=x/out.parquet'", "COPY"),
    ("export database '{tmp}/dump'", "EXPORT"),
    ("attach '{tmp}/other.duckdb' as other", "ATTACH"),
    ("install httpfs", "LOAD"),  # DuckDB's parser calls INSTALL a LOAD statement too
    ("load httpfs", "LOAD"),
    ("pragma enable_profiling", "PRAGMA"),
    ("set enable_external_access = true", "SET"),
    ("reset memory_limit", "SET"),
    ("call pragma_version()", "CALL"),
    ("checkpoint", "CALL"),
    ("select 1; drop view app_sessions_standard_daily", "2 statements"),
    # files, anywhere (even inside the lake: the tool reads views)
    ("select * from read_csv('/etc/passwd')", "read_csv"),
    ("select * from read_text('{key_path}')", "read_text"),
    ("select * from read_blob('{key_path}')", "read_blob"),
    ("select * from read_parquet('{lake}/**/*.parquet')", "read_parquet"),
    ("select * from glob('/*')", "glob"),
    ("select * from sniff_csv('{key_path}')", "sniff_csv"),
    ("with t as (select * from read_json_auto('/etc/hostname')) select * from t", "read_json_auto"),
    (
        "select * from app_sessions_standard_daily where app_id in (select * from read_csv('{key_path}'))",
        "read_csv",
    ),
    ("select * from query('select 1')", "query"),
    ("select * from duckdb_settings()", "duckdb_settings"),
    # a bare file path is a replacement scan: DuckDB itself, with external access off, sees no such table
    ("select * from '{key_path}'", "does not exist"),
    ("select * from '/etc/passwd'", "does not exist"),
    ("select getenv('ASC_PRIVATE_KEY')", "getenv"),
    ("", "empty"),
]


@pytest.mark.parametrize("query, word", REFUSED, ids=[q[:40] or "empty" for q, _ in REFUSED])
def test_everything_but_a_select_over_views_is_refused(mcp_server, world, tmp_path, query, word) -> None:
    q = query.format(lake=world.store.lake, tmp=tmp_path, key_path=world.key_path)
    text = mcp_server.error("sql", {"query": q})
    assert "QueryError" in text and word in text, text
    assert "Traceback" not in text
    assert world.sandbox.private_key_pem.splitlines()[1] not in text
    assert list(tmp_path.iterdir()) == []  # nothing attached, exported or copied
    assert mcp_server.ok("sql", {"query": "select 1 as one"})["result"]["rows"] == [[1]]  # still serving


def test_the_checker_alone_refuses_what_it_should() -> None:
    assert check_query("  select 42  ") == "select 42"
    assert check_query("select * from range(3)") == "select * from range(3)"
    for bad in ("copy t to 'x'", "select * from read_parquet('x')", "select 1; select 2"):
        with pytest.raises(QueryError):
            check_query(bad)


def test_bad_sql_and_unknown_views_are_tool_errors_that_name_the_views(mcp_server) -> None:
    text = mcp_server.error("sql", {"query": "selec 1"})
    assert "QueryError" in text and "parse" in text
    text = mcp_server.error("sql", {"query": "select * from app_sesions_standard_daily"})
    assert "app_sessions_standard_daily" in text and "app_downloads_standard_daily" in text
    text = mcp_server.error("sql", {"query": "select no_such_column from app_sessions_standard_daily"})
    assert "QueryError" in text and "no_such_column" in text


def test_row_and_time_limits(mcp_server) -> None:
    text = mcp_server.error("sql", {"query": "select * from app_sessions_standard_daily"})
    assert f"more than {MAX_ROWS} rows" in text and "LIMIT" in text
    assert (
        mcp_server.ok("sql", {"query": "select * from range(5)", "max_rows": 5})["result"]["row_count"] == 5
    )
    text = mcp_server.error("sql", {"query": "select * from range(6)", "max_rows": 5})
    assert "more than 5 rows" in text
    # a caller cannot raise the server's cap
    text = mcp_server.error(
        "sql", {"query": f"select * from range({MAX_ROWS + 1})", "max_rows": 10 * MAX_ROWS}
    )
    assert f"more than {MAX_ROWS} rows" in text
    slow = "select count(*) from range(100000000) a, range(1000000) b where a.range * b.range = -1"
    text = mcp_server.error("sql", {"query": slow})
    assert f"longer than {TIMEOUT:g} s" in text
    assert mcp_server.ok("sql", {"query": "select 2 as two"})["result"]["rows"] == [
        [2]
    ]  # the connection recovered
    # few rows, but heavy ones
    text = mcp_server.error("sql", {"query": "select repeat('x', 1000000) as wide from range(3)"})
    assert "characters of JSON" in text and "aggregate" in text


def _fingerprint(store_dir) -> dict[str, str]:
    """Every file (by content) and folder of the store, and the state database's rows (not its -wal/-shm)."""
    files = {
        str(p.relative_to(store_dir)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        for p in sorted(store_dir.rglob("*"))
        if "state.sqlite" not in p.name
    }
    con = sqlite3.connect(f"file:{store_dir / 'state.sqlite'}?mode=ro", uri=True)
    try:
        tables = [
            r[0] for r in con.execute("select name from sqlite_master where type = 'table' order by name")
        ]
        for t in tables:
            rows = con.execute(f'select * from "{t}"').fetchall()
            files[f"state:{t}"] = hashlib.sha256(repr(sorted(map(repr, rows))).encode()).hexdigest()
    finally:
        con.close()
    return files


def test_no_tool_writes_the_store(mcp_server, world) -> None:
    before = _fingerprint(world.store_dir)
    app = world.apps[0]
    calls = [
        ("list_apps", {}),
        ("list_reports", {"catalog": True}),
        ("describe_report", {"name": "App Sessions Standard"}),
        ("list_metrics", {}),
        ("metrics", {"app_ids": [app], "metrics": ["sessions"]}),
        ("health", {}),
        ("sql", {"query": "select count(*) from app_sessions_standard_daily"}),
        ("sql", {"query": f"copy (select 1) to '{world.store.lake}/x.parquet'"}),
        ("sql", {"query": "create view app_x_daily as select 1"}),
    ]
    for name, args in calls:
        mcp_server.call(name, args)
    assert _fingerprint(world.store_dir) == before
    assert not list(world.store.lake.glob("*.parquet"))


def test_every_duckdb_type_comes_back_as_json(mcp_server) -> None:
    query = (
        "select [1, 2] as l, {'a': 1} as s, interval 1 day as i, 1.5::decimal(10, 2) as d, 'x'::blob as b, "
        "timestamp '2026-02-01 10:30:00' as ts, null as n, 'nan'::double as nan, 12345678901234567890::hugeint h"
    )
    got = table(mcp_server.ok("sql", {"query": query})["result"])
    row = got.records[0]
    assert row["l"] == [1, 2] and row["s"] == {"a": 1} and row["d"] == 1.5 and row["n"] is None
    assert row["ts"] == "2026-02-01T10:30:00" and row["nan"] is None and row["h"] == 12345678901234567890
    assert isinstance(row["i"], str) and isinstance(row["b"], str)


@pytest.mark.parametrize(
    "name, args",
    [
        ("sql", {"query": None}),
        ("sql", {}),
        ("sql", {"query": "select 1", "max_rows": "many"}),
        ("sql", {"query": "select 1", "max_rows": 0}),
        ("sql", {"query": "select " + "1 + " * 6000 + "1"}),
        ("metrics", {"app_ids": 5, "metrics": ["sessions"]}),
        ("metrics", {"app_ids": ["1"], "metrics": ["sessions"], "filters": {"territory": 3}}),
        ("describe_report", {}),
        ("no_such_tool", {}),
    ],
)
def test_malformed_calls_are_errors_not_crashes(mcp_server, name, args) -> None:
    result = mcp_server.call(name, args)
    assert result.is_error, result.structured_content
    assert "Traceback" not in result.content[0].text
    assert mcp_server.ok("sql", {"query": "select 3 as three"})["result"]["rows"] == [[3]]
