"""End to end against the sandbox: real client, real transports, real gzip, real files.

Expected values are computed independently from the sandbox's data generator
(``asc_nb.sandbox.datagen``), never from the code under test.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import duckdb
import httpx
import pandas as pd
import pytest

import asc_nb
from asc_nb.data.cache import SegmentCache
from asc_nb.data.export import read_parquet, to_parquet
from asc_nb.data.parse import parse_segment
from asc_nb.errors import ChecksumError, MissingDatesWarning, NetworkError, ReportNotFoundError
from asc_nb.sandbox import Sandbox
from asc_nb.sandbox.datagen import covered_dates, instance_rows, rows_for_date

SESSIONS = "App Sessions Standard"
CRASHES = "App Crashes Expanded"  # the comma-delimited report with a BOM


class Recorder(httpx.BaseTransport):
    """Wraps the sandbox transport and keeps every request as it left the client."""

    def __init__(self, inner: httpx.BaseTransport):
        self.inner = inner
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.inner.handle_request(request)


def app_of(sb: Sandbox) -> dict:
    return dict(next(iter(sb.world.apps.values())))


def downloads(sb: Sandbox) -> list[str]:
    return [p for m, host, p in sb.calls if host == "download"]


def api_calls(sb: Sandbox) -> list[str]:
    return [p for m, host, p in sb.calls if host == "api"]


def first_instance(client, req, report=SESSIONS):
    rep = client.reports(req.id, name=report).iloc[0]
    inst = client.instances(rep.id, "DAILY").iloc[-2]
    return rep, inst


# --------------------------------------------------------------------------- instances and segments


def test_read_instance_all_segments_exact_values(client, sb, req):
    rep, inst = first_instance(client, req)
    segs = client.segments(inst.id)
    assert len(segs) > 1  # multi-segment instance
    df = client.read_instance(inst.id)
    truth = instance_rows(sb.seed, app_of(sb), SESSIONS, "DAILY", inst.processing_date.date(), "ONGOING")
    assert len(df) == len(truth)
    assert df.attrs["segments"] == len(segs)
    assert list(df.columns[-3:]) == ["processing_date", "instance_id", "segment_id"]
    assert set(df["segment_id"].astype(str)) == set(segs.id)
    assert (df["instance_id"].astype(str) == inst.id).all()
    assert (df["processing_date"] == inst.processing_date).all()
    for col, theirs in [
        ("sessions", "Sessions"),
        ("total_session_duration", "Total Session Duration"),
        ("unique_devices", "Unique Devices"),
    ]:
        assert df[col].sum() == truth[theirs].sum()
        assert df[col].isna().sum() == truth[theirs].isna().sum()  # suppressed rows stay missing, not 0
    assert sorted(df["territory"].astype(str)) == sorted(truth["Territory"].astype(str))
    assert df["date"].dtype == "datetime64[ns]"
    assert df["app_apple_identifier"].dtype == "Int64"


def test_download_segment_accepts_record_row_and_id(client, req):
    _, inst = first_instance(client, req)
    seg = client.segments(inst.id).iloc[0]
    p1 = client.download_segment(seg)
    p2 = client.download_segment(client.segment(seg.id))
    p3 = client.download_segment(seg.id)
    assert p1 == p2 == p3 and p1.exists()
    assert p1.stat().st_size == seg.size_in_bytes
    assert SegmentCache(client.cache_dir).verify(seg.checksum)
    assert len(parse_segment(p1)) > 0


# --------------------------------------------------------------------------- safety


def test_no_token_ever_reaches_the_download_host(sb, tmp_path):
    rec = Recorder(sb.transport())
    with asc_nb.Client(sandbox=sb, transport=rec, cache_dir=tmp_path / "c") as c:
        r = c.ensure_ongoing(c.apps().id[0])
        df = c.fetch(r.id, SESSIONS, start="2026-02-24", end="2026-02-26", progress=False)
    assert len(df) > 0
    dl = [q for q in rec.requests if q.url.host == "downloads.asc-sandbox.invalid"]
    api = [q for q in rec.requests if q.url.host == "api.asc-sandbox.invalid"]
    assert dl and api
    assert all("authorization" not in {k.lower() for k in q.headers} for q in dl)
    assert all(q.headers.get("Authorization", "").startswith("Bearer ") for q in api)


def test_checksum_mismatch_is_retried_then_raised(client, sb, req):
    _, inst = first_instance(client, req)
    seg = client.segments(inst.id).iloc[0]
    sb.faults.add("corrupt", host="download", count=1)
    assert client.download_segment(seg).stat().st_size == seg.size_in_bytes  # second attempt is good
    seg2 = client.segments(inst.id).iloc[1]
    sb.faults.add("corrupt", host="download", count=None)
    with pytest.raises(ChecksumError) as info:
        client.download_segment(seg2)
    sb.faults.clear()
    assert info.value.segment_id == seg2.id and info.value.expected == seg2.checksum
    assert SegmentCache(client.cache_dir).get(seg2.checksum) is None  # nothing unverified kept
    assert not any(Path(client.cache_dir, ".partial").iterdir())


def test_size_mismatch_is_retried_then_raised(client, sb, req):
    _, inst = first_instance(client, req)
    seg = client.segments(inst.id).iloc[0]
    sb.faults.add("size_mismatch", host="download", count=3)
    with pytest.raises(ChecksumError) as info:
        client.download_segment(seg)
    assert info.value.expected_size == seg.size_in_bytes
    assert SegmentCache(client.cache_dir).get(seg.checksum) is None
    sb.faults.add("size_mismatch", host="download", count=2)
    assert client.download_segment(seg).stat().st_size == seg.size_in_bytes


def test_truncated_body_is_retried_then_raised(client, sb, req):
    _, inst = first_instance(client, req)
    seg = client.segments(inst.id).iloc[0]
    sb.faults.add("truncate", host="download", count=1)
    assert client.download_segment(seg).stat().st_size == seg.size_in_bytes
    seg2 = client.segments(inst.id).iloc[1]
    sb.faults.add("truncate", host="download", count=3)
    with pytest.raises(NetworkError):
        client.download_segment(seg2)
    assert SegmentCache(client.cache_dir).get(seg2.checksum) is None


def test_expired_url_is_refreshed(client, sb, req):
    _, inst = first_instance(client, req)
    seg = client.segments(inst.id).iloc[0]
    sb.advance(minutes=10)  # the listed URL is now 10 minutes old: S3 says 403 "Request has expired"
    before = len(api_calls(sb))
    path = client.download_segment(seg)
    assert path.stat().st_size == seg.size_in_bytes
    assert api_calls(sb)[before:] == [f"/v1/analyticsReportSegments/{seg.id}"]  # exactly one re-read
    seg2 = client.segments(inst.id).iloc[1]
    sb.faults.add("expired", host="download", count=1)
    assert client.download_segment(seg2).exists()


def test_transient_5xx_on_download_is_retried(client, sb, req):
    _, inst = first_instance(client, req)
    seg = client.segments(inst.id).iloc[0]
    sb.faults.add("server_error", host="download", count=1, status=503)
    assert client.download_segment(seg).exists()


def test_killed_download_leaves_no_cache_entry(sb, tmp_path):
    """A real download, stalled mid-body and SIGKILLed: no cache entry; a re-run completes."""
    cache = tmp_path / "cache"
    script = textwrap.dedent(
        f"""
        import time, httpx, asc_nb
        from asc_nb.sandbox import Sandbox

        class Stall(httpx.SyncByteStream):
            def __init__(self, body): self.body = body
            def __iter__(self):
                yield self.body[:100]
                print("streaming", flush=True)
                time.sleep(60)
                yield self.body[100:]

        class Slow(httpx.BaseTransport):
            def __init__(self, inner): self.inner = inner
            def handle_request(self, request):
                r = self.inner.handle_request(request)
                if request.url.host.startswith("downloads."):
                    return httpx.Response(r.status_code, headers=r.headers, stream=Stall(r.content))
                return r

        sb = Sandbox(seed=3, apps=1, history_days=12, segment_rows=60)
        c = asc_nb.Client(sandbox=sb, transport=Slow(sb.transport()), cache_dir={str(cache)!r})
        req = c.ensure_ongoing(c.apps().id[0])
        rep = c.reports(req.id, name="{SESSIONS}").iloc[0]
        inst = c.instances(rep.id, "DAILY").iloc[-2]
        seg = c.segments(inst.id).iloc[0]
        print(seg.checksum, flush=True)
        c.download_segment(seg)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        checksum = proc.stdout.readline().strip()
        assert proc.stdout.readline().strip() == "streaming"
        partial = list((cache / ".partial").iterdir())
        assert len(partial) == 1  # the temporary file exists while bytes arrive
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert SegmentCache(cache).get(checksum) is None
    assert [p for p in cache.rglob("*.gz")] == []
    with asc_nb.Client(sandbox=sb, cache_dir=cache) as c:  # same seed: same segment, now completed
        r = c.ensure_ongoing(c.apps().id[0])
        rep = c.reports(r.id, name=SESSIONS).iloc[0]
        seg = c.segments(c.instances(rep.id, "DAILY").iloc[-2].id).iloc[0]
        assert seg.checksum == checksum
        assert c.download_segment(seg) == SegmentCache(cache).path(checksum)


