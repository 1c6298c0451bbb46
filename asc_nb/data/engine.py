"""The concurrent runner: list segments (a few at a time), download them (many), parse them (per core).

Concurrency uses bounded thread pools: Jupyter already runs an event loop, httpx.Client is
thread-safe, and the heavy work (isal inflate, pyarrow parse) releases the GIL. Listing
segments is an API call the runner does not make itself: it calls the ``list_segments``
callable it was handed (the client's), at most :data:`API_CONCURRENCY` at a time; downloads
go to the presigned host through :mod:`asc_nb.data.transfer`.
"""

from __future__ import annotations

import os
import queue
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from ..errors import DownloadCancelled
from .parse import Errors, ReportArg, read_table, read_tables
from .progress import Progress, ProgressCallback, make_progress
from .transfer import SegmentJob, Stats, Transfer, download

__all__ = ["API_CONCURRENCY", "DEFAULT_WORKERS", "InstanceJob", "ListSegments", "Runner"]

#: Concurrent downloads. Latency-bound work: more threads than cores is the point.
DEFAULT_WORKERS = 16
#: Concurrent API calls (segment listings) — polite to Apple, still overlapped with downloads.
API_CONCURRENCY = 4
#: Small segments are parsed in batches of up to this many files / compressed bytes (one
#: pyarrow call each, see :func:`asc_nb.data.parse.read_tables`); larger ones one by one.
BATCH_SEGMENTS = 64
BATCH_BYTES = 4 << 20
#: ... and a batch of at least this many goes to a parser as soon as one is idle, so parsing
#: overlaps the downloads and the batch left for after the last download is small.
BATCH_EAGER = 16
_SMALL = 1 << 20
#: how often a cancellable run looks at its cancel event while it waits for workers (seconds)
_CANCEL_POLL = 0.05

#: ``list_segments(instance_id) -> jobs``: the caller lists an instance's segments (an API call)
ListSegments = Callable[[str], Iterable[SegmentJob]]


@dataclass(frozen=True)
class InstanceJob:
    """One instance to read: its id and processing date (plain data)."""

    instance_id: str
    processing_date: Any


Handle = Callable[[pa.Table, InstanceJob, SegmentJob], Any]


