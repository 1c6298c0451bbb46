"""Issue 12: strict, typed, loss-free parsing from the report registry.

Every bad-value kind under both ``errors=`` modes, the property that no input changes a column's
dtype, and the same through ``fetch``/``read_instance`` over the in-process sandbox with a
published file that does not fit its report (its checksum is the file's own, so it downloads fine).
Expected dtypes are written out here, not read from the code under test.
"""

from __future__ import annotations

import gzip
import warnings

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import asc_nb
from asc_nb.data.parse import read_tables
from asc_nb.errors import (
    ASCError,
    ParseIssuesWarning,
    ReportNotFoundError,
    SchemaDriftWarning,
    SegmentFormatError,
)
from asc_nb.sandbox import Sandbox

from .conftest import gz, table_text

SESSIONS = "App Sessions Standard"
HEADER = [
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
    "Total Session Duration",
    "Unique Devices",
]
#: typed by hand from Apple's App Sessions page (independent of the registry)
DTYPES = {
    "date": "datetime64[ns]",
    "app_name": "string",
    "app_apple_identifier": "Int64",
    "app_version": "string",
    "device": "string",
    "platform_version": "string",
    "source_type": "string",
    "page_type": "string",
    "app_download_date": "datetime64[ns]",
    "territory": "string",
    "sessions": "Int64",
    "total_session_duration": "Int64",
    "unique_devices": "Int64",
}
CRASHES_HEADER = [
    "Count",
    "Territory",
    "Date",
    "Platform",
    "Device",
    "Build",
    "Unique Devices",
    "Release Type",
    "App Name",
    "App Version",
]


def row(**over: object) -> list[object]:
    base = {
        "Date": "2026-03-01",
        "App Name": "Café",
        "App Apple Identifier": "1234567890",
        "App Version": "1.10",
        "Device": "iPhone",
        "Platform Version": "iOS 18.1",
        "Source Type": "App Store search",
        "Page Type": "Product page",
        "App Download Date": "",
        "Territory": "NA",
        "Sessions": 3,
        "Total Session Duration": 40,
        "Unique Devices": 2,
    }
    base.update({k.replace("_", " "): v for k, v in over.items()})
    return [base[h] for h in HEADER]


def seg(*rows: list[object], header: list[str] = HEADER) -> bytes:
    return gz(table_text(header, list(rows)))


def assert_dtypes(df: pd.DataFrame, expected: dict[str, str] = DTYPES) -> None:
    for column, dtype in expected.items():
        assert df[column].dtype == dtype, (column, df[column].dtype)