# --------------------------------------------------------------------------- fetch


def expected_totals(sb: Sandbox, processing_dates: list[dt.date], days: list[dt.date], column: str) -> dict:
    """Per Date: the value from the greatest processingDate that covers it (Apple's rule), via datagen."""
    out = {}
    for day in days:
        covering = [
            (p, v) for p in processing_dates for d, v in covered_dates("DAILY", p, "ONGOING") if d == day
        ]
        if covering:
            _, vintage = max(covering)
            out[day] = int(rows_for_date(sb.seed, app_of(sb), SESSIONS, "DAILY", day, vintage)[column].sum())
    return out


def test_fetch_dedupes_restated_dates_to_exact_totals(client, sb, req):
    rep = client.reports(req.id, name=SESSIONS).iloc[0]
    pds = [d.date() for d in client.instances(rep.id, "DAILY").processing_date]
    start, end = pds[0], pds[-1] - dt.timedelta(days=1)
    days = [start + dt.timedelta(days=k) for k in range((end - start).days + 1)]
    with warnings.catch_warnings():
        warnings.simplefilter("error", MissingDatesWarning)
        df = client.fetch(req.id, SESSIONS, start=start, end=end, progress=False)
    truth = expected_totals(sb, pds, days, "Sessions")
    got = {d.date(): int(v) for d, v in df.groupby("date")["sessions"].sum().items()}
    assert got == truth
    assert df.attrs["missing_dates"] == []
    assert df.attrs["report"] == SESSIONS and df.attrs["granularity"] == "DAILY"
    # a restated date: its latest instance holds the final (100 %) values, earlier ones 80 % and 95 %
    restated = pds[-1] - dt.timedelta(days=3)
    final = int(rows_for_date(sb.seed, app_of(sb), SESSIONS, "DAILY", restated)["Sessions"].sum())
    assert got[restated] == final
    every = client.fetch(req.id, SESSIONS, start=start, end=end, vintages=True, progress=False)
    raw = int(every.loc[every["date"] == pd.Timestamp(restated), "sessions"].sum())
    assert raw == sum(
        int(rows_for_date(sb.seed, app_of(sb), SESSIONS, "DAILY", restated, v)["Sessions"].sum())
        for v in (0, 1, 2)
    )
    assert raw > 2 * final


