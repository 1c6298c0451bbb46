"""The sync engine: list what is new (on the caller, spending the API budget), run the worker jobs, record.

One :class:`SyncRun` per ``Store.sync``: per app it finds the ONGOING request (and a
ONE_TIME_SNAPSHOT being merged), their report ids, lists instances the store has not stored,
and hands each instance to an executor as a :class:`~asc_nb.store.worker.SyncJob`; the results
are settled here, on the caller's thread (the state is only written here). Its result is one
row per app × report × granularity (:data:`SYNC_COLUMNS`).
"""

from __future__ import annotations

import concurrent.futures as cf
import datetime as dt
import difflib
import queue
import threading
import warnings
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from asc_nb.data.transfer import job_from
from asc_nb.errors import (
    ASCError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    ReportNotFoundError,
)
from asc_nb.models import AccessType
from asc_nb.protocols import SyncClient
from asc_nb.store.destination import Destination
from asc_nb.store.pool import Bar, CallCounter, Pool
from asc_nb.store.state import State
from asc_nb.store.worker import JobResult, SyncJob, register_http, unregister_http

__all__ = ["DEFAULT_REPORTS", "SYNC_COLUMNS", "SyncRun"]

#: what ``store.sync()`` fetches when not told: the four standard reports most dashboards start from
DEFAULT_REPORTS = (
    "App Sessions Standard",
    "App Store Discovery and Engagement Standard",
    "App Downloads Standard",
    "App Store Installation and Deletion Standard",
)
SYNC_COLUMNS = (
    "app_id",
    "report",
    "granularity",
    "status",
    "new_instances",
    "rows",
    "api_calls",
    "downloads",
    "first_date",
    "last_date",
    "error",
)
#: how long a remembered app list (``apps=None``) is trusted before it is listed again
APPS_TTL = dt.timedelta(hours=24)
#: concurrent segment listings (API calls) during a sync; polite to Apple's hourly budget
LISTING_THREADS = 4


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
        status = (
            "failed" if self.errors else "skipped" if self.skipped else "pending" if self.pending else "ok"
        )
        text = (
            "; ".join([*(self.errors or ([self.skipped] if self.skipped else self.pending)), *self.notes])
            or None
        )
        return {
            "app_id": self.app_id,
            "report": self.report,
            "granularity": self.granularity,
            "status": status,
            "new_instances": self.new_instances,
            "rows": self.rows,
            "api_calls": self.api_calls,
            "downloads": self.downloads,
            "first_date": self.first_date,
            "last_date": self.last_date,
            "error": text,
        }


@dataclass
class _Task:
    row: _Row
    instance_id: str
    processing_date: str
    access: str
    request_id: str
    attempts: int = 0
    known_on: str | None = None


@dataclass
class _App:
    """One app's requests during a sync (replaced in place when Apple no longer knows one)."""

    app_id: str
    rows: list[_Row]
    ongoing: str = ""
    ids: dict[str, str] = field(default_factory=dict)
    snapshot: str | None = None
    snap_ids: dict[str, str] = field(default_factory=dict)
    replaced: bool = False
    snapshot_retried: bool = False


@dataclass(frozen=True)
class _Gone:
    """An instance Apple no longer knows (404 on its segments): plain words for the row, not a failure."""

    text: str


def _err(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}".replace("\n", " ")


