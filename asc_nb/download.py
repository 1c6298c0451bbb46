"""Segments → verified files → typed frames, concurrently.

What each piece guards against (peers get these wrong):

* every segment of an instance is downloaded, not just the first;
* downloads go through ``client.downloads``, which never carries the bearer token (the
  presigned S3 URL is its own authorisation);
* bytes stream to disk through :class:`asc_nb.cache.SegmentCache`, verified against
  ``sizeInBytes`` and the MD5 ``checksum`` on the way; nothing unverified is kept and a re-run
  downloads nothing it already has;
* a URL that expired (403: URLs live 5 minutes) is re-read for a fresh one and retried; a
  size/checksum mismatch or a dropped connection is retried, then raised;
* a later ``processingDate`` overwrites earlier instances' rows for the same ``Date``
  (:mod:`asc_nb.vintage`), so ``fetch`` returns the latest vintage unless asked otherwise.

Concurrency uses a bounded thread pool: Jupyter already runs an event loop, httpx.Client is
thread-safe, and the heavy work (isal inflate, pyarrow parse) releases the GIL. API calls
(listing segments) are limited to a few at a time and paced by the session's rate-limit
handling; downloads go to the S3 host, which Apple's hourly budget does not count.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import queue
import sys
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .cache import SegmentCache, VerificationError
from .errors import ChecksumError, MissingDatesWarning, NetworkError, ReportNotFoundError, from_response
from .export import prune_to_latest, write_partitions
from .http import parse_retry_after
from .models import Granularity, iso_date
from .parse import arrow_to_pandas, read_table, read_tables, unify_tables
from .vintage import latest_vintage, missing_dates

if TYPE_CHECKING:  # pragma: no cover
    from .client import Client

__all__ = [
    "DEFAULT_WORKERS",
    "MissingDatesWarning",
    "ReportNotFoundError",
    "SETTLE_DAYS",
    "download_segment",
    "fetch",
    "read_instance",
    "read_segment",
]

log = logging.getLogger("asc_nb.download")

#: Concurrent downloads. Latency-bound work: more threads than cores is the point.
DEFAULT_WORKERS = 16
#: Concurrent API calls (segment listings) — polite to Apple, still overlapped with downloads.
API_CONCURRENCY = 4
#: How many days after a ``Date`` Apple may still publish it or correct it, per granularity
#: (FACTS §9: daily data complete within ≤5 days; weekly published the Friday after the week;
#: monthly on the 5th of the following month). ``fetch`` asks for instances this far past ``end``.
SETTLE_DAYS = {Granularity.DAILY: 5, Granularity.WEEKLY: 14, Granularity.MONTHLY: 36}
_TRANSIENT = frozenset({429, 500, 502, 503, 504})
#: Small segments are parsed in batches of up to this many files / compressed bytes (one
#: pyarrow call each, see :func:`asc_nb.parse.read_tables`); larger ones one by one.
BATCH_SEGMENTS = 64
BATCH_BYTES = 4 << 20
_SMALL = 1 << 20
_CHUNK = 1 << 16


# --------------------------------------------------------------------------- segments


@dataclass(frozen=True)
class _Seg:
    id: str
    checksum: str
    size: int | None
    url: str | None
    instance_id: str | None = None


def _field(obj: Any, *names: str) -> Any:
    for name in names:
        value = obj.get(name) if isinstance(obj, (Mapping, pd.Series)) else getattr(obj, name, None)
        if value is not None and (isinstance(value, str) or not pd.isna(value)):
            return value
    return None


def _as_seg(client: Client, segment: Any) -> _Seg:
    """A segment record, a listing row (Series/mapping) or a bare id → what a download needs."""
    if isinstance(segment, str):
        segment = client.segment(segment)
    seg_id = _field(segment, "id")
    checksum = _field(segment, "checksum")
    if seg_id is None or checksum is None:
        raise ValueError(f"not a segment (needs id and checksum): {segment!r}")
    size = _field(segment, "size_in_bytes", "sizeInBytes")
    return _Seg(str(seg_id), str(checksum), None if size is None else int(size),
                _field(segment, "url"), _field(segment, "instance_id"))


def _cache(client: Client, cache_dir: str | os.PathLike[str] | None) -> SegmentCache:
    return SegmentCache(cache_dir if cache_dir is not None else getattr(client, "cache_dir", None))


#: ``progress(segments_done, segments_planned, bytes_done, bytes_planned)``, called from worker threads
ProgressCallback = Callable[[int, int, int, int], None]


class _Progress:
    """Counts segments and bytes for a tqdm bar and/or a callback; thread-safe; silent when disabled."""

    def __init__(self, enabled: bool, desc: str, callback: ProgressCallback | None = None):
        self._lock = threading.Lock()
        self._callback_lock = threading.Lock()
        self.segments = self.done = 0
        self.bytes_planned = self.bytes_done = 0
        self.callback = callback
        self.bar = None
        if enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=0, unit="B", unit_scale=True, unit_divisor=1024, desc=desc, leave=True)

    def _report(self) -> None:
        if self.callback is not None:
            with self._callback_lock:  # one call at a time, in order: counts never go back
                with self._lock:
                    counts = (self.done, self.segments, self.bytes_done, self.bytes_planned)
                self.callback(*counts)

    def plan(self, segments: int, nbytes: int) -> None:
        with self._lock:
            self.segments += segments
            self.bytes_planned += nbytes
            if self.bar is not None:
                self.bar.total = (self.bar.total or 0) + nbytes
                self.bar.set_postfix_str(f"{self.done}/{self.segments} segments", refresh=True)
        self._report()

    def bytes(self, n: int) -> None:
        if n:
            with self._lock:
                self.bytes_done += n
                if self.bar is not None:
                    self.bar.update(n)

    def segment_done(self, nbytes_if_cached: int = 0) -> None:
        with self._lock:
            self.done += 1
            self.bytes_done += nbytes_if_cached
            if self.bar is not None:
                if nbytes_if_cached:
                    self.bar.update(nbytes_if_cached)
                self.bar.set_postfix_str(f"{self.done}/{self.segments} segments", refresh=False)
        self._report()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(f"{self.done}/{self.segments} segments", refresh=True)
            self.bar.close()


def _make_progress(progress: bool | ProgressCallback | None, segments: int, desc: str) -> _Progress:
    """``progress`` may be a bool (tqdm bar on/off), ``None`` (a bar for multi-segment jobs) or a callback."""
    if callable(progress):
        return _Progress(False, desc, callback=progress)
    return _Progress(_progress_enabled(progress, segments), desc)


def _progress_enabled(progress: bool | None, segments: int) -> bool:
    if progress is not None:
        return bool(progress)
    if os.environ.get("ASC_NB_PROGRESS", "").strip().lower() in ("0", "false", "no", "off"):
        return False
    return segments > 1


class _Stats(dict):
    """Counters shared by worker threads."""

    def __init__(self, **initial: int):
        super().__init__(**initial)
        self._lock = threading.Lock()

    def add(self, key: str, n: int = 1) -> None:
        with self._lock:
            self[key] = self.get(key, 0) + n


def _backoff(client: Client, attempt: int, retry_after: str | None = None) -> float:
    """The client's own retry policy (``Client(retry=...)``), so downloads and API calls back off alike.

    A ``Retry-After`` (seconds or an HTTP date) is honoured up to the policy's ``backoff_max``.
    """
    policy = client.http.retry
    wait = parse_retry_after(retry_after)
    if wait is not None:
        return min(wait, policy.backoff_max)
    return policy.backoff(attempt, client.http.random)


def _download(
    client: Client,
    seg: _Seg,
    cache: SegmentCache,
    *,
    retries: int,
    progress: _Progress,
    sleep: Callable[[float], None],
    stats: _Stats | None = None,
) -> Path:
    hit = cache.get(seg.checksum, seg.size)
    if hit is not None:
        progress.segment_done(seg.size or 0)
        return hit
    url = seg.url
    refreshes = 0
    failures = 0
    pause = 0.0
    last: BaseException | None = None
    while True:
        if url is None:  # a listing without URLs: ask for the segment itself
            url = client.segment(seg.id).url
            refreshes += 1
            if url is None:
                raise NetworkError(f"segment {seg.id} has no download URL")
        if pause:  # a 429/5xx asked us to wait: done here, with the connection released
            sleep(pause)
            pause = 0.0
        streamed = 0
        try:
            with cache.writer(seg.checksum, seg.size) as sink, client.downloads.stream("GET", url) as response:
                status = response.status_code
                if status == 403 and refreshes < 2:
                    # presigned URLs live 5 minutes: re-read the segment for a fresh one
                    log.info("segment %s: URL refused (403), re-reading it for a fresh URL", seg.id)
                    response.read()
                    url = client.segment(seg.id).url
                    refreshes += 1
                    if stats is not None:
                        stats.add("refreshed")
                    continue
                if status in _TRANSIENT and failures < retries:
                    failures += 1
                    pause = _backoff(client, failures, response.headers.get("Retry-After"))
                    response.read()
                    continue
                if status >= 400:
                    response.read()
                    raise from_response(response, attempts=failures + 1)
                for chunk in _raw_chunks(response):
                    sink.write(chunk)
                    streamed += len(chunk)
                    progress.bytes(len(chunk))
                path = sink.commit()
            if stats is not None:
                stats.add("downloaded")
                stats.add("bytes", streamed)
            progress.segment_done()
            return path
        except VerificationError as err:
            progress.bytes(-streamed)
            last = err
        except httpx.TransportError as err:  # reset, truncated body, timeout
            progress.bytes(-streamed)
            last = err
        failures += 1
        if failures > retries:
            break
        log.info("segment %s: %s; retry %d of %d", seg.id, last, failures, retries)
        sleep(_backoff(client, failures))
    if isinstance(last, VerificationError):
        raise ChecksumError(
            f"segment {seg.id}: {last} after {failures} attempts",
            segment_id=seg.id,
            expected=seg.checksum if last.kind == "checksum" else None,
            actual=str(last.actual) if last.kind == "checksum" else None,
            expected_size=seg.size if last.kind == "size" else None,
            actual_size=last.actual if last.kind == "size" and isinstance(last.actual, int) else None,
        ) from last
    raise NetworkError(f"segment {seg.id}: download failed after {failures} attempts: {last}",
                       method="GET", attempts=failures) from last


def _raw_chunks(response: httpx.Response):
    """The body as sent (never content-decoded: the checksum is of the gzip bytes)."""
    if response.is_stream_consumed:  # an in-memory transport handed over a body already read
        data = response.content
        for i in range(0, len(data), _CHUNK):
            yield data[i : i + _CHUNK]
    else:
        yield from response.iter_raw(_CHUNK)


def download_segment(
    client: Client,
    segment: Any,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    retries: int = 2,
    progress: bool | ProgressCallback | None = False,
) -> Path:
    """Download one segment into the verified cache and return its path (gzip, as Apple sent it).

    ``segment`` is a :class:`~asc_nb.Segment`, a row of ``client.segments(...)`` or a segment
    id. A cached copy is returned without any network call. Raises ``ChecksumError`` when
    every attempt fails verification.
    """
    seg = _as_seg(client, segment)
    bar = _make_progress(progress, 1, "segment")
    bar.plan(1, seg.size or 0)
    try:
        return _download(client, seg, _cache(client, cache_dir), retries=retries, progress=bar,
                         sleep=_sleep_of(client))
    finally:
        bar.close()


def _sleep_of(client: Client) -> Callable[[float], None]:
    http = getattr(client, "http", None)
    sleep = getattr(http, "sleep", None)
    return sleep if sleep is not None else time.sleep  # not `or`: an injected recorder may be falsy


def read_segment(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Parse a downloaded segment file into a typed DataFrame (see :mod:`asc_nb.parse`)."""
    return arrow_to_pandas(read_table(path))