def test_fetch_api_calls_are_minimal_and_rerun_downloads_nothing(client, sb, req):
    before = len(sb.calls)
    df = client.fetch(req.id, SESSIONS, start="2026-02-22", end="2026-02-25", progress=False)
    calls = sb.calls[before:]
    api = [p for _, h, p in calls if h == "api"]
    n_instances = df.attrs["stats"]["instances"]
    assert (
        len(api) == 2 + n_instances
    )  # reports?filter[name] + instances?filter[processingDate] + segments each
    assert "filter%5Bname%5D" in api[0] or "filter[name]" in api[0]
    assert "processingDate" in api[1]
    n_dl = len([1 for _, h, _ in calls if h == "download"])
    assert n_dl == df.attrs["stats"]["segments"] == df.attrs["stats"]["downloaded"] > n_instances
    before = len(sb.calls)
    again = client.fetch(req.id, SESSIONS, start="2026-02-22", end="2026-02-25", progress=False)
    assert [1 for _, h, _ in sb.calls[before:] if h == "download"] == []  # cache hit: 0 downloads
    assert again.attrs["stats"]["downloaded"] == 0
    pd.testing.assert_frame_equal(again, df)


def test_fetch_comma_bom_report_and_blanks(tmp_path):
    # an app name with a comma and a quote: every row of the comma-delimited file must quote it
    sb = Sandbox(seed=3, apps=[{"name": 'Café, "Racer"'}], history_days=12, segment_rows=60)
    with asc_nb.connect(sandbox=sb, cache_dir=tmp_path / "cache") as client:
        req = client.ensure_ongoing(client.apps().id[0])
        rep = client.reports(req.id, name=CRASHES).iloc[0]
        pds = [d.date() for d in client.instances(rep.id, "DAILY").processing_date]
        day = pds[-1] - dt.timedelta(days=3)
        df = client.fetch(req.id, CRASHES, start=day, end=day, progress=False)
    truth = rows_for_date(sb.seed, app_of(sb), CRASHES, "DAILY", day)
    columns = [asc_nb.models.snake(c) for c in truth.columns]
    assert list(df.columns[: len(columns)]) == columns
    assert len(df) == len(truth) > 0
    theirs = next(
        c for c in truth.columns if pd.api.types.is_integer_dtype(truth[c]) and c != "App Apple Identifier"
    )
    measure = asc_nb.models.snake(theirs)
    assert df[measure].sum() == truth[theirs].sum()
    assert df[measure].isna().sum() == truth[theirs].isna().sum()
    assert sorted(df["device"].astype(str)) == sorted(truth["Device"].astype(str))
    assert (df["app_name"] == 'Café, "Racer"').all()  # quoted fields came through intact