def coerce(blob: bytes, report: str = SESSIONS) -> tuple[pd.DataFrame, list[warnings.WarningMessage]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        df = asc_nb.parse_segment(blob, report=report, errors="coerce")
    return df, [w for w in caught if issubclass(w.category, ParseIssuesWarning)]


# --------------------------------------------------------------------------- the happy path


def test_registry_types_and_values_that_inference_would_corrupt():
    df = asc_nb.parse_segment(seg(row(), row(Sessions="", Territory="", App_Version="2.0")), report=SESSIONS)
    assert list(df.columns) == list(DTYPES)
    assert_dtypes(df)
    assert df.attrs["typing"] == "registry"
    assert df["territory"].tolist()[0] == "NA"  # Namibia, not a null
    assert df["app_version"].tolist() == ["1.10", "2.0"]  # text, not the float 1.1
    assert df["sessions"].isna().tolist() == [False, True]  # blank stays missing, never 0
    assert df["territory"].isna().tolist() == [False, True]
    assert df["app_download_date"].isna().all()
    assert "parse_issues" not in df.attrs and "schema_drift" not in df.attrs


def test_a_numeric_looking_dimension_stays_text_in_every_row():
    # a name-based guess would infer these; the registry says Platform Version and Page Title are text
    df = asc_nb.parse_segment(seg(row(Platform_Version="17"), row(Platform_Version="18.10")), report=SESSIONS)
    assert df["platform_version"].tolist() == ["17", "18.10"]
    assert df["platform_version"].dtype == "string"


def test_report_none_types_by_name_and_says_so():
    df = asc_nb.parse_segment(seg(row()))
    assert df.attrs["typing"] == "names"
    assert df["sessions"].dtype == "Int64"


def test_unknown_report_name_and_bad_errors_argument():
    with pytest.raises(ReportNotFoundError, match="App Sessions"):
        asc_nb.parse_segment(seg(row()), report="App Sesions Standard")
    with pytest.raises(ValueError, match="errors must be 'raise' or 'coerce'"):
        asc_nb.parse_segment(seg(row()), report=SESSIONS, errors="ignore")


def test_report_name_is_case_and_space_insensitive():
    assert asc_nb.parse_segment(seg(row()), report="  app sessions STANDARD ").attrs["typing"] == "registry"


# --------------------------------------------------------------------------- bad values, both modes

BAD = [
    # (what, cell overrides, column, value)
    ("thousands separator", {"Sessions": "1,000"}, "sessions", "1,000"),
    ("US date", {"Date": "02/26/2026"}, "date", "02/26/2026"),
    ("date that is not a date", {"App_Download_Date": "soon"}, "app_download_date", "soon"),
    ("integer beyond int64", {"Unique_Devices": str(2**63)}, "unique_devices", str(2**63)),
    (
        "identifier beyond int64",
        {"App_Apple_Identifier": "99999999999999999999"},
        "app_apple_identifier",
        "99999999999999999999",
    ),
    ("decimal in a count", {"Total_Session_Duration": "12.5"}, "total_session_duration", "12.5"),
]


@pytest.mark.parametrize("what, over, column, value", BAD, ids=[b[0] for b in BAD])
def test_bad_value_raises_naming_line_column_value_and_what_to_do(what, over, column, value):
    blob = seg(row(), row(), row(**over))
    with pytest.raises(SegmentFormatError) as info:
        asc_nb.parse_segment(blob, report=SESSIONS)
    err = info.value
    assert isinstance(err, ASCError) and isinstance(err, ValueError)
    assert (err.report, err.line, err.column, err.value) == (SESSIONS, 4, column, value)
    text = str(err)
    for part in (SESSIONS, "line 4", repr(column), repr(value), "errors='coerce'"):
        assert part in text, (part, text)


@pytest.mark.parametrize("what, over, column, value", BAD, ids=[b[0] for b in BAD])
def test_bad_value_coerced_to_missing_with_one_warning_and_the_issue_listed(what, over, column, value):
    df, warned = coerce(seg(row(), row(), row(**over)))
    assert_dtypes(df)  # the bad value changed no dtype
    assert len(df) == 3
    assert df[column].isna().tolist() == [column == "app_download_date", column == "app_download_date", True]
    assert df["sessions"].tolist()[:2] == [3, 3]  # the other cells are untouched
    assert len(warned) == 1 and "1 value(s)" in str(warned[0].message)
    issues = df.attrs["parse_issues"]
    assert list(issues.columns) == ["segment", "line", "column", "value"]
    assert issues[["line", "column", "value"]].values.tolist() == [[4, column, value]]


def test_smallest_and_largest_int64_fit():
    df = asc_nb.parse_segment(seg(row(Sessions=str(-(2**63))), row(Sessions=str(2**63 - 1))), report=SESSIONS)
    assert df["sessions"].tolist() == [-(2**63), 2**63 - 1]


def test_several_bad_values_all_listed_in_file_order():
    blob = seg(row(Sessions="1,000"), row(), row(Date="02/26/2026", Unique_Devices="x"))
    with pytest.raises(SegmentFormatError, match=r"2 more value\(s\)") as info:
        asc_nb.parse_segment(blob, report=SESSIONS)
    assert (info.value.line, info.value.column) == (2, "sessions")
    df, warned = coerce(blob)
    assert df.attrs["parse_issues"][["line", "column"]].values.tolist() == [
        [2, "sessions"],
        [4, "date"],
        [4, "unique_devices"],
    ]
    assert len(warned) == 1 and "3 value(s)" in str(warned[0].message)
    assert_dtypes(df)


def test_non_utf8_bytes_in_a_dimension_and_in_a_count():
    text = table_text(HEADER, [row(), row()]).encode()
    lines = text.split(b"\n")
    lines[2] = lines[2].replace(b"Caf\xc3\xa9", b"Caf\xe9")  # Latin-1 é in App Name, line 3
    blob = gzip.compress(b"\n".join(lines))
    with pytest.raises(SegmentFormatError, match="invalid UTF8") as info:
        asc_nb.parse_segment(blob, report=SESSIONS)
    assert (info.value.line, info.value.column, info.value.value) == (3, "app_name", "Caf\\xe9")
    df, warned = coerce(blob)
    assert_dtypes(df)
    assert df["app_name"].tolist()[0] == "Café" and pd.isna(df["app_name"].tolist()[1])
    assert len(warned) == 1
    bad_count = gzip.compress(text.replace(b"\t40\t", b"\t4\xff0\t", 1))
    df, _ = coerce(bad_count)
    assert df.attrs["parse_issues"][["line", "column"]].values.tolist() == [[2, "total_session_duration"]]
    assert df["total_session_duration"].dtype == "Int64"


def test_non_utf8_header_always_raises():
    for errors in ("raise", "coerce"):
        with pytest.raises(SegmentFormatError, match="header is not UTF-8"):
            asc_nb.parse_segment(gzip.compress(b"Date\tApp \xff\tSessions\n"), report=SESSIONS, errors=errors)


def test_ragged_row_is_a_format_error_in_both_modes():
    blob = gz(table_text(HEADER, [row()]) + "2026-03-01\tonly two\n")
    for errors in ("raise", "coerce"):
        with pytest.raises(SegmentFormatError, match=SESSIONS):
            asc_nb.parse_segment(blob, report=SESSIONS, errors=errors)


# --------------------------------------------------------------------------- empty and header-only


@pytest.mark.parametrize(
    "body",
    ["\t".join(HEADER) + "\n", "\t".join(HEADER), "\t".join(HEADER) + "\r\n", "\t".join(HEADER) + "\n\n"],
    ids=["newline", "no newline", "crlf", "blank line"],
)
@pytest.mark.parametrize("errors", ["raise", "coerce"])
def test_header_only_segment_is_empty_with_typed_columns(body, errors):
    df = asc_nb.parse_segment(gz(body), report=SESSIONS, errors=errors)
    assert len(df) == 0 and list(df.columns) == list(DTYPES)
    assert_dtypes(df)
    df.groupby("date")["sessions"].sum()  # works on the empty frame


@pytest.mark.parametrize("body", [b"", b"\n"], ids=["zero bytes", "newline only"])
@pytest.mark.parametrize("errors", ["raise", "coerce"])
def test_empty_segment_gives_the_registry_columns(body, errors):
    df = asc_nb.parse_segment(gzip.compress(body), report=SESSIONS, errors=errors)
    assert len(df) == 0 and list(df.columns) == list(DTYPES)
    assert_dtypes(df)


# --------------------------------------------------------------------------- BOM, comma files


@pytest.mark.parametrize("errors", ["raise", "coerce"])
def test_bom_tab_file(errors):
    df = asc_nb.parse_segment(gz(table_text(HEADER, [row()]), bom=True), report=SESSIONS, errors=errors)
    assert list(df.columns) == list(DTYPES)  # the BOM is not part of the first name
    assert_dtypes(df)
    assert df["date"].tolist() == [pd.Timestamp("2026-03-01")]


def test_bom_comma_file_crashes_expanded_with_quotes_and_a_bad_count():
    body = (
        ",".join(CRASHES_HEADER) + "\n"
        '3,US,2026-03-01,iOS,iPhone,"123",2,App Store,"Café, Inc.",1.10\n'
        '"1,000",NA,2026-03-01,iOS,iPad,124,,TestFlight,Plain,2.0\n'
    )
    blob = gz(body, bom=True)
    expected = {
        "count": "Int64",
        "territory": "string",
        "date": "datetime64[ns]",
        "build": "string",
        "unique_devices": "Int64",
        "app_name": "string",
        "app_version": "string",
    }
    with pytest.raises(SegmentFormatError) as info:
        asc_nb.parse_segment(blob, report="App Crashes Expanded")
    assert (info.value.line, info.value.column, info.value.value) == (3, "count", "1,000")
    df, warned = coerce(blob, "App Crashes Expanded")
    assert_dtypes(df, expected)
    assert df["count"].isna().tolist() == [False, True]
    assert df["app_name"].tolist() == ["Café, Inc.", "Plain"]
    assert df["territory"].tolist() == ["US", "NA"]
    assert df["build"].tolist() == ["123", "124"]
    assert df["app_version"].tolist() == ["1.10", "2.0"]
    assert df["unique_devices"].isna().tolist() == [False, True]
    assert len(warned) == 1


# --------------------------------------------------------------------------- schema drift


@pytest.mark.parametrize("errors", ["raise", "coerce"])
def test_extra_column_kept_as_text_with_a_drift_warning(errors):
    header = HEADER + ["Brand New Metric"]
    blob = gz(table_text(header, [row() + ["10"], row() + [""]]))
    with pytest.warns(SchemaDriftWarning, match="Brand New Metric"):
        df = asc_nb.parse_segment(blob, report=SESSIONS, errors=errors)
    assert df["brand_new_metric"].dtype == "string"  # never inferred from its values
    assert df["brand_new_metric"].tolist()[0] == "10" and pd.isna(df["brand_new_metric"].tolist()[1])
    assert df.attrs["schema_drift"] == {"added": ["Brand New Metric"], "missing": []}
    assert_dtypes(df)


@pytest.mark.parametrize("errors", ["raise", "coerce"])
def test_missing_documented_column_is_reported(errors):
    header = [h for h in HEADER if h != "Unique Devices"]
    blob = gz(table_text(header, [row()[:-1]]))
    with pytest.warns(SchemaDriftWarning, match="Unique Devices"):
        df = asc_nb.parse_segment(blob, report=SESSIONS, errors=errors)
    assert "unique_devices" not in df.columns
    assert df.attrs["schema_drift"] == {"added": [], "missing": ["Unique Devices"]}
    assert_dtypes(df, {k: v for k, v in DTYPES.items() if k != "unique_devices"})


def test_reordered_columns_are_no_drift():
    header = list(reversed(HEADER))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        df = asc_nb.parse_segment(gz(table_text(header, [list(reversed(row()))])), report=SESSIONS)
    assert_dtypes(df)


# --------------------------------------------------------------------------- the property

_cell = st.one_of(
    st.integers(-(2**64), 2**64).map(str),
    st.sampled_from(
        [
            "",
            "1,000",
            "02/26/2026",
            "2026-03-01",
            "NA",
            "1.10",
            "1e3",
            "nan",
            "-",
            " 5",
            "0x10",
            "2026-02-30",
            "9999-12-31",
            "Café",
            "\u00a0",
        ]
    ),
    st.text(
        alphabet=st.characters(blacklist_categories=["Cs", "Cc"], blacklist_characters="\t\r\n\ufeff"),
        max_size=6,
    ),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(_cell, min_size=len(HEADER), max_size=len(HEADER)), max_size=6), st.booleans())
