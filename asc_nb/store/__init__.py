"""``asc_nb.Store``: history that outlives Apple's 35-day retention, in a local Parquet lake.

Apple deletes report instances 35 days after making them and restates earlier dates in later
ones. A store keeps every date it ever saw, with Apple's rule applied once, at write time:
per (app, report, granularity, date) the rows of the latest processing date win, across
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

import concurrent.futures as cf
import contextlib
import datetime as dt
import difflib
import os
import queue
import shutil
import sys
import threading
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from asc_nb.config import store_dir
from asc_nb.data.lake import LAKE, STAGING
from asc_nb.data.transfer import job_from
from asc_nb.errors import (
    ASCError,
    ConfigError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    ReportNotFoundError,
)
from asc_nb.models import AccessType, Granularity, iso_date, snake
from asc_nb.store.destination import Destination, open_destination
from asc_nb.store.lock import StoreLock
from asc_nb.store.state import State
from asc_nb.store.worker import register_http, run_job, unregister_http

__all__ = ["AT_RISK_DAYS", "DEFAULT_REPORTS", "SYNC_COLUMNS", "CoverageFrame", "Store", "view_name"]

#: what ``store.sync()`` fetches when not told: the four standard reports most dashboards start from
DEFAULT_REPORTS = (
    "App Sessions Standard",
    "App Store Discovery and Engagement Standard",
    "App Downloads Standard",
    "App Store Installation and Deletion Standard",
)
SYNC_COLUMNS = ("app_id", "report", "granularity", "status", "new_instances", "rows", "api_calls", "downloads",
                "first_date", "last_date", "error")
#: an instance not stored this long after it was first seen is within a week of Apple's 35-day deletion
AT_RISK_DAYS = 28
#: how long a remembered app list (``apps=None``) is trusted before it is listed again
APPS_TTL = dt.timedelta(hours=24)
LOCAL_WORKERS = 8
#: concurrent segment listings (API calls) during a sync; polite to Apple's hourly budget
LISTING_THREADS = 4


def view_name(report: str, granularity: str) -> str:
    """DuckDB view of a report × granularity: ``app_sessions_standard_daily``."""
    return f"{snake(report)}_{granularity.lower()}"


# --------------------------------------------------------------------------- sync bookkeeping


@dataclass
class _Row:
    app_id: str
    report: str
    granularity: str
    new_instances: int = 0
    rows: int = 0
    api_calls: int = 0
    downloads: int = 0
    first_date: str | None = None
    last_date: str | None = None
    errors: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    skipped: str | None = None
    notes: list[str] = field(default_factory=list)

    def dates(self, days: list[str]) -> None:
        if days:
            self.first_date = min(filter(None, (self.first_date, days[0])))
            self.last_date = max(filter(None, (self.last_date, days[-1])))

    def record(self) -> dict[str, Any]:
        status = "failed" if self.errors else "skipped" if self.skipped else "pending" if self.pending else "ok"
        text = "; ".join(self.errors or ([self.skipped] if self.skipped else self.pending) or self.notes) or None
        return {"app_id": self.app_id, "report": self.report, "granularity": self.granularity, "status": status,
                "new_instances": self.new_instances, "rows": self.rows, "api_calls": self.api_calls,
                "downloads": self.downloads, "first_date": self.first_date, "last_date": self.last_date,
                "error": text}


class _CallCounter:
    """Counts the client's API responses (retries included) and charges them to the current row.

    The row is per thread (segment listings run on a few threads); a response on a thread that
    is not ours (a widget using the same client meanwhile) is not counted.
    """

    def __init__(self, client: Any) -> None:
        self.http = client.http.client
        self.local = threading.local()
        self.total = 0
        self._lock = threading.Lock()
        self._main = threading.get_ident()

    @property
    def current(self) -> _Row | None:
        return getattr(self.local, "row", None)

    @current.setter
    def current(self, row: _Row | None) -> None:
        self.local.row = row

    def __call__(self, response: Any) -> None:
        row = self.current
        if row is None and threading.get_ident() != self._main:
            return
        with self._lock:
            self.total += 1
            if row is not None:
                row.api_calls += 1

    def __enter__(self) -> _CallCounter:
        hooks = {k: list(v) for k, v in self.http.event_hooks.items()}
        hooks.setdefault("response", []).append(self)
        self.http.event_hooks = hooks
        return self

    def __exit__(self, *exc: object) -> None:
        hooks = {k: [h for h in v if h is not self] for k, v in self.http.event_hooks.items()}
        self.http.event_hooks = hooks


@dataclass
class _Task:
    row: _Row
    instance_id: str
    processing_date: str
    access: str
    request_id: str
    attempts: int = 0


def _is_dask(executor: Any) -> bool:
    return type(executor).__module__.split(".")[0] == "distributed"


class _Pool:
    """One face over ``None`` (local threads), a ``concurrent.futures.Executor`` or a ``dask.distributed.Client``."""

    def __init__(self, executor: Any) -> None:
        self.owned = executor is None
        self.dask = _is_dask(executor)
        if executor is None:
            executor = cf.ThreadPoolExecutor(LOCAL_WORKERS, thread_name_prefix="asc-nb-store")
        elif not self.dask and not isinstance(executor, cf.Executor):
            raise TypeError("executor= takes a concurrent.futures.Executor or a dask.distributed.Client, "
                            f"got {type(executor).__name__}")
        self.executor = executor
        if self.dask:
            threads = sum((executor.nthreads() or {}).values()) or 2
        else:
            threads = getattr(executor, "_max_workers", LOCAL_WORKERS)
        self.window = max(8, 2 * int(threads))
        #: worker threads in this process can use the client's own download transport
        self.same_process = self.owned or isinstance(executor, cf.ThreadPoolExecutor)

    def submit(self, job: dict[str, Any]) -> Any:
        if self.dask:
            return self.executor.submit(run_job, job, pure=False)
        return self.executor.submit(run_job, job)

    def close(self) -> None:
        if self.owned:
            self.executor.shutdown(wait=True, cancel_futures=True)


def _err(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}".replace("\n", " ")


# --------------------------------------------------------------------------- the store


class Store:
    """A local, append-and-replace history of Analytics Reports (see the module docstring)."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *, format: str = "parquet") -> None:
        self.path = store_dir(path)
        if self.path.exists() and not self.path.is_dir():
            raise ConfigError(f"the store path {str(self.path)!r} is a file: give Store a directory (it is made if "
                              "missing)")
        self.destination: Destination = open_destination({"format": format, "root": str(self.path)})
        self.path.mkdir(parents=True, exist_ok=True)
        (self.path / LAKE).mkdir(exist_ok=True)
        self._state: State | None = None
        self._state_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<asc_nb.Store {str(self.path)!r}>"

    @property
    def lake(self) -> Path:
        """The Hive-partitioned Parquet tree, the one path to hand DuckDB, Dask or Spark."""
        return self.path / LAKE

    @property
    def state(self) -> State:
        with self._state_lock:
            if self._state is None:
                self._state = State(self.path / "state.sqlite")
            return self._state

    def close(self) -> None:
        if self._state is not None:
            self._state.close()
            self._state = None

    # ------------------------------------------------------------------ sync

    def sync(
        self,
        client: Any,
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
        parses and commits each instance atomically, keeping per date the latest processing
        date across requests. ``backfill=True`` asks for a ONE_TIME_SNAPSHOT (about one per
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
            grans = [Granularity.parse(g, argument="granularities").value
                     for g in ([granularities] if isinstance(granularities, str) else granularities)]
            if not grans:
                raise ValueError("granularities must name at least one of DAILY, WEEKLY, MONTHLY")
            app_ids = None if apps is None else _names(apps, "apps")
            first = None if start is None else iso_date(start, "start").isoformat()
        with StoreLock(self.path / "sync.lock", wait=wait):
            self._sweep()
            self._check_origin(client)
            return _Sync(self, client, app_ids, names, grans, first, backfill, executor, progress).run()

    def _check_origin(self, client: Any) -> None:
        """Simulated and real rows never share a store: a sandbox client (``client.mode == "sandbox"``) may
        not sync into a store that holds App Store Connect data, nor the other way round (a notebook tried
        against the embedded sandbox with ``Store()`` would otherwise leave simulated rows in the real one)."""
        kind = "sandbox" if getattr(client, "mode", None) == "sandbox" else "api"
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
                "mixing them would give wrong numbers. Use another directory (asc_nb.Store(path) or ASC_NB_STORE)")

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
            out.append({"report": report, "granularity": gran, "view": view_name(report, gran),
                        "dates": len(days), "first_date": days[0] if days else None,
                        "last_date": days[-1] if days else None})
        frame = pd.DataFrame(out, columns=["report", "granularity", "view", "dates", "first_date", "last_date"])
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
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else (
                f" (it holds {', '.join(map(repr, known))})" if known else " (the store is empty: run store.sync)")
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
            raise ConfigError(f"as_of={day.isoformat()} is after the store's reference day {ref.isoformat()} (the "
                              "newest processing date it has seen): nothing was known then yet; give a date on or "
                              "before it")
        return day.isoformat()

    def read(self, report: str, *, granularity: str = "DAILY", apps: str | Sequence[str] | None = None,
             start: Any = None, end: Any = None, as_of: Any = None) -> pd.DataFrame:
        """One report's stored rows (latest vintage, typed), ``date`` restored from the partition.

        Columns: ``app_id``, ``date``, the report's own columns, then ``processing_date``,
        ``instance_id``, ``segment_id``; sorted by app and date. ``as_of`` (a date): what the
        store knew when Apple's processing date was that day — per app and date the newest
        vintage processed on or before it (superseded vintages are kept for this); a date after
        :attr:`reference_day` raises :class:`ConfigError`.
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
        """Every vintage the store has seen of a report: app_id, date, processing_date, instance_id, rows, current."""
        from asc_nb import registry

        with _bad_argument():
            report = registry.canonical(report)
            g = Granularity.parse(granularity, argument="granularity").value
        self._report_name(report, g)
        return self.destination.vintages(report, g)

    def metrics(self, app_ids: str | Sequence[str], metrics: str | Sequence[str], *,
                by: str | Sequence[str] = ("date",), start: Any = None, end: Any = None,
                granularity: str = "DAILY", filters: dict[str, Any] | None = None, approx: bool = False,
                client: Any = None) -> pd.DataFrame:
        """``client.metrics`` answered from the lake (see :mod:`asc_nb.metrics`).

        With ``client`` and both ``start`` and ``end``, dates of that window the lake lacks are synced
        first, once per identical question; the same question asked again is answered from the lake
        with no API call. Without ``client`` (or without a window) only the lake is read.
        """
        from asc_nb import metrics as _metrics

        attempted = self.__dict__.setdefault("_metric_syncs", set())
        loader = _metrics.StoreLoader(self, client=client, attempted=attempted)
        return _metrics.metrics(loader, app_ids, metrics, by=by, start=start, end=end, granularity=granularity,
                                filters=filters, approx=approx)

    def views(self) -> dict[str, str]:
        """DuckDB view name → Parquet glob (another format: its DuckDB source), one per stored report × granularity."""
        out = {}
        stored = self.destination.stored()
        for report, gran in self.destination.reports():
            if stored.get((report, gran)):
                glob = getattr(self.destination, "glob", None)
                out[view_name(report, gran)] = (glob(report, gran) if glob is not None
                                                else self.destination.duckdb_source(report, gran))
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
                "(one per report × granularity synced: snake_case name plus _daily/_weekly/_monthly)") from None
        finally:
            con.close()

    def issues(self) -> pd.DataFrame:
        """Parse and data problems met during syncs (kept here, not lost in a warning)."""
        cols = ["recorded_at", "app_id", "report", "granularity", "instance_id", "segment_id", "kind", "line",
                "column", "value", "message"]
        frame = pd.DataFrame(self.state.issues(), columns=cols)
        frame["recorded_at"] = pd.to_datetime(frame["recorded_at"], utc=True)
        frame["line"] = frame["line"].astype("Int64")
        return frame

    def coverage(self, *, now: Any = None) -> pd.DataFrame:
        """report × granularity × date: ``stored``, ``missing`` or ``at_risk``.

        ``at_risk`` is an estimate: an instance first seen (or, for ONGOING, processed) more
        than :data:`AT_RISK_DAYS` days before ``now`` whose data is not stored — within a
        week of Apple's 35-day deletion. A daily instance processed on P is placed on P-1.
        ``now`` defaults to the latest processing date the store has seen (Apple's "today").
        """
        from asc_nb.data.vintage import expected_dates

        ref = iso_date(now, "now") if now is not None else self._reference_day()
        stored = self.destination.stored()
        risky: dict[tuple[str, str], set[str]] = {}
        for (_iid, _app, report, gran, _req, access, pdate, first_seen, is_stored, _rows, _e) in self.state.instances():
            if is_stored:
                continue
            p = dt.date.fromisoformat(pdate)
            seen = dt.date.fromisoformat(first_seen)
            born = min(seen, p) if access == AccessType.ONGOING.value else seen
            if ref is not None and (ref - born).days > AT_RISK_DAYS:
                day = p - dt.timedelta(days=1) if gran == "DAILY" else p
                risky.setdefault((report, gran), set()).add(day.isoformat())
        rows = []
        for key in sorted(set(stored) | set(risky)):
            have, risk = stored.get(key, {}), risky.get(key, set())
            every = sorted(set(have) | risk)
            if not every:
                continue
            for d in expected_dates(every[0], every[-1], key[1]):
                day = d.isoformat()
                status = "stored" if day in have else "at_risk" if day in risk else "missing"
                rows.append((key[0], key[1], day, status, have.get(day, 0)))
        frame = CoverageFrame(rows, columns=["report", "granularity", "date", "status", "apps"])
        frame["date"] = pd.to_datetime(frame["date"])
        frame["status"] = pd.Categorical(frame["status"], categories=["stored", "missing", "at_risk"])
        frame["apps"] = frame["apps"].astype("int64")
        return frame

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


class CoverageFrame(pd.DataFrame):
    """``store.coverage()``: a DataFrame whose notebook view is a per-report summary, at-risk in red."""

    @property
    def _constructor(self) -> type[pd.DataFrame]:
        return pd.DataFrame

    def summary(self) -> pd.DataFrame:
        """One row per report × granularity: first and last date, and how many dates are in each state."""
        if self.empty:
            return pd.DataFrame(columns=["report", "granularity", "first_date", "last_date", "stored", "missing",
                                         "at_risk"])
        plain = pd.DataFrame(self)
        counts = pd.crosstab([plain["report"], plain["granularity"]], plain["status"]).reindex(
            columns=["stored", "missing", "at_risk"], fill_value=0)
        span = plain.groupby(["report", "granularity"])["date"].agg(first_date="min", last_date="max")
        return span.join(counts).reset_index()

    def _repr_html_(self) -> str:  # type: ignore[override]
        import html

        s = self.summary()
        if s.empty:
            return "<p><b>Store coverage</b>: nothing stored yet (run <code>store.sync(client)</code>).</p>"
        lines = ["<table><thead><tr><th>report</th><th>granularity</th><th>from</th><th>to</th><th>stored</th>"
                 "<th>missing</th><th>at risk</th></tr></thead><tbody>"]
        for r in s.itertuples(index=False):
            risk = (f'<td style="background:#f8d7da;color:#842029"><b>{r.at_risk}</b></td>' if r.at_risk
                    else "<td>0</td>")
            lines.append(f"<tr><td>{html.escape(r.report)}</td><td>{r.granularity}</td>"
                         f"<td>{r.first_date:%Y-%m-%d}</td><td>{r.last_date:%Y-%m-%d}</td>"
                         f"<td>{r.stored}</td><td>{r.missing}</td>{risk}</tr>")
        lines.append("</tbody></table>")
        total = int(s["at_risk"].sum())
        note = (f"<p>{total} date(s) at risk: seen over {AT_RISK_DAYS} days ago and not stored — sync soon, "
                "Apple deletes instances 35 days after making them.</p>" if total else "")
        return f"<p><b>Store coverage</b> ({len(self)} report-dates)</p>" + "".join(lines) + note


def _empty_read() -> pd.DataFrame:
    return pd.DataFrame({"app_id": pd.Series(dtype="string"), "date": pd.Series(dtype="datetime64[ns]")})


@contextlib.contextmanager
def _bad_argument() -> Iterator[None]:
    """A bad argument raises :class:`ConfigError` (an ``ASCError`` and still a ``ValueError``) saying what to fix."""
    try:
        yield
    except ValueError as err:
        if isinstance(err, ASCError):
            raise
        raise ConfigError(str(err)) from None


def _names(value: str | Sequence[str], what: str) -> list[str]:
    items = [value] if isinstance(value, str) else list(value) if isinstance(value, Iterable) else []
    if not items or not all(isinstance(v, str) and v.strip() for v in items):
        raise ValueError(f"{what} must be a non-empty string or list of strings, got {value!r}")
    out: list[str] = []
    for v in items:
        if v.strip() not in out:
            out.append(v.strip())
    return out


# --------------------------------------------------------------------------- one sync


class _Sync:
    def __init__(self, store: Store, client: Any, apps: list[str] | None, reports: list[str], grans: list[str],
                 start: str | None, backfill: bool, executor: Any, progress: Any) -> None:
        self.store, self.client, self.state = store, client, store.state
        self.apps, self.reports, self.grans = apps, reports, grans
        self.start, self.backfill = start, backfill
        self.executor, self.progress = executor, progress
        self.rows: dict[tuple[str, str, str], _Row] = {}
        self.tasks: deque[_Task] = deque()
        self.snapshot_rows: dict[tuple[str, str, str], tuple[str, list[str]]] = {}
        self._checked: dict[str, bool] = {}
        self.today = self._today()

    def _today(self) -> dt.date:
        sandbox = getattr(self.client, "sandbox", None)
        if sandbox is not None:
            return sandbox.now.date()
        if getattr(self.client, "mode", None) == "apple":
            return dt.datetime.now(dt.timezone.utc).date()
        ref = self.state.get_meta("reference_day")  # another server: its "today" is the newest instance seen
        return dt.date.fromisoformat(ref) if ref else dt.datetime.now(dt.timezone.utc).date()

    def _note_day(self, day: dt.date) -> None:
        ref = self.state.get_meta("reference_day")
        if ref is None or day.isoformat() > ref:
            self.state.set_meta("reference_day", day.isoformat())

    # -------------------------------------------------------------- listings (caller side)

    def run(self) -> pd.DataFrame:
        counter = _CallCounter(self.client)
        if getattr(self.client, "sandbox", None) is not None:
            self._note_day(self.today)
        with counter:
            self.counter = counter
            for app_id in self._app_ids():
                self._plan_app(app_id)
            self._download()
        for key, (request_id, ids) in self.snapshot_rows.items():
            row = self.rows[key]
            if ids and not row.errors and len(self.state.stored_ids(ids)) == len(ids):
                self.state.set_snapshot_done(request_id, key[1], key[2])
        self._close_snapshots()
        frame = pd.DataFrame([r.record() for r in self.rows.values()], columns=list(SYNC_COLUMNS))
        for c in ("app_id", "report", "granularity", "status", "error"):
            frame[c] = frame[c].astype("string")
        for c in ("new_instances", "rows", "api_calls", "downloads"):
            frame[c] = frame[c].astype("Int64")
        for c in ("first_date", "last_date"):
            frame[c] = pd.to_datetime(frame[c])
        frame.attrs["api_calls"] = counter.total
        return frame

    def _app_ids(self) -> list[str]:
        if self.apps is not None:
            return self.apps
        listed_at = self.state.get_meta("apps_listed_at")
        if listed_at and dt.datetime.now(dt.timezone.utc) - dt.datetime.fromisoformat(listed_at) < APPS_TTL:
            return (self.state.get_meta("apps") or "").split(",") if self.state.get_meta("apps") else []
        ids = [a.id for a in self.client.iter_apps()]
        self.state.set_meta("apps", ",".join(ids))
        self.state.set_meta("apps_listed_at", dt.datetime.now(dt.timezone.utc).isoformat())
        return ids

    def _plan_app(self, app_id: str) -> None:
        rows = []
        for name in self.reports:
            for g in self.grans:
                row = self.rows.setdefault((app_id, name, g), _Row(app_id, name, g))
                rows.append(row)
        self.counter.current = rows[0]  # app-level calls (requests, report ids) are charged to its first row
        try:
            ongoing = self._request(app_id)
        except ASCError as err:
            for row in rows:
                row.errors.append(_err(err))
            return
        ids = self._report_ids(ongoing, rows)
        snapshot = self._snapshot(app_id, rows)
        snap_ids = self._report_ids(snapshot, rows, quiet=True) if snapshot else {}
        for row in rows:
            self.counter.current = row
            if row.errors:
                continue
            if not _granularity_offered(row.report, row.granularity):
                row.skipped = f"Apple publishes {row.report} without {row.granularity} instances"
                continue
            self._list(row, ongoing, ids.get(row.report), AccessType.ONGOING.value, retry=True)
            if snapshot and row.report in snap_ids and not self.state.snapshot_done(snapshot, row.report,
                                                                                      row.granularity):
                self._list(row, snapshot, snap_ids[row.report], AccessType.ONE_TIME_SNAPSHOT.value, retry=False)
        self.counter.current = None

    def _request(self, app_id: str, *, refresh: bool = False) -> str:
        known = None if refresh else self.state.request(app_id, AccessType.ONGOING.value)
        if known is not None:
            return known[0]
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                req = self.client.ensure_ongoing(app_id)
        except ForbiddenError as err:
            err.add_hint(f"app {app_id} has no ONGOING report request and this key cannot create one: an Admin "
                         f"key must run client.ensure_ongoing({app_id!r}) once")
            raise
        for w in caught:  # a stopped request: say so in the result, not only in a warning
            if "stopped" in str(w.message):
                warnings.warn(str(w.message), stacklevel=4)
        self.state.set_request(app_id, AccessType.ONGOING.value, req.id, self.today.isoformat())
        return req.id

    def _report_ids(self, request_id: str, rows: list[_Row], quiet: bool = False) -> dict[str, str]:
        names = sorted({r.report for r in rows})
        ids = {n: i for n in names if (i := self.state.report_id(request_id, n)) is not None}
        missing = [n for n in names if n not in ids]
        if missing:
            try:
                found = {r.name: r.id for r in self.client.iter_reports(request_id, name=missing)}
            except ASCError as err:
                for row in rows:
                    if row.report in missing:
                        row.errors.append(_err(err))
                return ids
            folded = {k.casefold(): v for k, v in found.items()}
            got = {n: found.get(n) or folded.get(n.casefold()) for n in missing}
            self.state.set_report_ids(request_id, {n: i for n, i in got.items() if i})
            ids.update({n: i for n, i in got.items() if i})
            unknown = [n for n, i in got.items() if not i]
            if unknown and not quiet:
                try:
                    every = [r.name for r in self.client.iter_reports(request_id) if r.name]
                except ASCError:
                    every = []
                for row in rows:
                    if row.report in unknown:
                        close = difflib.get_close_matches(row.report, every, n=3, cutoff=0.5)
                        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
                        row.errors.append(_err(ReportNotFoundError(f"no report named {row.report!r}{hint}")))
        return ids

    def _snapshot(self, app_id: str, rows: list[_Row]) -> str | None:
        """The app's ONE_TIME_SNAPSHOT being merged: an unfinished one, or a new one if ``backfill``."""
        known = self.state.request(app_id, AccessType.ONE_TIME_SNAPSHOT.value)
        if known is not None and not known[2]:
            return known[0]
        if not self.backfill:
            return None
        try:
            req = self.client.create_report_request(app_id, AccessType.ONE_TIME_SNAPSHOT)
        except ConflictError as err:
            existing = getattr(err, "existing", None)
            if existing is None:
                for row in rows:
                    row.errors.append(_err(err))
                return None
            if known is not None and existing.id == known[0]:  # the one already merged: nothing newer
                for row in rows:  # not a failure: a daily `--backfill` in cron must not fail every day
                    row.notes.append(f"backfill: app {app_id}'s ONE_TIME_SNAPSHOT {existing.id} is already merged;"
                                     " Apple allows one about every 31 days (delete it to ask for a newer one)")
                return None
            req = existing
        except ASCError as err:
            for row in rows:
                row.errors.append(f"backfill: {_err(err)}")
            return None
        self.state.set_request(app_id, AccessType.ONE_TIME_SNAPSHOT.value, req.id, self.today.isoformat())
        return req.id

    def _close_snapshots(self) -> None:
        app_ids = {k[0] for k in self.rows}
        for app_id in app_ids:
            known = self.state.request(app_id, AccessType.ONE_TIME_SNAPSHOT.value)
            if known is None or known[2]:
                continue
            if all(self.state.snapshot_done(known[0], r, g) for r in self.reports for g in self.grans):
                self.state.complete_request(app_id, AccessType.ONE_TIME_SNAPSHOT.value)

    def _list(self, row: _Row, request_id: str, report_id: str | None, access: str, *, retry: bool) -> None:
        if report_id is None:
            return
        try:
            listed = list(self.client.iter_instances(report_id, row.granularity))
        except NotFoundError as err:
            # the request was deleted (or the report id changed): forget both and resolve again, once
            self.state.forget_request(request_id)
            if not retry:
                row.errors.append(_err(err))
                return
            try:
                request_id = self._request(row.app_id, refresh=True)
                report_id = self._report_ids(request_id, [row]).get(row.report)
            except ASCError as again:
                row.errors.append(_err(again))
                return
            return self._list(row, request_id, report_id, access, retry=False)
        except ASCError as err:
            row.errors.append(_err(err))
            return
        if access == AccessType.ONGOING.value and listed:
            self._note_day(max(i.processing_date for i in listed if i.processing_date))
        if access == AccessType.ONGOING.value and self._stale(listed, request_id):
            self._stopped(row, request_id)  # says so in the row; what is still listed is stored all the same
        ref = self.state.get_meta("reference_day") or self.today.isoformat()
        keep = [i for i in listed if i.processing_date is not None and
                (self.start is None or _last_covered(i.processing_date, row.granularity) >= self.start)]
        self.state.seen([(i.id, row.app_id, row.report, row.granularity, request_id, access,
                          i.processing_date.isoformat(), ref) for i in keep])
        stored = self.state.stored_ids(i.id for i in keep)
        new = sorted((i for i in keep if i.id not in stored), key=lambda i: (i.processing_date, i.id))
        for inst in new:
            self.tasks.append(_Task(row, inst.id, inst.processing_date.isoformat(), access, request_id))
        if access == AccessType.ONE_TIME_SNAPSHOT.value:
            self.snapshot_rows[(row.app_id, row.report, row.granularity)] = (request_id, [i.id for i in keep])
            if not listed:
                known = self.state.request(row.app_id, access)
                asked = known[1] if known else None
                row.pending.append(
                    f"ONE_TIME_SNAPSHOT {request_id} (asked {asked}) is not ready yet: Apple makes it within 1-2 days "
                    f"(expect it by {_plus(asked, 2)}); sync again then")
        elif not listed and not self._stale(listed, request_id):
            row.pending.append(f"ONGOING request {request_id} has no instances yet: Apple starts a new request's "
                               "reports within 1-2 days")

    def _stale(self, listed: list[Any], request_id: str) -> bool:
        """Nothing new for over 2 days (or never, from a request known that long): worth asking why."""
        days = [i.processing_date for i in listed if i.processing_date]
        if days:
            return (self.today - max(days)).days > 2
        known = [r for r in self.state.db.execute("select requested_on from requests where request_id = ?",
                                                  (request_id,))]
        return bool(known and known[0][0]) and (self.today - dt.date.fromisoformat(known[0][0])).days > 2

    def _stopped(self, row: _Row, request_id: str) -> bool:
        """Re-check the request (one call, only when it went quiet): a stopped one makes nothing new."""
        checked = self._checked.get(request_id)
        if checked is None:
            try:
                checked = bool(self.client.report_request(request_id).stopped_due_to_inactivity)
            except NotFoundError:
                self.state.forget_request(request_id)
                checked = False
            except ASCError:
                checked = False
            self._checked[request_id] = checked
        if checked:
            row.errors.append(
                f"ONGOING request {request_id} of app {row.app_id} stopped due to inactivity (no report was read "
                "for weeks) and makes no new instances; an Admin key can replace it with "
                f"client.ensure_ongoing({row.app_id!r}, restart_stopped=True), then sync again")
        return checked

    # -------------------------------------------------------------- downloads (workers)

    def _download(self) -> None:
        if not self.tasks:
            return
        self.types, self.documented = {}, {}
        for t in self.tasks:
            key = (t.row.report, t.row.granularity)
            if key not in self.types:
                known = self.state.types(*key)
                documented = _registry_types(t.row.report)
                self.types[key] = {**known, **(documented or {})}  # the registry decides where it knows
                self.documented[key] = sorted(documented) if documented else None
        pool = _Pool(self.executor)
        key = register_http(self.client.downloads) if pool.same_process else None
        bar = _Bar(self.progress, len(self.tasks))
        # Pipelined: a listing thread lists an instance's segments (an API call) and hands the job to
        # the executor itself; every finished listing or job lands in `events`, which only this thread
        # reads (the state is written here, never from another thread).
        events: queue.SimpleQueue[tuple[str, _Task, Any]] = queue.SimpleQueue()
        lister = cf.ThreadPoolExecutor(LISTING_THREADS, thread_name_prefix="asc-nb-store-list")
        jobs: list[Any] = []
        stop = threading.Event()

        def list_and_send(task: _Task) -> None:
            if stop.is_set():
                events.put(("cancelled", task, None))
                return
            job = self._job(task, key)
            if isinstance(job, str):
                events.put(("unlisted", task, job))
                return
            try:
                fut = pool.submit(job)
            except Exception as err:  # the executor is gone or refused the job
                events.put(("done", task, {"status": "failed", "error": _err(err), "downloads": 0}))
                return
            jobs.append(fut)
            fut.add_done_callback(lambda f, t=task: events.put(("job", t, f)))

        outstanding = 0
        try:
            while self.tasks or outstanding:
                while self.tasks and outstanding < pool.window:
                    lister.submit(list_and_send, self.tasks.popleft())
                    outstanding += 1
                kind, task, value = events.get()
                outstanding -= 1
                if kind == "unlisted":  # the listing failed: recorded here, on the caller's thread
                    task.row.errors.append(f"instance {task.instance_id}: {value}")
                    self.state.mark_failed(task.instance_id, value)
                    bar.done()
                    continue
                if kind == "job":
                    try:
                        value = value.result()
                    except Exception as err:  # a worker died, a job could not be run
                        value = {"status": "failed", "error": _err(err), "downloads": 0}
                if kind != "cancelled":
                    self._settle(task, value, bar)
        finally:
            stop.set()
            lister.shutdown(wait=True, cancel_futures=True)
            for fut in list(jobs):
                fut.cancel()
            if key is not None:
                unregister_http(key)
            pool.close()
            bar.close()

    def _job(self, task: _Task, http_key: str | None) -> dict[str, Any] | str:
        """The worker's job for one instance (its segments listed now: URLs live 5 minutes), or an error."""
        self.counter.current = task.row
        try:
            segs = list(self.client.iter_segments(task.instance_id))
        except ASCError as err:
            return _err(err)
        finally:
            self.counter.current = None
        return {
            "destination": self.store.destination.spec(), "cache_dir": str(self.client.cache_dir), "http": http_key,
            "app_id": task.row.app_id, "report": task.row.report, "granularity": task.row.granularity,
            "instance_id": task.instance_id, "processing_date": task.processing_date, "start": self.start,
            "types": dict(self.types.get((task.row.report, task.row.granularity), {})),
            "documented": self.documented.get((task.row.report, task.row.granularity)),
            "segments": [job_from(s, instance_id=task.instance_id) for s in segs],
        }

    def _known_drift(self, row: _Row, issue: dict[str, Any]) -> bool:
        """A schema drift already recorded for this report × granularity (said once, not per instance)."""
        if issue.get("kind") != "schema_drift":
            return False
        return self.state.db.execute(
            "select 1 from issues where kind = 'schema_drift' and report = ? and granularity = ? and column_name = ?",
            (row.report, row.granularity, issue.get("column"))).fetchone() is not None

    def _settle(self, task: _Task, result: dict[str, Any], bar: _Bar) -> None:
        row = task.row
        row.downloads += int(result.get("downloads") or 0)
        now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        issues = [i for i in result.get("issues") or [] if not self._known_drift(row, i)]
        self.state.add_issues(now, row.app_id, row.report, row.granularity, task.instance_id, issues)
        status = result["status"]
        if status == "expired" and task.attempts < 2:
            task.attempts += 1  # presigned URLs live 5 minutes: list the segments again and re-send
            self.tasks.appendleft(task)
            return
        bar.done()
        if status == "ok":
            known = self.types.setdefault((row.report, row.granularity), {})
            for column, arrow_type in (result.get("types") or {}).items():
                known.setdefault(column, arrow_type)  # later jobs of this sync write the same types
            self.state.mark_stored(task.instance_id, int(result["rows"]), result.get("types") or {}, row.report,
                                   row.granularity)
            row.new_instances += 1
            row.rows += int(result["rows"])
            row.dates(result.get("dates") or [])
            return
        error = result.get("error") or "segment URLs kept expiring"
        self.state.mark_failed(task.instance_id, error)
        row.errors.append(f"instance {task.instance_id} ({task.processing_date}): {error}")


_ARROW = {"datetime64[ns]": "timestamp[ns]", "string": "string", "Int64": "int64", "Float64": "double"}


def _registry_types(report: str) -> dict[str, str] | None:
    """{column: arrow type} from the report registry (Apple's documented fields), or None if unknown."""
    from asc_nb import registry

    try:
        schema = registry.get(report)
    except ReportNotFoundError:
        return None
    if not schema.documented or not schema.fields:
        return None
    return {f.column: _ARROW[f.dtype] for f in schema.fields if f.column != "date" and f.dtype in _ARROW}


def _granularity_offered(report: str, granularity: str) -> bool:
    from asc_nb import registry

    try:
        schema = registry.get(report)
    except ReportNotFoundError:
        return True  # unknown to the registry: ask Apple
    return any(g.value == granularity for g in schema.granularities)


def _last_covered(processing_date: dt.date, granularity: str) -> str:
    """The latest ``Date`` an instance processed on this day can hold (for ``start=`` filtering)."""
    return (processing_date - dt.timedelta(days=1) if granularity == "DAILY" else processing_date).isoformat()


def _plus(day: str | None, days: int) -> str:
    return "?" if day is None else (dt.date.fromisoformat(day) + dt.timedelta(days=days)).isoformat()


class _Bar:
    def __init__(self, progress: Any, total: int) -> None:
        self.callback = progress if callable(progress) else None
        self.total, self.count = total, 0
        self.bar = None
        if progress is True and total:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc="sync", unit="instance", file=sys.stderr)

    def done(self) -> None:
        self.count += 1
        if self.bar is not None:
            self.bar.update(1)
        if self.callback is not None:
            self.callback(self.count, self.total)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

