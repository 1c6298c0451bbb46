"""Latest-vintage dedupe and date coverage."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow as pa

from asc_nb.data.parse import arrow_to_pandas, read_table, unify_tables
from asc_nb.data.vintage import expected_dates, latest_vintage, missing_dates
from asc_nb.sandbox.datagen import covered_dates, instance_segments, rows_for_date

APP = {"id": "1234567890", "name": "Café App"}
REPORT = "App Sessions Standard"


def frame(rows):
    return pd.DataFrame(rows, columns=["date", "territory", "counts", "processing_date"]).astype(
        {"date": "datetime64[ns]", "processing_date": "datetime64[ns]", "counts": "Int64"}
    )


def test_latest_per_date_replaces_the_whole_batch():
    df = frame(
        [
            ("2026-03-01", "US", 8, "2026-03-02"),
            ("2026-03-01", "FR", 1, "2026-03-02"),  # gone in the restatement: must not survive
            ("2026-03-01", "US", 10, "2026-03-04"),
            ("2026-03-02", "US", 5, "2026-03-03"),
            ("2026-03-02", "US", 6, "2026-03-03"),  # same vintage (another segment): both kept
        ]
    )
    out = latest_vintage(df)
    assert out["counts"].tolist() == [10, 5, 6]
    by_dim = latest_vintage(df, by=["territory"])  # per Date + dimensions keeps the orphan
    assert sorted(by_dim["counts"].tolist()) == [1, 5, 6, 10]


def test_no_provenance_or_empty_is_unchanged():
    df = pd.DataFrame({"date": [1, 2], "x": [3, 4]})
    assert latest_vintage(df) is df
    empty = frame([])
    assert latest_vintage(empty).empty


def test_nat_dates_are_kept():
    df = frame([(None, "US", 1, "2026-03-02"), ("2026-03-01", "US", 2, "2026-03-02")])
    assert len(latest_vintage(df)) == 2


def test_restated_dates_reach_the_final_values():
    """Three overlapping daily instances parsed from real segment files; dedupe must equal the truth."""
    tables = []
    for pdate in ("2026-03-05", "2026-03-06", "2026-03-07"):
        for blob in instance_segments(0, APP, REPORT, "DAILY", pdate, "ONGOING", segment_rows=150):
            t = read_table(blob)
            tables.append(
                t.append_column(
                    "processing_date", pa.array([pd.Timestamp(pdate)] * t.num_rows, pa.timestamp("ns"))
                )
            )
    raw = arrow_to_pandas(unify_tables(tables))
    out = latest_vintage(raw)
    # Dates 03-02 .. 03-06 appear; 03-04 is in all three instances
    seen = {
        d for p in ("2026-03-05", "2026-03-06", "2026-03-07") for d, _ in covered_dates("DAILY", p, "ONGOING")
    }
    assert seen == {dt.date(2026, 3, d) for d in range(2, 7)}
    for day in sorted(seen):
        latest = max(
            p
            for p in ("2026-03-05", "2026-03-06", "2026-03-07")
            if any(d == day for d, _ in covered_dates("DAILY", p, "ONGOING"))
        )
        vintage = dict(covered_dates("DAILY", latest, "ONGOING"))[day]
        truth = rows_for_date(0, APP, REPORT, "DAILY", day, vintage)
        got = out[out["date"] == pd.Timestamp(day)]
        assert len(got) == len(truth)
        assert got["sessions"].sum() == truth["Sessions"].sum()
        assert got["unique_devices"].sum() == truth["Unique Devices"].sum()
    day4 = pd.Timestamp("2026-03-04")
    final = rows_for_date(0, APP, REPORT, "DAILY", day4)["Sessions"].sum()
    assert out.loc[out["date"] == day4, "sessions"].sum() == final
    assert raw.loc[raw["date"] == day4, "sessions"].sum() > 2 * final  # what naive summing reports


def test_expected_dates():
    assert expected_dates("2026-03-01", "2026-03-03") == [dt.date(2026, 3, d) for d in (1, 2, 3)]
    assert expected_dates("2026-03-04", "2026-03-17", "WEEKLY") == [
        dt.date(2026, 3, 2),
        dt.date(2026, 3, 9),
        dt.date(2026, 3, 16),
    ]
    assert expected_dates("2026-01-15", "2026-03-01", "monthly") == [
        dt.date(2026, 1, 1),
        dt.date(2026, 2, 1),
        dt.date(2026, 3, 1),
    ]
    assert expected_dates("2026-03-02", "2026-03-01") == []


def test_missing_dates():
    df = frame([("2026-03-01", "US", 1, "2026-03-02"), ("2026-03-03", "US", 1, "2026-03-04")])
    assert missing_dates(df, "2026-03-01", "2026-03-04") == [dt.date(2026, 3, 2), dt.date(2026, 3, 4)]
    assert missing_dates(pd.DataFrame(), "2026-03-01", "2026-03-01") == [dt.date(2026, 3, 1)]
