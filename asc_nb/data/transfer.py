"""One segment download: presigned URL → verified file in the cache.

What it guards against (peers get these wrong):

* the download client it is handed never carries the bearer token (the presigned S3 URL is
  its own authorisation; the client strips ``Authorization`` on every request);
* bytes stream to disk through :class:`~asc_nb.data.cache.SegmentCache`, verified against
  ``sizeInBytes`` and the MD5 ``checksum`` on the way; nothing unverified is kept;
* a URL that expired (403: URLs live 5 minutes) is renewed through the ``refresh`` callable
  (the caller owns the API) and retried; 429/5xx back off with the caller's
  :class:`~asc_nb.http.RetryPolicy` (``Retry-After`` honoured up to ``backoff_max``); a
  size/checksum mismatch or a dropped connection is retried, then raised;
* a ``cancel`` event stops it: in-flight streams are closed by :meth:`Transfer.cancel_now`
  (from any thread, without waiting for them) and their temporary files removed.

A :class:`SegmentJob` is plain, picklable data, so the same job can run in another process.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import random as _random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

from ..errors import ChecksumError, DownloadCancelled, NetworkError
from ..http import RetryPolicy, from_response, parse_retry_after
from .cache import SegmentCache, VerificationError, VerifiedWriter
from .progress import Progress

__all__ = ["RefreshURL", "SegmentJob", "Stats", "Transfer", "download", "job_from"]

log = logging.getLogger("asc_nb.download")

_TRANSIENT = frozenset({429, 500, 502, 503, 504})
_CHUNK = 1 << 16
#: keys of in-flight transfers (unique for the process: an id() of a freed object is reused)
_KEYS = itertools.count()

#: ``refresh(segment_id) -> url``: a freshly presigned URL for a segment (the caller asks the API)
RefreshURL = Callable[[str], "str | None"]


@dataclass(frozen=True)
class SegmentJob:
    """What downloading one segment needs: plain data (picklable), no client, no session."""

    segment_id: str
    url: str | None
    checksum: str
    size: int | None
    instance_id: str | None = None


class Stats(dict):
    """Counters shared by worker threads."""

    def __init__(self, **initial: int):
        super().__init__(**initial)
        self._lock = threading.Lock()

    def add(self, key: str, n: int = 1) -> None:
        with self._lock:
            self[key] = self.get(key, 0) + n


@dataclass
class Transfer:
    """Everything a download is handed: the download-host client, the cache, the retry policy,
    the URL refresher, and how to wait. The data layer never sees an API client."""

    http: httpx.Client
    cache: SegmentCache
    refresh: RefreshURL
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    retries: int = 2
    sleep: Callable[[float], None] = time.sleep
    random: Callable[[], float] = _random.random
    cancel: threading.Event | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _open: dict[int, tuple[httpx.Response | None, VerifiedWriter]] = field(default_factory=dict, repr=False)

    @property
    def cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()

    def check(self) -> None:
        """Raise :class:`DownloadCancelled` once the cancel event is set."""
        if self.cancelled:
            raise DownloadCancelled("download cancelled; nothing unverified was kept")

    def backoff(self, attempt: int, retry_after: str | None = None) -> float:
        """The caller's retry policy, so downloads and API calls back off alike (``Retry-After`` capped)."""
        wait = parse_retry_after(retry_after)
        if wait is not None:
            return min(wait, self.retry.backoff_max)
        return self.retry.backoff(attempt, self.random)

    def wait(self, seconds: float) -> None:
        """Sleep, but wake up (and raise) as soon as the download is cancelled.

        A real wait is spent on the cancel event; an injected ``sleep`` (tests, scaled clocks) is
        called as given and the event looked at afterwards.
        """
        if self.cancel is None or self.sleep is not time.sleep:
            self.sleep(seconds)
            self.check()
        elif self.cancel.wait(seconds):
            self.check()

    def cancel_now(self) -> None:
        """Close every in-flight stream and drop its temporary file, without waiting for the workers.

        Safe from any thread; a worker blocked in a read sees its stream closed (or, at worst, its
        file gone) and gives up at its next chunk.
        """
        with self._lock:
            flights = list(self._open.values())
            self._open.clear()
        for response, writer in flights:
            writer.abort()
            if response is not None:
                with contextlib.suppress(Exception):  # closing from another thread is best effort
                    response.close()

    def _track(self, key: int, response: httpx.Response | None, writer: VerifiedWriter) -> None:
        with self._lock:
            self._open[key] = (response, writer)
        if self.cancelled:  # cancelled between the check and the registration
            self.cancel_now()

    def _untrack(self, key: int) -> None:
        with self._lock:
            self._open.pop(key, None)