# --------------------------------------------------------------------------- tables


def _constant(value: Any, n: int, type_: pa.DataType) -> pa.Array:
    return pc.fill_null(pa.nulls(n, type_), pa.scalar(value, type_))


def _with_provenance(table: pa.Table, processing_date: Any, instance_id: str | None, segment_id: str) -> pa.Table:
    """Add processing_date, instance_id, segment_id (ids dictionary-encoded: categoricals, ~free)."""
    n = table.num_rows
    pdate = None if processing_date is None else pd.Timestamp(processing_date).as_unit("ns")
    zeros = pa.array(np.zeros(n, np.int32))
    return (
        table.append_column("processing_date", _constant(pdate, n, pa.timestamp("ns")))
        .append_column("instance_id", pa.DictionaryArray.from_arrays(zeros, pa.array([instance_id], pa.string())))
        .append_column("segment_id", pa.DictionaryArray.from_arrays(zeros, pa.array([segment_id], pa.string())))
    )


def _add_provenance(table: pa.Table, parts: list[tuple[Any, str | None, str, int]]) -> pa.Table:
    """Append processing_date, instance_id, segment_id to ``table``, the concatenation of ``parts``.

    ``parts`` are (processing_date, instance_id, segment_id, rows) in row order. The same
    columns as :func:`_with_provenance` on each part then ``concat_tables``, built in a few
    vectorised calls: the ids are dictionary-encoded with every part's id in order of first
    appearance (what pyarrow's dictionary unification of the per-part columns gives).
    """
    counts = np.fromiter((p[3] for p in parts), np.int64, len(parts))
    nulls = np.fromiter((p[0] is None for p in parts), bool, len(parts))
    stamps = np.fromiter((0 if p[0] is None else pd.Timestamp(p[0]).as_unit("ns").value for p in parts),
                         np.int64, len(parts))
    pdate = pa.array(np.repeat(stamps, counts), pa.timestamp("ns"), mask=np.repeat(nulls, counts) if nulls.any() else None)

    def ids(values: list[str | None]) -> pa.DictionaryArray:
        index: dict[str | None, int] = {}
        codes = np.fromiter((index.setdefault(v, len(index)) for v in values), np.int32, len(values))
        return pa.DictionaryArray.from_arrays(pa.array(np.repeat(codes, counts)), pa.array(list(index), pa.string()))

    return (
        table.append_column("processing_date", pdate)
        .append_column("instance_id", ids([p[1] for p in parts]))
        .append_column("segment_id", ids([p[2] for p in parts]))
    )


