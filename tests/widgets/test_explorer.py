"""ReportsExplorer: report → instances + estimate → download on the worker (cancel) → chart, grid, code, export."""

from __future__ import annotations

import datetime
import time

import pandas as pd
import pytest

import asc_nb
from asc_nb.widgets import ReportsExplorer, charts

REPORT = "App Sessions Standard"
DOWNLOADS = "App Downloads Standard"


@pytest.fixture
def request_id(client, app_ids, sandbox) -> str:
    req = client.create_report_request(app_ids[0], "ONGOING")
    sandbox.advance(days=6)
    return req.id


def opened(client, request_id) -> ReportsExplorer:
    ex = ReportsExplorer(client, request_id)
    assert ex.wait(30) and ex.error is None, ex.status.text
    return ex


def downloaded(client, request_id, report=REPORT) -> ReportsExplorer:
    ex = opened(client, request_id)
    ex.select_report(report)
    ex.download.click()
    assert ex.wait(120)
    assert ex.error is None, ex.status.text
    return ex


def test_reports_filter_by_category_and_search_and_count(client, request_id) -> None:
    ex = opened(client, request_id)
    everything = len(ex.report.options)
    assert everything == len(client.reports(request_id)) > 50
    assert f"{everything} of {everything} reports" in ex.count.value
    ex.category.value = "APP_USAGE"
    usage = [label for label, _ in ex.report.options]
    assert 0 < len(usage) < everything and REPORT in usage
    ex.search.value = "sessions stand"
    assert [label for label, _ in ex.report.options] == [REPORT]
    ex.search.value = "no such report"
    assert ex.report.options == () and f"0 of {everything} reports" in ex.count.value
    assert ex.download.disabled and ex.list_instances.disabled


def test_title_names_the_app_not_its_id(client, request_id, app_ids) -> None:
    ex = opened(client, request_id)
    name = client.app(app_ids[0]).name
    assert (
        f"Reports of {name}" in ex.title.value and f"app id {app_ids[0]}" in ex.title.value
    )  # id in the tooltip


def test_empty_explorer_says_how_to_get_there(client) -> None:
    ex = ReportsExplorer(client)
    assert "Explore reports" in ex.hint.value and ex.hint.layout.display != "none"
    assert ex.download.disabled and ex.frame is None and ex.code == ""


def test_download_matches_fetch_progress_and_code_round_trip(client, request_id, tmp_path) -> None:
    ex = opened(client, request_id)
    ex.select_report(REPORT)
    ex.find_instances()
    ex.wait()
    inst = ex.instances
    assert inst is not None and len(inst) >= 3
    assert ex.estimate["calls"] == len(inst) and "of the hourly budget" in ex.estimate_line.value
    seen: list[int] = []
    ex.progress.observe(lambda ch: seen.append(ch["new"]), names="value")
    ex.download.click()
    ex.wait(120)
    assert ex.error is None, ex.status.text
    assert ex.progress.value == 100 and ex.progress.bar_style == "success"
    assert seen == sorted(seen) and len(seen) >= 2  # it moved, it never went back
    assert "100%" in ex.progress_text.value
    expected = client.fetch(
        request_id,
        REPORT,
        granularity="DAILY",
        start=ex.start.value.isoformat(),
        end=ex.end.value.isoformat(),
    )
    pd.testing.assert_frame_equal(ex.frame, expected)
    assert (ex.start.value.isoformat(), ex.end.value.isoformat()) == ("2026-03-01", "2026-03-07")
    assert "Covers data dates" in ex.instances_table.value and "2026-03-0" in ex.instances_table.value
    ns: dict = {"client": client}
    exec(ex.code, ns)  # the plotting lines run too
    pd.testing.assert_frame_equal(ns["df"], ex.frame)
    ex.show_code.click()
    assert "client.fetch(" in ex.code_view.value
    out = ex.export(tmp_path / "sessions.parquet")
    assert len(pd.read_parquet(out)) == len(ex.frame)
    ex.export_path.value = str(tmp_path / "sessions.csv")
    ex.export_button.click()
    assert ex.status.level == "ok" and len(pd.read_csv(tmp_path / "sessions.csv")) == len(ex.frame)


