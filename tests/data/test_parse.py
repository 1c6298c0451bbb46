"""Segment parsing: real gzip bytes and files in, typed DataFrame out."""

from __future__ import annotations

import io
import random

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asc_nb.data import parse
from asc_nb.data.parse import SegmentFormatError, parse_segment, read_table, snake_columns, unify_tables

from .conftest import gz, table_text

SESSIONS = [
    "Date",
    "App Name",
    "App Apple Identifier",
    "App Version",
    "Device",
    "Platform Version",
    "Source Type",
    "Page Type",
    "App Download Date",
    "Territory",
    "Sessions",
    "Total Session Duration (seconds)",
    "Unique Devices",
]


def sessions_rows(n: int, seed: int = 0) -> list[list[object]]:
    rnd = random.Random(seed)
    rows = []
    for i in range(n):
        rows.append(
            [
                f"2026-03-{1 + i % 28:02d}",
                "Café App",
                "1234567890",
                rnd.choice(["1.10", "1.2", "2.0"]),
                rnd.choice(["iPhone", "iPad"]),
                rnd.choice(["iOS 18.1", "17.0"]),
                "App Store search",
                "Product page",
                "2026-01-15",
                rnd.choice(["US", "NA", "DE"]),
                None if i % 17 == 0 else rnd.randint(0, 500),
                rnd.randint(1, 9999),
                rnd.randint(1, 50),
            ]
        )
    return rows


def test_types_names_and_values():
    rows = sessions_rows(50)
    df = parse_segment(gz(table_text(SESSIONS, rows)))
    assert list(df.columns) == [
        "date",
        "app_name",
        "app_apple_identifier",
        "app_version",
        "device",
        "platform_version",
        "source_type",
        "page_type",
        "app_download_date",
        "territory",
        "sessions",
        "total_session_duration_seconds",
        "unique_devices",
    ]
    assert df["date"].dtype == "datetime64[ns]"
    assert df["app_download_date"].dtype == "datetime64[ns]"
    for col in ("sessions", "total_session_duration_seconds", "unique_devices", "app_apple_identifier"):
        assert df[col].dtype == "Int64", col
    for col in ("app_name", "app_version", "device", "platform_version", "territory"):
        assert pd.api.types.is_string_dtype(df[col]), col
    # values that naive inference corrupts survive as text
    assert set(df["app_version"]) <= {"1.10", "1.2", "2.0"}
    assert "NA" in set(df["territory"])  # Namibia, not a null
    assert df["platform_version"].isin(["iOS 18.1", "17.0"]).all()
    assert df["app_name"].eq("Café App").all()
    assert df["date"].iloc[0] == pd.Timestamp("2026-03-01")
    assert df["sessions"].tolist() == [r[10] if r[10] is not None else pd.NA for r in rows]


def test_blanks_stay_missing_not_zero():
    text = table_text(
        ["Date", "Territory", "Page Title", "Counts"],
        [
            ["2026-03-01", "US", "", 0],
            ["2026-03-01", "", "Summer", ""],
            ["", "FR", "Spring", 5],
        ],
    )
    df = parse_segment(gz(text))
    assert df["counts"].tolist()[0] == 0
    assert df["counts"].isna().tolist() == [False, True, False]
    assert df["counts"].sum() == 5
    assert df["territory"].isna().tolist() == [False, True, False]
    assert df["page_title"].isna().tolist() == [True, False, False]
    assert df["date"].isna().tolist() == [False, False, True]


def test_unknown_columns_are_kept_and_typed():
    text = table_text(
        ["Date", "Counts", "Brand New Metric", "Mystery Dimension", "Ratio"],
        [
            ["2026-03-01", 1, 10, "alpha", 0.5],
            ["2026-03-02", 2, "", "beta", 1.25],
        ],
    )
    df = parse_segment(gz(text))
    assert list(df.columns) == ["date", "counts", "brand_new_metric", "mystery_dimension", "ratio"]
    assert df["brand_new_metric"].dtype == "Int64"
    assert df["brand_new_metric"].isna().tolist() == [False, True]
    assert df["mystery_dimension"].tolist() == ["alpha", "beta"]
    assert df["ratio"].dtype == "Float64"


def test_comma_delimited_with_bom_and_quotes():
    header = ["Date", "App Name", "Crash Reason", "Crashes"]
    body = (
        ",".join(header) + "\n"
        '2026-03-01,"Café, Inc. App","Uncaught exception ""NSInvalidArgumentException""",3\n'
        "2026-03-01,Plain,EXC_BAD_ACCESS (SIGSEGV),\n"
    )
    df = parse_segment(gz(body, bom=True))
    assert list(df.columns) == ["date", "app_name", "crash_reason", "crashes"]  # BOM not in the name
    assert df["app_name"].tolist() == ["Café, Inc. App", "Plain"]
    assert df["crash_reason"].iloc[0] == 'Uncaught exception "NSInvalidArgumentException"'
    assert df["crashes"].isna().tolist() == [False, True]


def test_bom_on_tab_file_and_crlf():
    body = "Date\tTerritory\tCounts\r\n2026-03-01\tUS\t4\r\n"
    df = parse_segment(gz(body, bom=True))
    assert list(df.columns) == ["date", "territory", "counts"]
    assert df["territory"].tolist() == ["US"]
    assert df["counts"].tolist() == [4]