def test_no_input_changes_a_columns_dtype(rows, bom):
    """Whatever the cells hold: coerce keeps every registry dtype; raise keeps them or says why."""
    blob = gz(table_text(HEADER, rows), bom=bom)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ParseIssuesWarning)
        df = asc_nb.parse_segment(blob, report=SESSIONS, errors="coerce")
    assert list(df.columns) == list(DTYPES)
    assert_dtypes(df)
    assert len(df) == len(rows)
    issues = df.attrs.get("parse_issues")
    n_issues = 0 if issues is None else len(issues)
    try:
        strict = asc_nb.parse_segment(blob, report=SESSIONS)
    except SegmentFormatError as exc:
        assert n_issues and exc.line is not None and exc.column in DTYPES
        return
    assert n_issues == 0
    assert_dtypes(strict)
    pd.testing.assert_frame_equal(strict, df)


# --------------------------------------------------------------------------- batched reads


def test_batched_read_names_the_bad_file_and_keeps_the_others(tmp_path):
    paths = []
    for k, over in enumerate([{}, {"Sessions": "1,000"}, {}]):
        p = tmp_path / f"s{k}.gz"
        p.write_bytes(seg(row(), row(**over)))
        paths.append(p)
    ids = [("inst-1", f"seg-{k}") for k in range(3)]
    with pytest.raises(SegmentFormatError) as info:
        read_tables(paths, report=SESSIONS, ids=ids)
    assert (info.value.instance_id, info.value.segment_id, info.value.line) == ("inst-1", "seg-1", 3)
    assert "instance inst-1" in str(info.value) and "segment seg-1" in str(info.value)
    tables = read_tables(paths, report=SESSIONS, errors="coerce", ids=ids)
    assert [t.num_rows for t in tables] == [2, 2, 2]
    assert all(t.schema.equals(tables[0].schema, check_metadata=False) for t in tables)
    from asc_nb.data.parse import table_notes

    assert [table_notes(t).get("issues") for t in tables] == [None, [[3, "sessions", "1,000"]], None]


