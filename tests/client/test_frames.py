"""Frame schemas: fixed columns and dtypes, empty or not; enums keep all categories."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from asc_nb import frames
from asc_nb.models import AccessType, Category, Granularity
from asc_nb.records import App, Instance, Report, ReportRequest, Segment

COLUMNS = {
    "apps": ["id", "name", "bundle_id", "sku", "primary_locale"],
    "report_requests": ["id", "access_type", "stopped_due_to_inactivity", "app_id"],
    "reports": ["id", "name", "category", "request_id"],
    "instances": ["id", "granularity", "processing_date", "report_id"],
    "segments": ["id", "checksum", "size_in_bytes", "url", "instance_id"],
}


@pytest.mark.parametrize("kind", list(COLUMNS))
def test_empty_frames(kind):
    df = frames.empty(kind)
    assert list(df.columns) == COLUMNS[kind] and len(df) == 0
    assert df["id"].dtype == frames.STRING


def test_dtypes_when_filled_match_empty():
    samples = {
        "apps": [App("1", "A", "com.a", "A1", "en-US")],
        "report_requests": [ReportRequest("r", AccessType.ONGOING, False, "1")],
        "reports": [Report("x", "App Crashes", Category.APP_USAGE, "r")],
        "instances": [Instance("i", Granularity.WEEKLY, dt.date(2026, 1, 5), "x")],
        "segments": [Segment("s", "abc", 123, "https://d/x", "i")],
    }
    for kind, records in samples.items():
        full = frames.to_frame(kind, records)
        assert full.dtypes.to_dict() == frames.empty(kind).dtypes.to_dict(), kind


def test_specific_dtypes():
    df = frames.to_frame("instances", [Instance("i", Granularity.DAILY, dt.date(2026, 3, 1), "x")])
    assert str(df["processing_date"].dtype) == "datetime64[ns]"
    assert df["processing_date"][0] == pd.Timestamp("2026-03-01")
    assert list(df["granularity"].cat.categories) == ["DAILY", "WEEKLY", "MONTHLY"]
    seg = frames.to_frame("segments", [Segment("s", None, None, None, None)])
    assert str(seg["size_in_bytes"].dtype) == "Int64" and seg["size_in_bytes"].isna().all()
    req = frames.to_frame("report_requests", [ReportRequest("r", AccessType.ONE_TIME_SNAPSHOT, None, None)])
    assert str(req["stopped_due_to_inactivity"].dtype) == "boolean"
    assert req["access_type"].value_counts()["ONGOING"] == 0  # all categories present


def test_unknown_enum_value_does_not_break_dtype():
    rec = Report.from_resource(
        {"type": "analyticsReports", "id": "x", "attributes": {"name": "New", "category": "SOMETHING_NEW"}}
    )
    assert rec.category == "SOMETHING_NEW"
    df = frames.to_frame("reports", [rec])
    assert df["category"].isna().all() and df.dtypes.to_dict() == frames.empty("reports").dtypes.to_dict()


def test_concat_keeps_schema():
    a = frames.to_frame("reports", [Report("x", "A", Category.COMMERCE, "r")])
    b = frames.empty("reports")
    assert pd.concat([a, b]).dtypes.to_dict() == a.dtypes.to_dict()


def test_record_repr_html_escapes():
    rec = App("1", "<b>Hi</b>")
    assert "&lt;b&gt;" in rec._repr_html_()
    assert repr(rec) == "App(id='1', name='<b>Hi</b>')"
    assert ReportRequest("r", AccessType.ONGOING).to_dict()["access_type"] == "ONGOING"
