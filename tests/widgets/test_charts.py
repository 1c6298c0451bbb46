"""chart_data on small hand-made frames: every number below is worked out by hand."""

from __future__ import annotations

import pandas as pd
import pytest

import asc_nb
from asc_nb.widgets.charts import chart_data, measure_options, plot_png

DL = "First-time Download"


def downloads() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "date": pd.to_datetime(["2026-03-01"] * 4 + ["2026-03-02"] * 3),
            "download_type": [DL, "Redownload", "Auto-update", "Restore", DL, "Manual update", DL],
            "territory": ["US", "US", "US", "FR", "FR", "US", "DE"],
            "counts": pd.array([10, 5, 100, 7, 3, 50, 2], dtype="Int64"),
        }
    )


def test_downloads_are_first_time_plus_redownloads() -> None:
    data = chart_data(downloads(), "App Downloads Standard", today="2026-03-10")
    assert list(data.columns) == ["date", "downloads", "complete"]
    assert data["downloads"].tolist() == [10 + 5, 3 + 2] and data["complete"].all()
    every = chart_data(downloads(), measures=["downloads", "updates", "counts"], today="2026-03-10")
    assert every[["downloads", "updates", "counts"]].values.tolist() == [[15, 100, 122], [5, 50, 55]]
    assert [m.key for m in measure_options(downloads())][0] == "downloads"


def test_breakdown_top_n_and_other() -> None:
    data = chart_data(downloads(), measures="downloads", breakdown="territory", top=1, today="2026-03-10")
    # totals of downloads: US 15, FR 3, DE 2 -> top 1 is US, the rest is Other
    got = {(d.day, t): v for d, t, v in zip(data["date"], data["territory"], data["downloads"], strict=True)}
    assert got == {(1, "US"): 15, (1, "Other"): 0, (2, "US"): 0, (2, "Other"): 5}


def test_provisional_dates_follow_the_window() -> None:
    data = chart_data(downloads(), complete_after_days=2, today="2026-03-03")
    assert data["complete"].tolist() == [True, False]  # 03-01 is final two days later, 03-02 is not yet
    weekly = chart_data(downloads(), period="WEEKLY", complete_after_days=2, today="2026-03-09")
    # 2026-03-01 is a Sunday (week of Monday 02-23), 2026-03-02 a Monday (week of 03-02)
    assert weekly["date"].dt.strftime("%Y-%m-%d").tolist() == ["2026-02-23", "2026-03-02"]
    assert weekly["complete"].tolist() == [True, False]  # the week ending 03-08 is not final on 03-09


def test_unique_counts_are_never_summed() -> None:
    frame = pd.DataFrame(
        {
            "date": pd.to_datetime(["2026-03-01", "2026-03-01", "2026-03-02"]),
            "device": ["iPhone", "iPad", "iPhone"],
            "unique_devices": pd.array([4, 3, 5], "Int64"),
        }
    )
    with pytest.raises(asc_nb.NonAdditiveMetricError, match="unique count"):
        chart_data(frame, measures="unique_devices")  # 4 + 3 would count a device on both twice
    by_device = chart_data(frame, measures="unique_devices", breakdown="device", today="2026-03-10")
    # one row per date and device, nothing summed; within a date the larger total (iPhone 9) comes first
    assert by_device["device"].tolist() == ["iPhone", "iPad", "iPhone"]
    assert by_device["unique_devices"].tolist() == [4, 3, 5]
    with pytest.raises(asc_nb.NonAdditiveMetricError, match="weeks or months"):
        chart_data(frame[frame.device == "iPhone"], measures="unique_devices", period="MONTHLY")


def test_bad_arguments_say_what_to_choose() -> None:
    with pytest.raises(asc_nb.ConfigError, match="choose from"):
        chart_data(downloads(), measures="sessions")
    with pytest.raises(asc_nb.ConfigError, match="break down"):
        chart_data(downloads(), breakdown="nope")


def test_plot_renders_a_png() -> None:
    png = plot_png(chart_data(downloads(), today="2026-03-02"))
    assert png is not None and png[:8] == b"\x89PNG\r\n\x1a\n"


def test_download_types_match_in_any_case_like_the_metrics() -> None:
    # Apple's glossaries spell "First-time download" with either case; the chart must not plot zero for one of them
    frame = downloads()
    frame["download_type"] = frame["download_type"].str.lower()
    data = chart_data(frame, "App Downloads Standard", today="2026-03-10")
    assert data["downloads"].tolist() == [10 + 5, 3 + 2]