# --------------------------------------------------------------------------- through fetch and read_instance


def _publish(sb: Sandbox, inst_id: str, n: int, mangle) -> str:
    """Apple published a file that does not fit its report; its checksum is that file's (downloads fine)."""
    inst = sb.world.instances[inst_id]
    blobs = list(sb.world.segment_bytes(inst))
    blobs[n] = gzip.compress(mangle(gzip.decompress(blobs[n])), mtime=0)
    with sb.world.lock:
        sb.world._segment_cache[inst_id] = blobs
    return sb.world.uuid(f"segment/{inst_id}/{n}")


def _thousands(raw: bytes) -> bytes:
    lines = raw.split(b"\n")
    cells = lines[1].split(b"\t")
    cells[HEADER.index("Sessions")] = b"1,000"
    lines[1] = b"\t".join(cells)
    return b"\n".join(lines)


@pytest.fixture
def world():
    sb = Sandbox(seed=4, apps=1, history_days=10, segment_rows=40)
    with asc_nb.connect(sandbox=sb) as client:
        req = client.ensure_ongoing(client.apps().id[0])
        rep = client.reports(req.id, name=SESSIONS).iloc[0]
        insts = client.instances(rep.id, "DAILY")
        yield sb, client, req, insts


def test_fetch_coerce_carries_parse_issues_from_every_segment(world):
    sb, client, req, insts = world
    a = _publish(sb, insts.id.iloc[-2], 0, _thousands)
    b = _publish(sb, insts.id.iloc[-3], 1, _thousands)
    plan = client.plan_fetch(req.id, SESSIONS, "DAILY")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        df = client.fetch(plan, progress=False, errors="coerce", vintages=True)
    parse_warnings = [w for w in caught if issubclass(w.category, ParseIssuesWarning)]
    assert len(parse_warnings) == 1 and "2 value(s) in 2 segment(s)" in str(parse_warnings[0].message)
    assert parse_warnings[0].filename == __file__  # points at the analyst's line
    issues = df.attrs["parse_issues"]
    assert sorted(issues["segment"]) == sorted([a, b])
    assert issues[["line", "column", "value"]].values.tolist() == [[2, "sessions", "1,000"]] * 2
    assert df.attrs["typing"] == "registry"
    assert_dtypes(df)
    assert df["sessions"].isna().sum() >= 2
    # the old positional form takes errors= too
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        old = client.fetch(req.id, SESSIONS, "DAILY", errors="coerce", progress=False, vintages=True)
    assert sorted(old.attrs["parse_issues"]["segment"]) == sorted([a, b])