class Runner:
    """List segments (a few at a time), download them (many at a time), parse them (per core).

    Two pools: downloads are I/O (``workers`` threads, bytes go straight to disk); parsing is
    CPU and memory, so it runs on one thread per core — whatever ``workers`` is, at most that
    many segments are ever in memory, and allocator arenas exist only for those few threads.
    Segment listing is pulled ahead only while fewer than ``2 × workers`` downloads wait, so
    a listed URL is fetched within seconds (URLs expire after 5 minutes).
    """

    def __init__(
        self,
        transfer: Transfer,
        list_segments: ListSegments,
        *,
        workers: int | None = None,
        progress: bool | ProgressCallback | None = None,
        desc: str = "",
        handle: Handle | None = None,
        segments_hint: int = 2,
        report: ReportArg = None,
        errors: Errors = "raise",
    ):
        self.transfer = transfer
        self.list_segments = list_segments
        self.workers = max(1, workers or DEFAULT_WORKERS)
        self.parsers = max(1, min(self.workers, os.cpu_count() or 2))
        self.progress: Progress = make_progress(progress, segments_hint, desc)
        self.handle = handle
        #: what segments are typed by (a registry schema, or None: by column name) and ``errors=``
        self.report = report
        self.errors = errors
        self.stats = Stats(segments=0, downloaded=0, bytes=0, refreshed=0)

    def _list(self, job: InstanceJob) -> list[SegmentJob]:
        self.transfer.check()
        segs = list(self.list_segments(job.instance_id))
        self.progress.plan(len(segs), sum(s.size or 0 for s in segs))
        return segs

    def _download(self, seg: SegmentJob) -> Path:
        return download(seg, self.transfer, progress=self.progress, stats=self.stats)

    def _parse(self, path: Path, job: InstanceJob, seg: SegmentJob) -> list[Any]:
        table = read_table(
            path,
            report=self.report,
            errors=self.errors,
            instance_id=job.instance_id,
            segment_id=seg.segment_id,
        )
        return [table] if self.handle is None else [self.handle(table, job, seg)]

    def run(self, jobs: list[InstanceJob]) -> list[tuple[InstanceJob, SegmentJob, Any]]:
        """Results as (job, segment, handle's return), in job then segment order.

        Without a ``handle`` the result is each segment's bare parsed table (no provenance
        columns: the caller adds them to the concatenation in one go), and small segments are
        parsed in batches, one pyarrow call per batch (:func:`asc_nb.data.parse.read_tables`).
        When the transfer's cancel event is set, in-flight downloads are closed (not awaited),
        their temporary files removed, and :class:`~asc_nb.errors.DownloadCancelled` is raised.
        """
        results: list[tuple[tuple[int, int], tuple[InstanceJob, SegmentJob, Any]]] = []
        todo = deque(enumerate(jobs))
        listing: dict[Future, tuple[int, InstanceJob]] = {}
        loading: dict[Future, tuple[int, int, InstanceJob, SegmentJob]] = {}
        parsing: dict[Future, list[tuple[int, int, InstanceJob, SegmentJob]]] = {}
        batch: list[tuple[int, int, InstanceJob, SegmentJob, Path]] = []
        batch_bytes = 0
        # Finished futures arrive here through a done-callback: O(1) per event, where
        # `wait(FIRST_COMPLETED)` installed and removed a waiter on every pending future.
        finished: queue.SimpleQueue[Future] = queue.SimpleQueue()
        io = ThreadPoolExecutor(self.workers, thread_name_prefix="asc-nb-download")
        cpu = ThreadPoolExecutor(self.parsers, thread_name_prefix="asc-nb-parse")
        cancellable = self.transfer.cancel is not None
        abandon = False

        def track(fut: Future) -> Future:
            fut.add_done_callback(finished.put)
            return fut

        def flush() -> None:
            nonlocal batch, batch_bytes
            if batch:
                parsing[
                    track(
                        cpu.submit(
                            read_tables,
                            [b[4] for b in batch],
                            report=self.report,
                            errors=self.errors,
                            ids=[(b[2].instance_id, b[3].segment_id) for b in batch],
                        )
                    )
                ] = [b[:4] for b in batch]
                batch, batch_bytes = [], 0

        def next_finished() -> Future:
            if not cancellable:
                return finished.get()
            while True:
                self.transfer.check()
                try:
                    return finished.get(timeout=_CANCEL_POLL)
                except queue.Empty:
                    continue

        try:
            self.transfer.check()
            while todo or listing or loading or parsing or batch:
                while todo and len(listing) < API_CONCURRENCY and len(loading) < 2 * self.workers:
                    k, job = todo.popleft()
                    listing[track(io.submit(self._list, job))] = (k, job)
                if not (todo or listing or loading):
                    flush()  # nothing more will arrive
                    if not parsing:
                        break
                fut = next_finished()
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
                        if (
                            len(batch) >= BATCH_SEGMENTS
                            or batch_bytes >= BATCH_BYTES
                            or (len(batch) >= BATCH_EAGER and len(parsing) < self.parsers)
                        ):
                            flush()
                    else:
                        parsing[track(cpu.submit(self._parse, path, job, seg))] = [(k, i, job, seg)]
                else:
                    for (k, i, job, seg), value in zip(parsing.pop(fut), fut.result(), strict=True):
                        results.append(((k, i), (job, seg, value)))
            self.transfer.check()  # set while the last parse ran: still cancelled
        except BaseException as exc:
            for fut in [*listing, *loading, *parsing]:
                fut.cancel()
            if isinstance(exc, DownloadCancelled) or self.transfer.cancelled:
                abandon = True
                self.transfer.cancel_now()  # close in-flight streams, drop their temporary files
            raise
        finally:
            # a cancelled run returns now: workers still blocked in a read finish on their own
            io.shutdown(wait=not abandon, cancel_futures=True)
            cpu.shutdown(wait=not abandon, cancel_futures=True)
            self.progress.close()
        results.sort(key=lambda r: r[0])
        return [r for _, r in results]
