"""The one-way data plane: plans, picklable jobs, exact API calls, and cancel — against the real sandbox.

Call counts come from the sandbox's own log (``sb.calls``); cancel runs against real slow
transfers (a stalled body in-process, and sandbox latency over loopback HTTP), timed on the wall clock.
"""

from __future__ import annotations

import pickle
import threading
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest

import asc_nb
from asc_nb.data.cache import SegmentCache
from asc_nb.data.transfer import SegmentJob
from asc_nb.errors import DownloadCancelled
from asc_nb.sandbox import Sandbox

SESSIONS = "App Sessions Standard"


def api_calls(sb: Sandbox, since: int = 0) -> list[str]:
    return [p for _, host, p in sb.calls[since:] if host == "api"]


def unverified(cache: Path) -> list[Path]:
    """Temporary files, and cache entries whose bytes do not hash to their name."""
    if not cache.exists():
        return []
    partial = (
        [p for p in (cache / ".partial").glob("*") if p.is_file()] if (cache / ".partial").exists() else []
    )
    store = SegmentCache(cache)
    bad = [p for p in cache.rglob("*.gz") if not store.verify(p.name[:-3])]
    return partial + bad


def test_segment_job_is_plain_picklable_data(client, req) -> None:
    plan = client.plan_fetch(req, SESSIONS, start="2026-02-24", end="2026-02-24")
    jobs = client._segment_jobs(str(plan.instances.id.iloc[0]))
    assert jobs and all(isinstance(j, SegmentJob) for j in jobs)
    job = jobs[0]
    assert pickle.loads(pickle.dumps(job)) == job
    assert (job.segment_id, job.url, job.checksum, job.size, job.instance_id) == tuple(vars(job).values())
    assert job.instance_id == str(plan.instances.id.iloc[0])


def test_plan_then_fetch_makes_each_call_once(client, sb, req) -> None:
    before = len(sb.calls)
    plan = client.plan_fetch(req.id, SESSIONS, "DAILY", "2026-02-22", "2026-02-25")
    planned = api_calls(sb, before)
    assert len(planned) == 2 and "/reports" in planned[0] and "/instances" in planned[1]
    assert plan.report.name == SESSIONS and plan.granularity is asc_nb.Granularity.DAILY
    assert list(plan.instances.columns) == ["id", "granularity", "processing_date", "report_id"]
    assert plan.instances.processing_date.is_monotonic_increasing and len(plan.instances) >= 3

    before = len(sb.calls)
    df = client.fetch(plan, progress=False)
    fetched = api_calls(sb, before)
    # only the segment listings remain: one per planned instance, nothing listed twice
    assert sorted(fetched) == sorted(
        f"/v1/analyticsReportInstances/{i}/segments?limit=200" for i in plan.instances.id
    )
    old_style = client.fetch(req.id, SESSIONS, "DAILY", "2026-02-22", "2026-02-25", progress=False)
    pd.testing.assert_frame_equal(df, old_style)
    assert df.attrs["request_id"] == req.id and df.attrs["report_id"] == plan.report.id


def test_a_report_record_or_row_costs_no_lookup(client, sb, req) -> None:
    record = next(client.iter_reports(req.id, name=SESSIONS))
    row = client.reports(req.id, name=SESSIONS).iloc[0]
    for report in (record, row):
        before = len(sb.calls)
        plan = client.plan_fetch(req.id, report, start="2026-02-24", end="2026-02-25")
        assert [p.split("?")[0] for p in api_calls(sb, before)] == [
            f"/v1/analyticsReports/{record.id}/instances"
        ]
        assert plan.report.id == record.id and plan.report.name == SESSIONS


def test_fetch_of_a_plan_refuses_second_opinions(client, req) -> None:
    plan = client.plan_fetch(req.id, SESSIONS, start="2026-02-24", end="2026-02-24")
    with pytest.raises(TypeError, match="plan_fetch"):
        client.fetch(plan, SESSIONS)
    with pytest.raises(TypeError, match="plan_fetch"):
        client.fetch(plan, start="2026-02-01")
    with pytest.raises(TypeError, match="threading.Event"):
        client.fetch(plan, cancel=True)


def test_fetch_to_parquet_from_a_plan(client, req, tmp_path) -> None:
    plan = client.plan_fetch(req.id, SESSIONS, start="2026-02-23", end="2026-02-24")
    out = client.fetch(plan, to=tmp_path / "pq", progress=False)
    assert out == tmp_path / "pq"
    assert asc_nb.read_parquet(out)["sessions"].sum() == client.fetch(plan, progress=False)["sessions"].sum()


# --------------------------------------------------------------------------- cancel


class _Stall(httpx.SyncByteStream):
    """A body that sends 100 bytes, then hangs until the client closes it (or 30 s pass)."""

    def __init__(self, body: bytes, closed: list[threading.Event]):
        self.body = body
        self.closed = threading.Event()
        closed.append(self.closed)

    def __iter__(self):
        yield self.body[:100]
        self.closed.wait(30)
        if not self.closed.is_set():
            yield self.body[100:]

    def close(self) -> None:
        self.closed.set()


class _Stalling(httpx.BaseTransport):
    def __init__(self, inner: httpx.BaseTransport):
        self.inner = inner
        self.closed: list[threading.Event] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if request.url.host.startswith("downloads.") and response.status_code == 200:
            return httpx.Response(200, headers=response.headers, stream=_Stall(response.read(), self.closed))
        return response


