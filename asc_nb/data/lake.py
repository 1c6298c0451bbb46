"""The one Hive-Parquet writer: layout, atomic commit, latest vintage, provenance — for the Store and ``fetch(to=)``.

Layout (under a *tree*: ``<store>/lake`` for a Store, the ``to=`` directory for a fetch)::

    report=<name>/granularity=<G>/date=<YYYY-MM-DD>/<key>.parquet                       one commit
    report=<name>/granularity=<G>/date=<YYYY-MM-DD>/<key>__<YYYYMMDD>__<inst>__<seg>.parquet   one piece

``key`` is what one vintage rule applies to: the app id for a Store (so an ONGOING and a
ONE_TIME_SNAPSHOT request of one app never both count), the report id for ``fetch(to=)`` (a
fetch knows the request, not its app: one report id per app and request). A Store commits an
instance's rows of one date as one file; a fetch streams segment by segment, each a *piece*
named by its vintage and segment.

Provenance: every file ends in ``app_id`` (string; null when a fetch does not know it),
``processing_date`` (timestamp[ns], Apple's, unchanged), ``instance_id`` and ``segment_id``
(strings); the vintage ``(known_on, instance_id)`` is in the Parquet footer, so deciding whether
rows replace what is there reads one footer, never a table. ``known_on`` is the vintage's rank:
the day its rows became known -- Apple's processing date for an ONGOING instance (and for every
``fetch(to=)`` piece), the day the store first saw a ONE_TIME_SNAPSHOT's instance (a snapshot's
instances carry old processing dates because they hold history; ranked by those they would lose to
early vintages and show up in ``as_of`` reads of days before the snapshot existed). Footers written
before the rank existed say ``processing_date``; they are read as the rank.

The rule (:meth:`Tree.commit`): per (report, granularity, date, key) the greatest vintage wins,
whatever order the vintages arrive in; equal ranks are settled by instance id. An
older vintage arriving later is not written into the tree. With a ``history`` directory (the
Store's) a superseded or late vintage is *kept* there, beside the tree and outside the glob
DuckDB/Dask read, so ``as_of`` reads can see it; without one (``fetch(to=)``) it is deleted.
The same rule holds across runs: a later fetch into the same directory keeps the latest vintage
of every date, as a Store does.

Atomicity: a file is written under a temporary name (in ``staging/`` beside a Store's tree,
else a dot-file in its own directory, which readers ignore) and renamed into place; a
superseded file is hard-linked into history before it is replaced. Writers of one partition take
a lock first (threads: a striped Lock; processes: ``flock`` on ``locks/<n>`` when the tree has
a locks directory).
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import hashlib
import json
import os
import re
import shutil
import threading
import urllib.parse
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "NULL_PARTITION",
    "PROVENANCE",
    "ParquetLake",
    "Tree",
    "Vintage",
    "WriteResult",
    "encode",
    "file_vintage",
    "provenance",
    "split_days",
]

#: (known_on ISO 'YYYY-MM-DD', instance_id); compares as a tuple. ``known_on`` is the rank (the day the rows
#: became known: Apple's processing date for ONGOING, the day a ONE_TIME_SNAPSHOT's instance was first seen)
Vintage = tuple[str, str]
#: provenance columns every vintage'd file carries after the report's own columns
PROVENANCE = ("app_id", "processing_date", "instance_id", "segment_id")
PARTITIONS = ("report", "granularity", "date")
NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"
VINTAGE_KEY = b"asc_nb.vintage"
_STRIPES = 64
_SAFE = " ()&,'+-._"
_TOKEN = re.compile(r"[^A-Za-z0-9.-]+")
_PIECE = re.compile(
    r"^(?P<key>[A-Za-z0-9.-]+)__(?P<pd>\d{8})__(?P<inst>[A-Za-z0-9.-]+)__[A-Za-z0-9.-]+\.parquet$"
)
_TYPES = {
    "app_id": pa.string(),
    "processing_date": pa.timestamp("ns"),
    "instance_id": pa.string(),
    "segment_id": pa.string(),
}


@dataclass(frozen=True)
class WriteResult:
    """What one commit did: written into the tree or not, its rows, and the vintage it replaced."""

    written: bool
    rows: int
    replaced: Vintage | None = None


def encode(value: object) -> str:
    """A partition value as a directory name (Hive values are URI-encoded; DuckDB and pyarrow decode them)."""
    return urllib.parse.quote(str(value), safe=_SAFE)


def token(value: object) -> str:
    """A file-name-safe token (ids come from a server: never let one become a path)."""
    text = _TOKEN.sub("-", str(value)).strip("-.")
    return text[:80] or "x"


def day_text(values: pa.ChunkedArray | pa.Array) -> pa.Array:
    """``YYYY-MM-DD`` text of a date/timestamp/string column (null stays null)."""
    if pa.types.is_timestamp(values.type) or pa.types.is_date(values.type):
        return pc.strftime(values.cast(pa.timestamp("s")), format="%Y-%m-%d")
    return pc.utf8_slice_codeunits(values.cast(pa.string()), 0, 10)


def split_days(table: pa.Table) -> list[tuple[str | None, pa.Table]]:
    """``table`` split by its ``date`` column into (day, rows without report/granularity/date)."""
    drop = [c for c in PARTITIONS if c in table.column_names]
    if "date" not in table.column_names or not table.num_rows:
        return [(None, table.drop_columns(drop))]
    days = day_text(table.column("date"))
    keys = pc.unique(days).to_pylist()
    if len(keys) == 1:
        return [(keys[0], table.drop_columns(drop))]
    out = []
    for key in sorted(keys, key=lambda k: (k is None, k or "")):
        mask = pc.is_null(days) if key is None else pc.fill_null(pc.equal(days, key), False)
        out.append((key, table.filter(mask).drop_columns(drop)))
    return out


def provenance(
    table: pa.Table,
    app_id: str | None,
    processing_date: str | None,
    instance_id: str | None,
    segment_id: str | None,
) -> pa.Table:
    """``table`` with the four provenance columns (replacing any it had), typed as in every lake file."""
    n = table.num_rows
    keep = [c for c in table.column_names if c not in PROVENANCE]
    out = table.select(keep)
    pdate = (
        pa.nulls(n, pa.timestamp("ns"))
        if processing_date is None
        else pa.array(np.full(n, np.datetime64(str(processing_date)[:10], "ns")), pa.timestamp("ns"))
    )
    for name, value in (
        ("app_id", app_id),
        ("processing_date", pdate),
        ("instance_id", instance_id),
        ("segment_id", segment_id),
    ):
        col = value if name == "processing_date" else pa.array([value] * n, pa.string())
        out = out.append_column(name, col)
    return out


def conform_provenance(table: pa.Table, app_id: str | None = None) -> pa.Table:
    """Provenance columns last, in the lake's types (a fetched frame's categoricals become strings)."""
    cols = [c for c in table.column_names if c not in PROVENANCE]
    arrays = [table.column(c) for c in cols]
    for name in PROVENANCE:
        if name in table.column_names:
            col = table.column(name)
            if pa.types.is_dictionary(col.type):
                col = col.cast(col.type.value_type)
            if col.type != _TYPES[name]:
                col = col.cast(_TYPES[name])
        else:
            col = pa.array([app_id if name == "app_id" else None] * table.num_rows, _TYPES[name])
        arrays.append(col)
        cols.append(name)
    return pa.Table.from_arrays(arrays, names=cols)


def file_vintage(path: Path) -> Vintage | None:
    """The vintage of a file (footer, else its piece name), ``("", "")`` for a file not ours, ``None`` if absent."""
    try:
        meta = pq.read_schema(path).metadata or {}
    except FileNotFoundError:
        return None
    raw = meta.get(VINTAGE_KEY)
    if raw is not None:
        info = json.loads(raw)
        return (_rank(info), info["instance_id"])
    m = _PIECE.match(path.name)
    if m:  # written by asc-nb before the footer: the name says it
        s = m["pd"]
        return (f"{s[:4]}-{s[4:6]}-{s[6:]}", m["inst"])
    return ("", "")


def _rank(info: dict[str, str]) -> str:
    """The rank a footer records (``known_on``; footers from before the rank say ``processing_date``)."""
    return info["known_on"] if "known_on" in info else info["processing_date"]


def file_key(name: str) -> str | None:
    """The key (app or report id) of a tree file name, ``None`` for a file that is not a vintage'd one."""
    if not name.endswith(".parquet") or name.startswith((".", "_", "part-")):
        return None
    return name[: -len(".parquet")].split("__", 1)[0]