def _trim(table: pa.Table, start: dt.date | None, end: dt.date | None) -> pa.Table:
    """Rows whose ``date`` is in [start, end] (rows without a date are kept: they belong nowhere else)."""
    if (start is None and end is None) or "date" not in table.column_names or not table.num_rows:
        return table
    day = table.column("date")
    keep = pc.is_null(day)
    inside = None
    if start is not None:
        inside = pc.greater_equal(day, pa.scalar(pd.Timestamp(start).as_unit("ns"), pa.timestamp("ns")))
    if end is not None:
        upper = pc.less_equal(day, pa.scalar(pd.Timestamp(end).as_unit("ns"), pa.timestamp("ns")))
        inside = upper if inside is None else pc.and_(inside, upper)
    return table.filter(pc.or_(keep, inside))


def _empty_frame() -> pd.DataFrame:
    """No segment matched: still the columns every fetch has, typed, so ``df.date`` and
    ``df.groupby("date")`` work on an empty result (the report's own columns are unknown)."""
    return pd.DataFrame({
        "date": pd.Series(dtype="datetime64[ns]"),
        "processing_date": pd.Series(dtype="datetime64[ns]"),
        "instance_id": pd.Series(dtype="category"),
        "segment_id": pd.Series(dtype="category"),
    })