def test_tab_file_keeps_quotes_literally():
    body = 'Date\tPage Title\tCounts\n2026-03-01\t"Best" app\t1\n2026-03-01\t"unterminated\t2\n'
    df = parse_segment(gz(body))
    assert df["page_title"].tolist() == ['"Best" app', '"unterminated']


def test_header_only_segment_is_empty_but_typed():
    df = parse_segment(gz("Date\tApp Name\tTerritory\tCounts\n"))
    assert len(df) == 0
    assert list(df.columns) == ["date", "app_name", "territory", "counts"]
    assert df["date"].dtype == "datetime64[ns]"
    assert df["counts"].dtype == "Int64"


def test_empty_file():
    assert parse_segment(gz("")).empty


@pytest.mark.parametrize("streaming", [False, True])
def test_truncated_gzip_raises_format_error(streaming, monkeypatch, tmp_path):
    blob = gz(table_text(SESSIONS, sessions_rows(5000)))
    if streaming:  # force the threaded inflate-while-parsing path on a small file
        monkeypatch.setattr(parse, "_STREAM_THRESHOLD", 1024)
    cut = blob[: len(blob) * 2 // 3]
    with pytest.raises(SegmentFormatError):
        read_table(cut)
    (tmp_path / "cut.gz").write_bytes(cut)
    with pytest.raises(SegmentFormatError):
        read_table(tmp_path / "cut.gz")


def test_garbage_raises_format_error():
    with pytest.raises(SegmentFormatError):
        read_table(b"\x1f\x8b\x08\x00garbage that is not deflate")


def test_sources_agree_bytes_path_file_and_streaming(tmp_path, monkeypatch):
    rows = sessions_rows(20_000, seed=3)
    blob = gz(table_text(SESSIONS, rows))
    monkeypatch.setattr(parse, "_STREAM_THRESHOLD", 1024)  # the streaming, multithreaded path
    path = tmp_path / "seg.csv.gz"
    path.write_bytes(blob)
    a = read_table(blob)
    b = read_table(path)
    c = read_table(io.BytesIO(blob))
    d = read_table(blob, use_threads=False)
    small = read_table(gz(table_text(SESSIONS, rows[:500])))
    assert a.equals(b) and a.equals(c) and a.equals(d)
    assert a.num_rows == 20_000
    assert a.slice(0, 500).equals(small)
    plain = read_table(table_text(SESSIONS, rows[:500]).encode())  # not gzip at all
    assert plain.equals(small)


def test_snake_columns_unique():
    assert snake_columns(["Counts", "counts", "App Name", "App-Name", ""]) == [
        "counts",
        "counts_2",
        "app_name",
        "app_name_2",
        "column_5",
    ]


def test_unify_tables_by_name_reordered_missing_and_conflicting():
    t1 = read_table(gz(table_text(["Date", "Territory", "Counts"], [["2026-03-01", "US", 1]])))
    t2 = read_table(gz(table_text(["Counts", "Date", "Extra"], [[2, "2026-03-02", "x"]])))
    t3 = read_table(gz(table_text(["Date", "Extra"], [["2026-03-03", 7]])))  # Extra numeric here
    out = unify_tables([t1, t2, t3])
    assert out.num_rows == 3
    d = out.to_pydict()
    assert d["counts"] == [1, 2, None]
    assert d["territory"] == ["US", None, None]
    assert d["extra"] == [None, "x", "7"]
    assert unify_tables([]).num_rows == 0


_text = st.text(
    alphabet=st.characters(blacklist_categories=["Cs", "Cc"], blacklist_characters="\t\r\n\ufeff"), max_size=8
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.one_of(st.none(), st.integers(0, 2**62)), _text), min_size=1, max_size=20))
def test_roundtrip_property(rows):
    """Whatever Apple puts in a text field comes back verbatim; integers come back exactly."""
    text = table_text(["Date", "Page Title", "Counts"], [["2026-03-01", s, n] for n, s in rows])
    df = parse_segment(gz(text))
    assert df["counts"].dtype == "Int64"
    assert [None if pd.isna(v) else int(v) for v in df["counts"]] == [n for n, _ in rows]
    got = [None if pd.isna(v) else v for v in df["page_title"]]
    assert got == [s or None for _, s in rows]


def test_arrow_types_for_downstream():
    t = read_table(gz(table_text(["Date", "Counts"], [["2026-03-01", 1]])))
    assert t.schema.field("date").type == pa.timestamp("ns")
    assert t.schema.field("counts").type == pa.int64()


def test_date_spellings_fall_back_without_losing_rows(tmp_path):
    us = parse_segment(gz(table_text(["Date", "Counts"], [["03/01/2026", 1], ["03/02/2026", 2]])))
    assert us["date"].dtype == "datetime64[ns]"
    assert us["date"].tolist() == [pd.Timestamp("2026-03-01"), pd.Timestamp("2026-03-02")]
    junk = parse_segment(gz(table_text(["Date", "Counts"], [["2026-03-01", 1], ["soon", 2]])))
    assert junk["date"].tolist() == ["2026-03-01", "soon"]  # kept as text rather than dropped
    stamp = parse_segment(gz(table_text(["Date", "Counts"], [["2026-03-01T00:00:00", 1]])))
    assert stamp["date"].tolist() == [pd.Timestamp("2026-03-01")]
    path = tmp_path / "us.gz"
    path.write_bytes(gz(table_text(["Date", "Counts"], [["03/01/2026", 1]])))
    with open(path, "rb") as f:  # a file object cannot be re-read: text first, then cast
        assert parse_segment(f)["date"].tolist() == [pd.Timestamp("2026-03-01")]