def test_grid_shows_every_column_with_human_headers(client, request_id) -> None:
    ex = downloaded(client, request_id)
    header = ex.grid._dt_args["table_html"]
    for col in ex.frame.columns:
        assert f">{charts.human(col, REPORT)}<" in header
    assert ">Sessions<" in header and "_" not in header.split("<th")[1]
    assert (
        ex.grid._dt_args["pageLength"] == 10 and ex.grid._dt_args["columnDefs"]
    )  # paging, thousands separators


def test_app_downloads_chart_plots_first_time_plus_redownloads(client, request_id) -> None:
    ex = downloaded(client, request_id, DOWNLOADS)
    assert ex.measure.value == "downloads" and ex.measure.label.startswith(
        "Downloads (first-time + redownloads)"
    )
    raw = ex.frame
    today = client.sandbox.now.date()
    # by hand: sum counts over the two chosen download types, per date
    keep = raw[raw["download_type"].isin(["First-time Download", "Redownload"])]
    by_hand = keep.groupby("date")["counts"].sum()
    data = ex.chart_data
    assert list(data.columns) == ["date", "downloads", "complete"]
    assert data.set_index("date")["downloads"].astype(int).to_dict() == by_hand.astype(int).to_dict()
    assert data["downloads"].sum() < raw["counts"].sum()  # updates and restores are not downloads
    final = today - datetime.timedelta(days=charts.complete_days(DOWNLOADS))  # the registry's window, else 2
    assert data["complete"].tolist() == [d.date() <= final for d in data["date"]]
    assert not data["complete"].iloc[-1] and "provisional" in ex.chart_note.value
    assert ex.plot.value[:8] == b"\x89PNG\r\n\x1a\n" and ex.plot.layout.display is None


def test_breakdown_keeps_top_n_and_groups_the_rest_as_other(client, request_id) -> None:
    ex = downloaded(client, request_id, DOWNLOADS)
    ex.top.value = 3
    ex.breakdown.value = "territory"
    data = ex.chart_data
    raw = ex.frame[ex.frame["download_type"].isin(["First-time Download", "Redownload"])]
    totals = raw.groupby("territory")["counts"].sum().sort_values(ascending=False, kind="stable")
    top = list(totals.index[:3])
    assert list(data.columns) == ["date", "territory", "downloads", "complete"]
    assert set(data["territory"]) == set(top) | {"Other"}
    day = data["date"].iloc[0]
    rows = raw[raw["date"] == day]
    other = int(rows[~rows["territory"].isin(top)]["counts"].sum())
    got = data[(data["date"] == day)].set_index("territory")["downloads"]
    assert int(got["Other"]) == other
    for t in top:
        assert int(got.get(t, 0)) == int(rows[rows["territory"] == t]["counts"].sum())
    assert "breakdown='territory'" in ex.code and "plot_chart(chart" in ex.code


def test_unique_counts_are_never_summed(client, request_id) -> None:
    ex = downloaded(client, request_id)
    assert "unique_devices" in [v for _, v in ex.measure.options]
    ex.measure.value = "unique_devices"  # one row per date and territory/device/…: summing would over-count
    assert (
        ex.chart_data is None and "unique count" in ex.chart_note.value and ex.plot.layout.display == "none"
    )
    with pytest.raises(asc_nb.NonAdditiveMetricError, match="weeks or months"):
        charts.chart_data(
            ex.frame.drop_duplicates("date"), REPORT, measures="unique_devices", period="WEEKLY"
        )
    ex.measure.value = "sessions"
    ex.view.value = "WEEKLY"
    weekly = ex.chart_data
    assert weekly["sessions"].sum() == ex.frame["sessions"].sum()  # sessions add up
    assert all(d.weekday() == 0 for d in weekly["date"])


def test_changing_the_choice_clears_what_no_longer_applies(client, request_id) -> None:
    ex = downloaded(client, request_id)
    assert ex.frame is not None and ex.instances is not None
    ex.start.value = datetime.date(2026, 3, 5)
    assert ex.instances is None and ex.instances_table.value == "" and ex.frame is None
    assert ex.chart_data is None and ex.grid_box.children == () and ex.progress.value == 0 and ex.code == ""
    ex.find_instances()
    ex.wait()
    ex.select_report(DOWNLOADS)
    assert ex.instances is None and ex.estimate is None and ex.estimate_line.value == ""