def test_fetch_raise_names_report_instance_and_segment(world):
    sb, client, req, insts = world
    inst_id = insts.id.iloc[-2]
    bad = _publish(sb, inst_id, 0, _thousands)
    with pytest.raises(SegmentFormatError) as info:
        client.fetch(req.id, SESSIONS, "DAILY", progress=False)
    err = info.value
    assert (err.report, err.instance_id, err.segment_id) == (SESSIONS, inst_id, bad)
    assert (err.line, err.column, err.value) == (2, "sessions", "1,000")
    for part in (SESSIONS, inst_id, bad, "line 2", "'1,000'", "errors='coerce'"):
        assert part in str(err), part


def test_read_instance_types_from_the_registry_and_takes_errors(world):
    sb, client, req, insts = world
    inst_id = insts.id.iloc[-2]
    bad = _publish(sb, inst_id, 0, _thousands)
    with pytest.raises(SegmentFormatError, match=bad):
        client.read_instance(inst_id, progress=False)
    with pytest.warns(ParseIssuesWarning):
        df = client.read_instance(inst_id, progress=False, errors="coerce")
    assert df.attrs["typing"] == "registry" and df.attrs["report"] == SESSIONS
    assert df.attrs["parse_issues"]["segment"].tolist() == [bad]
    assert_dtypes(df)


def test_fetch_to_parquet_coerce_keeps_dtypes(world, tmp_path):
    sb, client, req, insts = world
    _publish(sb, insts.id.iloc[-2], 0, _thousands)
    with pytest.warns(ParseIssuesWarning):
        root = client.fetch(req.id, SESSIONS, "DAILY", progress=False, errors="coerce", to=tmp_path / "pq")
    back = asc_nb.read_parquet(root) if hasattr(asc_nb, "read_parquet") else pd.read_parquet(root)
    assert str(back["sessions"].dtype) == "Int64"


def test_fetch_rejects_a_bad_errors_argument_before_any_call(world):
    sb, client, req, _ = world
    before = len(sb.calls)
    with pytest.raises(ValueError, match="errors must be"):
        client.fetch(req.id, SESSIONS, errors="skip")
    assert len(sb.calls) == before


def test_every_sandbox_report_parses_with_its_registry_dtypes_and_no_warning():
    """The sandbox writes every report's documented header: each parses typed, without drift or issues."""
    from asc_nb import registry
    from asc_nb.sandbox.datagen import instance_segments

    app = {"id": "1234567890", "name": "Strict"}
    checked = 0
    for schema in registry.reports():
        g = schema.granularities[0].value
        blob = instance_segments(1, app, schema.name, g, "2026-03-05", "ONGOING", data_scale=0.3)[0]
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            df = asc_nb.parse_segment(blob, report=schema.name)
        assert df.attrs["typing"] == ("registry" if schema.fields else "names"), schema.name
        for f in schema.fields:
            assert df[f.column].dtype == f.dtype, (schema.name, f.column, df[f.column].dtype)
            checked += 1
    assert checked > 1000