def _order_columns(frame: pd.DataFrame) -> pd.DataFrame:
    prov = [c for c in ("processing_date", "instance_id", "segment_id") if c in frame.columns]
    return frame[[c for c in frame.columns if c not in prov] + prov]


# --------------------------------------------------------------------------- the engine


@dataclass
class _Job:
    """One instance to read: its id and processing date."""

    instance_id: str
    processing_date: Any


class _Runner:
    """List segments (a few at a time), download them (many at a time), parse them (per core).

    Two pools: downloads are I/O (``workers`` threads, bytes go straight to disk); parsing is
    CPU and memory, so it runs on one thread per core — whatever ``workers`` is, at most that
    many segments are ever in memory, and allocator arenas exist only for those few threads.
    Segment listing is pulled ahead only while fewer than ``2 × workers`` downloads wait, so
    a listed URL is fetched within seconds (URLs expire after 5 minutes).
    """

    def __init__(self, client: Client, *, workers: int | None, cache_dir: Any, progress: bool | ProgressCallback | None,
                 desc: str, retries: int, handle: Callable[[pa.Table, _Job, _Seg], Any] | None,
                 segments_hint: int = 2):
        self.client = client
        self.workers = max(1, workers or DEFAULT_WORKERS)
        self.parsers = max(1, min(self.workers, os.cpu_count() or 2))
        self.cache = _cache(client, cache_dir)
        self.progress = _make_progress(progress, segments_hint, desc)
        self.retries = retries
        self.handle = handle
        self.sleep = _sleep_of(client)
        self.api_slots = threading.BoundedSemaphore(min(API_CONCURRENCY, self.workers))
        self.stats = _Stats(segments=0, downloaded=0, bytes=0, refreshed=0)

    def _list(self, job: _Job) -> list[_Seg]:
        with self.api_slots:
            segs = [_as_seg(self.client, s) for s in self.client.iter_segments(job.instance_id)]
        self.progress.plan(len(segs), sum(s.size or 0 for s in segs))
        return segs

    def _download(self, seg: _Seg) -> Path:
        return _download(self.client, seg, self.cache, retries=self.retries, progress=self.progress,
                         sleep=self.sleep, stats=self.stats)

    def _parse(self, path: Path, job: _Job, seg: _Seg) -> list[Any]:
        if self.handle is None:
            return [read_table(path)]
        table = _with_provenance(read_table(path), job.processing_date, job.instance_id, seg.id)
        return [self.handle(table, job, seg)]

    def run(self, jobs: list[_Job]) -> list[tuple[_Job, _Seg, Any]]:
        """Results as (job, segment, handle's return), in job then segment order.

        Without a ``handle`` the result is each segment's bare parsed table (no provenance
        columns: the caller adds them to the concatenation in one go), and small segments are
        parsed in batches, one pyarrow call per batch (:func:`asc_nb.parse.read_tables`).
        """
        results: list[tuple[tuple[int, int], tuple[_Job, _Seg, Any]]] = []
        todo = deque(enumerate(jobs))
        listing: dict[Future, tuple[int, _Job]] = {}
        loading: dict[Future, tuple[int, int, _Job, _Seg]] = {}
        parsing: dict[Future, list[tuple[int, int, _Job, _Seg]]] = {}
        batch: list[tuple[int, int, _Job, _Seg, Path]] = []
        batch_bytes = 0
        # Finished futures arrive here through a done-callback: O(1) per event, where
        # `wait(FIRST_COMPLETED)` installed and removed a waiter on every pending future.
        finished: queue.SimpleQueue[Future] = queue.SimpleQueue()
        io = ThreadPoolExecutor(self.workers, thread_name_prefix="asc-nb-download")
        cpu = ThreadPoolExecutor(self.parsers, thread_name_prefix="asc-nb-parse")

        def track(fut: Future) -> Future:
            fut.add_done_callback(finished.put)
            return fut

        def flush() -> None:
            nonlocal batch, batch_bytes
            if batch:
                parsing[track(cpu.submit(read_tables, [b[4] for b in batch]))] = [b[:4] for b in batch]
                batch, batch_bytes = [], 0

        try:
            while todo or listing or loading or parsing or batch:
                while todo and len(listing) < API_CONCURRENCY and len(loading) < 2 * self.workers:
                    k, job = todo.popleft()
                    listing[track(io.submit(self._list, job))] = (k, job)
                if not (todo or listing or loading):
                    flush()  # nothing more will arrive
                    if not parsing:
                        break
                fut = finished.get()
                if fut in listing:
                    k, job = listing.pop(fut)
                    segs = fut.result()
                    self.stats.add("segments", len(segs))
                    for i, seg in enumerate(segs):
                        loading[track(io.submit(self._download, seg))] = (k, i, job, seg)
                elif fut in loading:
                    k, i, job, seg = loading.pop(fut)
                    path = fut.result()
                    if self.handle is None and (seg.size is None or seg.size < _SMALL):
                        batch.append((k, i, job, seg, path))
                        batch_bytes += seg.size or 0
                        if len(batch) >= BATCH_SEGMENTS or batch_bytes >= BATCH_BYTES:
                            flush()
                    else:
                        parsing[track(cpu.submit(self._parse, path, job, seg))] = [(k, i, job, seg)]
                else:
                    for (k, i, job, seg), value in zip(parsing.pop(fut), fut.result(), strict=True):
                        results.append(((k, i), (job, seg, value)))
        except BaseException:
            for fut in [*listing, *loading, *parsing]:
                fut.cancel()
            raise
        finally:
            io.shutdown(wait=True, cancel_futures=True)
            cpu.shutdown(wait=True, cancel_futures=True)
            self.progress.close()
        results.sort(key=lambda r: r[0])
        return [r for _, r in results]

    def frame(self, jobs: list[_Job]) -> tuple[pa.Table, int]:
        """Every segment of ``jobs`` as one table with provenance columns, and the segment count."""
        results = self.run(jobs)
        if not results:
            return pa.table({}), 0
        table = unify_tables([t for _, _, t in results])
        parts = [(job.processing_date, job.instance_id, seg.id, t.num_rows) for job, seg, t in results]
        return _add_provenance(table, parts), len(results)