def test_cancel_closes_in_flight_streams_without_waiting(sb, tmp_path) -> None:
    stalling = _Stalling(sb.transport())
    cache = tmp_path / "cache"
    with asc_nb.connect(sandbox=sb, cache_dir=cache, transport=stalling) as c:
        plan = c.plan_fetch(c.ensure_ongoing(c.apps().id[0]), SESSIONS, start="2026-02-20", end="2026-02-25")
        cancel = threading.Event()
        began = time.monotonic()
        threading.Timer(0.5, cancel.set).start()
        with pytest.raises(DownloadCancelled):
            c.fetch(plan, progress=False, cancel=cancel, workers=4)
        took = time.monotonic() - began
    assert took < 2, took  # every stream would hang 30 s: fetch returned without awaiting them
    assert unverified(cache) == []  # the half-written temporary files are gone
    # a worker that was still between its request and its first byte closes its own stream on arrival
    deadline = time.monotonic() + 5
    while not all(e.is_set() for e in stalling.closed) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert stalling.closed and all(e.is_set() for e in stalling.closed)
    assert unverified(cache) == []
    assert isinstance(DownloadCancelled("x"), asc_nb.ASCError)


def test_cancel_over_loopback_with_latency_returns_early(tmp_path) -> None:
    """A real server with 0.3 s per request: the whole job takes many seconds; cancel stops it in well under one."""
    sb = Sandbox(seed=3, apps=1, history_days=12, segment_rows=60, latency=0.3)
    cache = tmp_path / "cache"
    with (
        sb.serve() as srv,
        asc_nb.connect(
            asc_nb.Credentials(sb.key_id, sb.issuer_id, sb.private_key_pem),
            base_url=srv.base_url,
            cache_dir=cache,
            environ={},
        ) as c,
    ):
        plan = c.plan_fetch(c.ensure_ongoing(c.apps().id[0]), SESSIONS, start="2026-02-16", end="2026-02-25")
        jobs = len(plan.instances)
        segments = sum(len(c.segments(i)) for i in plan.instances.id)
        full = (jobs + segments) * 0.3 / 4  # at best: every listing and download spread over 4 workers
        assert full > 3
        cancel = threading.Event()
        threading.Timer(0.8, cancel.set).start()
        began = time.monotonic()
        with pytest.raises(DownloadCancelled):
            c.fetch(plan, progress=False, cancel=cancel, workers=4)
        took = time.monotonic() - began
        assert took < 0.8 + 0.5 < full, (took, full)
        assert unverified(cache) == []
        time.sleep(0.7)  # the abandoned workers' requests come back: they keep nothing unverified either
        assert unverified(cache) == []


def test_cancel_before_start_makes_no_download(client, sb, req) -> None:
    plan = client.plan_fetch(req.id, SESSIONS, start="2026-02-24", end="2026-02-24")
    cancel = threading.Event()
    cancel.set()
    before = len(sb.calls)
    with pytest.raises(DownloadCancelled):
        client.fetch(plan, progress=False, cancel=cancel)
    assert sb.calls[before:] == []


def test_connect_transport_carries_api_and_download_calls(sb, tmp_path) -> None:
    seen: list[str] = []

    class Recorder(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            seen.append(request.url.host)
            return sb.transport().handle_request(request)

    with asc_nb.connect(sandbox=sb, cache_dir=tmp_path / "c", transport=Recorder()) as c:
        df = c.fetch(
            c.ensure_ongoing(c.apps().id[0]), SESSIONS, start="2026-02-25", end="2026-02-25", progress=False
        )
    assert len(df) > 0
    assert {"api.asc-sandbox.invalid", "downloads.asc-sandbox.invalid"} <= set(seen)


def test_client_mode_and_explicit_arguments(sb, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("ASC_BASE_URL", "http://127.0.0.1:9")  # the Client itself never reads it
    creds = asc_nb.Credentials(sb.key_id, sb.issuer_id, sb.private_key_pem)
    with (
        asc_nb.Client(sandbox=sb, cache_dir=tmp_path) as a,
        asc_nb.Client(creds, cache_dir=tmp_path) as b,
        asc_nb.Client(creds, base_url="http://127.0.0.1:8765", cache_dir=tmp_path) as c,
    ):
        assert (a.mode, b.mode, c.mode) == ("sandbox", "apple", "custom")
        assert b.base_url == "https://api.appstoreconnect.apple.com"
        assert "custom server" in repr(c) and "apple" in repr(b)


def test_cancel_interrupts_a_retry_after_wait(client, sb, req) -> None:
    plan = client.plan_fetch(req.id, SESSIONS, start="2026-02-24", end="2026-02-24")
    seg = client.segments(plan.instances.id.iloc[0]).iloc[0]
    sb.faults.add("server_error", host="download", count=None, status=503, retry_after=20)
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    began = time.monotonic()
    with pytest.raises(DownloadCancelled):
        client.download_segment(seg, cancel=cancel)  # would wait 2 × 20 s before giving up
    assert time.monotonic() - began < 2
    sb.faults.clear()
    assert SegmentCache(client.cache_dir).get(seg.checksum) is None
