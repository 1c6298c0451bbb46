"""Faults that need their own world: races, inactivity, the simulated clock, broken files at the source."""

from __future__ import annotations

import gzip
import threading
import warnings
from pathlib import Path

import pytest

from asc_nb.client import Client
from asc_nb.errors import ConflictError, NotFoundError, SegmentFormatError, ServerError
from asc_nb.models import AccessType
from asc_nb.sandbox import Sandbox

from .conftest import REPORT, Sleeps, unverified_files


@pytest.fixture
def own(tmp_path: Path):
    """``own(sandbox)`` -> (served base URL, client factory) for a private world."""
    import contextlib

    stack = contextlib.ExitStack()

    def make(sb: Sandbox, sleeps: Sleeps | None = None) -> Client:
        handle = stack.enter_context(sb.serve()) if not hasattr(sb, "_chaos_handle") else sb._chaos_handle
        sb._chaos_handle = handle  # type: ignore[attr-defined]
        c = Client(
            sandbox=sb,
            base_url=handle.base_url,
            cache_dir=tmp_path / "cache",
            sleep=sleeps if sleeps is not None else Sleeps(),
        )
        stack.callback(c.close)
        return c

    with stack:
        yield make


def _ongoing(sb: Sandbox, app_id: str) -> list[str]:
    with sb.world.lock:
        return [
            r.id
            for r in sb.world.requests.values()
            if r.app_id == app_id and r.access_type is AccessType.ONGOING
        ]


# --------------------------------------------------------------------------- 409 races


@pytest.mark.parametrize("threads", [2, 8])
def test_ensure_ongoing_race_409(own, chaos, threads: int) -> None:
    """N notebooks call ensure_ongoing for the same app at once: every one lists (none yet), every
    one POSTs, the server takes one and answers 409 to the rest, and all get the same request."""
    chaos.start("409 race: concurrent ensure_ongoing", f"ensure_ongoing x{threads} threads")
    sb = Sandbox(seed=5, apps=1)
    clients = [own(sb) for _ in range(threads)]
    app_id = next(iter(sb.world.apps))
    # hold every first listing until all threads have sent theirs, so all of them POST
    sb.faults.add("slow", path=r"/analyticsReportRequests\?", method="GET", count=threads, seconds=0.6)
    # ... and hold every POST a little, so that no listing is answered after the first create
    sb.faults.add("slow", path=r"^/v1/analyticsReportRequests$", method="POST", count=threads, seconds=0.6)
    results: list[object] = [None] * threads
    barrier = threading.Barrier(threads)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = clients[i].ensure_ongoing(app_id)
        except Exception as exc:  # noqa: BLE001 - asserted below
            results[i] = exc

    pool = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(30)
    posts = [c for c in sb.calls if c[0] == "POST"]
    ids = {getattr(r, "id", None) for r in results}
    lost = len(_ongoing(sb, app_id)) != 1
    errors = [r for r in results if isinstance(r, Exception)]
    if errors:
        chaos.reported(data_lost=lost, detail=repr(errors[0]))
    else:
        chaos.recovered(data_lost=lost)
    assert not errors, errors
    assert len(posts) == threads, "the race did not happen: some thread saw the request before posting"
    assert ids == set(_ongoing(sb, app_id)) and len(ids) == 1


def test_create_race_names_the_winner(own, chaos) -> None:
    """Two direct creates at once: one wins; the other gets a ConflictError naming the winner."""
    chaos.start("409 race: concurrent create_report_request", "create_report_request x2 threads")
    sb = Sandbox(seed=6, apps=1)
    a, b = own(sb), own(sb)
    app_id = next(iter(sb.world.apps))
    out: dict[str, object] = {}
    barrier = threading.Barrier(2)

    def run(name: str, c: Client) -> None:
        barrier.wait()
        try:
            out[name] = c.create_report_request(app_id, "ONGOING")
        except Exception as exc:  # noqa: BLE001
            out[name] = exc

    ts = [threading.Thread(target=run, args=(n, c)) for n, c in (("a", a), ("b", b))]
    for t in ts:
        t.start()
    for t in ts:
        t.join(30)
    won = [v for v in out.values() if not isinstance(v, Exception)]
    lost = [v for v in out.values() if isinstance(v, Exception)]
    chaos.reported(data_lost=len(_ongoing(sb, app_id)) != 1, detail=repr(lost[:1]))
    assert len(won) == 1 and len(lost) == 1, out
    err = lost[0]
    assert isinstance(err, ConflictError)
    assert err.existing is not None and err.existing.id == won[0].id  # type: ignore[attr-defined]
    assert won[0].id in str(err) and "reuse it" in str(err)  # type: ignore[attr-defined]
    assert _ongoing(sb, app_id) == [won[0].id]  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- inactivity