def piece_name(key: str, vintage: Vintage, piece: str | None) -> str:
    stamp = vintage[0].replace("-", "") or "00000000"
    return f"{key}__{stamp}__{token(vintage[1] or 'x')}__{token(piece or 'all')}.parquet"


_thread_locks = [threading.Lock() for _ in range(_STRIPES)]


class Tree:
    """A Hive-partitioned Parquet tree and its writer (the rule in the module docstring).

    ``history``: where superseded vintages are kept (``None``: deleted). ``staging``: where
    temporary files are written (``None``: a dot-file in the target directory). ``locks``:
    where cross-process ``flock`` files live (``None``: threads of this process only).
    """

    def __init__(
        self,
        tree: Path,
        *,
        history: Path | None = None,
        staging: Path | None = None,
        locks: Path | None = None,
    ) -> None:
        self.tree, self.history, self.staging, self.locks = Path(tree), history, staging, locks

    def report_dir(self, report: str, granularity: str, *, base: Path | None = None) -> Path:
        return (base or self.tree) / f"report={encode(report)}" / f"granularity={encode(granularity)}"

    def partition_dir(
        self, report: str, granularity: str, day: str | None, *, base: Path | None = None
    ) -> Path:
        return self.report_dir(report, granularity, base=base) / f"date={day or NULL_PARTITION}"

    @contextlib.contextmanager
    def _lock(self, key: str) -> Iterator[None]:
        n = int(hashlib.sha1(key.encode()).hexdigest()[:8], 16) % _STRIPES
        with _thread_locks[n]:
            if fcntl is None or self.locks is None:
                yield
                return
            self.locks.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.locks / f"{n:02d}", os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)  # closing drops the flock

    def _write(self, table: pa.Table, final: Path, meta: dict[bytes, bytes] | None = None) -> None:
        """``table`` at ``final``, atomically (temporary file, then rename)."""
        final.parent.mkdir(parents=True, exist_ok=True)
        if self.staging is not None:
            self.staging.mkdir(parents=True, exist_ok=True)
            tmp = self.staging / f"{uuid.uuid4().hex}.parquet.part"
        else:
            tmp = final.parent / f".{final.name}.{uuid.uuid4().hex}.tmp"
        if meta:
            table = table.replace_schema_metadata({**(table.schema.metadata or {}), **meta})
        try:
            pq.write_table(table, tmp, compression="zstd")
            os.replace(tmp, final)
        finally:
            tmp.unlink(missing_ok=True)

    def _keep(
        self,
        path: Path,
        report: str,
        granularity: str,
        day: str | None,
        key: str,
        vintage: Vintage,
        *,
        remove: bool = True,
    ) -> None:
        """Move a superseded file into history (hard link: no copy), or delete it. ``remove=False``: only keep
        the copy in history — the caller renames the new file over it, so there is no moment without one."""
        if self.history is not None:
            name = piece_name(
                key, vintage, path.name.split("__")[-1][: -len(".parquet")] if "__" in path.name else None
            )
            target = self.partition_dir(report, granularity, day, base=self.history) / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.unlink(missing_ok=True)
            try:
                os.link(path, target)
            except OSError:  # a filesystem without hard links
                shutil.copy2(path, target)
        if remove:
            path.unlink(missing_ok=True)

    def commit(
        self,
        report: str,
        granularity: str,
        day: str | None,
        key: str,
        table: pa.Table,
        vintage: Vintage,
        *,
        piece: str | None = None,
        keep_all: bool = False,
    ) -> WriteResult:
        """Write one vintage's rows of one partition (a whole commit, or one ``piece`` of it).

        Latest vintage wins (module docstring). ``keep_all``: write it whatever is there (no
        vintage is replaced), for an export that asked for every vintage.
        """
        key = token(key)
        directory = self.partition_dir(report, granularity, day)
        name = f"{key}.parquet" if piece is None else piece_name(key, vintage, piece)
        meta = {VINTAGE_KEY: json.dumps({"known_on": vintage[0], "instance_id": vintage[1]}).encode()}
        rows = table.num_rows
        with self._lock(f"{report}/{granularity}/{day}/{key}"):
            if keep_all:
                self._write(table, directory / name, meta)
                return WriteResult(True, rows, None)
            held = [(f, v) for f in self._files(directory, key) if (v := file_vintage(f)) is not None]
            current = max((v for _, v in held), default=None)
            if current is not None and (
                current > vintage or (current == vintage and (directory / name).exists())
            ):
                if (
                    current > vintage and self.history is not None
                ):  # a late older vintage: recorded, not current
                    self._write(
                        table,
                        self.partition_dir(report, granularity, day, base=self.history)
                        / piece_name(key, vintage, piece),
                        meta,
                    )
                return WriteResult(False, rows, None)
            replaced = None
            if current is not None and current < vintage:
                replaced = current
                for f, v in held:
                    if f.name != name:
                        self._keep(f, report, granularity, day, key, v)
                if (
                    directory / name
                ).exists():  # a whole commit replacing a whole commit: the rename replaces it
                    self._keep(directory / name, report, granularity, day, key, current, remove=False)
            self._write(table, directory / name, meta)
            return WriteResult(True, rows, replaced)

    @staticmethod
    def _files(directory: Path, key: str) -> list[Path]:
        if not directory.is_dir():
            return []
        return [f for f in directory.iterdir() if file_key(f.name) == key]

    def append(self, report: str, granularity: str, day: str | None, table: pa.Table) -> Path:
        """Rows without provenance (a plain frame): a new file each time, no vintage rule."""
        final = self.partition_dir(report, granularity, day) / f"part-{uuid.uuid4().hex}.parquet"
        self._write(table, final)
        return final

    def prune(self, directories: list[Path] | set[Path]) -> int:
        """In each ``date=`` directory keep only each key's newest vintage; return the files removed."""
        removed = 0
        for d in {Path(p) for p in directories}:
            if not d.is_dir():
                continue
            by_key: dict[str, list[tuple[Path, Vintage]]] = {}
            for f in d.iterdir():
                k = file_key(f.name)
                v = None if k is None else file_vintage(f)
                if k is not None and v is not None:
                    by_key.setdefault(k, []).append((f, v))
            for files in by_key.values():
                newest = max(v for _, v in files)
                for f, v in files:
                    if v < newest:
                        f.unlink(missing_ok=True)
                        removed += 1
        return removed