# --------------------------------------------------------------------------- public


def read_instance(
    client: Client,
    instance_id: str,
    *,
    processing_date: Any = None,
    cache_dir: str | os.PathLike[str] | None = None,
    workers: int | None = None,
    progress: bool | ProgressCallback | None = None,
    retries: int = 2,
) -> pd.DataFrame:
    """All segments of one instance as one typed DataFrame, with provenance columns.

    ``processing_date`` saves one API call when the caller knows it (``fetch`` does);
    otherwise it is read from the instance.
    """
    if processing_date is None:
        processing_date = client.instance(instance_id).processing_date
    runner = _Runner(client, workers=workers, cache_dir=cache_dir, progress=progress,
                     desc=f"instance {instance_id}", retries=retries, handle=None)
    table, segments = runner.frame([_Job(str(instance_id), processing_date)])
    frame = _order_columns(arrow_to_pandas(table))
    frame.attrs.update(instance_id=str(instance_id), segments=segments)
    return frame


def _find_report(client: Client, request_id: str, report_name: str) -> Any:
    found = list(client.iter_reports(request_id, name=report_name))
    exact = [r for r in found if r.name == report_name]
    if not exact:
        folded = [r for r in found if (r.name or "").casefold() == report_name.casefold()]
        exact = folded
    if exact:
        return exact[0]
    import difflib

    names = [r.name for r in client.iter_reports(request_id) if r.name]
    close = difflib.get_close_matches(report_name, names, n=5, cutoff=0.5)
    hint = f"; did you mean {', '.join(map(repr, close))}?" if close else f" ({len(names)} reports exist)"
    raise ReportNotFoundError(f"request {request_id} has no report named {report_name!r}{hint}")