def test_download_failure_shows_in_the_panel(client, request_id, sandbox) -> None:
    ex = opened(client, request_id)
    ex.select_report(REPORT)
    sandbox.faults.add("corrupt", host="download", count=None)
    ex.download.click()
    ex.wait(120)
    assert isinstance(ex.error, asc_nb.ChecksumError)
    assert ex.status.level == "error" and ex.progress.bar_style == "danger"
    assert ex.frame is None and not ex.busy


def test_new_request_has_no_instances_yet(client, app_ids) -> None:
    req = client.create_report_request(app_ids[1], "ONGOING")
    ex = opened(client, req.id)
    ex.select_report(REPORT)
    ex.find_instances()
    ex.wait()
    assert ex.instances is not None and ex.instances.empty
    assert "first reports take 1–2 days" in ex.instances_table.value


def test_unknown_request_shows_an_error(client) -> None:
    ex = ReportsExplorer(client, "00000000-0000-0000-0000-000000000000")
    ex.wait()
    assert isinstance(ex.error, asc_nb.NotFoundError)
    assert ex.status.level == "error" and ex.report.options == ()


def test_every_call_runs_off_the_kernel_thread(client, request_id, sandbox) -> None:
    ex = opened(client, request_id)
    ex.select_report(REPORT)
    sandbox.faults.add("slow", path="/instances", seconds=0.5)
    began = time.monotonic()
    ex.list_instances.click()
    assert time.monotonic() - began < 0.3 and ex.busy and ex.list_instances.disabled
    ex.wait()
    assert ex.instances is not None and not ex.busy
    sandbox.faults.add("slow", host="download", count=None, seconds=0.2)
    began = time.monotonic()
    ex.download.click()
    assert time.monotonic() - began < 0.2  # click() came straight back
    assert ex.busy and ex.download.disabled and ex.report.disabled and ex.start.disabled
    ex.wait(120)
    assert ex.progress.value == 100 and not ex.busy and ex.error is None and not ex.download.disabled


def test_cancel_stops_the_download_and_keeps_nothing(client, request_id, sandbox) -> None:
    ex = opened(client, request_id)
    ex.select_report(REPORT)
    ex.start.value = datetime.date(2026, 3, 1)
    sandbox.faults.add("slow", host="download", count=None, seconds=0.3)
    ex.download.click()
    deadline = time.monotonic() + 10
    while ex.cancel.disabled and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not ex.cancel.disabled
    began = time.monotonic()
    ex.cancel.click()
    ex.wait(30)
    assert time.monotonic() - began < 3, "cancel waited for the whole download"
    assert (
        ex.frame is None and ex.error is None and ex.status.level == "warn" and "cancelled" in ex.status.text
    )
    assert ex.cancel.disabled and not ex.download.disabled
    cache = client.downloads.cache_dir if hasattr(client.downloads, "cache_dir") else None
    if cache is not None:
        assert not [p for p in cache.rglob("*") if p.is_file() and p.suffix in (".part", ".tmp")]


def test_a_costly_download_asks_first(client, request_id, monkeypatch) -> None:
    from asc_nb.widgets import explorer

    monkeypatch.setattr(explorer, "CONFIRM_SHARE", 0.0001)  # any download is "costly" here
    ex = opened(client, request_id)
    ex.select_report(REPORT)
    ex.download.click()
    ex.wait()
    assert (
        ex.frame is None
        and ex.confirm_box.layout.display is None
        and "Download anyway?" in ex.confirm_text.value
    )
    ex.not_now.click()
    assert ex.confirm_box.layout.display == "none" and ex.frame is None
    ex.download.click()
    ex.wait()
    ex.confirm.click()
    ex.wait(120)
    assert ex.frame is not None and ex.error is None


def test_dates_without_rows_name_the_real_reason(client, request_id) -> None:
    ex = opened(client, request_id)
    ex.select_report(REPORT)
    ex.start.value = datetime.date(2026, 2, 20)  # the request was created on 2026-03-02
    ex.download.click()
    ex.wait(120)
    assert ex.error is None and ex.progress.value == 100
    assert ex.result["missing_dates"] and ex.status.level == "warn"
    assert "before this ONGOING request's first report" in ex.status.text
    assert "ONE_TIME_SNAPSHOT request holds the history" in ex.status.text
    assert "privacy" not in ex.status.text


@pytest.mark.parametrize("days", [0, 10**6, 2.5])
def test_window_size_is_checked(client, days) -> None:
    with pytest.raises(ValueError, match="days must be"):
        ReportsExplorer(client, days=days)
