"""``asc_nb.Store``: history that outlives Apple's 35-day retention, in a local Parquet lake.

Apple deletes report instances 35 days after making them and restates earlier dates in later
ones. A store keeps every date it ever saw, with Apple's rule applied once, at write time:
per (app, report, granularity, date) the rows of the latest known vintage win (``known_on``: the
processing date of an ONGOING instance, the day the store first saw a ONE_TIME_SNAPSHOT's), across
requests (an ONGOING and a ONE_TIME_SNAPSHOT request have different report ids, and their
overlapping dates must not be kept twice). No server: a directory holding

* ``lake/`` — Hive-partitioned Parquet (``report=…/granularity=…/date=…/<app_id>.parquet``),
  the path to hand DuckDB, Dask or Spark (see :mod:`asc_nb.data.lake`, the one writer);
* ``history/`` — every superseded vintage, beside the lake (``store.read(..., as_of=)``);
* ``state.sqlite`` — what was already fetched (request, report and instance ids), parse
  issues, column types (see :mod:`asc_nb.store.state`);
* ``sync.lock``, ``staging/``, ``locks/`` — one sync at a time; invisible temporary files.

The rows live in a :class:`~asc_nb.store.destination.Destination` (``Store(path, format=...)``),
the Hive-Parquet lake by default.
"""

from __future__ import annotations

import datetime as dt
import difflib
import os
import shutil
import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from asc_nb.config import store_dir
from asc_nb.data.lake import LAKE, STAGING, ParquetLake
from asc_nb.errors import ConfigError, ReportNotFoundError
from asc_nb.models import Granularity, iso_date, snake
from asc_nb.protocols import ClientInfo, SyncClient
from asc_nb.store.args import bad_argument as _bad_argument
from asc_nb.store.args import names as _names
from asc_nb.store.coverage import CoverageFrame, coverage
from asc_nb.store.destination import Destination, open_destination
from asc_nb.store.lock import StoreLock
from asc_nb.store.state import State
from asc_nb.store.sync import DEFAULT_REPORTS, SyncRun

__all__ = ["Store", "view_name"]


def view_name(report: str, granularity: str) -> str:
    """DuckDB view of a report × granularity: ``app_sessions_standard_daily``."""
    return f"{snake(report)}_{granularity.lower()}"


#: the sync state (what was fetched, issues, the store's origin and format) inside the store directory
STATE_FILE = "state.sqlite"


