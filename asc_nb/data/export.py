"""Hive-partitioned Parquet: ``<root>/report=<name>/granularity=<G>/date=<YYYY-MM-DD>/*.parquet``.

Why this layout: DuckDB (``hive_partitioning=true``), pandas/pyarrow, Spark and Dask all read
it unchanged and prune by report, granularity and date without opening files.

Why these file names: a file that came from a segment is called
``<series>__<processingDate>__<instance>__<segment>.parquet`` (``series`` = the report id, one
per app and request). Writing the same segment again overwrites the same file, so exports are
idempotent; and inside one ``date=`` directory only the files of the greatest processingDate
of each series are kept — Apple's latest-vintage rule applied on disk, which is what lets
``fetch(..., to=path)`` stream segment by segment and still never double count, and lets a
daily incremental export pick up Apple's corrections. Every file is written to a temporary
name and renamed, so a reader never sees half a file.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from urllib.parse import quote

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from .parse import arrow_to_pandas

__all__ = ["prune_to_latest", "read_parquet", "to_parquet", "write_partitions"]

PARTITIONS = ("report", "granularity", "date")
NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"
_SAFE = re.compile(r"[^A-Za-z0-9.-]+")
_NAME = re.compile(r"^(?P<series>[A-Za-z0-9.-]+)__(?P<pd>\d{8})__[A-Za-z0-9.-]+__[A-Za-z0-9.-]+\.parquet$")


def _token(value: object) -> str:
    """A file-name-safe token (ids come from a server: never let one become a path)."""
    text = _SAFE.sub("-", str(value)).strip("-.")
    return text[:80] or "x"


def _partition_value(value: object) -> str:
    # Hive values are URI-encoded; DuckDB and pyarrow decode them. Keep readable characters.
    return quote(str(value), safe=" ()-_.,+&'")


def _day_text(values: pa.ChunkedArray | pa.Array) -> pa.Array:
    if pa.types.is_timestamp(values.type) or pa.types.is_date(values.type):
        return pc.strftime(values.cast(pa.timestamp("s")), format="%Y-%m-%d")
    return pc.utf8_slice_codeunits(values.cast(pa.string()), 0, 10)


def _arrow(frame: pd.DataFrame) -> pa.Table:
    """pandas → Arrow without ``attrs`` (fetch's attrs hold dates, which pandas' Parquet metadata can't encode)."""
    bare = frame.copy(deep=False)
    bare.attrs = {}
    return pa.Table.from_pandas(bare, preserve_index=False)


def write_partitions(
    table: pa.Table,
    root: str | os.PathLike[str],
    *,
    report: str,
    granularity: str,
    series: str | None = None,
    processing_date: object | None = None,
    instance_id: str | None = None,
    segment_id: str | None = None,
) -> list[Path]:
    """Write one table (typically one segment) split by ``date``; return the directories touched.

    With ``series``/``processing_date``/``instance_id``/``segment_id`` the files get the
    deterministic names described in the module docstring; otherwise a random name (append).
    """
    root = Path(root)
    base = root / f"report={_partition_value(report)}" / f"granularity={_partition_value(granularity)}"
    if processing_date is not None and instance_id is not None and segment_id is not None:
        stamp = pd.Timestamp(processing_date).strftime("%Y%m%d")
        name = f"{_token(series or 'series')}__{stamp}__{_token(instance_id)}__{_token(segment_id)}.parquet"
    else:
        name = f"part-{uuid.uuid4().hex}.parquet"
    drop = [c for c in PARTITIONS if c in table.column_names]
    if "date" in table.column_names and table.num_rows:
        days = _day_text(table.column("date"))
        keys = pc.unique(days).to_pylist()
    else:
        days, keys = None, [None]
    touched: list[Path] = []
    for key in keys:
        part = table if days is None or len(keys) == 1 else table.filter(
            pc.is_null(days) if key is None else pc.equal(days, key)
        )
        directory = base / f"date={NULL_PARTITION if key is None else key}"
        directory.mkdir(parents=True, exist_ok=True)
        tmp = directory / f".{name}.{uuid.uuid4().hex}.tmp"
        try:
            pq.write_table(part.drop_columns(drop), tmp)
            os.replace(tmp, directory / name)
        finally:
            tmp.unlink(missing_ok=True)
        touched.append(directory)
    return touched


def prune_to_latest(directories: Iterable[str | os.PathLike[str]]) -> int:
    """In each ``date=`` directory keep only each series' newest processingDate files; return files removed."""
    removed = 0
    for d in {Path(p) for p in directories}:
        newest: dict[str, str] = {}
        files: list[tuple[Path, str, str]] = []
        for f in d.iterdir():
            m = _NAME.match(f.name)
            if m:
                files.append((f, m["series"], m["pd"]))
                newest[m["series"]] = max(newest.get(m["series"], ""), m["pd"])
        for f, series, stamp in files:
            if stamp < newest[series]:
                f.unlink(missing_ok=True)
                removed += 1
    return removed


def to_parquet(
    frame: pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    report: str | None = None,
    granularity: str | None = None,
    latest_only: bool = True,
) -> Path:
    """Write ``frame`` as Hive partitions report/granularity/date under ``path``; return ``path``.

    ``report``/``granularity`` default to the frame's columns of those names, then to
    ``frame.attrs`` (``fetch`` sets them). Frames with provenance columns (``processing_date``,
    ``instance_id``, ``segment_id``) get one deterministic file per segment and date, and — with
    ``latest_only`` — older vintages already on disk for the same dates are removed.
    """
    root = Path(path)
    root.mkdir(parents=True, exist_ok=True)
    attrs: Mapping[str, object] = getattr(frame, "attrs", {}) or {}
    groups: list[tuple[str, str, pd.DataFrame]] = []
    by = [c for c in ("report", "granularity") if c in frame.columns]
    if by:
        for key, part in frame.groupby(by, sort=False, dropna=False, observed=True):
            key = key if isinstance(key, tuple) else (key,)
            values = dict(zip(by, key, strict=True))
            groups.append((
                str(values.get("report", report or attrs.get("report"))),
                str(values.get("granularity", granularity or attrs.get("granularity"))),
                part,
            ))
    else:
        groups.append((report or attrs.get("report"), granularity or attrs.get("granularity"), frame))  # type: ignore[arg-type]
    if any(r in (None, "None") or g in (None, "None") for r, g, _ in groups):
        raise ValueError("to_parquet needs report= and granularity= (or a frame from fetch, which carries them)")
    series = str(attrs.get("report_id") or attrs.get("request_id") or "frame")
    provenance = all(c in frame.columns for c in ("processing_date", "instance_id", "segment_id"))
    touched: list[Path] = []
    for rep, gran, part in groups:
        if provenance and not part.empty:
            keys = ["processing_date", "instance_id", "segment_id"]
            for (pdate, inst, seg), piece in part.groupby(keys, sort=False, dropna=False, observed=True):
                touched += write_partitions(
                    _arrow(piece), root, report=rep,
                    granularity=gran, series=series, processing_date=pdate, instance_id=inst,
                    segment_id=seg,
                )
        else:
            touched += write_partitions(
                _arrow(part), root, report=rep, granularity=gran
            )
    if latest_only and provenance:
        prune_to_latest(touched)
    return root


def read_parquet(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a tree written by ``to_parquet``/``fetch(to=…)`` back with its types (``date`` as datetime64)."""
    partitioning = ds.partitioning(
        pa.schema([("report", pa.string()), ("granularity", pa.string()), ("date", pa.string())]),
        flavor="hive",
    )
    dataset = ds.dataset(str(path), format="parquet", partitioning=partitioning,
                         exclude_invalid_files=False, ignore_prefixes=[".", "_"])
    table = dataset.to_table()
    if table.num_rows == 0 and table.num_columns <= len(PARTITIONS):
        return pd.DataFrame()
    day = table.column("date")
    day = pc.if_else(pc.equal(day, NULL_PARTITION), pa.scalar(None, pa.string()), day)
    table = table.set_column(table.schema.get_field_index("date"), "date",
                             day.cast(pa.date32()).cast(pa.timestamp("ns")))
    names = ["date", *[n for n in table.column_names if n not in PARTITIONS], "report", "granularity"]
    return arrow_to_pandas(table.select(names))