# --------------------------------------------------------------------------- the Store's Parquet destination

LAKE, HISTORY, STAGING, LOCKS = "lake", "history", "staging", "locks"


class ParquetLake(Tree):
    """A Store's Hive-Parquet lake: the first :class:`asc_nb.store.destination.Destination`.

    ``<root>/lake`` holds the current rows (one ``<app_id>.parquet`` per report, granularity and
    date), ``<root>/history`` every superseded or late vintage, ``<root>/staging`` temporary files,
    ``<root>/locks`` the partition locks.
    """

    format = "parquet"

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        super().__init__(
            self.root / LAKE,
            history=self.root / HISTORY,
            staging=self.root / STAGING,
            locks=self.root / LOCKS,
        )

    def __repr__(self) -> str:
        return f"ParquetLake({str(self.root)!r})"

    def spec(self) -> dict[str, str]:
        return {"format": self.format, "root": str(self.root)}

    def write_partition(
        self, report: str, granularity: str, day: str, app_id: str, table: pa.Table, vintage: Vintage
    ) -> WriteResult:
        return self.commit(report, granularity, day, app_id, conform_provenance(table, app_id), vintage)

    def reports(self) -> list[tuple[str, str]]:
        return [(r, g) for _, r, g in self._report_dirs()]

    def _report_dirs(self, base: Path | None = None) -> list[tuple[Path, str, str]]:
        out = []
        for rdir in sorted((base or self.tree).glob("report=*")):
            report = urllib.parse.unquote(rdir.name[len("report=") :])
            for gdir in sorted(rdir.glob("granularity=*")):
                out.append((gdir, report, urllib.parse.unquote(gdir.name[len("granularity=") :])))
        return out

    def stored(self) -> dict[tuple[str, str], dict[str, int]]:
        out: dict[tuple[str, str], dict[str, int]] = {}
        for gdir, report, gran in self._report_dirs():
            days: dict[str, int] = {}
            for ddir in gdir.glob("date=*"):
                n = len({k for f in ddir.iterdir() if (k := file_key(f.name)) is not None})
                if n:
                    days[ddir.name[5:]] = n
            out[(report, gran)] = days
        return out

    def _candidates(
        self,
        report: str,
        granularity: str,
        apps: set[str] | None,
        start: str | None,
        end: str | None,
        *,
        history: bool,
    ) -> list[tuple[str, str, Path, bool]]:
        """(day, key, file, current) of the partitions asked for."""
        bases = [(self.tree, True)] + (
            [(self.history, False)] if history and self.history is not None else []
        )
        out = []
        for base, current in bases:
            gdir = self.report_dir(report, granularity, base=base)
            for ddir in sorted(gdir.glob("date=*")) if gdir.is_dir() else []:
                day = ddir.name[5:]
                if (start and day < start) or (end and day > end):
                    continue
                for f in sorted(ddir.iterdir()):
                    k = file_key(f.name)
                    if k is not None and (apps is None or k in apps):
                        out.append((day, k, f, current))
        return out

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
        from .parse import unify_tables

        wanted = None if apps is None else {token(a) for a in apps}
        files = self._candidates(report, granularity, wanted, start, end, history=as_of is not None)
        if as_of is not None:  # per (day, app) the newest vintage known on or before as_of
            best: dict[tuple[str, str], tuple[Vintage, list[Path]]] = {}
            for day, key, f, _ in files:
                v = file_vintage(f) or ("", "")
                if v[0] > as_of:
                    continue
                held = best.get((day, key))
                if held is None or v > held[0]:
                    best[(day, key)] = (v, [f])
                elif v == held[0] and f.name not in {p.name for p in held[1]}:
                    held[1].append(f)
            chosen = [(day, f) for (day, _), (_, fs) in sorted(best.items()) for f in fs]
        else:
            chosen = [(day, f) for day, _, f, _ in files]
        tables = []
        with cf.ThreadPoolExecutor(4) as pool:
            for (day, _), t in zip(chosen, pool.map(lambda df: pq.read_table(df[1]), chosen), strict=True):
                stamp = pa.array([np.datetime64(day, "ns")] * t.num_rows, pa.timestamp("ns"))
                t = t.replace_schema_metadata(None)
                tables.append(t.add_column(1 if "app_id" in t.column_names else 0, "date", stamp))
        if not tables:
            return pa.table({"app_id": pa.array([], pa.string()), "date": pa.array([], pa.timestamp("ns"))})
        return unify_tables(tables)

    def vintages(self, report: str, granularity: str) -> pd.DataFrame:
        rows = []
        for day, key, f, current in self._candidates(report, granularity, None, None, None, history=True):
            meta = pq.read_metadata(f)
            raw = (meta.metadata or {}).get(VINTAGE_KEY)
            v = (_rank(json.loads(raw)), json.loads(raw)["instance_id"]) if raw else file_vintage(f)
            rows.append(
                {
                    "app_id": key,
                    "date": day,
                    "processing_date": v[0] or None,
                    "instance_id": v[1] or None,
                    "rows": meta.num_rows,
                    "current": current,
                }
            )
        frame = pd.DataFrame(
            rows, columns=["app_id", "date", "processing_date", "instance_id", "rows", "current"]
        )
        frame = frame.groupby(
            ["app_id", "date", "processing_date", "instance_id"], as_index=False, dropna=False
        ).agg(rows=("rows", "sum"), current=("current", "max"))
        frame["date"] = pd.to_datetime(frame["date"])
        frame["processing_date"] = pd.to_datetime(frame["processing_date"])
        frame["rows"] = frame["rows"].astype("int64")
        frame["current"] = frame["current"].astype(bool)
        for c in ("app_id", "instance_id"):
            frame[c] = frame[c].astype("string")
        return frame.sort_values(["app_id", "date", "processing_date", "instance_id"], ignore_index=True)

    def glob(self, report: str, granularity: str) -> str:
        """The Parquet glob of a report × granularity's current rows."""
        return str(self.report_dir(report, granularity) / "*" / "*.parquet")

    def duckdb_source(self, report: str, granularity: str) -> str:
        path = self.glob(report, granularity).replace("'", "''")
        return (
            f"(select * exclude (report, granularity) from read_parquet('{path}', hive_partitioning = true, "
            "union_by_name = true, hive_types = {'date': DATE}))"
        )
