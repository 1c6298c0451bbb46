"""The Delta Lake destination: ``Store(path, format="delta")`` (the optional ``delta`` extra, delta-rs).

Layout, one Delta table per report × granularity (a report's columns are its own)::

    <root>/delta/report=<slug>/granularity=<G>/           current rows, partitioned by date, app_id
    <root>/delta-history/report=<slug>/granularity=<G>/   every superseded or late vintage, same partitions

``<slug>`` is the report name in lower case with ``_`` for anything else (``app_sessions_standard``);
the table's metadata keeps the name itself.
    <root>/locks/delta-<n>                                cross-process commit locks

Why this shape:

* **Restatements overwrite whole partitions, no MERGE.** A newer vintage of (date, app) is one
  ``write_deltalake(mode="overwrite", predicate="date = … AND app_id = …")`` commit: it removes
  that partition's files and adds the new ones in one atomic log entry. Readers (DuckDB, Polars,
  Dask, Spark, :meth:`DeltaLake.read`) see the old partition or the new one, never a mix, and a
  write that dies (kill -9, disk full) before its log entry leaves only unreferenced files.
* **Superseded vintages are kept** for ``as_of`` reads: before a partition is overwritten its
  rows are copied into the history table (itself overwritten by vintage, so a retry after a crash
  does not duplicate them); an older vintage that arrives late goes there directly.
* **as_of and Delta versions.** Every commit of the current table records its vintage in the
  commit's metadata. When the current table's commits are in processing-date order around the
  asked day (all commits processed on or before it come first — what a daily sync produces) and
  no late vintage is involved, ``read(as_of=D)`` is the table *at that Delta version* (time
  travel, :meth:`version_as_of`). Otherwise (a backfill committed after newer days, a late older
  vintage) no single version is the answer, and the read picks per (app, date) the newest vintage
  processed on or before D from the current and history tables.
* **Concurrent writers** (threads, and Dask workers in other processes on one machine) commit
  one at a time per report × granularity: a thread lock plus ``flock`` on ``locks/``. delta-rs'
  own optimistic commit would reject some concurrent partition overwrites; the lock makes that
  impossible instead of retried. (Writers on several machines need a shared lock or delta-rs'
  S3/DynamoDB locking; this destination is for one machine's processes.)
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import re
import threading
import urllib.parse
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from deltalake import CommitProperties, DeltaTable, write_deltalake
from deltalake.exceptions import DeltaError, TableNotFoundError

from asc_nb.data.lake import LOCKS, Vintage, WriteResult, conform_provenance
from asc_nb.store.destination import register_destination

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["DeltaLake"]

CURRENT, HISTORY = "delta", "delta-history"
PARTITION_BY = ["date", "app_id"]
_VINTAGE = "asc_nb.vintage"
_STRIPES = 16
_thread_locks = [threading.Lock() for _ in range(_STRIPES)]
#: table path -> this process's writer copy (used only under the table's lock)
_WRITER_TABLES: dict[str, DeltaTable] = {}


def _quote(text: str) -> str:
    """A string literal for a delta-rs predicate."""
    return "'" + str(text).replace("'", "''") + "'"


def slug(name: str) -> str:
    """A report name as a directory name engines agree on (no spaces: Polars and delta-rs disagree on
    percent-encoding); the table's own metadata keeps the name (``DeltaTable.metadata().name``)."""
    return re.sub(r"[^a-z0-9]+", "_", str(name).lower()).strip("_") or "x"


def _lit_day(day: str) -> str:
    return f"'{dt.date.fromisoformat(day).isoformat()}'"