class SyncRun:
    """One sync (see the module docstring)."""

    def __init__(
        self,
        state: State,
        destination: Destination,
        client: SyncClient,
        apps: list[str] | None,
        reports: list[str],
        grans: list[str],
        start: str | None,
        backfill: bool,
        executor: Any,
        progress: Any,
    ) -> None:
        self.destination, self.client, self.state = destination, client, state
        self.apps, self.reports, self.grans = apps, reports, grans
        self.start, self.backfill = start, backfill
        self.executor, self.progress = executor, progress
        self.rows: dict[tuple[str, str, str], _Row] = {}
        self.tasks: deque[_Task] = deque()
        self.snapshot_rows: dict[tuple[str, str, str], tuple[str, list[str]]] = {}
        self._checked: dict[str, bool] = {}
        self.today = self._today()

    def _today(self) -> dt.date:
        sandbox = self.client.sandbox
        if sandbox is not None:
            return sandbox.now.date()
        if self.client.mode == "apple":
            return dt.datetime.now(dt.timezone.utc).date()
        ref = self.state.get_meta("reference_day")  # another server: its "today" is the newest instance seen
        return dt.date.fromisoformat(ref) if ref else dt.datetime.now(dt.timezone.utc).date()

    def _note_day(self, day: dt.date) -> None:
        ref = self.state.get_meta("reference_day")
        if ref is None or day.isoformat() > ref:
            self.state.set_meta("reference_day", day.isoformat())

    # -------------------------------------------------------------- listings (caller side)

    def run(self) -> pd.DataFrame:
        counter = CallCounter(self.client)
        if self.client.sandbox is not None:
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
        app = _App(app_id, rows)
        self.counter.current = rows[0]  # app-level calls (requests, report ids) are charged to its first row
        try:
            app.ongoing = self._request(app_id)
            try:
                app.ids = self._report_ids(app.ongoing, rows)
            except NotFoundError:  # the remembered request is gone: find or make the app's ONGOING one
                self._replace_ongoing(app)
        except ASCError as err:
            for row in rows:
                row.errors.append(_err(err))
            return
        self._open_snapshot(app)
        for row in rows:
            self.counter.current = row
            if row.errors:
                continue
            if not _granularity_offered(row.report, row.granularity):
                row.skipped = f"Apple publishes {row.report} without {row.granularity} instances"
                continue
            self._list_ongoing(app, row)
            if (
                app.snapshot
                and row.report in app.snap_ids
                and not self.state.snapshot_done(app.snapshot, row.report, row.granularity)
            ):
                try:
                    self._list(
                        row, app.snapshot, app.snap_ids[row.report], AccessType.ONE_TIME_SNAPSHOT.value
                    )
                except NotFoundError:
                    self._snapshot_gone(app)
        self.counter.current = None

    def _list_ongoing(self, app: _App, row: _Row) -> None:
        """List the row's ONGOING instances; a request found gone is replaced once per app, then listed again."""
        try:
            self._list(row, app.ongoing, app.ids.get(row.report), AccessType.ONGOING.value)
            return
        except NotFoundError:
            if app.replaced:
                row.errors.append(
                    f"app {app.app_id}'s ONGOING request {app.ongoing} was replaced in this sync and "
                    "Apple still does not find its reports; sync again later"
                )
                return
        try:
            self._replace_ongoing(app)
            self._list(row, app.ongoing, app.ids.get(row.report), AccessType.ONGOING.value)
        except NotFoundError:
            row.errors.append(
                f"app {app.app_id}'s ONGOING request {app.ongoing} was replaced in this sync and "
                "Apple still does not find its reports; sync again later"
            )
        except ASCError as err:
            row.errors.append(_err(err))

    def _replace_ongoing(self, app: _App) -> None:
        """The app's ONGOING request no longer exists (deleted by a user or by Apple): forget it, find or make
        the app's ONGOING request again (``ensure_ongoing`` lists the app's requests first), say so in every row."""
        old = app.ongoing
        self.state.forget_request(old)
        app.ongoing = self._request(app.app_id, refresh=True)
        app.replaced = True
        note = (
            f"app {app.app_id}'s ONGOING request {old} no longer exists at Apple (deleted by a user or by Apple "
            f"since the last sync); the store now uses ONGOING request {app.ongoing}"
        )
        for row in app.rows:
            row.notes.append(note)
        app.ids = self._report_ids(app.ongoing, app.rows)

    def _open_snapshot(self, app: _App, *, replacing: bool = False) -> None:
        """The app's ONE_TIME_SNAPSHOT being merged (if any) and its report ids; a vanished one is let go."""
        app.snapshot = self._snapshot(app.app_id, app.rows, replacing=replacing)
        if not app.snapshot:
            return
        try:
            app.snap_ids = self._report_ids(app.snapshot, app.rows, quiet=True)
        except NotFoundError:
            self._snapshot_gone(app)

    def _snapshot_gone(self, app: _App) -> None:
        """The ONE_TIME_SNAPSHOT being merged was deleted (by a user or by Apple): forget it and carry on with the
        ONGOING request; with ``backfill`` ask for a new one once."""
        gone = app.snapshot
        if gone is None:
            return
        self.state.forget_request(gone)
        app.snapshot, app.snap_ids = None, {}
        for key in [k for k, (req, _) in self.snapshot_rows.items() if req == gone]:
            del self.snapshot_rows[key]
        note = (
            f"app {app.app_id}'s ONE_TIME_SNAPSHOT request {gone} no longer exists at Apple (deleted by a user "
            "or by Apple before it was merged): the dates only it held are not stored, and this sync used the "
            "ONGOING request"
            + ("" if self.backfill else "; run with backfill=True (--backfill) to ask for a new one")
        )
        for row in app.rows:
            row.notes.append(note)
        if self.backfill and not app.snapshot_retried:
            app.snapshot_retried = True
            self._open_snapshot(app, replacing=True)
            if app.snapshot:
                for row in app.rows:
                    row.notes.append(
                        f"asked for a new ONE_TIME_SNAPSHOT ({app.snapshot}), merged when Apple has made it"
                    )

    def _request(self, app_id: str, *, refresh: bool = False) -> str:
        known = None if refresh else self.state.request(app_id, AccessType.ONGOING.value)
        if known is not None:
            return known[0]
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                req = self.client.ensure_ongoing(app_id)
        except ForbiddenError as err:
            err.add_hint(
                f"app {app_id} has no ONGOING report request and this key cannot create one: an Admin "
                f"key must run client.ensure_ongoing({app_id!r}) once"
            )
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
            except NotFoundError:
                raise  # the request is gone: the caller recovers
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
                self._unknown_reports(request_id, [r for r in rows if r.report in unknown])
        return ids

    def _unknown_reports(self, request_id: str, rows: list[_Row]) -> None:
        """Rows whose report the request does not have: failed, with the closest names it does have."""
        try:
            every = [r.name for r in self.client.iter_reports(request_id) if r.name]
        except ASCError:
            every = []
        for row in rows:
            close = difflib.get_close_matches(row.report, every, n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
            row.errors.append(_err(ReportNotFoundError(f"no report named {row.report!r}{hint}")))

    def _snapshot(self, app_id: str, rows: list[_Row], *, replacing: bool = False) -> str | None:
        """The app's ONE_TIME_SNAPSHOT being merged: an unfinished one, or a new one if ``backfill``.

        ``replacing``: asked because the one being merged vanished; Apple refusing a new one then is a
        note (the sync carries on with ONGOING), not a failure."""
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
                    if replacing:
                        row.notes.append(
                            f"Apple refused a new ONE_TIME_SNAPSHOT for app {app_id}: "
                            f"{(err.detail or err.title or 'a conflict').rstrip('.')}"
                        )
                    else:
                        row.errors.append(_err(err))
                return None
            if known is not None and existing.id == known[0]:  # the one already merged: nothing newer
                for row in rows:  # not a failure: a daily `--backfill` in cron must not fail every day
                    row.notes.append(
                        f"backfill: app {app_id}'s ONE_TIME_SNAPSHOT {existing.id} is already merged;"
                        " Apple allows one about every 31 days (delete it to ask for a newer one)"
                    )
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

    def _list(self, row: _Row, request_id: str, report_id: str | None, access: str) -> None:
        """Queue the row's instances the store lacks; a :class:`NotFoundError` (the request is gone) propagates."""
        if report_id is None:
            return
        try:
            listed = list(self.client.iter_instances(report_id, row.granularity))
        except NotFoundError:
            raise
        except ASCError as err:
            row.errors.append(_err(err))
            return
        if access == AccessType.ONGOING.value and listed:
            self._note_day(max(i.processing_date for i in listed if i.processing_date))
        if access == AccessType.ONGOING.value and self._stale(listed, request_id):
            self._stopped(row, request_id)  # says so in the row; what is still listed is stored all the same
        ref = self.state.get_meta("reference_day") or self.today.isoformat()
        keep = [
            i
            for i in listed
            if i.processing_date is not None
            and (self.start is None or _last_covered(i.processing_date, row.granularity) >= self.start)
        ]
        self.state.seen(
            [
                (
                    i.id,
                    row.app_id,
                    row.report,
                    row.granularity,
                    request_id,
                    access,
                    i.processing_date.isoformat(),
                    ref,
                )
                for i in keep
            ]
        )
        stored = self.state.stored_ids(i.id for i in keep)
        new = sorted((i for i in keep if i.id not in stored), key=lambda i: (i.processing_date, i.id))
        seen = (
            self.state.first_seen(i.id for i in new) if access == AccessType.ONE_TIME_SNAPSHOT.value else {}
        )
        for inst in new:
            pdate = inst.processing_date.isoformat()
            self.tasks.append(
                _Task(row, inst.id, pdate, access, request_id, known_on=_known_on(pdate, seen.get(inst.id)))
            )
        if access == AccessType.ONE_TIME_SNAPSHOT.value:
            self.snapshot_rows[(row.app_id, row.report, row.granularity)] = (request_id, [i.id for i in keep])
        self._say_pending(row, listed, request_id, access)

    def _say_pending(self, row: _Row, listed: list[Any], request_id: str, access: str) -> None:
        """An empty listing of a young request is ``pending``, with when to expect it."""
        if access == AccessType.ONE_TIME_SNAPSHOT.value:
            if not listed:
                known = self.state.request(row.app_id, access)
                asked = known[1] if known else None
                row.pending.append(
                    f"ONE_TIME_SNAPSHOT {request_id} (asked {asked}) is not ready yet: Apple makes it within 1-2 days "
                    f"(expect it by {_plus(asked, 2)}); sync again then"
                )
        elif not listed and not self._stale(listed, request_id):
            row.pending.append(
                f"ONGOING request {request_id} has no instances yet: Apple starts a new request's "
                "reports within 1-2 days"
            )

    def _stale(self, listed: list[Any], request_id: str) -> bool:
        """Nothing new for over 2 days (or never, from a request known that long): worth asking why."""
        days = [i.processing_date for i in listed if i.processing_date]
        if days:
            return (self.today - max(days)).days > 2
        known = [
            r
            for r in self.state.db.execute(
                "select requested_on from requests where request_id = ?", (request_id,)
            )
        ]
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
                f"client.ensure_ongoing({row.app_id!r}, restart_stopped=True), then sync again"
            )
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
        pool = Pool(self.executor)
        key = register_http(self.client.downloads) if pool.same_process else None
        bar = Bar(self.progress, len(self.tasks))
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
            if isinstance(job, _Gone):
                events.put(("gone", task, job.text))
                return
            if isinstance(job, str):
                events.put(("unlisted", task, job))
                return
            try:
                fut = pool.submit(job)
            except Exception as err:  # the executor is gone or refused the job
                events.put(("done", task, JobResult("failed", error=_err(err))))
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
                if kind == "gone":  # vanished at Apple: nothing to retry, said in the row without failing it
                    task.row.notes.append(f"instance {task.instance_id} ({task.processing_date}) {value}")
                    self.state.mark_failed(task.instance_id, value)
                    bar.done()
                    continue
                if kind == "unlisted":  # the listing failed: recorded here, on the caller's thread
                    task.row.errors.append(f"instance {task.instance_id}: {value}")
                    self.state.mark_failed(task.instance_id, value)
                    bar.done()
                    continue
                if kind == "job":
                    try:
                        value = value.result()
                    except Exception as err:  # a worker died, a job could not be run
                        value = JobResult("failed", error=_err(err))
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

    def _job(self, task: _Task, http_key: str | None) -> SyncJob | _Gone | str:
        """The worker's job for one instance (its segments listed now: URLs live 5 minutes), or an error."""
        self.counter.current = task.row
        try:
            segs = list(self.client.iter_segments(task.instance_id))
        except NotFoundError:
            return _Gone(
                "no longer exists at Apple (its request was deleted by a user or by Apple during the sync, or "
                "Apple removed it 35 days after making it); it could not be downloaded"
            )
        except ASCError as err:
            return _err(err)
        finally:
            self.counter.current = None
        key = (task.row.report, task.row.granularity)
        return SyncJob(
            destination=self.destination.spec(),
            cache_dir=str(self.client.cache_dir),
            http=http_key,
            app_id=task.row.app_id,
            report=task.row.report,
            granularity=task.row.granularity,
            instance_id=task.instance_id,
            processing_date=task.processing_date,
            known_on=task.known_on,
            start=self.start,
            types=dict(self.types.get(key, {})),
            documented=self.documented.get(key),
            segments=[job_from(s, instance_id=task.instance_id) for s in segs],
        )

    def _known_drift(self, row: _Row, issue: dict[str, Any]) -> bool:
        """A schema drift already recorded for this report × granularity (said once, not per instance)."""
        if issue.get("kind") != "schema_drift":
            return False
        return (
            self.state.db.execute(
                "select 1 from issues where kind = 'schema_drift' and report = ? and granularity = ? and column_name = ?",
                (row.report, row.granularity, issue.get("column")),
            ).fetchone()
            is not None
        )

    def _settle(self, task: _Task, result: JobResult, bar: Bar) -> None:
        row = task.row
        row.downloads += int(result.downloads)
        now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        issues = [i for i in result.issues if not self._known_drift(row, i)]
        self.state.add_issues(now, row.app_id, row.report, row.granularity, task.instance_id, issues)
        if result.status == "expired" and task.attempts < 2:
            task.attempts += 1  # presigned URLs live 5 minutes: list the segments again and re-send
            self.tasks.appendleft(task)
            return
        bar.done()
        if result.status == "ok":
            known = self.types.setdefault((row.report, row.granularity), {})
            for column, arrow_type in result.types.items():
                known.setdefault(column, arrow_type)  # later jobs of this sync write the same types
            self.state.mark_stored(task.instance_id, result.rows, result.types, row.report, row.granularity)
            row.new_instances += 1
            row.rows += result.rows
            row.dates(result.dates)
            return
        error = result.error or "segment URLs kept expiring"
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


def _known_on(processing_date: str, first_seen: str | None) -> str:
    """A vintage's rank: when its rows became known. An ONGOING instance is known on its processing date; a
    ONE_TIME_SNAPSHOT's instances carry old processing dates (they hold history), so one is ranked by the day
    the store first saw it (``first_seen``: the listing's reference day), never earlier than its processing date.
    Ranked by its processing date, a snapshot would lose to the early vintages it should replace, and
    ``as_of`` would show it on days before it existed."""
    return max(processing_date, first_seen or processing_date)


def _last_covered(processing_date: dt.date, granularity: str) -> str:
    """The latest ``Date`` an instance processed on this day can hold (for ``start=`` filtering)."""
    return (processing_date - dt.timedelta(days=1) if granularity == "DAILY" else processing_date).isoformat()


def _plus(day: str | None, days: int) -> str:
    return "?" if day is None else (dt.date.fromisoformat(day) + dt.timedelta(days=days)).isoformat()