class Store:
    """A local, append-and-replace history of Analytics Reports (see the module docstring)."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *, format: str | None = None) -> None:
        """``format``: ``"parquet"`` (the default for a new store) or ``"delta"``; left out, an existing store
        opens in the format it was synced in (so readers — the CLI's check/report/mcp, a notebook — never read
        an empty Parquet tree beside a Delta store)."""
        self.path = store_dir(path)
        if self.path.exists() and not self.path.is_dir():
            raise ConfigError(
                f"the store path {str(self.path)!r} is a file: give Store a directory (it is made if missing)"
            )
        self._state: State | None = None
        self._state_lock = threading.Lock()
        held = self._held_format()
        if format is not None and held is not None and format.lower() != held:
            raise ConfigError(
                f"the store at {str(self.path)!r} keeps its rows as {held!r}, not {format!r}: open it "
                f"with Store(path) or Store(path, format={held!r}), or use another directory"
            )
        chosen = format or held or "parquet"
        self.destination: Destination = open_destination({"format": chosen, "root": str(self.path)})
        self.path.mkdir(parents=True, exist_ok=True)
        (self.path / LAKE).mkdir(exist_ok=True)

    def __repr__(self) -> str:
        return f"<asc_nb.Store {str(self.path)!r}>"

    def _held_format(self) -> str | None:
        """The format an existing store was synced in (``None`` for a new store). A damaged state file is not
        refused here: the first read or sync says so as a ``ConfigError`` naming the store."""
        if not (self.path / STATE_FILE).exists():
            return None
        try:
            return self.state.get_meta("format")
        except sqlite3.DatabaseError:
            return None

    @property
    def lake(self) -> Path:
        """The Hive-partitioned Parquet tree, the one path to hand DuckDB, Dask or Spark."""
        return self.path / LAKE

    @property
    def state(self) -> State:
        with self._state_lock:
            if self._state is None:
                self._state = State(self.path / STATE_FILE)
            return self._state

    def close(self) -> None:
        if self._state is not None:
            self._state.close()
            self._state = None

    # ------------------------------------------------------------------ sync

    def sync(
        self,
        client: SyncClient,
        *,
        apps: str | Sequence[str] | None = None,
        reports: str | Sequence[str] = DEFAULT_REPORTS,
        granularities: str | Sequence[str] = ("DAILY",),
        start: Any = None,
        backfill: bool = False,
        executor: Any = None,
        progress: bool | Callable[[int, int], None] = True,
        wait: bool = False,
    ) -> pd.DataFrame:
        """Fetch what is new and commit it; one result row per app × report × granularity.

        Lists only instances the store has not stored (a sync with nothing new makes one API
        call per app × report × granularity and downloads nothing), downloads, verifies,
        parses and commits each instance atomically, keeping per date the latest known vintage
        across requests (docs/store.md, "Which vintage wins"). ``backfill=True`` asks for a ONE_TIME_SNAPSHOT (about one per
        app a month) and merges it when Apple has made it; until then its rows say
        ``pending``. ``executor``: a ``concurrent.futures.Executor`` or a
        ``dask.distributed.Client`` running download/verify/parse/write (listings stay here).
        ``start`` (a ``Date``) skips older data. Raises :class:`~asc_nb.StoreLockedError` if
        another sync holds the store, unless ``wait=True``.
        """
        from asc_nb import registry

        # Apple's spelling: one lake partition per report, and the API's exact name filter finds it
        with _bad_argument():
            names = list(dict.fromkeys(registry.canonical(n) for n in _names(reports, "reports")))
            grans = [
                Granularity.parse(g, argument="granularities").value
                for g in ([granularities] if isinstance(granularities, str) else granularities)
            ]
            if not grans:
                raise ValueError("granularities must name at least one of DAILY, WEEKLY, MONTHLY")
            app_ids = None if apps is None else _names(apps, "apps")
            first = None if start is None else iso_date(start, "start").isoformat()
        with StoreLock(self.path / "sync.lock", wait=wait):
            self._sweep()
            self._check_origin(client)
            self._check_format()
            return SyncRun(
                self.state,
                self.destination,
                client,
                app_ids,
                names,
                grans,
                first,
                backfill,
                executor,
                progress,
            ).run()

    def _check_origin(self, client: ClientInfo) -> None:
        """Simulated and real rows never share a store: a sandbox client (``client.mode == "sandbox"``) may
        not sync into a store that holds App Store Connect data, nor the other way round (a notebook tried
        against the embedded sandbox with ``Store()`` would otherwise leave simulated rows in the real one)."""
        kind = "sandbox" if client.mode == "sandbox" else "api"
        held = self.state.get_meta("origin")
        if held is None:
            if self.destination.reports():  # a store from before this rule: its rows' origin is unknown
                return
            self.state.set_meta("origin", kind)
            return
        if held != kind:
            what = {"sandbox": "the simulated sandbox's", "api": "App Store Connect's"}
            raise ConfigError(
                f"the store at {str(self.path)!r} holds {what[held]} data and this client reads {what[kind]}: "
                "mixing them would give wrong numbers. Use another directory (asc_nb.Store(path) or ASC_NB_STORE)"
            )

    def _check_format(self) -> None:
        """One store, one format: syncing a Parquet store as ``format="delta"`` (or back) would split its rows
        in two places that each look whole."""
        fmt = self.destination.format
        held = self.state.get_meta("format")
        if held is None:
            self.state.set_meta("format", fmt)
        elif held != fmt:
            raise ConfigError(
                f"the store at {str(self.path)!r} keeps its rows as {held!r}, not {fmt!r}: open it "
                f"with Store(path, format={held!r}), or use another directory for {fmt!r}"
            )

    def _sweep(self) -> None:
        """Temporary files a killed sync left behind (only ever in staging/, never in the lake)."""
        shutil.rmtree(self.path / STAGING, ignore_errors=True)

    # ------------------------------------------------------------------ reading

    def reports(self) -> pd.DataFrame:
        """What the lake holds: report, granularity, view (DuckDB name), dates, first/last date."""
        out = []
        stored = self.destination.stored()
        for report, gran in self.destination.reports():
            days = sorted(stored.get((report, gran), {}))
            out.append(
                {
                    "report": report,
                    "granularity": gran,
                    "view": view_name(report, gran),
                    "dates": len(days),
                    "first_date": days[0] if days else None,
                    "last_date": days[-1] if days else None,
                }
            )
        frame = pd.DataFrame(
            out, columns=["report", "granularity", "view", "dates", "first_date", "last_date"]
        )
        for c in ("first_date", "last_date"):
            frame[c] = pd.to_datetime(frame[c])
        return frame

    def _report_name(self, report: str, g: str) -> str:
        """The canonical name of a report the store holds at granularity ``g``, else a ReportNotFoundError."""
        if (report, g) in set(self.destination.reports()):
            return report
        known = sorted({r for r, _ in self.destination.reports()})
        if report not in known:
            close = difflib.get_close_matches(report, known, n=3, cutoff=0.5)
            hint = (
                f"; did you mean {', '.join(map(repr, close))}?"
                if close
                else (
                    f" (it holds {', '.join(map(repr, known))})"
                    if known
                    else " (the store is empty: run store.sync)"
                )
            )
            raise ReportNotFoundError(f"the store has no report {report!r}{hint}")
        return report

    def _as_of(self, as_of: Any) -> str | None:
        """``as_of`` as ISO text; after the store's reference day (Apple's "today" as last seen) is a ConfigError."""
        if as_of is None:
            return None
        with _bad_argument():
            day = iso_date(as_of, "as_of")
        ref = self._reference_day() or dt.datetime.now(dt.timezone.utc).date()
        if day > ref:
            raise ConfigError(
                f"as_of={day.isoformat()} is after the store's reference day {ref.isoformat()} (the "
                "newest processing date it has seen): nothing was known then yet; give a date on or "
                "before it"
            )
        return day.isoformat()

    def read(
        self,
        report: str,
        *,
        granularity: str = "DAILY",
        apps: str | Sequence[str] | None = None,
        start: Any = None,
        end: Any = None,
        as_of: Any = None,
    ) -> pd.DataFrame:
        """One report's stored rows (latest vintage, typed), ``date`` restored from the partition.

        Columns: ``app_id``, ``date``, the report's own columns, then ``processing_date``,
        ``instance_id``, ``segment_id``; sorted by app and date. ``as_of`` (a date): what the
        store knew when Apple's processing date was that day — per app and date the newest
        vintage known on or before it (superseded vintages are kept for this); a date after
        :attr:`reference_day` raises :class:`ConfigError`. A vintage is known on its processing date
        (ONGOING) or on the day the store first saw it (a ONE_TIME_SNAPSHOT's instance, whose processing
        date is old): ``as_of=D`` is what Apple had published by D, a backfill merged later never changes it.
        """
        from asc_nb import registry
        from asc_nb.data.parse import arrow_to_pandas

        with _bad_argument():
            report = registry.canonical(report)
            g = Granularity.parse(granularity, argument="granularity").value
            lo = None if start is None else iso_date(start, "start").isoformat()
            hi = None if end is None else iso_date(end, "end").isoformat()
            wanted = None if apps is None else _names(apps, "apps")
        known = self._as_of(as_of)
        if not any(r == report and gran == g for r, gran in self.destination.reports()):
            self._report_name(report, g)
            return _empty_read()
        table = self.destination.read(report, g, apps=wanted, start=lo, end=hi, as_of=known)
        if not table.num_rows:
            return _empty_read()
        frame = arrow_to_pandas(table)
        lead = [c for c in ("app_id", "date") if c in frame.columns]
        tail = [c for c in ("processing_date", "instance_id", "segment_id") if c in frame.columns]
        frame = frame[lead + [c for c in frame.columns if c not in lead and c not in tail] + tail]
        frame = frame.sort_values(["app_id", "date"], kind="stable", ignore_index=True)
        frame.attrs.update(report=report, granularity=g)
        if known is not None:
            frame.attrs["as_of"] = known
        return frame

    def vintages(self, report: str, *, granularity: str = "DAILY") -> pd.DataFrame:
        """Every vintage the store has seen of a report: app_id, date, processing_date, known_on, instance_id,
        rows, current.

        ``processing_date`` is Apple's (as in the rows); ``known_on`` is the vintage's rank, the day its rows
        became known (the processing date of an ONGOING instance, the day the store first saw a
        ONE_TIME_SNAPSHOT's instance): the greatest wins, and ``read(as_of=D)`` reads those known by D.
        """
        from asc_nb import registry

        with _bad_argument():
            report = registry.canonical(report)
            g = Granularity.parse(granularity, argument="granularity").value
        self._report_name(report, g)
        frame = self.destination.vintages(report, g).rename(columns={"processing_date": "known_on"})
        apple = {row[0]: row[6] for row in self.state.instances()}
        pdate = pd.to_datetime(
            frame["instance_id"].map(lambda i: apple.get(i) if isinstance(i, str) else None)
        )
        frame.insert(2, "processing_date", pdate.fillna(frame["known_on"]))
        return frame

    def metrics(
        self,
        app_ids: str | Sequence[str],
        metrics: str | Sequence[str],
        *,
        by: str | Sequence[str] = ("date",),
        start: Any = None,
        end: Any = None,
        granularity: str = "DAILY",
        filters: dict[str, Any] | None = None,
        approx: bool = False,
        client: SyncClient | None = None,
        as_of: Any = None,
    ) -> pd.DataFrame:
        """``client.metrics`` answered from the lake (see :mod:`asc_nb.metrics`); ``as_of=D`` reads what the
        store knew on D, what Apple had published by then (``read(as_of=)``; no gap is synced then).

        With ``client`` and both ``start`` and ``end``, dates of that window the lake lacks are synced
        first, once per identical question; the same question asked again is answered from the lake
        with no API call. Without ``client`` (or without a window) only the lake is read.
        """
        from asc_nb import metrics as _metrics

        attempted = self.__dict__.setdefault("_metric_syncs", set())
        loader = _metrics.StoreLoader(self, client=client, attempted=attempted, as_of=as_of)
        return _metrics.metrics(
            loader,
            app_ids,
            metrics,
            by=by,
            start=start,
            end=end,
            granularity=granularity,
            filters=filters,
            approx=approx,
            as_of=loader.as_of,
        )

    def views(self) -> dict[str, str]:
        """DuckDB view name → Parquet glob (another format: its DuckDB source), one per stored report × granularity."""
        out = {}
        stored = self.destination.stored()
        for report, gran in self.destination.reports():
            if stored.get((report, gran)):
                out[view_name(report, gran)] = (
                    self.destination.glob(report, gran)
                    if isinstance(self.destination, ParquetLake)
                    else self.destination.duckdb_source(report, gran)
                )
        return out

    def duckdb(self) -> Any:
        """A fresh in-memory DuckDB connection with one view per report × granularity."""
        import duckdb

        con = duckdb.connect()
        stored = self.destination.stored()
        for report, gran in self.destination.reports():
            if stored.get((report, gran)):
                source = self.destination.duckdb_source(report, gran)
                con.execute(f'create view "{view_name(report, gran)}" as select * from {source}')
        return con

    def sql(self, query: str) -> pd.DataFrame:
        """Run SQL through DuckDB over the lake: ``select … from app_sessions_standard_daily``."""
        import duckdb

        con = self.duckdb()
        try:
            return con.execute(query).df()
        except duckdb.CatalogException as err:
            if "Table with name" not in str(err):
                raise
            # DuckDB's own hint names its system tables ("Did you mean pg_enum?"): name the store's views instead
            views = sorted(self.views())
            first = str(err).splitlines()[0]
            raise ReportNotFoundError(
                f"{first} The store's views: {', '.join(views) if views else 'none yet (run store.sync first)'} "
                "(one per report × granularity synced: snake_case name plus _daily/_weekly/_monthly)"
            ) from None
        finally:
            con.close()

    def issues(self) -> pd.DataFrame:
        """Parse and data problems met during syncs (kept here, not lost in a warning)."""
        cols = [
            "recorded_at",
            "app_id",
            "report",
            "granularity",
            "instance_id",
            "segment_id",
            "kind",
            "line",
            "column",
            "value",
            "message",
        ]
        frame = pd.DataFrame(self.state.issues(), columns=cols)
        frame["recorded_at"] = pd.to_datetime(frame["recorded_at"], utc=True)
        frame["line"] = frame["line"].astype("Int64")
        return frame

    def coverage(self, *, now: Any = None) -> CoverageFrame:
        """report × granularity × date: ``stored``, ``missing`` or ``at_risk``.

        ``at_risk`` is an estimate: an instance first seen (or, for ONGOING, processed) more
        than :data:`AT_RISK_DAYS` days before ``now`` whose data is not stored — within a
        week of Apple's 35-day deletion. A daily instance processed on P is placed on P-1.
        ``now`` defaults to the latest processing date the store has seen (Apple's "today").
        """
        ref = iso_date(now, "now") if now is not None else self._reference_day()
        return coverage(self.destination.stored(), self.state.instances(), ref)

    def health(
        self,
        *,
        apps: Any = None,
        reports: Any = None,
        granularity: Any = None,
        start: Any = None,
        end: Any = None,
        states: Any = None,
        now: Any = None,
    ) -> pd.DataFrame:
        """The integrity ledger: one row per app × report × granularity × date (see :mod:`asc_nb.store.health`)."""
        from asc_nb.store.health import health

        return health(
            self,
            apps=apps,
            reports=reports,
            granularity=granularity,
            start=start,
            end=end,
            states=states,
            now=now,
        )

    def repair_plan(self, *, now: Any = None) -> pd.DataFrame:
        """What to do about the ledger's bad dates (see :mod:`asc_nb.store.repair`)."""
        from asc_nb.store.repair import repair_plan

        return repair_plan(self, now=now)

    @property
    def reference_day(self) -> dt.date | None:
        """Apple's "today" as the store last saw it (its newest processing date), ``None`` before a sync.

        Views over the lake (the Overview) end their default window here, not at the wall clock:
        a store synced a month ago, or from the sandbox, holds nothing near today's date.
        """
        return self._reference_day()

    def _reference_day(self) -> dt.date | None:
        value = self.state.get_meta("reference_day")
        return None if value is None else dt.date.fromisoformat(value)


def _empty_read() -> pd.DataFrame:
    return pd.DataFrame({"app_id": pd.Series(dtype="string"), "date": pd.Series(dtype="datetime64[ns]")})