def test_fetch_reports_missing_dates(client, sb, req):
    rep = client.reports(req.id, name=SESSIONS).iloc[0]
    last = max(d.date() for d in client.instances(rep.id, "DAILY").processing_date)
    with pytest.warns(MissingDatesWarning, match="no rows for 2"):
        df = client.fetch(
            req.id,
            SESSIONS,
            start=last - dt.timedelta(days=2),
            end=last + dt.timedelta(days=1),
            progress=False,
        )
    assert df.attrs["missing_dates"] == [last, last + dt.timedelta(days=1)]  # not published yet


def test_unknown_report_name(client, req):
    with pytest.raises(ReportNotFoundError, match="App Sessions Standard"):
        client.fetch(req.id, "App Sesions Standard", progress=False)


def test_progress_bar_counts_segments_and_is_quiet_when_disabled(client, req, capsys):
    client.fetch(req.id, SESSIONS, start="2026-02-25", end="2026-02-25", progress=False)
    assert capsys.readouterr().err == ""
    client.fetch(req.id, SESSIONS, start="2026-02-24", end="2026-02-24", progress=True)
    err = capsys.readouterr().err
    assert "segments" in err and SESSIONS in err


def test_progress_callback_sees_every_segment_and_byte(client, req, capsys):
    calls: list[tuple[int, int, int, int]] = []
    df = client.fetch(
        req.id, SESSIONS, start="2026-02-20", end="2026-02-24", progress=lambda *counts: calls.append(counts)
    )
    stats = df.attrs["stats"]
    assert capsys.readouterr().err == ""  # a callback replaces the bar
    done, planned, nbytes, planned_bytes = calls[-1]
    assert done == planned == stats["segments"] > 1
    assert nbytes == planned_bytes > 0
    assert [c[0] for c in calls] == sorted(c[0] for c in calls)  # segments done never go back


# --------------------------------------------------------------------------- Parquet


def test_fetch_to_parquet_streams_and_matches_in_memory(client, sb, req, tmp_path):
    start, end = "2026-02-20", "2026-02-27"
    df = client.fetch(req.id, SESSIONS, start=start, end=end, progress=False)
    out = client.fetch(req.id, SESSIONS, start=start, end=end, to=tmp_path / "pq", progress=False)
    assert out == tmp_path / "pq"
    con = duckdb.connect()
    got = con.execute(
        f"select date, sum(sessions) s, count(*) n, any_value(report) r, any_value(granularity) g "
        f"from read_parquet('{out}/**/*.parquet', hive_partitioning=true) group by date order by date"
    ).df()
    mem = df.groupby("date").agg(s=("sessions", "sum"), n=("sessions", "size")).reset_index()
    assert got["s"].astype(int).tolist() == mem["s"].astype(int).tolist()
    assert got["n"].tolist() == mem["n"].tolist()
    assert [str(d)[:10] for d in got["date"]] == [str(d)[:10] for d in mem["date"]]
    assert set(got["r"]) == {SESSIONS} and set(got["g"]) == {"DAILY"}
    back = read_parquet(out).sort_values(["date", "segment_id", "territory"], ignore_index=True)
    assert back["sessions"].sum() == df["sessions"].sum() and len(back) == len(df)
    # the in-memory frame exported with to_parquet reads back the same through DuckDB
    to_parquet(df, tmp_path / "pq2")
    s2 = con.execute(
        f"select sum(sessions) from read_parquet('{tmp_path}/pq2/**/*.parquet', hive_partitioning=true)"
    )
    assert int(s2.fetchone()[0]) == int(df["sessions"].sum())


