"""The data generator: schedule, restatements, exact totals, files, determinism, speed."""

from __future__ import annotations

import csv
import gzip
import io
import math
import time
from datetime import date, timedelta

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asc_nb.models import AccessType, Category, Granularity
from asc_nb.sandbox import datagen
from asc_nb.sandbox.catalog import catalog, find_report
from asc_nb.sandbox.datagen import (
    FINAL_VINTAGE,
    covered_dates,
    instance_rows,
    instance_segments,
    is_processing_date,
    rows_for_date,
)

APP = {"id": "1476097583", "name": "Café Racer"}
P = date(2026, 3, 5)  # a Thursday and the 5th
DAILY, WEEKLY, MONTHLY = Granularity.DAILY, Granularity.WEEKLY, Granularity.MONTHLY
ONGOING, SNAPSHOT = AccessType.ONGOING, AccessType.ONE_TIME_SNAPSHOT


@pytest.fixture(autouse=True)
def _fresh_caches():
    """Each test regenerates: a cache must never be what makes two results equal."""
    datagen.clear_caches()


def _text(segment: bytes) -> str:
    return gzip.decompress(segment).decode("utf-8")


def _parse(segments: list[bytes], delimiter: str = "\t") -> tuple[list[list[str]], list[list[str]]]:
    """(headers, rows) of every segment, parsed the way a careful client would."""
    headers, rows = [], []
    for seg in segments:
        text = _text(seg).removeprefix("\ufeff")
        records = list(
            csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quoting=csv.QUOTE_MINIMAL)
        )
        headers.append(records[0])
        rows.extend(records[1:])
    return headers, rows


def _as_text(df: pd.DataFrame) -> list[list[str]]:
    """instance_rows as the strings the file must hold (blank = "")."""
    cols = []
    for name in df.columns:
        s = df[name]
        if pd.api.types.is_datetime64_any_dtype(s):
            cols.append(["" if pd.isna(v) else v.strftime("%Y-%m-%d") for v in s])
        else:
            cols.append(["" if pd.isna(v) else str(v) for v in s])
    return [list(r) for r in zip(*cols, strict=True)]


# --------------------------------------------------------------------------- schedule


def test_daily_ongoing_restates_two_earlier_dates():
    assert covered_dates(DAILY, P, ONGOING) == [
        (date(2026, 3, 2), 2),
        (date(2026, 3, 3), 1),
        (date(2026, 3, 4), 0),
    ]
    assert covered_dates("daily", "2026-03-05", "ONGOING") == covered_dates(DAILY, P, ONGOING)
    assert FINAL_VINTAGE == 2


def test_snapshot_daily_holds_only_final_values_for_the_previous_day():
    assert covered_dates(DAILY, P, SNAPSHOT) == [(date(2026, 3, 4), FINAL_VINTAGE)]


def test_weekly_on_friday_is_previous_monday_to_sunday():
    friday = date(2026, 3, 6)
    assert is_processing_date(WEEKLY, friday) and not is_processing_date(WEEKLY, P)
    assert covered_dates(WEEKLY, friday, ONGOING) == [(date(2026, 2, 23), FINAL_VINTAGE)]
    assert covered_dates(WEEKLY, friday, SNAPSHOT) == [(date(2026, 2, 23), FINAL_VINTAGE)]


def test_monthly_on_the_fifth_is_previous_month():
    assert is_processing_date(MONTHLY, P) and not is_processing_date(MONTHLY, date(2026, 3, 6))
    assert covered_dates(MONTHLY, P, ONGOING) == [(date(2026, 2, 1), FINAL_VINTAGE)]
    assert covered_dates(MONTHLY, date(2026, 1, 5), ONGOING) == [(date(2025, 12, 1), FINAL_VINTAGE)]
    assert covered_dates(MONTHLY, date(2026, 3, 4), ONGOING) == [(date(2026, 1, 1), FINAL_VINTAGE)]