class DeltaLake:
    """A Store's rows as Delta tables (the module docstring has the layout and the rules)."""

    format = "delta"

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.current = self.root / CURRENT
        self.history = self.root / HISTORY
        self.locks = self.root / LOCKS

    def __repr__(self) -> str:
        return f"DeltaLake({str(self.root)!r})"

    def spec(self) -> dict[str, str]:
        return {"format": self.format, "root": str(self.root)}

    # ------------------------------------------------------------------ paths and locks

    def table_path(self, report: str, granularity: str, *, history: bool = False) -> Path:
        """The Delta table of a report × granularity (current rows, or with ``history`` the kept vintages)."""
        base = self.history if history else self.current
        return base / f"report={slug(report)}" / f"granularity={slug(granularity).upper()}"

    @contextlib.contextmanager
    def _lock(self, report: str, granularity: str) -> Iterator[None]:
        n = int(hashlib.sha1(f"{report}/{granularity}".encode()).hexdigest()[:8], 16) % _STRIPES
        with _thread_locks[n]:
            if fcntl is None:
                yield
                return
            self.locks.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.locks / f"delta-{n:02d}", os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)  # closing drops the flock

    @staticmethod
    def _open(path: Path, version: int | None = None) -> DeltaTable | None:
        if not (path / "_delta_log").is_dir():
            return None
        try:
            return DeltaTable(str(path), version=version)
        except TableNotFoundError:  # a log directory whose first commit never landed
            return None

    # ------------------------------------------------------------------ writing

    @staticmethod
    def _for_delta(table: pa.Table, day: str, app_id: str) -> pa.Table:
        """The rows as Delta stores them: ``date`` (date32) and ``app_id`` as partition columns; no
        null-typed columns (Delta has none: an all-blank column is text)."""
        n = table.num_rows
        cols, names = [], []
        for name, col in zip(table.column_names, table.columns, strict=True):
            if name in ("date", "app_id"):
                continue
            if pa.types.is_null(col.type):
                col = col.cast(pa.string())
            cols.append(col)
            names.append(name)
        cols += [
            pa.array([dt.date.fromisoformat(day)] * n, pa.date32()),
            pa.array([str(app_id)] * n, pa.string()),
        ]
        names += ["date", "app_id"]
        return pa.Table.from_arrays(cols, names=names)

    @staticmethod
    def _where(day: str, app_id: str, vintage: Vintage | None = None) -> str:
        pred = f"date = {_lit_day(day)} AND app_id = {_quote(app_id)}"
        if vintage is not None:
            pred += f" AND instance_id = {_quote(vintage[1])}"
        return pred

    @staticmethod
    def _writer_table(path: Path) -> DeltaTable | None:
        """The process's loaded copy of a table, brought to its newest version (called under the table lock).

        Loading a table replays its log from the last checkpoint; a writer making thousands of commits
        keeps one copy per table and reads only the entries added since (``update_incremental``).
        """
        table = _WRITER_TABLES.get(str(path))
        if table is not None and not (path / "_delta_log" / f"{table.version():020d}.json").exists():
            table = None  # the table was deleted (and maybe made again) since: load it afresh
        if table is None:
            table = DeltaLake._open(path)
            if table is not None:
                _WRITER_TABLES[str(path)] = table
            return table
        table.update_incremental()
        return table

    def _commit(self, path: Path, data: pa.Table, predicate: str, meta: dict[str, str], name: str) -> None:
        table = self._writer_table(path)
        write_deltalake(
            table if table is not None else str(path),
            data,
            partition_by=PARTITION_BY,
            mode="overwrite" if table is not None else "append",
            predicate=predicate if table is not None else None,
            schema_mode="merge",
            name=name,
            commit_properties=CommitProperties(custom_metadata={_VINTAGE: json.dumps(meta)}),
        )

    @staticmethod
    def _held(table: DeltaTable | None, day: str, app_id: str) -> tuple[Vintage | None, pa.Table | None]:
        """The vintage a partition holds now, and its rows."""
        if table is None:
            return None, None
        actions = pa.table(table.get_add_actions(flatten=True))
        if not actions.num_rows:
            return None, None
        days = actions.column("partition.date")
        if not pa.types.is_string(days.type):
            days = pc.strftime(days.cast(pa.timestamp("s")), "%Y-%m-%d")
        mine = pc.and_(pc.equal(days, day), pc.equal(actions.column("partition.app_id"), str(app_id)))
        files = actions.filter(mine).column("path").to_pylist()
        if not files:
            return None, None
        root = Path(urllib.parse.unquote(table.table_uri.removeprefix("file://")))
        parts = [pq.read_table(root / urllib.parse.unquote(f)) for f in files]
        rows = pa.concat_tables(parts, promote_options="permissive")
        if not rows.num_rows:
            return None, None
        rows = rows.append_column("date", pa.array([dt.date.fromisoformat(day)] * rows.num_rows, pa.date32()))
        rows = rows.append_column("app_id", pa.array([str(app_id)] * rows.num_rows, pa.string()))
        pdate = rows.column("processing_date")[0].as_py()
        inst = rows.column("instance_id")[0].as_py()
        return ((pd.Timestamp(pdate).date().isoformat() if pdate is not None else ""), inst or ""), rows

    def write_partition(
        self, report: str, granularity: str, day: str, app_id: str, table: pa.Table, vintage: Vintage
    ) -> WriteResult:
        """Commit one vintage of (report, granularity, date, app): latest wins, the superseded one is kept."""
        data = self._for_delta(_with_vintage(conform_provenance(table, app_id), vintage), day, app_id)
        rows = data.num_rows
        current_path = self.table_path(report, granularity)
        history_path = self.table_path(report, granularity, history=True)
        meta = {"date": day, "app_id": str(app_id), "processing_date": vintage[0], "instance_id": vintage[1]}
        with self._lock(report, granularity):
            held, old = self._held(self._writer_table(current_path), day, app_id)
            if held is not None and held >= vintage:
                if held > vintage:  # a late older vintage: recorded, not current
                    self._commit(
                        history_path,
                        data,
                        self._where(day, app_id, vintage),
                        {**meta, "kind": "late", "held_processing_date": held[0]},
                        report,
                    )
                return WriteResult(False, rows, None)
            if held is not None and old is not None:  # keep the superseded rows first (idempotent by vintage)
                self._commit(
                    history_path,
                    self._for_delta(self._arrow_back(old), day, app_id),
                    self._where(day, app_id, held),
                    {**meta, "processing_date": held[0], "instance_id": held[1], "kind": "superseded"},
                    report,
                )
            self._commit(current_path, data, self._where(day, app_id), {**meta, "kind": "current"}, report)
            return WriteResult(True, rows, held)

    # ------------------------------------------------------------------ what is held

    def reports(self) -> list[tuple[str, str]]:
        out = []
        for rdir in sorted(self.current.glob("report=*")):
            for gdir in sorted(rdir.glob("granularity=*")):
                table = self._open(gdir)
                if table is not None:
                    out.append(
                        (
                            table.metadata().name or rdir.name[len("report=") :],
                            gdir.name[len("granularity=") :],
                        )
                    )
        return sorted(out)

    @staticmethod
    def _partitions(table: DeltaTable) -> pd.DataFrame:
        """(date ISO text, app_id) of every file of the table's current version."""
        actions = pa.table(table.get_add_actions(flatten=True))
        if not actions.num_rows:
            return pd.DataFrame({"date": [], "app_id": []})
        days = actions.column("partition.date")
        text = (
            days if pa.types.is_string(days.type) else pc.strftime(days.cast(pa.timestamp("s")), "%Y-%m-%d")
        )
        return pd.DataFrame(
            {"date": text.to_pylist(), "app_id": actions.column("partition.app_id").to_pylist()}
        )

    def stored(self) -> dict[tuple[str, str], dict[str, int]]:
        out: dict[tuple[str, str], dict[str, int]] = {}
        for report, gran in self.reports():
            table = self._open(self.table_path(report, gran))
            parts = self._partitions(table) if table is not None else pd.DataFrame({"date": [], "app_id": []})
            out[(report, gran)] = {
                str(d): int(n) for d, n in parts.groupby("date")["app_id"].nunique().items()
            }
        return out

    # ------------------------------------------------------------------ reading

    @staticmethod
    def _filters(
        apps: Sequence[str] | None, start: str | None, end: str | None
    ) -> list[tuple[str, str, Any]] | None:
        f: list[tuple[str, str, Any]] = []
        if apps is not None:
            f.append(("app_id", "in", [str(a) for a in apps]))
        if start:
            f.append(("date", ">=", dt.date.fromisoformat(start)))
        if end:
            f.append(("date", "<=", dt.date.fromisoformat(end)))
        return f or None

    @staticmethod
    def _arrow_back(table: pa.Table) -> pa.Table:
        """Delta's types back to the lake's: timestamps and dates as timestamp[ns], text as string."""
        cols, names = [], []
        for name, col in zip(table.column_names, table.columns, strict=True):
            t = col.type
            if pa.types.is_timestamp(t) or pa.types.is_date(t):
                col = col.cast(pa.timestamp("ns"))
            elif pa.types.is_large_string(t) or pa.types.is_string_view(t):
                col = col.cast(pa.string())
            elif pa.types.is_dictionary(t):
                col = col.cast(t.value_type)
            cols.append(col)
            names.append(name)
        out = pa.Table.from_arrays(cols, names=names)
        order = ["app_id", "date"] + [n for n in names if n not in ("app_id", "date")]
        return out.select([n for n in order if n in names])

    def _scan(self, path: Path, filters: Any, version: int | None = None) -> pa.Table | None:
        table = self._open(path, version)
        if table is None:
            return None
        return table.to_pyarrow_table(filters=filters)

    def version_as_of(self, report: str, granularity: str, as_of: str) -> int | None:
        """The Delta version of the current table that *is* the ``as_of`` answer, or ``None`` when none is.

        A version V is the answer when every commit up to V was processed on or before ``as_of``,
        every later one after it, and no late older vintage processed on or before it lost to one
        processed after it (then the late one would be the answer for its partition, and it is in no version).
        """
        table = self._open(self.table_path(report, granularity))
        if table is None:
            return None
        history = self._open(self.table_path(report, granularity, history=True))
        if history is not None:
            for c in history.history():
                meta = json.loads(c.get(_VINTAGE) or "{}")
                # a late vintage processed by then matters unless what it lost to was processed by then too
                if (
                    meta.get("kind") == "late"
                    and meta.get("processing_date", "") <= as_of
                    and meta.get("held_processing_date", "9999") > as_of
                ):
                    return None
        commits = sorted(table.history(), key=lambda c: c["version"])
        last = None
        for c in commits:
            meta = json.loads(c.get(_VINTAGE) or "{}")
            if not meta:
                return None  # a commit not ours: nothing known of its vintage
            if meta["processing_date"] <= as_of:
                if last is not None and last[1]:  # one on or before after one after: not in order
                    return None
                last = (c["version"], False)
            else:
                last = (last[0] if last else None, True)
        if last is None or last[0] is None:
            return -1  # nothing was processed by then
        return int(last[0])

    def read(
        self,
        report: str,
        granularity: str,
        *,
        apps: Sequence[str] | None = None,
        start: str | None = None,
        end: str | None = None,
        as_of: str | None = None,
    ) -> pa.Table:
        from asc_nb.data.parse import unify_tables

        filters = self._filters(apps, start, end)
        current = self.table_path(report, granularity)
        if as_of is None:
            got = self._scan(current, filters)
        else:
            version = self.version_as_of(report, granularity, as_of)
            got = None
            try:
                if version is not None and version >= 0:
                    got = self._scan(current, filters, version)
            except (
                OSError,
                DeltaError,
            ):  # that version's files were vacuumed: the history table still has them
                version = None
            if version is None:
                got = self._read_by_vintage(report, granularity, filters, as_of)
        if got is None or not got.num_rows:
            return pa.table({"app_id": pa.array([], pa.string()), "date": pa.array([], pa.timestamp("ns"))})
        return unify_tables([self._arrow_back(got)])

    def _read_by_vintage(self, report: str, granularity: str, filters: Any, as_of: str) -> pa.Table | None:
        """Per (app, date) the newest vintage processed on or before ``as_of``, from both tables."""
        from asc_nb.data.parse import unify_tables

        parts = []
        for history in (False, True):
            t = self._scan(self.table_path(report, granularity, history=history), filters)
            if t is not None and t.num_rows:
                t = self._arrow_back(t)
                parts.append(t.append_column("__current", pa.array([not history] * t.num_rows, pa.bool_())))
        if not parts:
            return None
        rows = unify_tables(parts)
        limit = pa.scalar(pd.Timestamp(as_of).as_unit("ns"), pa.timestamp("ns"))
        rows = rows.filter(pc.fill_null(pc.less_equal(rows.column("processing_date"), limit), False))
        if not rows.num_rows:
            return None
        keys = pd.DataFrame(
            {
                "app_id": rows.column("app_id").to_pylist(),
                "date": rows.column("date").to_pandas(),
                "pd": rows.column("processing_date").to_pandas(),
                "inst": rows.column("instance_id").to_pylist(),
                "current": rows.column("__current").to_pylist(),
            }
        )
        keys["inst"] = keys["inst"].fillna("")
        vint = keys.drop_duplicates(["app_id", "date", "pd", "inst", "current"])
        # a vintage copied into history by a write that died before its current commit is in both
        # tables: the current table's copy is the one read
        vint = vint.sort_values(["pd", "inst", "current"]).groupby(["app_id", "date"]).tail(1)
        chosen = set(
            zip(vint["app_id"], vint["date"], vint["pd"], vint["inst"], vint["current"], strict=True)
        )
        mask = [
            k in chosen
            for k in zip(keys["app_id"], keys["date"], keys["pd"], keys["inst"], keys["current"], strict=True)
        ]
        return rows.filter(pa.array(mask)).drop_columns(["__current"])

    def vintages(self, report: str, granularity: str) -> pd.DataFrame:
        frames = []
        for history in (False, True):
            table = self._open(self.table_path(report, granularity, history=history))
            if table is None:
                continue
            t = table.to_pyarrow_table(columns=["app_id", "date", "processing_date", "instance_id"])
            if t.num_rows:
                f = self._arrow_back(t).to_pandas()
                for c in ("date", "processing_date"):  # as the Parquet lake's footers say them: ISO days
                    f[c] = f[c].dt.strftime("%Y-%m-%d")
                f["current"] = not history
                frames.append(f)
        cols = ["app_id", "date", "processing_date", "instance_id", "rows", "current"]
        if not frames:
            return pd.DataFrame({c: [] for c in cols})
        frame = pd.concat(frames, ignore_index=True)
        frame = (
            frame.groupby(["app_id", "date", "processing_date", "instance_id", "current"], dropna=False)
            .size()
            .rename("rows")
            .reset_index()
        )
        frame = frame.groupby(
            ["app_id", "date", "processing_date", "instance_id"], as_index=False, dropna=False
        ).agg(rows=("rows", "max"), current=("current", "max"))
        frame["date"] = pd.to_datetime(frame["date"])
        frame["processing_date"] = pd.to_datetime(frame["processing_date"])
        frame["rows"] = frame["rows"].astype("int64")
        frame["current"] = frame["current"].astype(bool)
        for c in ("app_id", "instance_id"):
            frame[c] = frame[c].astype("string")
        return frame[cols].sort_values(
            ["app_id", "date", "processing_date", "instance_id"], ignore_index=True
        )

    def files(self, report: str, granularity: str) -> list[str]:
        """The Parquet files of the current table's newest version (what a reader without Delta support reads)."""
        table = self._open(self.table_path(report, granularity))
        if table is None:
            return []
        return sorted(
            urllib.parse.unquote(u[len("file://") :] if u.startswith("file://") else u)
            for u in table.file_uris()
        )

    def duckdb_source(self, report: str, granularity: str) -> str:
        """The current version's files through ``read_parquet`` (DuckDB's ``delta`` extension, where it can
        be installed, reads the table itself: ``delta_scan('<table path>')``)."""
        files = self.files(report, granularity)
        if not files:
            return "(select null::varchar as app_id, null::date as date where false)"
        listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
        return (
            f"(select * from read_parquet([{listed}], hive_partitioning = true, union_by_name = true, "
            "hive_types = {'date': DATE, 'app_id': VARCHAR}))"
        )


def _with_vintage(table: pa.Table, vintage: Vintage) -> pa.Table:
    """Rows whose processing_date / instance_id are blank get the vintage's: a Delta file has no footer to
    keep the vintage in (the Parquet lake's way), so the rows carry it."""
    pdate = pa.scalar(pd.Timestamp(vintage[0]).as_unit("ns") if vintage[0] else None, pa.timestamp("ns"))
    for name, value in (
        ("processing_date", pdate),
        ("instance_id", pa.scalar(vintage[1] or None, pa.string())),
    ):
        i = table.column_names.index(name)
        table = table.set_column(i, name, pc.fill_null(table.column(name), value))
    return table


register_destination("delta", lambda spec: DeltaLake(spec["root"]))