def test_fetch_over_loopback_http(tmp_path):
    sb = Sandbox(seed=5, apps=1, history_days=8, segment_rows=80)
    with sb.serve() as srv:
        c = asc_nb.Client(
            asc_nb.Credentials(sb.key_id, sb.issuer_id, sb.private_key_pem),
            base_url=srv.base_url,
            cache_dir=tmp_path / "c",
        )
        with c:
            r = c.ensure_ongoing(c.apps().id[0])
            df = c.fetch(r.id, SESSIONS, start="2026-02-25", end="2026-02-27", progress=False, workers=4)
    assert len(df) > 0 and df.attrs["missing_dates"] == []
    assert df.attrs["stats"]["downloaded"] == df.attrs["stats"]["segments"] > 0


def test_fetch_weekly_keeps_the_week_overlapping_start(tmp_path):
    sb = Sandbox(seed=3, apps=1, history_days=20, segment_rows=200)
    with asc_nb.connect(sandbox=sb, cache_dir=tmp_path / "c") as c:
        r = c.ensure_ongoing(c.apps().id[0])
        with warnings.catch_warnings():
            warnings.simplefilter("error", MissingDatesWarning)
            # starts on a Wednesday: the week dated Monday 2026-02-09 overlaps the range and is kept
            df = c.fetch(
                r.id, SESSIONS, granularity="WEEKLY", start="2026-02-11", end="2026-02-22", progress=False
            )
    got = {d.date(): int(v) for d, v in df.groupby("date")["sessions"].sum().items()}
    mondays = [dt.date(2026, 2, 9), dt.date(2026, 2, 16)]
    assert got == {
        m: int(rows_for_date(sb.seed, app_of(sb), SESSIONS, "WEEKLY", m)["Sessions"].sum()) for m in mondays
    }
    assert df.attrs["missing_dates"] == []


def test_persistent_5xx_raises_typed_error_and_keeps_nothing(sb, tmp_path):
    waits: list[float] = []
    with asc_nb.connect(sandbox=sb, cache_dir=tmp_path / "c", sleep=waits.append) as c:
        r = c.ensure_ongoing(c.apps().id[0])
        _, inst = first_instance(c, r)
        seg = c.segments(inst.id).iloc[0]
        sb.faults.add("server_error", host="download", count=None, status=503, retry_after=2)
        with pytest.raises(asc_nb.ServerError):
            c.download_segment(seg)
        sb.faults.clear()
        assert waits == [2.0, 2.0]  # Retry-After honoured, then given up after `retries`
        assert SegmentCache(c.cache_dir).get(seg.checksum) is None


def test_nothing_matched_still_gives_the_typed_provenance_columns(client, req):
    with pytest.warns(MissingDatesWarning):
        empty = client.fetch(req.id, SESSIONS, start="2026-06-01", end="2026-06-02", progress=False)
    full = client.fetch(req.id, SESSIONS, start="2026-02-25", end="2026-02-25", progress=False)
    # issue 12: the report's registry columns too, typed, so code written on a full fetch runs on an empty one
    assert empty.empty and list(empty.columns) == list(full.columns)
    for column in empty.columns:  # the same dtypes a non-empty fetch has for these columns
        if isinstance(full[column].dtype, pd.CategoricalDtype):  # the ids: categories are the data
            assert isinstance(empty[column].dtype, pd.CategoricalDtype), column
        else:
            assert empty[column].dtype == full[column].dtype, column
    assert empty.groupby("date").size().empty
