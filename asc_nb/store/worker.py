"""The worker job: download, verify, parse and commit one instance into the store's destination.

:func:`run_job` is what an executor's worker runs: its argument and result are plain picklable
data (the destination travels as its ``spec()`` and is rebuilt with
:func:`~asc_nb.store.destination.open_destination`, so a Dask worker in another process writes
the same lake), and it needs no API key (presigned URLs are their own authorisation). The
layout, commit and vintage rule are the destination's (:mod:`asc_nb.data.lake` for Parquet).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from asc_nb.data.lake import PROVENANCE, day_text, provenance
from asc_nb.errors import SegmentFormatError, SegmentURLExpired
from asc_nb.store.destination import open_destination

if TYPE_CHECKING:  # pragma: no cover
    import httpx

    from asc_nb.data.cache import SegmentCache
    from asc_nb.data.transfer import SegmentJob

__all__ = ["JobResult", "SyncJob", "register_http", "run_job", "unregister_http"]


# --------------------------------------------------------------------------- worker side

#: process-local download clients registered by the caller (an in-process sandbox's transport);
#: a worker in another process does not find the key and uses a plain httpx client
_LOCAL_HTTP: dict[str, httpx.Client] = {}
_plain_http: httpx.Client | None = None
_plain_lock = threading.Lock()


def register_http(client: httpx.Client) -> str:
    """Make ``client`` (an httpx.Client) the download client for jobs run in this process."""
    key = f"{os.getpid()}-{id(client)}"
    _LOCAL_HTTP[key] = client
    return key


def unregister_http(key: str) -> None:
    _LOCAL_HTTP.pop(key, None)


def _http(key: str | None) -> httpx.Client:
    global _plain_http
    found = _LOCAL_HTTP.get(key or "")
    if found is not None:
        return found
    with _plain_lock:
        if _plain_http is None:
            import httpx

            # presigned URLs carry their own authorisation: this client never holds a token
            _plain_http = httpx.Client(timeout=httpx.Timeout(60.0, connect=10.0), follow_redirects=True)
        return _plain_http


def _refuse_refresh(segment_id: str) -> str | None:
    """A worker holds no key: a refused (expired) segment URL goes back to the caller to be listed again."""
    raise SegmentURLExpired(segment_id)


def _download(http: httpx.Client, cache: SegmentCache, job: SegmentJob) -> tuple[Path, bool]:
    """(verified cached path, whether it was downloaded now) of a ``SegmentJob``, by the data layer."""
    from asc_nb.data.progress import Progress
    from asc_nb.data.transfer import Stats, Transfer, download

    stats = Stats(downloaded=0)
    path = download(
        job,
        Transfer(http=http, cache=cache, refresh=_refuse_refresh),
        progress=Progress(False, ""),
        stats=stats,
    )
    return path, bool(stats["downloaded"])


def _conform(table: pa.Table, types: dict[str, str] | None) -> tuple[pa.Table, list[str]]:
    """Cast columns to the lake's types for this report (so every file of a report agrees).

    Returns the table and the columns whose values did not fit their type (kept as parsed).
    """
    if not types:
        return table, []
    cols, misfits = [], []
    for name, col in zip(table.column_names, table.columns, strict=True):
        want = types.get(name)
        if want is not None and str(col.type) != want:
            try:
                col = col.cast(_arrow_type(want))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
                misfits.append(name)
        cols.append(col)
    return pa.Table.from_arrays(cols, names=table.column_names), misfits


def _arrow_type(text: str) -> pa.DataType:
    return {
        "string": pa.string(),
        "large_string": pa.large_string(),
        "int64": pa.int64(),
        "double": pa.float64(),
        "bool": pa.bool_(),
        "timestamp[ns]": pa.timestamp("ns"),
        "timestamp[s]": pa.timestamp("s"),
        "date32[day]": pa.date32(),
    }.get(text) or pa.string()


@dataclass(frozen=True)
class SyncJob:
    """One instance to download, verify, parse and commit: plain picklable data (no key, no client).

    ``destination``: the store destination's ``spec()``; ``http``: a process-local download-client
    key (:func:`register_http`) or ``None``; ``start``: skip rows dated before it (ISO);
    ``types``: {column: arrow type} every file of the report must have; ``documented``: the
    columns Apple documents (``None``: unknown report); ``segments``: the data layer's ``SegmentJob``s;
    ``known_on``: the vintage's rank (ISO; ``None``: the processing date) -- a ONE_TIME_SNAPSHOT's
    instance is ranked by the day the store first saw it, its rows keep Apple's ``processing_date``.
    """

    destination: dict[str, str]
    cache_dir: str
    http: str | None
    app_id: str
    report: str
    granularity: str
    instance_id: str
    processing_date: str
    segments: list[SegmentJob]
    start: str | None = None
    types: dict[str, str] = field(default_factory=dict)
    documented: list[str] | None = None
    known_on: str | None = None


@dataclass
class JobResult:
    """What a job did. ``status``: ``ok``, ``expired`` (segment URLs refused: list them again and re-send)
    or ``failed`` (``error`` says why); ``issues`` are rows for ``store.issues()``."""

    status: str
    downloads: int = 0
    rows: int = 0
    written: int = 0
    dates: list[str] = field(default_factory=list)
    types: dict[str, str] = field(default_factory=dict)
    issues: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None


def run_job(job: SyncJob) -> JobResult:
    """Download, verify, parse and commit one instance (see :class:`SyncJob`, :class:`JobResult`)."""
    from asc_nb.data.cache import SegmentCache
    from asc_nb.data.parse import read_table, resolve_report, table_notes, unify_tables

    destination = open_destination(job.destination)
    http = _http(job.http)
    cache = SegmentCache(job.cache_dir)
    issues: list[dict[str, Any]] = []
    tables, downloads = [], 0
    # typed from the registry; a value that does not fit becomes missing and is kept in store.issues()
    _, schema = resolve_report(job.report, strict=False)
    try:
        for seg in job.segments:
            path, fresh = _download(http, cache, seg)
            downloads += fresh
            try:
                t = read_table(
                    path,
                    report=schema,
                    errors="coerce",
                    instance_id=job.instance_id,
                    segment_id=seg.segment_id,
                )
                for line, column, value in table_notes(t).get("issues", ()):
                    issues.append(
                        {
                            "segment_id": seg.segment_id,
                            "kind": "value",
                            "line": line,
                            "column": column,
                            "value": None if value is None else str(value),
                            "message": f"{value!r} does not fit column {column!r}; stored as missing",
                        }
                    )
            except SegmentFormatError as err:
                issues.append(
                    {
                        "segment_id": seg.segment_id,
                        "kind": "format",
                        "line": err.line,
                        "column": err.column,
                        "value": None if err.value is None else str(err.value),
                        "message": str(err),
                    }
                )
                raise
            tables.append(provenance(t, job.app_id, job.processing_date, job.instance_id, seg.segment_id))
    except SegmentURLExpired:
        return JobResult("expired", downloads=downloads)
    except Exception as err:  # one instance failing must not stop the sync: the caller records it
        return JobResult("failed", downloads=downloads, issues=issues, error=f"{type(err).__name__}: {err}")
    table = unify_tables(tables) if tables else pa.table({})
    result = JobResult("ok", downloads=downloads, issues=issues)
    if not table.num_rows:
        return result
    if "date" not in table.column_names:
        issues.append(
            {
                "segment_id": None,
                "kind": "no_date",
                "line": None,
                "column": "date",
                "value": None,
                "message": "the instance has no Date column: rows cannot be placed in the lake",
            }
        )
        return JobResult("failed", downloads=downloads, issues=issues, error="no Date column")
    day = day_text(table.column("date"))
    missing = pc.sum(pc.is_null(day)).as_py() or 0
    if missing:
        issues.append(
            {
                "segment_id": None,
                "kind": "blank_date",
                "line": None,
                "column": "date",
                "value": None,
                "message": f"{missing} row(s) without a Date were left out",
            }
        )
    table = table.drop_columns(["date"]).append_column("__day", day)
    table = table.filter(pc.is_valid(table.column("__day")))
    if job.start:
        table = table.filter(pc.greater_equal(table.column("__day"), job.start))
    table, misfits = _conform(table, job.types)
    for name in misfits:
        issues.append(
            {
                "segment_id": None,
                "kind": "type",
                "line": None,
                "column": name,
                "value": None,
                "message": f"values of {name!r} do not fit its documented type {job.types[name]}; "
                "kept as parsed",
            }
        )
    if job.documented:
        extra = sorted(set(table.column_names) - set(job.documented) - {"__day", *PROVENANCE})
        if extra:
            issues.append(
                {
                    "segment_id": None,
                    "kind": "schema_drift",
                    "line": None,
                    "column": ",".join(extra),
                    "value": None,
                    "message": f"columns Apple does not document for this report: {extra}",
                }
            )
    result.types = {
        n: str(t)
        for n, t in zip(table.schema.names, table.schema.types, strict=True)
        if n != "__day" and not pa.types.is_null(t)
    }
    vintage = (job.known_on or job.processing_date, job.instance_id)
    days = sorted(pc.unique(table.column("__day")).to_pylist())
    for d in days:
        part = table.filter(pc.equal(table.column("__day"), d)).drop_columns(["__day"])
        if destination.write_partition(job.report, job.granularity, d, job.app_id, part, vintage).written:
            result.written += 1
        result.rows += part.num_rows
    result.dates = [days[0], days[-1]] if days else []
    return result
