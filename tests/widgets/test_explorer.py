"""ReportsExplorer: report → instances → threaded download with progress → preview equal to ``client.fetch``."""

from __future__ import annotations

import datetime
import time

import pandas as pd
import pytest

import asc_nb
from asc_nb.widgets import ReportsExplorer
from asc_nb.widgets.explorer import main_measure

REPORT = "App Sessions Standard"


@pytest.fixture
def request_id(client, app_ids, sandbox) -> str:
    req = client.create_report_request(app_ids[0], "ONGOING")
    sandbox.advance(days=6)
    return req.id


def test_reports_filter_by_category_and_search(client, request_id) -> None:
    ex = ReportsExplorer(client, request_id)
    everything = len(ex.report.options)
    assert everything == len(client.reports(request_id)) > 50
    ex.category.value = "APP_USAGE"
    usage = [label for label, _ in ex.report.options]
    assert 0 < len(usage) < everything and REPORT in usage
    ex.search.value = "sessions stand"
    assert [label for label, _ in ex.report.options] == [REPORT]
    assert ex.report_name == REPORT


def test_download_all_reaches_100_percent_and_matches_fetch(client, request_id) -> None:
    ex = ReportsExplorer(client, request_id)
    ex.select_report(REPORT)
    ex.granularity.value = "DAILY"
    inst = ex.find_instances()
    assert inst is not None and len(inst) >= 3
    assert ex.status.text.startswith(f"{len(inst)} DAILY instance(s)")
    seen: list[int] = []
    ex.progress.observe(lambda ch: seen.append(ch["new"]), names="value")

    ex.download.click()
    ex.wait(120)
    assert ex.error is None, ex.status.text
    assert ex.progress.value == 100 and ex.progress.bar_style == "success"
    assert seen == sorted(seen) and len(seen) >= 2  # it moved, it never went back
    expected = client.fetch(request_id, REPORT, granularity="DAILY",
                            start=ex.start.value.isoformat(), end=ex.end.value.isoformat())
    pd.testing.assert_frame_equal(ex.frame, expected)
    assert ex.result["shape"] == expected.shape and ex.result["instances"] == len(inst)
    assert ex.result["missing_dates"] == expected.attrs["missing_dates"] == []
    assert (ex.start.value.isoformat(), ex.end.value.isoformat()) == ("2026-03-01", "2026-03-07")
    assert f"{expected.shape[0]}</b> rows" in ex.preview.value
    assert ex.plot.value[:8] == b"\x89PNG\r\n\x1a\n" and ex.plot.layout.display is None
    assert not ex.busy and not ex.download.disabled


def test_download_failure_shows_in_the_panel(client, request_id, sandbox) -> None:
    ex = ReportsExplorer(client, request_id)
    ex.select_report(REPORT)
    ex.find_instances()
    sandbox.faults.add("corrupt", host="download", count=None)
    ex.download.click()
    ex.wait(120)
    assert isinstance(ex.error, asc_nb.ChecksumError)
    assert ex.status.level == "error" and ex.progress.bar_style == "danger"
    assert ex.frame is None and not ex.busy


def test_new_request_has_no_instances_yet(client, app_ids) -> None:
    req = client.create_report_request(app_ids[1], "ONGOING")
    ex = ReportsExplorer(client, req.id)
    ex.select_report(REPORT)
    inst = ex.find_instances()
    assert inst is not None and inst.empty
    assert "first reports take 1–2 days" in ex.instances_table.value


def test_unknown_request_shows_an_error(client) -> None:
    ex = ReportsExplorer(client, "00000000-0000-0000-0000-000000000000")
    assert isinstance(ex.error, asc_nb.NotFoundError)
    assert ex.status.level == "error" and ex.report.options == ()


def test_main_measure_prefers_counts() -> None:
    frame = pd.DataFrame({"date": pd.to_datetime(["2026-03-01"]), "app_apple_identifier": [1],
                          "unique_devices": [2], "counts": [3]})
    assert main_measure(frame) == "counts"
    assert main_measure(frame.drop(columns="counts")) == "unique_devices"
    assert main_measure(frame[["date"]]) is None


def test_download_runs_in_a_thread_so_the_kernel_stays_free(client, request_id, sandbox) -> None:
    ex = ReportsExplorer(client, request_id)
    ex.select_report(REPORT)
    ex.find_instances()
    sandbox.faults.add("slow", host="download", count=None, seconds=0.2)
    began = time.monotonic()
    ex.download.click()
    assert time.monotonic() - began < 0.2  # click() came straight back
    assert ex.busy and ex.download.disabled and ex.progress.value < 100
    ex.wait(120)
    assert ex.progress.value == 100 and not ex.busy and ex.error is None


def test_dates_without_rows_are_named(client, request_id) -> None:
    ex = ReportsExplorer(client, request_id)
    ex.select_report(REPORT)
    ex.start.value = datetime.date(2026, 2, 20)
    ex.find_instances()
    ex.download.click()
    ex.wait(120)
    assert ex.error is None and ex.progress.value == 100
    assert ex.result["missing_dates"] and ex.status.level == "warn"
    assert f"No rows yet for {len(ex.result['missing_dates'])} date(s): 2026-02-20" in ex.status.text


def test_changing_the_dates_drops_the_listed_instances(client, request_id) -> None:
    ex = ReportsExplorer(client, request_id)
    ex.select_report(REPORT)
    assert ex.find_instances() is not None and ex.instances is not None
    ex.start.value = datetime.date(2026, 3, 5)
    assert ex.instances is None and ex.instances_table.value == ""


@pytest.mark.parametrize("days", [0, 10**6, 2.5])
def test_window_size_is_checked(client, days) -> None:
    with pytest.raises(ValueError, match="days must be"):
        ReportsExplorer(client, days=days)