@settings(max_examples=200, deadline=None)
@given(st.dates(min_value=date(2024, 1, 1), max_value=date(2030, 12, 31)))
def test_periods_are_the_latest_complete_ones_five_days_back(p):
    ((monday, v),) = covered_dates(WEEKLY, p, ONGOING)
    sunday = monday + timedelta(days=6)
    assert monday.weekday() == 0 and v == FINAL_VINTAGE
    assert sunday <= p - timedelta(days=5) < sunday + timedelta(days=7)
    ((first, _),) = covered_dates(MONTHLY, p, ONGOING)
    nxt = (first + timedelta(days=32)).replace(day=1)
    assert first.day == 1
    assert (
        nxt - timedelta(days=1)
        <= p - timedelta(days=5)
        < (nxt + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    )
    if is_processing_date(WEEKLY, p):
        assert sunday == p - timedelta(days=5)
    if is_processing_date(MONTHLY, p):
        assert nxt == p.replace(day=1)


# --------------------------------------------------------------------------- values and restatement


def test_weekly_and_monthly_rows_carry_the_period_start_as_date():
    w = instance_rows(0, APP, "App Sessions Standard", WEEKLY, date(2026, 3, 6), ONGOING)
    m = instance_rows(0, APP, "App Sessions Standard", MONTHLY, P, ONGOING)
    assert len(w) and len(m)
    assert set(w["Date"]) == {pd.Timestamp("2026-02-23")}
    assert set(m["Date"]) == {pd.Timestamp("2026-02-01")}
    d = instance_rows(0, APP, "App Sessions Standard", DAILY, P, ONGOING)
    assert len(m) > len(w) > len(d) / 3  # longer periods have more dimension combinations


def test_vintages_are_fixed_fractions_of_the_final_value_on_the_same_rows():
    name = "App Downloads Detailed"
    dims = list(find_report(name).dimensions)
    final = rows_for_date(0, APP, name, DAILY, "2026-03-02")
    for vintage, pct in ((0, 80), (1, 95), (2, 100), (5, 100)):
        early = rows_for_date(0, APP, name, DAILY, "2026-03-02", vintage)
        pd.testing.assert_frame_equal(early[dims], final[dims])  # the same rows at every vintage
        assert early["Counts"].isna().equals(final["Counts"].isna())
        expected = final["Counts"] * pct // 100
        assert (early["Counts"].fillna(-1) == expected.fillna(-1)).all()
    assert rows_for_date(0, APP, name, DAILY, "2026-03-02", 0)["Counts"].sum() < final["Counts"].sum()


def test_instance_rows_are_the_covered_dates_at_their_vintages():
    name = "App Sessions Detailed"
    inst = instance_rows(0, APP, name, DAILY, P, ONGOING)
    parts = [rows_for_date(0, APP, name, DAILY, d, v) for d, v in covered_dates(DAILY, P, ONGOING)]
    pd.testing.assert_frame_equal(inst, pd.concat(parts, ignore_index=True))


def test_latest_vintage_total_equals_sum_of_finals_and_raw_sum_overcounts():
    """What issue 4's dedupe must reproduce: keep the greatest processingDate per Date + dimensions."""
    name = "App Sessions Standard"
    spec = find_report(name)
    frames = []
    for k in range(10):
        p = date(2026, 3, 1) + timedelta(days=k)
        df = instance_rows(3, APP, name, DAILY, p, ONGOING)
        frames.append(df.assign(processing_date=pd.Timestamp(p)))
    allrows = pd.concat(frames, ignore_index=True)
    keys = list(spec.dimensions)
    latest = allrows.sort_values("processing_date").drop_duplicates(keys, keep="last")
    # Dates that reached their final vintage: processing dates 03-01..03-10 finalise 02-26..03-07
    final_days = [date(2026, 2, 26) + timedelta(days=k) for k in range(10)]
    truth = pd.concat([rows_for_date(3, APP, name, DAILY, d) for d in final_days], ignore_index=True)
    done = latest[latest["Date"] <= pd.Timestamp("2026-03-07")]
    for measure in spec.measures:
        assert int(done[measure].sum()) == int(truth[measure].sum())
        assert int(allrows[measure].sum()) > int(latest[measure].sum())
    assert len(done) == len(truth)
    # the last dates are still provisional: their latest value is below final
    provisional = latest[latest["Date"] == pd.Timestamp("2026-03-09")]
    assert provisional["Sessions"].sum() < rows_for_date(3, APP, name, DAILY, "2026-03-09")["Sessions"].sum()


def test_snapshot_rows_are_final():
    name = "App Crashes"
    snap = instance_rows(0, APP, name, DAILY, P, SNAPSHOT)
    pd.testing.assert_frame_equal(snap, rows_for_date(0, APP, name, DAILY, P - timedelta(days=1)))


def test_rows_per_day_are_tens_to_hundreds_and_scale_with_data_scale():
    for name in ("App Sessions Detailed", "App Crashes", "App Downloads Standard", "Photos Picker"):
        n = len(rows_for_date(0, APP, name, DAILY, "2026-03-02"))
        assert 10 <= n <= 600, (name, n)
    name = "App Store Discovery and Engagement Detailed"
    small = rows_for_date(0, APP, name, DAILY, "2026-03-02")
    big = rows_for_date(0, APP, name, DAILY, "2026-03-02", data_scale=3.0)
    assert 2.5 * len(small) <= len(big) <= 3.5 * len(small)
    # a larger scale adds rows, never changes the rows or values already there
    merged = small.merge(big, how="left", on=list(small.columns), indicator=True)
    assert (merged["_merge"] == "both").all()


def test_values_depend_on_seed_app_report_and_date():
    base = rows_for_date(0, APP, "App Crashes", DAILY, "2026-03-02")
    for other in (
        rows_for_date(1, APP, "App Crashes", DAILY, "2026-03-02"),
        rows_for_date(0, {"id": "42", "name": "Café Racer"}, "App Crashes", DAILY, "2026-03-02"),
        rows_for_date(0, APP, "App Crashes", DAILY, "2026-03-03"),
    ):
        assert not base.drop(columns=["Date", "App Apple Identifier"]).equals(
            other.drop(columns=["Date", "App Apple Identifier"])
        )


def test_unknown_granularity_for_a_report_is_refused():
    with pytest.raises(ValueError, match="only DAILY"):
        instance_rows(0, APP, "App Downloads Standard", WEEKLY, date(2026, 3, 6), ONGOING)
    with pytest.raises(KeyError):
        instance_rows(0, APP, "No Such Report", DAILY, P, ONGOING)


# --------------------------------------------------------------------------- files


def test_segments_are_instance_rows_as_text():
    for name in (
        "App Sessions Detailed",
        "App Downloads Detailed",
        "App Store Discovery and Engagement Standard",
    ):
        spec = find_report(name)
        segs = instance_segments(0, APP, name, DAILY, P, ONGOING)
        headers, rows = _parse(segs)
        assert headers == [list(spec.column_names)] * len(segs)
        assert rows == _as_text(instance_rows(0, APP, name, DAILY, P, ONGOING))
        text = _text(segs[0])
        assert "\r" not in text and text.endswith("\n") and text.count("\n") == len(rows) + 1


def test_same_seed_same_bytes_different_seed_different_bytes():
    args = (APP, "App Sessions Detailed", DAILY, P, ONGOING)
    a = instance_segments(7, *args)
    datagen.clear_caches()
    assert instance_segments(7, *args) == a
    assert instance_segments(8, *args) != a
    assert all(seg[4:8] == b"\0\0\0\0" for seg in a)  # gzip mtime 0: bytes do not depend on the clock


def test_several_segments_each_with_its_header():
    name = "App Downloads Detailed"
    rows = instance_rows(0, APP, name, DAILY, P, ONGOING)
    segs = instance_segments(0, APP, name, DAILY, P, ONGOING, segment_rows=100)
    assert len(segs) == math.ceil(len(rows) / 100) >= 3
    headers, parsed = _parse(segs)
    assert all(h == list(find_report(name).column_names) for h in headers)
    assert [len(_parse([s])[1]) for s in segs[:-1]] == [100] * (len(segs) - 1)
    assert parsed == _as_text(rows)
    with pytest.raises(ValueError):
        instance_segments(0, APP, name, DAILY, P, ONGOING, segment_rows=0)


def test_default_segment_rows_splits_big_monthly_instances():
    segs = instance_segments(0, APP, "App Sessions Detailed", MONTHLY, P, ONGOING)
    assert len(segs) >= 2


def test_app_crashes_expanded_files_are_tab_separated_and_start_with_the_header_not_a_bom():
    name = "App Crashes Expanded"
    app = {"id": "1476097583", "name": 'Café, "Racer"'}
    segs = instance_segments(0, app, name, DAILY, P, ONGOING, segment_rows=40)
    assert len(segs) >= 2
    for seg in segs:
        raw = gzip.decompress(seg)
        assert raw.startswith("\t".join(find_report(name).column_names).encode() + b"\n")  # no BOM
    headers, rows = _parse(segs, "\t")
    assert headers[0] == list(find_report(name).column_names)
    assert rows == _as_text(instance_rows(0, app, name, DAILY, P, ONGOING))
    assert 'Café, "Racer"' in _text(segs[0])  # a comma or a quote needs no quoting in a tab file


def test_tab_report_values_never_break_the_format():
    app = {"id": "1476097583", "name": 'Tab\there "quoted"\nname'}
    segs = instance_segments(0, app, "App Crashes", DAILY, P, ONGOING)
    lines = _text(segs[0]).split("\n")
    assert all(line.count("\t") == 7 for line in lines if line)
    assert lines[1].split("\t")[1] == 'Tab here "quoted" name'


def test_fast_writer_and_general_writer_give_the_same_bytes():
    spec = find_report("App Sessions Detailed")
    parts = datagen._instance_blocks(0, APP["id"], spec, DAILY, P, ONGOING, 1.0)
    import pyarrow as pa

    table = pa.concat_tables([datagen._block_table(spec, APP["id"], APP["name"], b, v) for b, v in parts])
    assert datagen._text(table, "\t", True) == datagen._text(table, "\t", False)


def test_instance_without_rows_is_a_header_only_file():
    framework = [s for s in catalog() if s.category is Category.FRAMEWORK_USAGE]
    counts = {s.name: len(instance_rows(0, APP, s, DAILY, P, ONGOING)) for s in framework}
    empty = [name for name, n in counts.items() if n == 0]
    assert 0.1 * len(framework) < len(empty) < 0.5 * len(framework)
    spec = find_report(empty[0])
    segs = instance_segments(0, APP, spec, DAILY, P, ONGOING)
    assert len(segs) == 1
    assert _text(segs[0]) == "\t".join(spec.column_names) + "\n"
    segs = instance_segments(0, APP, "App Crashes Expanded", DAILY, P, ONGOING, data_scale=0)
    assert (
        gzip.decompress(segs[0])
        == ("\t".join(find_report("App Crashes Expanded").column_names) + "\n").encode()
    )


def test_blank_fields_stay_blank_and_measures_are_never_blank_or_zero():
    """Privacy drops whole rows (docs/sandbox-data.md), so a published measure is never blank."""
    name = "App Sessions Detailed"
    rows = instance_rows(0, APP, name, MONTHLY, P, ONGOING)
    referrer = rows["Source Type"].isin(["App referrer", "Web referrer"])
    assert (rows.loc[~referrer, "Source Info"] == "").all() and (rows.loc[~referrer, "Campaign"] == "").all()
    assert (rows.loc[referrer, "Source Info"] != "").any()
    titled = rows["Page Type"].isin(["Product page", "In-app event"])
    assert (rows.loc[~titled, "Page Title"] == "").all()
    assert (rows.loc[titled, "Page Title"] != "").any()
    assert rows["App Download Date"].isna().any() and rows["App Download Date"].notna().any()
    for measure in find_report(name).measures:
        assert rows[measure].notna().all() and (rows[measure] > 0).all()
    _, parsed = _parse(instance_segments(0, APP, name, MONTHLY, P, ONGOING))
    idx = find_report(name).column_names.index("Sessions")
    assert sum(r[idx] in ("", "0") for r in parsed) == 0


def test_realistic_dimension_values():
    rows = instance_rows(0, APP, "App Store Discovery and Engagement Detailed", MONTHLY, P, ONGOING)
    assert set(rows["Event"]) <= {"Impression", "Page view", "Tap"}
    assert set(rows.loc[rows["Event"] != "Tap", "Engagement Type"]) == {""}
    assert rows["Territory"].str.fullmatch(r"[A-Z]{2}").all()
    assert {"iPhone", "iPad"} <= set(rows["Device"])
    assert (rows["Unique Counts"] <= rows["Counts"]).fillna(True).all()
    downloads = instance_rows(0, APP, "App Downloads Detailed", MONTHLY, P, ONGOING)
    assert set(downloads["Download Type"]) <= {
        "First-time Download",
        "Redownload",
        "Manual update",
        "Auto-update",
        "Restore",
    }
    text = "".join(_text(s) for s in instance_segments(0, APP, "App Sessions Detailed", MONTHLY, P, ONGOING))
    assert "Café Racer" in text and any(ch in text for ch in "éü")


# --------------------------------------------------------------------------- speed


def test_one_instance_takes_a_few_milliseconds():
    instance_segments(0, APP, "App Sessions Detailed", DAILY, P, ONGOING)  # warm imports
    t = time.perf_counter()
    for k in range(20):
        datagen.clear_caches()
        instance_segments(0, APP, "App Sessions Detailed", DAILY, P + timedelta(days=k), ONGOING)
    per = (time.perf_counter() - t) / 20
    print(f"\none App Sessions Detailed daily instance: {per * 1e3:.1f} ms")
    assert per < 0.1


def test_generation_throughput_at_large_scale():
    name = "App Sessions Detailed"
    t = time.perf_counter()
    segs = instance_segments(0, APP, name, DAILY, P, ONGOING, data_scale=150)
    elapsed = time.perf_counter() - t
    raw = sum(len(gzip.decompress(s)) for s in segs)
    mb_s = raw / 1e6 / elapsed
    print(
        f"\n{name} x150: {raw / 1e6:.1f} MB text in {elapsed:.2f} s = {mb_s:.0f} MB/s (gzip'd, {len(segs)} segments)"
    )
    assert raw > 10e6
    assert mb_s > 10  # generous floor for a loaded 2-core CI box; ~60 MB/s measured unloaded