def test_stopped_due_to_inactivity(own, chaos) -> None:
    """Nobody reads for longer than the inactivity window: ensure_ongoing says so (warning, the stopped
    request), fetch reports the missing dates; restart_stopped=True replaces it even through a 503."""
    chaos.start("request stopped due to inactivity", "ensure_ongoing / fetch / restart")
    sb = Sandbox(seed=8, apps=1, history_days=10, inactivity_days=5)
    sleeps = Sleeps()
    c = own(sb, sleeps)
    app_id = next(iter(sb.world.apps))
    old = _ongoing(sb, app_id)[0]
    sb.advance(days=7)
    with pytest.warns(UserWarning, match="stopped due to inactivity.*restart_stopped=True"):
        req = c.ensure_ongoing(app_id)
    assert req.id == old and req.stopped_due_to_inactivity is True
    today = sb.now.date()
    with pytest.warns(UserWarning, match="no rows for .* daily date"):
        frame = c.fetch(
            req.id, REPORT, start=str(today.replace(day=today.day) - _days(4)), end=str(today), progress=False
        )
    assert frame.attrs["missing_dates"], "dates after the stop must be reported missing"
    # restart: DELETE, then POST (503 once: not retried blindly, checked, tried again)
    sb.faults.add("server_error", path=r"^/v1/analyticsReportRequests$", method="POST", count=1, status=503)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        new = c.ensure_ongoing(app_id, restart_stopped=True)
    assert new.id != old and new.stopped_due_to_inactivity is False
    assert _ongoing(sb, app_id) == [new.id]
    assert [m for m, _, p in sb.calls if p == "/v1/analyticsReportRequests"].count("POST") == 2
    chaos.reported(detail="warned + missing_dates; restarted through a 503")


def _days(n: int):
    from datetime import timedelta

    return timedelta(days=n)


# --------------------------------------------------------------------------- URL and instance expiry


def _one_segment(c: Client, sb: Sandbox):
    app_id = next(iter(sb.world.apps))
    req = c.report_requests(app_id)["id"].iloc[0]
    rep = c.reports(req, name=REPORT)["id"].iloc[0]
    inst = c.instances(rep, "DAILY")
    inst_id = inst["id"].iloc[-2]
    return c.segments(inst_id).iloc[0], inst_id


def test_download_url_expired_by_the_clock(own, chaos) -> None:
    """Segments listed, then 6 simulated minutes pass (URLs live 5): the download re-reads the segment."""
    chaos.start("expired download URL (5 min elapsed)", "download_segment")
    sb = Sandbox(seed=9, apps=1, history_days=10)
    c = own(sb)
    seg, _ = _one_segment(c, sb)
    sb.advance(minutes=6)
    path = c.download_segment(seg)
    ok = path.read_bytes() and not unverified_files(c.cache_dir)
    chaos.recovered(data_lost=not ok)
    assert ok
    assert ("GET", "api", f"/v1/analyticsReportSegments/{seg['id']}") in sb.calls
    assert [c_ for c_ in sb.calls if c_[1] == "download"].__len__() == 2  # refused once, then served


def test_instance_deleted_before_download(own, chaos) -> None:
    """36 days pass between listing and download: the instance is gone (35-day retention)."""
    chaos.start("instance expired (35-day retention)", "download_segment")
    sb = Sandbox(seed=9, apps=1, history_days=10)
    c = own(sb)
    seg, _ = _one_segment(c, sb)
    sb.advance(days=36)
    with pytest.raises(NotFoundError) as info:
        c.download_segment(seg)
    chaos.reported(data_lost=bool(unverified_files(c.cache_dir)), detail=str(info.value))
    assert "analyticsReportSegments" in str(info.value) and "404" in str(info.value)
    assert not unverified_files(c.cache_dir)


# --------------------------------------------------------------------------- broken files at the source


def _publish_broken(sb: Sandbox, inst_id: str, mangle) -> None:
    """Apple published a broken file, and the checksum it announces is that file's: the download verifies,
    the parse must fail loudly. (The sandbox has no fault kind for this: its segment store is primed.)"""
    inst = sb.world.instances[inst_id]
    blobs = list(sb.world.segment_bytes(inst))
    blobs[0] = mangle(blobs[0])
    with sb.world.lock:
        sb.world._segment_cache[inst_id] = blobs


@pytest.mark.parametrize(
    "kind", ["truncated gzip at the source", "garbled gzip at the source", "non-UTF-8 bytes at the source"]
)
def test_broken_file_published(own, chaos, kind: str) -> None:
    chaos.start(kind, "read_instance")
    sb = Sandbox(seed=10, apps=1, history_days=10)
    c = own(sb)
    _, inst_id = _one_segment(c, sb)
    if kind.startswith("truncated"):
        _publish_broken(sb, inst_id, lambda b: b[: len(b) * 2 // 3])
    elif kind.startswith("garbled"):
        _publish_broken(sb, inst_id, lambda b: b[:20] + bytes(x ^ 0x5A for x in b[20:60]) + b[60:])
    else:
        _publish_broken(
            sb, inst_id, lambda b: gzip.compress(gzip.decompress(b).replace(b"\t", b"\t\xff\xfe", 3))
        )
    with pytest.raises((SegmentFormatError, ServerError)) as info:
        c.read_instance(inst_id, progress=False)
    bad = unverified_files(c.cache_dir)
    chaos.reported(data_lost=bool(bad), detail=f"{type(info.value).__name__}: {info.value}")
    assert isinstance(info.value, SegmentFormatError)
    text = str(info.value)
    assert ("gzip" in text) if "gzip" in kind else ("UTF8" in text or "UTF-8" in text), text
    assert not bad, bad


def test_download_url_expired_for_good_says_so(own, chaos) -> None:
    chaos.start(
        "expired download URL, persistent", "download_segment"
    )  # stays 'failed' in the ledger until fixed
    sb = Sandbox(seed=9, apps=1, history_days=10)
    c = own(sb)
    seg, _ = _one_segment(c, sb)
    sb.faults.add("expired", host="download", count=None)
    with pytest.raises(Exception) as info:
        c.download_segment(seg)
    assert not unverified_files(c.cache_dir)
    text = str(info.value)
    assert "403" in text and "expired" in text.lower(), text
    chaos.reported(detail=text)