def _period_start(day: dt.date | None, g: Granularity) -> dt.date | None:
    """The ``Date`` Apple gives the period containing ``day`` (Monday / the 1st / the day)."""
    if day is None or g is Granularity.DAILY:
        return day
    if g is Granularity.WEEKLY:
        return day - dt.timedelta(days=day.weekday())
    return day.replace(day=1)


def _caller_stacklevel() -> int:
    """The ``stacklevel`` (for the caller of this helper) of the first frame outside asc_nb.

    ``download.fetch`` and ``client.fetch`` sit at different depths; a warning should point at
    the analyst's line either way, not at asc-nb's internals.
    """
    package = os.path.dirname(os.path.abspath(__file__)) + os.sep
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package):
        frame, level = frame.f_back, level + 1
    return level


def _day(value: Any, what: str) -> dt.date | None:
    """A date argument or ``None`` (strict ISO text: see :func:`asc_nb.models.iso_date`)."""
    return None if value is None else iso_date(value, what)


def fetch(
    client: Client,
    request_id: str,
    report_name: str,
    granularity: Granularity | str = "DAILY",
    start: Any = None,
    end: Any = None,
    vintages: bool = False,
    to: str | os.PathLike[str] | None = None,
    progress: bool | ProgressCallback | None = None,
    *,
    workers: int | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    settle_days: int | None = None,
    retries: int = 2,
) -> pd.DataFrame | Path:
    """A report's rows for ``Date`` in [start, end]: every segment, verified, latest vintage.

    ``start``/``end`` are data dates (the ``Date`` column), inclusive; either may be ``None``.
    Apple publishes a day's rows, and corrections to them, in the instances of the following
    days, so instances are selected server-side by ``processingDate`` in
    [start, end + settle_days] (default :data:`SETTLE_DAYS` per granularity). By default each
    ``Date`` keeps only the rows of its greatest ``processing_date`` (Apple's overwrite rule);
    ``vintages=True`` keeps every vintage.

    Returns a DataFrame whose ``attrs`` carry ``report``, ``report_id``, ``request_id``,
    ``granularity``, ``missing_dates`` (expected dates without a row; also warned about with
    :class:`MissingDatesWarning`) and ``stats``. With ``to=path`` the rows are streamed segment
    by segment into Hive-partitioned Parquet (see :func:`asc_nb.to_parquet`) instead, never
    holding the report in memory, and the path is returned.

    ``progress``: ``True``/``False`` for a tqdm bar (``None``: a bar when there is more than one
    segment, unless ``ASC_NB_PROGRESS=0``), or a :data:`ProgressCallback` for a live display of
    one's own (widgets use it).
    """
    g = Granularity.parse(granularity, argument="granularity")
    first, last = _day(start, "start"), _day(end, "end")
    if to is not None and Path(to).exists() and not Path(to).is_dir():
        raise ValueError(f"to={str(to)!r} is a file: give fetch a directory to write Parquet partitions into")
    if first and last and last < first:
        raise ValueError(f"end ({last}) is before start ({first})")
    report = _find_report(client, request_id, report_name)
    lag = SETTLE_DAYS[g] if settle_days is None else int(settle_days)
    window = (first, None if last is None else last + dt.timedelta(days=lag))
    instances = list(client.iter_instances(report.id, g, processing_date=window if (first or last) else None))
    instances.sort(key=lambda i: (i.processing_date or dt.date.min, i.id))
    jobs = [_Job(i.id, i.processing_date) for i in instances]
    keep_from = _period_start(first, g)  # a week/month overlapping `start` is dated before it
    meta = {"report": report.name, "report_id": report.id, "request_id": str(request_id),
            "granularity": g.value, "start": first, "end": last}
    present: set[dt.date] = set()
    present_lock = threading.Lock()

    def note_dates(table: pa.Table) -> None:
        if "date" in table.column_names and table.num_rows:
            days = pc.unique(table.column("date").cast(pa.timestamp("s")).cast(pa.date32())).to_pylist()
            with present_lock:
                present.update(d for d in days if d is not None)

    if to is not None:
        root = Path(to)
        root.mkdir(parents=True, exist_ok=True)
        touched: set[Path] = set()
        touched_lock = threading.Lock()

        def write(table: pa.Table, job: _Job, seg: _Seg) -> int:
            table = _trim(table, keep_from, last)
            note_dates(table)
            dirs = write_partitions(table, root, report=report.name, granularity=g.value, series=report.id,
                                    processing_date=job.processing_date, instance_id=job.instance_id,
                                    segment_id=seg.id)
            with touched_lock:
                touched.update(dirs)
            return table.num_rows

        runner = _Runner(client, workers=workers, cache_dir=cache_dir, progress=progress,
                         desc=report.name, retries=retries, handle=write, segments_hint=len(jobs))
        rows = sum(n for _, _, n in runner.run(jobs))
        if not vintages:
            runner.stats["pruned_files"] = prune_to_latest(touched)
        runner.stats.update(instances=len(jobs), rows_written=rows)
        _report_missing(sorted(present), first, last, g, meta, runner.stats)
        return root

    runner = _Runner(client, workers=workers, cache_dir=cache_dir, progress=progress,
                     desc=report.name, retries=retries, handle=None, segments_hint=len(jobs))
    table, segments = runner.frame(jobs)
    if segments:  # trimmed and dated once, on the whole table (per segment: ~0.5 ms of pyarrow calls each)
        table = _trim(table, keep_from, last)
        note_dates(table)
    frame = arrow_to_pandas(table) if segments and table.num_columns else _empty_frame()
    if not vintages:
        frame = latest_vintage(frame)
    if "date" in frame.columns:
        frame = frame.sort_values("date", kind="stable", ignore_index=True)
    frame = _order_columns(frame)
    runner.stats.update(instances=len(jobs), rows=len(frame))
    frame.attrs.update(meta)
    _report_missing(sorted(present), first, last, g, frame.attrs, runner.stats)
    return frame


def _report_missing(present: list[dt.date], first: dt.date | None, last: dt.date | None, g: Granularity,
                    attrs: dict[str, Any], stats: dict[str, int]) -> None:
    lo = first or (present[0] if present else None)
    hi = last or (present[-1] if present else None)
    missing: list[dt.date] = []
    if lo is not None and hi is not None:
        missing = missing_dates(pd.DataFrame({"date": pd.to_datetime(present)}), lo, hi, g)
    attrs["missing_dates"] = missing
    attrs["stats"] = dict(stats)
    if missing:
        shown = ", ".join(d.isoformat() for d in missing[:10]) + (" …" if len(missing) > 10 else "")
        warnings.warn(
            f"{attrs.get('report')}: no rows for {len(missing)} {g.value.lower()} date(s) in "
            f"{lo}..{hi}: {shown} (not published yet, privacy-suppressed, or older than the 35-day "
            "instance retention)",
            MissingDatesWarning,
            stacklevel=_caller_stacklevel(),
        )
