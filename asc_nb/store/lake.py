"""The lake: Hive-partitioned Parquet, one file per (report, granularity, date, app), and the worker job.

Layout under ``lake/``::

    report=<name>/granularity=<DAILY|WEEKLY|MONTHLY>/date=<YYYY-MM-DD>/<app_id>.parquet

A file holds one app's rows of one ``Date`` (the ``date`` column lives in the directory
name), plus ``app_id``, ``processing_date``, ``instance_id`` and ``segment_id``. Its vintage
(``processing_date``, ``instance_id``) is also written into the Parquet footer, so deciding
whether an instance's rows replace what is stored reads one small footer, never a table.

Atomicity: a file is written in ``staging/`` (beside the lake, same filesystem, invisible to
readers) and renamed over its final name, so a reader sees the old rows or the new rows,
never half a file. Two writers of the same partition (two workers, two instances that
restate the same day) take the same striped ``flock`` first, so "latest processing date
wins" holds whatever order the instances arrive in.

:func:`run_job` is what an executor's worker runs: its argument and result are plain
picklable dicts, and it needs no API key (presigned URLs are their own authorisation).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from asc_nb.errors import SegmentFormatError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["LAKE", "STAGING", "partition_dir", "report_dir", "read_vintage", "commit_partition", "run_job"]

LAKE = "lake"
STAGING = "staging"
LOCKS = "locks"
VINTAGE_KEY = b"asc_nb.vintage"
#: provenance columns every lake file carries after the report's own columns
PROVENANCE = ("app_id", "processing_date", "instance_id", "segment_id")
_STRIPES = 64
_SAFE = " ()&,'+-._"


def encode(value: str) -> str:
    """A partition value as a directory name (readers URL-decode; report names rarely need it)."""
    return urllib.parse.quote(value, safe=_SAFE)


def report_dir(root: Path, report: str, granularity: str) -> Path:
    return root / LAKE / f"report={encode(report)}" / f"granularity={granularity}"


def partition_dir(root: Path, report: str, granularity: str, day: str) -> Path:
    return report_dir(root, report, granularity) / f"date={day}"


def read_vintage(path: Path) -> tuple[str, str] | None:
    """(processing_date ISO, instance_id) of a lake file, or ``None`` if there is no file."""
    try:
        meta = pq.read_schema(path).metadata or {}
    except FileNotFoundError:
        return None
    raw = meta.get(VINTAGE_KEY)
    if raw is None:  # a file we did not write: any vintage of ours replaces it
        return ("", "")
    info = json.loads(raw)
    return (info["processing_date"], info["instance_id"])


_thread_locks = [threading.Lock() for _ in range(_STRIPES)]


@contextlib.contextmanager
def _partition_lock(root: Path, key: str) -> Iterator[None]:
    """Striped: threads of one process by a Lock, processes by ``flock`` on ``locks/<n>``."""
    n = int(hashlib.sha1(key.encode()).hexdigest()[:8], 16) % _STRIPES
    with _thread_locks[n]:
        if fcntl is None:  # pragma: no cover
            yield
            return
        folder = root / LOCKS
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder / f"{n:02d}", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing drops the flock


def commit_partition(root: Path, report: str, granularity: str, day: str, app_id: str, table: pa.Table,
                     vintage: tuple[str, str]) -> bool:
    """Write ``table`` as the (report, granularity, day, app) partition unless a later vintage is there.

    Returns whether it was written. Vintages compare as (processing date, instance id): the
    latest processing date wins, across requests; equal dates are settled by instance id so
    every order of arrival ends with the same file.
    """
    final = partition_dir(root, report, granularity, day) / f"{app_id}.parquet"
    with _partition_lock(root, f"{report}/{granularity}/{day}/{app_id}"):
        current = read_vintage(final)
        if current is not None and current >= vintage:
            return False
        meta = dict(table.schema.metadata or {})
        meta[VINTAGE_KEY] = json.dumps({"processing_date": vintage[0], "instance_id": vintage[1]}).encode()
        staging = root / STAGING
        staging.mkdir(parents=True, exist_ok=True)
        tmp = staging / f"{uuid.uuid4().hex}.parquet.part"
        try:
            pq.write_table(table.replace_schema_metadata(meta), tmp, compression="zstd")
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, final)
        finally:
            tmp.unlink(missing_ok=True)
        return True


# --------------------------------------------------------------------------- worker side

#: process-local download clients registered by the caller (an in-process sandbox's transport);
#: a worker in another process does not find the key and uses a plain httpx client
_LOCAL_HTTP: dict[str, Any] = {}
_plain_http: Any = None
_plain_lock = threading.Lock()


def register_http(client: Any) -> str:
    """Make ``client`` (an httpx.Client) the download client for jobs run in this process."""
    key = f"{os.getpid()}-{id(client)}"
    _LOCAL_HTTP[key] = client
    return key


def unregister_http(key: str) -> None:
    _LOCAL_HTTP.pop(key, None)


def _http(key: str | None) -> Any:
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


class _Expired(Exception):
    """A segment URL was refused (they live 5 minutes): only the caller may ask the API for new ones."""


def _refuse_refresh(segment_id: str) -> str | None:
    raise _Expired(segment_id)


def _download(http: Any, cache: Any, job: Any) -> tuple[Path, bool]:
    """(verified cached path, whether it was downloaded now) of a ``SegmentJob``, by the data layer."""
    from asc_nb.data.progress import Progress
    from asc_nb.data.transfer import Stats, Transfer, download

    stats = Stats(downloaded=0)
    path = download(job, Transfer(http=http, cache=cache, refresh=_refuse_refresh), progress=Progress(False, ""),
                    stats=stats)
    return path, bool(stats["downloaded"])


def _provenance(table: pa.Table, app_id: str, processing_date: str, instance_id: str, segment_id: str) -> pa.Table:
    n = table.num_rows
    pdate = np.full(n, np.datetime64(processing_date, "ns"))
    return (table.append_column("app_id", pa.array([app_id] * n, pa.string()))
            .append_column("processing_date", pa.array(pdate, pa.timestamp("ns")))
            .append_column("instance_id", pa.array([instance_id] * n, pa.string()))
            .append_column("segment_id", pa.array([segment_id] * n, pa.string())))


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
    return {"string": pa.string(), "large_string": pa.large_string(), "int64": pa.int64(),
            "double": pa.float64(), "bool": pa.bool_(), "timestamp[ns]": pa.timestamp("ns"),
            "timestamp[s]": pa.timestamp("s"), "date32[day]": pa.date32()}.get(text) or pa.string()


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    """Download, verify, parse and commit one instance; plain dict in, plain dict out.

    ``job``: root, cache_dir, http (process-local key or None), app_id, report, granularity,
    instance_id, processing_date (ISO), start (ISO or None), types ({column: arrow type}) and
    segments (the data layer's picklable ``SegmentJob`` records). Result ``status``: ``ok`` (rows, dates, downloads,
    written, types, issues), ``expired`` (segment URLs refused: list them again and re-send)
    or ``failed`` (error, issues).
    """
    from asc_nb.data.cache import SegmentCache
    from asc_nb.data.parse import read_table, resolve_report, table_notes, unify_tables

    root = Path(job["root"])
    http = _http(job.get("http"))
    cache = SegmentCache(job["cache_dir"])
    issues: list[dict[str, Any]] = []
    tables, downloads = [], 0
    # typed from the registry; a value that does not fit becomes missing and is kept in store.issues()
    _, schema = resolve_report(job["report"], strict=False)
    try:
        for seg in job["segments"]:
            path, fresh = _download(http, cache, seg)
            downloads += fresh
            try:
                t = read_table(path, report=schema, errors="coerce", instance_id=job["instance_id"],
                               segment_id=seg.segment_id)
                for line, column, value in table_notes(t).get("issues", ()):
                    issues.append({"segment_id": seg.segment_id, "kind": "value", "line": line, "column": column,
                                   "value": None if value is None else str(value),
                                   "message": f"{value!r} does not fit column {column!r}; stored as missing"})
            except SegmentFormatError as err:
                issues.append({"segment_id": seg.segment_id, "kind": "format", "line": err.line, "column": err.column,
                               "value": None if err.value is None else str(err.value), "message": str(err)})
                raise
            tables.append(_provenance(t, job["app_id"], job["processing_date"], job["instance_id"], seg.segment_id))
    except _Expired:
        return {"status": "expired", "downloads": downloads}
    except Exception as err:  # one instance failing must not stop the sync: the caller records it
        return {"status": "failed", "error": f"{type(err).__name__}: {err}", "downloads": downloads,
                "issues": issues}
    table = unify_tables(tables) if tables else pa.table({})
    result: dict[str, Any] = {"status": "ok", "downloads": downloads, "rows": 0, "dates": [], "written": 0,
                              "issues": issues, "types": {}}
    if not table.num_rows:
        return result
    if "date" not in table.column_names:
        issues.append({"segment_id": None, "kind": "no_date", "line": None, "column": "date", "value": None,
                       "message": "the instance has no Date column: rows cannot be placed in the lake"})
        return {"status": "failed", "error": "no Date column", "downloads": downloads, "issues": issues}
    day = pc.strftime(table.column("date").cast(pa.timestamp("s")), format="%Y-%m-%d")
    missing = pc.sum(pc.is_null(day)).as_py() or 0
    if missing:
        issues.append({"segment_id": None, "kind": "blank_date", "line": None, "column": "date", "value": None,
                       "message": f"{missing} row(s) without a Date were left out"})
    table = table.drop_columns(["date"]).append_column("__day", day)
    table = table.filter(pc.is_valid(table.column("__day")))
    if job.get("start"):
        table = table.filter(pc.greater_equal(table.column("__day"), job["start"]))
    table, misfits = _conform(table, job.get("types"))
    for name in misfits:
        issues.append({"segment_id": None, "kind": "type", "line": None, "column": name, "value": None,
                       "message": f"values of {name!r} do not fit its documented type {job['types'][name]}; "
                                  "kept as parsed"})
    documented = job.get("documented")
    if documented:
        extra = sorted(set(table.column_names) - set(documented) - {"__day", *PROVENANCE})
        if extra:
            issues.append({"segment_id": None, "kind": "schema_drift", "line": None, "column": ",".join(extra),
                           "value": None, "message": f"columns Apple does not document for this report: {extra}"})
    result["types"] = {n: str(t) for n, t in zip(table.schema.names, table.schema.types, strict=True)
                       if n != "__day" and not pa.types.is_null(t)}
    vintage = (job["processing_date"], job["instance_id"])
    days = sorted(pc.unique(table.column("__day")).to_pylist())
    for d in days:
        part = table.filter(pc.equal(table.column("__day"), d)).drop_columns(["__day"])
        if commit_partition(root, job["report"], job["granularity"], d, job["app_id"], part, vintage):
            result["written"] += 1
        result["rows"] += part.num_rows
    result["dates"] = [days[0], days[-1]] if days else []
    return result