def _raw_chunks(response: httpx.Response) -> Iterator[bytes]:
    """The body as sent (never content-decoded: the checksum is of the gzip bytes)."""
    if response.is_stream_consumed:  # an in-memory transport handed over a body already read
        data = response.content
        for i in range(0, len(data), _CHUNK):
            yield data[i : i + _CHUNK]
    else:
        yield from response.iter_raw(_CHUNK)


def download(job: SegmentJob, transfer: Transfer, *, progress: Progress, stats: Stats | None = None) -> Path:
    """Download ``job`` into the verified cache and return its path (a cached copy costs no request)."""
    cache = transfer.cache
    hit = cache.get(job.checksum, job.size)
    if hit is not None:
        progress.segment_done(job.size or 0)
        return hit
    url = job.url
    refreshes = 0
    failures = 0
    pause = 0.0
    last: BaseException | None = None
    while True:
        transfer.check()
        if url is None:  # a listing without URLs: ask for the segment itself
            url = transfer.refresh(job.segment_id)
            refreshes += 1
            if url is None:
                raise NetworkError(f"segment {job.segment_id} has no download URL")
        if pause:  # a 429/5xx asked us to wait: done here, with the connection released
            transfer.wait(pause)
            pause = 0.0
        streamed = 0
        key = next(_KEYS)
        try:
            with cache.writer(job.checksum, job.size) as sink:
                transfer._track(key, None, sink)
                try:
                    with transfer.http.stream("GET", url) as response:
                        transfer._track(key, response, sink)
                        status = response.status_code
                        if status == 403 and refreshes < 2:
                            # presigned URLs live 5 minutes: ask the caller for a fresh one
                            log.info("segment %s: URL refused (403), asking for a fresh URL", job.segment_id)
                            response.read()
                            url = transfer.refresh(job.segment_id)
                            refreshes += 1
                            if stats is not None:
                                stats.add("refreshed")
                            continue
                        if status in _TRANSIENT and failures < transfer.retries:
                            failures += 1
                            pause = transfer.backoff(failures, response.headers.get("Retry-After"))
                            response.read()
                            continue
                        if status >= 400:
                            response.read()
                            raise from_response(response, attempts=failures + 1)
                        for chunk in _raw_chunks(response):
                            if transfer.cancelled:
                                break
                            sink.write(chunk)
                            streamed += len(chunk)
                            progress.bytes(len(chunk))
                        transfer.check()
                        path = sink.commit()
                finally:
                    transfer._untrack(key)
            if stats is not None:
                stats.add("downloaded")
                stats.add("bytes", streamed)
            progress.segment_done()
            return path
        except VerificationError as err:
            progress.bytes(-streamed)
            transfer.check()  # an abort by cancel_now is not a bad download
            last = err
        except (httpx.TransportError, httpx.StreamClosed, ValueError, OSError) as err:
            # reset, truncated body, timeout — or, once cancelled, a stream/file closed under us
            progress.bytes(-streamed)
            transfer.check()
            if not isinstance(err, httpx.TransportError):
                raise
            last = err
        failures += 1
        if failures > transfer.retries:
            break
        log.info("segment %s: %s; retry %d of %d", job.segment_id, last, failures, transfer.retries)
        transfer.wait(transfer.backoff(failures))
    if isinstance(last, VerificationError):
        raise ChecksumError(
            f"segment {job.segment_id}: {last} after {failures} attempts",
            segment_id=job.segment_id,
            expected=job.checksum if last.kind == "checksum" else None,
            actual=str(last.actual) if last.kind == "checksum" else None,
            expected_size=job.size if last.kind == "size" else None,
            actual_size=last.actual if last.kind == "size" and isinstance(last.actual, int) else None,
        ) from last
    raise NetworkError(
        f"segment {job.segment_id}: download failed after {failures} attempts: {last}",
        method="GET",
        attempts=failures,
    ) from last


def job_from(segment: Any, *, instance_id: str | None = None) -> SegmentJob:
    """A :class:`SegmentJob` from a segment record, a listing row (Series/mapping) or anything with
    ``id``/``checksum``/``size_in_bytes``/``url`` (``ValueError`` when id or checksum is missing)."""

    def pick(*names: str) -> Any:
        for name in names:
            value = (
                segment.get(name)
                if isinstance(segment, (Mapping, pd.Series))
                else getattr(segment, name, None)
            )
            if value is not None and (isinstance(value, str) or not pd.isna(value)):
                return value
        return None

    seg_id, checksum = pick("id", "segment_id"), pick("checksum")
    if seg_id is None or checksum is None:
        raise ValueError(f"not a segment (needs id and checksum): {segment!r}")
    size = pick("size_in_bytes", "sizeInBytes", "size")
    inst = pick("instance_id")
    return SegmentJob(
        str(seg_id),
        pick("url"),
        str(checksum),
        None if size is None else int(size),
        str(inst) if inst is not None else instance_id,
    )
