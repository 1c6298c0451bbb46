"""``to_parquet`` / ``read_parquet``: a DataFrame as Hive-partitioned Parquet, by the one lake writer.

Layout ``<root>/report=<name>/granularity=<G>/date=<YYYY-MM-DD>/*.parquet``: DuckDB
(``hive_partitioning=true``), pandas/pyarrow, Spark and Dask all read it unchanged and prune by
report, granularity and date without opening files. The files, their provenance columns and
the latest-vintage rule are those of :mod:`asc_nb.data.lake`, the writer the Store uses too:
a frame with provenance columns (from ``fetch``) is written one piece per segment and date,
keyed by its report id (one per app and request), and per date only the newest vintage stays —
also across runs into the same directory, so a daily incremental export picks up Apple's
corrections and never double counts. A plain frame is appended.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from .lake import NULL_PARTITION, Tree, conform_provenance, split_days
from .parse import arrow_to_pandas

__all__ = ["prune_to_latest", "read_parquet", "to_parquet"]

PARTITIONS = ("report", "granularity", "date")


def _arrow(frame: pd.DataFrame) -> pa.Table:
    """pandas → Arrow without ``attrs`` (fetch's attrs hold dates, which pandas' Parquet metadata can't encode)."""
    bare = frame.copy(deep=False)
    bare.attrs = {}
    return pa.Table.from_pandas(bare, preserve_index=False)


def prune_to_latest(directories: Iterable[str | os.PathLike[str]]) -> int:
    """In each ``date=`` directory keep only each key's newest vintage; return the files removed.

    Only needed after writing with ``latest_only=False``: every other write applies the rule itself.
    """
    return Tree(Path()).prune({Path(p) for p in directories})


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
    ``instance_id``, ``segment_id``) get one deterministic file per segment and date, keyed by
    ``app_id`` when the frame has one, else by ``attrs["report_id"]``; with ``latest_only``
    (the default) older vintages on disk for the same dates and key are removed, and an older
    vintage arriving later is not written.
    """
    root = Path(path)
    root.mkdir(parents=True, exist_ok=True)
    attrs: Mapping[str, object] = getattr(frame, "attrs", {}) or {}
    groups = _groups(frame, report or attrs.get("report"), granularity or attrs.get("granularity"))
    series = str(attrs.get("report_id") or attrs.get("request_id") or "frame")
    provenance = all(c in frame.columns for c in ("processing_date", "instance_id", "segment_id"))
    tree = Tree(root)
    for rep, gran, part in groups:
        if provenance and not part.empty:
            _write_vintages(tree, rep, gran, part, series, keep_all=not latest_only)
        else:
            for day, rows in split_days(_arrow(part)):
                tree.append(rep, gran, day, rows)
    return root


def _groups(frame: pd.DataFrame, report: object, granularity: object) -> list[tuple[str, str, pd.DataFrame]]:
    """(report, granularity, rows): by the frame's own columns of those names, else the given names."""
    by = [c for c in ("report", "granularity") if c in frame.columns]
    groups: list[tuple[str, str, pd.DataFrame]] = []
    if not by:
        groups.append((str(report), str(granularity), frame))
    for key, part in frame.groupby(by, sort=False, dropna=False, observed=True) if by else ():
        values = dict(zip(by, key if isinstance(key, tuple) else (key,), strict=True))
        groups.append((str(values.get("report", report)), str(values.get("granularity", granularity)), part))
    if any(r == "None" or g == "None" for r, g, _ in groups):
        raise ValueError(
            "to_parquet needs report= and granularity= (or a frame from fetch, which carries them)"
        )
    return groups


def _write_vintages(
    tree: Tree, report: str, granularity: str, part: pd.DataFrame, series: str, *, keep_all: bool
) -> None:
    """One piece per (app, vintage, segment) and date, by the lake's rule (keyed by app id, else ``series``)."""
    keys = [c for c in ("app_id",) if c in part.columns] + ["processing_date", "instance_id", "segment_id"]
    for values, piece in part.groupby(keys, sort=False, dropna=False, observed=True):
        *app, pdate, inst, seg = values
        app_id = None if not app or pd.isna(app[0]) else str(app[0])
        vintage = (
            "" if pd.isna(pdate) else pd.Timestamp(pdate).date().isoformat(),
            "" if pd.isna(inst) else str(inst),
        )
        table = conform_provenance(_arrow(piece), app_id)
        for day, rows in split_days(table):
            tree.commit(
                report,
                granularity,
                day,
                app_id or series,
                rows,
                vintage,
                piece=None if pd.isna(seg) else str(seg),
                keep_all=keep_all,
            )


def read_parquet(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a tree written by ``to_parquet``/``fetch(to=…)`` back with its types (``date`` as datetime64)."""
    partitioning = ds.partitioning(
        pa.schema([("report", pa.string()), ("granularity", pa.string()), ("date", pa.string())]),
        flavor="hive",
    )
    dataset = ds.dataset(
        str(path),
        format="parquet",
        partitioning=partitioning,
        exclude_invalid_files=False,
        ignore_prefixes=[".", "_"],
    )
    table = dataset.to_table()
    if table.num_rows == 0 and table.num_columns <= len(PARTITIONS):
        return pd.DataFrame()
    day = table.column("date")
    day = pc.if_else(pc.equal(day, NULL_PARTITION), pa.scalar(None, pa.string()), day)
    table = table.set_column(
        table.schema.get_field_index("date"), "date", day.cast(pa.date32()).cast(pa.timestamp("ns"))
    )
    names = ["date", *[n for n in table.column_names if n not in PARTITIONS], "report", "granularity"]
    return arrow_to_pandas(table.select(names))
