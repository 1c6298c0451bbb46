"""``Client``: one method per step of the Analytics Reports lifecycle.

Listings return typed DataFrames (:mod:`asc_nb.frames`), single resources frozen records
(:mod:`asc_nb.records`). Every request is built from the endpoint table in
:mod:`asc_nb.models` (path, allowed filters, largest ``limit``), and server-side filters are
used wherever the API has one, so a canonical job makes the fewest calls: one report for
one date is ``report_requests`` → ``reports(name=…)`` → ``instances(granularity, date)`` →
``segments`` — four calls, then one download per segment.

Arguments are checked before any request: enum arguments take the enum or its name in any
case, ids must be plain non-empty strings, dates ISO ``YYYY-MM-DD``.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import httpx
import pandas as pd

from . import config, frames, registry
from .auth import Credentials, TokenSigner
from .data import fetch as data_fetch
from .data import transfer
from .data.cache import SegmentCache
from .data.engine import InstanceJob
from .data.parse import check_errors
from .data.progress import ProgressCallback, make_progress
from .data.transfer import SegmentJob, Transfer, job_from
from .errors import (
    ASCError,
    ConfigError,
    ConflictError,
    NetworkError,
    NotFoundError,
    ReportNotFoundError,
    ServerError,
)
from .http import Pacer, RateLimit, RetryPolicy, Session
from .models import API_BASE_URL, SETTLE_DAYS, AccessType, Category, Endpoint, Granularity, endpoint, iso_date
from .records import App, Instance, Record, Report, ReportRequest, Segment
from .redact import install_log_redaction

if TYPE_CHECKING:  # pragma: no cover
    from .sandbox import Sandbox

__all__ = ["Client", "DateLike", "FetchPlan", "Mode", "ProcessingDate"]

log = logging.getLogger("asc_nb.client")
install_log_redaction()  # httpx logs request URLs at INFO; presigned download URLs are credentials

#: raw page documents kept in ``last_documents`` (a lazy listing of any length stays bounded)
MAX_KEPT_PAGES = 10
#: child id -> parent id remembered for single-resource lookups (bounded, oldest forgotten first)
MAX_REMEMBERED_PARENTS = 20_000

DateLike = date | datetime | str
Mode = Literal["apple", "sandbox", "custom"]
R = TypeVar("R", bound=Record)
ProcessingDate = DateLike | tuple[DateLike | None, DateLike | None] | list[DateLike] | None

#: A date range up to this many days is sent as a server-side list of dates; a longer or
#: open-ended one is fetched unfiltered and cut on the client (URLs stay short).
MAX_SERVER_DATES = 62
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._~:@-]*$")


# --------------------------------------------------------------------------- argument checks


def _id(value: Any, what: str) -> str:
    """A resource id safe to put in a path (no slashes, spaces or query characters)."""
    if isinstance(value, Record):
        value = value.id
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise TypeError(f"{what} must be a string id, got {type(value).__name__}")
    text = str(value).strip()
    if not text or not _ID_RE.match(text):
        raise ValueError(
            f"{what} {value!r} is not a valid id (expected letters, digits and '-', e.g. '1476097583')"
        )
    return text


def _dates_filter(processing_date: ProcessingDate) -> tuple[list[date] | None, date | None, date | None]:
    """Turn ``processing_date`` into (dates for the server, client-side start, end)."""
    if processing_date is None:
        return None, None, None
    if isinstance(processing_date, tuple):
        if len(processing_date) != 2:
            raise ValueError("processing_date as a tuple must be (start, end); use a list for several dates")
        start = None if processing_date[0] is None else iso_date(processing_date[0], "processing_date start")
        end = None if processing_date[1] is None else iso_date(processing_date[1], "processing_date end")
        if start and end and end < start:
            raise ValueError(f"processing_date range ends ({end}) before it starts ({start})")
        if start and end and (end - start).days < MAX_SERVER_DATES:
            days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
            return days, start, end
        return None, start, end
    if isinstance(processing_date, (list, set, frozenset)):
        days = sorted({iso_date(d, "processing_date") for d in processing_date})
        if not days:
            raise ValueError("processing_date list is empty")
        return days, None, None
    day = iso_date(processing_date, "processing_date")
    return [day], day, day


def _names(value: str | Iterable[str] | None, what: str) -> list[str] | None:
    if value is None:
        return None
    # a non-iterable (5, None inside…) gets the same actionable ValueError, not "'int' object is not iterable"
    items = [value] if isinstance(value, str) else list(value) if isinstance(value, Iterable) else []
    if not items or not all(isinstance(v, str) and v.strip() for v in items):
        raise ValueError(f"{what} must be a non-empty string or list of strings")
    if any("," in v for v in items):
        raise ValueError(f"{what} values cannot contain ',' (the API separates list values with commas)")
    return [v.strip() for v in items]


def resolve_cache_dir(
    cache_dir: str | os.PathLike[str] | None, environ: Mapping[str, str] | None = None
) -> Path:
    """``cache_dir``, else ``ASC_NB_CACHE_DIR``, else the platform's user cache dir (see :func:`asc_nb.config.cache_dir`)."""
    return config.cache_dir(cache_dir, environ)


def _strip_authorization(request: httpx.Request) -> None:
    request.headers.pop("Authorization", None)


# --------------------------------------------------------------------------- client


class Client:
    """App Store Connect Analytics Reports, as DataFrames.

    Build one with :func:`asc_nb.connect`; or directly: ``Client(credentials)`` talks to
    Apple, ``Client(sandbox=Sandbox())`` to an in-process sandbox, and ``base_url=`` to any
    other server (a proxy, the sandbox CLI on 127.0.0.1). Use it as a context manager or
    call :meth:`close`.
    """

    def __init__(
        self,
        credentials: Credentials | None = None,
        *,
        sandbox: Sandbox | None = None,
        base_url: str | None = None,
        transport: httpx.BaseTransport | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        timeout: httpx.Timeout | float | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        scope: list[str] | None = None,
        token_lifetime: int = 10 * 60,
        pacer: Pacer | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if credentials is None and sandbox is not None:
            credentials = Credentials(
                sandbox.key_id, sandbox.issuer_id, sandbox.private_key_pem, source="sandbox"
            )
        if credentials is None:
            raise ConfigError("Client needs credentials (or sandbox=); asc_nb.connect() finds them for you")
        if not isinstance(credentials, Credentials):
            raise TypeError(f"credentials must be asc_nb.Credentials, got {type(credentials).__name__}")
        if (
            timeout is not None
            and not isinstance(timeout, httpx.Timeout)
            and (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0)
        ):
            raise ConfigError(
                f"timeout must be a positive number of seconds or an httpx.Timeout, got {timeout!r}"
            )
        if base_url is None:  # explicit arguments only: the environment is read by connect() (asc_nb.config)
            base_url = sandbox.api_base_url if sandbox is not None else API_BASE_URL
        in_process = (
            sandbox is not None and transport is None and base_url.rstrip("/") == sandbox.api_base_url
        )
        if in_process:
            assert sandbox is not None
            transport = sandbox.transport()
            download_transport: httpx.BaseTransport | None = sandbox.transport()
        else:
            download_transport = transport
        self.credentials = credentials
        #: the sandbox this client talks to (``None`` against Apple)
        self.sandbox = sandbox
        self.signer = TokenSigner(credentials, scope=scope, lifetime=token_lifetime, clock=clock)
        #: the API session (auth, retries, rate limit, paging)
        self.http = Session(
            base_url,
            self.signer,
            transport=transport,
            timeout=timeout,
            retry=retry,
            sleep=sleep,
            pacer=pacer or Pacer(clock=clock),
        )
        #: plain client for presigned segment URLs: never carries ``Authorization``
        self.downloads = httpx.Client(
            transport=download_transport,
            timeout=timeout if timeout is not None else httpx.Timeout(60.0, connect=10.0),
            follow_redirects=True,
            headers={"User-Agent": self.http.client.headers["User-Agent"]},
            event_hooks={"request": [_strip_authorization]},
        )
        #: where verified segment files are kept (``None``: ``ASC_NB_CACHE_DIR`` or the user cache dir)
        self.cache_dir: Path = config.cache_dir(cache_dir)
        #: the JSON:API page documents of the last listing, raw (its last ``MAX_KEPT_PAGES`` pages)
        self.last_documents: list[dict[str, Any]] = []
        self._parents: dict[str, str] = {}
        # fetch lists segments from several threads: evicting from a full map must not race
        self._parents_lock = threading.Lock()

    # ------------------------------------------------------------------ housekeeping

    @property
    def base_url(self) -> str:
        return str(self.http.base_url)

    @property
    def rate_limit(self) -> RateLimit | None:
        """The key's hourly budget as of the last response (``limit``, ``remaining``, ``updated_at``)."""
        return self.http.rate_limit

    @property
    def last_response(self) -> httpx.Response | None:
        """The last API response (``client.last_response.json()`` is the raw document)."""
        return self.http.last_response

    def on_wait(self, callback: Callable[[str, float], None]) -> Callable[[], None]:
        """Call ``callback(reason, seconds)`` whenever an API call is about to wait on purpose.

        ``reason`` is ``"pacer"`` (the hourly budget is spent), ``"retry-after"`` (Apple said when to
        retry) or ``"backoff"``; the callback runs on the waiting thread, so a panel can show a
        countdown instead of a frozen button. Returns a function that removes the callback.
        """
        return self.http.add_wait_listener(callback)

    def close(self) -> None:
        self.http.close()
        self.downloads.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def mode(self) -> Mode:
        """What this client talks to: ``"sandbox"`` (simulated data), ``"apple"`` (Apple's API host)
        or ``"custom"`` (any other server: a proxy, the sandbox CLI on 127.0.0.1)."""
        if self.sandbox is not None:
            return "sandbox"
        return "apple" if self.base_url.rstrip("/") == API_BASE_URL else "custom"

    def __repr__(self) -> str:
        mode = "custom server" if self.mode == "custom" else self.mode
        return f"<asc_nb.Client {mode} {self.base_url} key_id={self.credentials.key_id}>"

    # ------------------------------------------------------------------ plumbing

    def _list(self, ep: Endpoint, parent: str | None, params: Mapping[str, Any], cls: type[R]) -> Iterator[R]:
        unknown = set(params) - ep.query_parameters
        assert not unknown, f"{ep.name} does not accept {unknown}"
        path = ep.url(parent)
        docs: list[dict[str, Any]] = []
        self.last_documents = docs
        for doc in self.http.pages(path, params, limit=ep.max_limit):
            docs.append(doc)
            if len(docs) > MAX_KEPT_PAGES:
                del docs[0]
            for resource in doc.get("data") or []:
                record = cls.from_resource(resource, parent)
                if parent is not None:
                    self._remember_parent(record.id, parent)
                yield record

    def _remember_parent(self, child: str, parent: str) -> None:
        with self._parents_lock:
            self._parents[child] = parent
            while len(self._parents) > MAX_REMEMBERED_PARENTS:
                del self._parents[next(iter(self._parents))]  # dicts keep insertion order

    def _get(self, ep: Endpoint, id: str, cls: type[R], params: Mapping[str, Any] | None = None) -> R:
        doc = self.http.get_json(ep.url(id), params)
        self.last_documents = [doc]
        return cls.from_resource(doc["data"], self._parents.get(id))

    # ------------------------------------------------------------------ apps

    def iter_apps(
        self,
        *,
        name: str | list[str] | None = None,
        bundle_id: str | list[str] | None = None,
        sku: str | list[str] | None = None,
        ids: str | list[str] | None = None,
    ) -> Iterator[App]:
        """Apps, lazily (see :meth:`apps`)."""
        params: dict[str, Any] = App.resource.sparse_fields()
        for key, value in (("name", name), ("bundleId", bundle_id), ("sku", sku), ("id", ids)):
            values = _names(value, key)
            if values:
                params[f"filter[{key}]"] = ",".join(values)
        return self._list(endpoint("apps"), None, params, App)

    def apps(
        self,
        *,
        name: str | list[str] | None = None,
        bundle_id: str | list[str] | None = None,
        sku: str | list[str] | None = None,
        ids: str | list[str] | None = None,
    ) -> pd.DataFrame:
        """All apps of the team (optionally filtered by the server): id, name, bundle_id, sku, primary_locale."""
        return frames.to_frame(App, self.iter_apps(name=name, bundle_id=bundle_id, sku=sku, ids=ids))

    def app(self, id: str) -> App:
        """One app."""
        app_id = _id(id, "app id")
        return self._get(endpoint("app"), app_id, App, App.resource.sparse_fields())

    # ------------------------------------------------------------------ report requests

    def iter_report_requests(
        self, app_id: str, access_type: AccessType | str | None = None
    ) -> Iterator[ReportRequest]:
        """An app's report requests, lazily (see :meth:`report_requests`)."""
        app_id = _id(app_id, "app id")
        params: dict[str, Any] = {}
        if access_type is not None:
            params["filter[accessType]"] = AccessType.parse(access_type, argument="access_type").value
        return self._list(endpoint("app_report_requests"), app_id, params, ReportRequest)

    def report_requests(self, app_id: str, access_type: AccessType | str | None = None) -> pd.DataFrame:
        """An app's report requests: id, access_type, stopped_due_to_inactivity, app_id."""
        return frames.to_frame(ReportRequest, self.iter_report_requests(app_id, access_type))

    def report_request(self, id: str) -> ReportRequest:
        """One report request."""
        return self._get(endpoint("report_request"), _id(id, "request id"), ReportRequest)

    def _existing(self, app_id: str, access: AccessType) -> ReportRequest | None:
        found = list(self.iter_report_requests(app_id, access))
        # prefer a live one; a stopped request still blocks a new one of its type
        found.sort(key=lambda r: bool(r.stopped_due_to_inactivity))
        return found[0] if found else None

    def create_report_request(self, app_id: str, access_type: AccessType | str) -> ReportRequest:
        """Ask Apple to start generating reports for an app (Admin keys only).

        A 409 (the app already has a request of this type) is raised as :class:`ConflictError`
        whose ``existing`` is that request and whose message says how to reuse it. The POST
        is never retried blindly: after a 5xx or a dropped connection the client lists the
        app's requests and returns the one the POST created, or re-raises saying nothing
        was created.
        """
        app_id = _id(app_id, "app id")
        access = AccessType.parse(access_type, argument="access_type")
        ep = endpoint("create_report_request")
        body = {
            "data": {
                "type": "analyticsReportRequests",
                "attributes": {"accessType": access.value},
                "relationships": {"app": {"data": {"type": "apps", "id": app_id}}},
            }
        }
        try:
            response = self.http.request(ep.method, ep.url(), json=body)
        except ConflictError as err:
            try:
                existing = self._existing(app_id, access)
            except ASCError:
                existing = None
            err.existing = existing
            if existing is not None:
                err.add_hint(
                    f"App {app_id} already has {access.value} request {existing.id}; reuse it with "
                    f"client.report_request({existing.id!r})"
                    + (" or client.ensure_ongoing(app_id)" if access is AccessType.ONGOING else "")
                    + (
                        " (it stopped due to inactivity: delete it to create a new one)"
                        if existing.stopped_due_to_inactivity
                        else ""
                    )
                )
            raise
        except (ServerError, NetworkError) as err:
            try:
                existing = self._existing(app_id, access)
            except ASCError as check:
                # only a check that ran may say "nothing was created"
                hint = f"Could not check whether a request was created ({check}); list the app's requests"
            else:
                if existing is not None:
                    log.warning(
                        "POST %s failed (%s) but app %s now has %s request %s; returning it",
                        ep.path,
                        err,
                        app_id,
                        access.value,
                        existing.id,
                    )
                    return existing
                hint = "No request was created (checked); it is safe to call again"
            if isinstance(err, ServerError):
                err.add_hint(hint)
            else:  # the transport's text says the POST "may have reached the server": say what we found
                err.args = (f"{err}. {hint}",)
            raise
        doc = response.json()
        self.last_documents = [doc]
        record = ReportRequest.from_resource(doc["data"], app_id)
        self._remember_parent(record.id, app_id)
        return record

    def ensure_ongoing(self, app_id: str, *, restart_stopped: bool = False) -> ReportRequest:
        """The app's ONGOING request: reuse the existing one, create it only if there is none.

        Safe to call repeatedly and concurrently: a 409 means someone else created it, so
        the existing one is returned. A request that stopped due to inactivity produces no
        new reports; ``restart_stopped=True`` deletes it and creates a fresh one, otherwise it
        is returned with a warning.
        """
        app_id = _id(app_id, "app id")
        existing = self._existing(app_id, AccessType.ONGOING)
        if existing is not None and existing.stopped_due_to_inactivity and restart_stopped:
            self.delete_report_request(existing.id)
            existing = None
        if existing is not None:
            if existing.stopped_due_to_inactivity:
                warnings.warn(
                    f"ONGOING request {existing.id} of app {app_id} stopped due to inactivity and produces no new "
                    "reports; call ensure_ongoing(app_id, restart_stopped=True) to replace it",
                    stacklevel=2,
                )
            return existing
        for attempt in (1, 2):
            try:
                return self.create_report_request(app_id, AccessType.ONGOING)
            except ConflictError as err:
                if err.existing is not None:
                    return err.existing
                raise
            except (ServerError, NetworkError):
                # create_report_request verified that nothing was created: one more try is safe
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def delete_report_request(self, id: str) -> None:
        """Delete a report request (Admin keys only); Apple stops generating its reports."""
        request_id = _id(id, "request id")
        ep = endpoint("delete_report_request")
        try:
            self.http.request(ep.method, ep.url(request_id))
        except NotFoundError as err:
            if err.attempts > 1:  # an earlier attempt (that we did not hear back from) deleted it
                return
            raise
        with self._parents_lock:
            self._parents.pop(request_id, None)

    # ------------------------------------------------------------------ reports

    def iter_reports(
        self, request_id: str, category: Category | str | None = None, name: str | list[str] | None = None
    ) -> Iterator[Report]:
        """A request's reports, lazily (see :meth:`reports`)."""
        request_id = _id(request_id, "request id")
        params: dict[str, Any] = {}
        if category is not None:
            params["filter[category]"] = Category.parse(category, argument="category").value
        names = _names(name, "name")
        if names:
            params["filter[name]"] = ",".join(names)
        return self._list(endpoint("request_reports"), request_id, params, Report)

    def reports(
        self, request_id: str, category: Category | str | None = None, name: str | list[str] | None = None
    ) -> pd.DataFrame:
        """A request's reports (filtered by the server): id, name, category, request_id."""
        return frames.to_frame(Report, self.iter_reports(request_id, category, name))

    def report(self, id: str) -> Report:
        """One report."""
        return self._get(endpoint("report"), _id(id, "report id"), Report)

    # ------------------------------------------------------------------ instances

    def iter_instances(
        self,
        report_id: str,
        granularity: Granularity | str | None = None,
        processing_date: ProcessingDate = None,
    ) -> Iterator[Instance]:
        """A report's instances, lazily (see :meth:`instances`)."""
        report_id = _id(report_id, "report id")
        params: dict[str, Any] = {}
        if granularity is not None:
            params["filter[granularity]"] = Granularity.parse(granularity, argument="granularity").value
        days, start, end = _dates_filter(processing_date)
        if days:
            params["filter[processingDate]"] = ",".join(d.isoformat() for d in days)
        wanted = set(days) if days else None

        def keep(inst: Instance) -> bool:
            d = inst.processing_date
            if d is None:
                return wanted is None and start is None and end is None
            if wanted is not None and d not in wanted:
                return False
            return not (start and d < start or end and d > end)

        records = self._list(endpoint("report_instances"), report_id, params, Instance)
        return (r for r in records if keep(r))

    def instances(
        self,
        report_id: str,
        granularity: Granularity | str | None = None,
        processing_date: ProcessingDate = None,
    ) -> pd.DataFrame:
        """A report's instances: id, granularity, processing_date, report_id.

        ``processing_date`` is one date, a list of dates, or an inclusive ``(start, end)``
        range (either end may be ``None``); dates are ``date`` objects or ``'YYYY-MM-DD'``.
        """
        return frames.to_frame(Instance, self.iter_instances(report_id, granularity, processing_date))

    def instance(self, id: str) -> Instance:
        """One instance."""
        return self._get(endpoint("instance"), _id(id, "instance id"), Instance)

    # ------------------------------------------------------------------ segments

    def iter_segments(self, instance_id: str) -> Iterator[Segment]:
        """An instance's segments, lazily (their URLs expire 5 minutes after listing)."""
        instance_id = _id(instance_id, "instance id")
        return self._list(endpoint("instance_segments"), instance_id, {}, Segment)

    def segments(self, instance_id: str) -> pd.DataFrame:
        """An instance's segments: id, checksum, size_in_bytes, url, instance_id.

        The presigned URLs expire 5 minutes after this call: download right away.
        """
        return frames.to_frame(Segment, self.iter_segments(instance_id))

    def segment(self, id: str) -> Segment:
        """One segment (with a freshly presigned URL)."""
        return self._get(endpoint("segment"), _id(id, "segment id"), Segment)

    # ------------------------------------------------------------------ data (asc_nb.data)

    def _transfer(
        self, cache_dir: str | os.PathLike[str] | None, retries: int, cancel: threading.Event | None = None
    ) -> Transfer:
        """What the data layer is handed: the download host's client, the cache, this client's
        retry policy and clock, and a way to renew a segment's URL (the only API call it may need)."""
        if cancel is not None and not isinstance(cancel, threading.Event):
            raise TypeError(f"cancel must be a threading.Event, got {type(cancel).__name__}")
        return Transfer(
            http=self.downloads,
            cache=SegmentCache(self.cache_dir if cache_dir is None else cache_dir),
            refresh=self._segment_url,
            retry=self.http.retry,
            retries=retries,
            sleep=self.http.sleep,
            random=self.http.random,
            cancel=cancel,
        )

    def _segment_url(self, segment_id: str) -> str | None:
        """A freshly presigned URL for a segment (one API call)."""
        return self.segment(segment_id).url

    def _segment_jobs(self, instance_id: str) -> list[SegmentJob]:
        """An instance's segments as download jobs (one listing; URLs live 5 minutes)."""
        return [job_from(s, instance_id=instance_id) for s in self.iter_segments(instance_id)]

    def download_segment(
        self,
        segment: Any,
        *,
        cache_dir: str | os.PathLike[str] | None = None,
        retries: int = 2,
        progress: bool | ProgressCallback | None = False,
        cancel: threading.Event | None = None,
    ) -> Path:
        """Download one segment into the verified cache and return its path (gzip, as Apple sent it).

        ``segment`` is a :class:`~asc_nb.Segment`, a row of ``client.segments(...)`` or a segment
        id. A cached copy is returned without any network call. Raises ``ChecksumError`` when
        every attempt fails verification.
        """
        job = job_from(self.segment(_id(segment, "segment id")) if isinstance(segment, str) else segment)
        bar = make_progress(progress, 1, "segment")
        bar.plan(1, job.size or 0)
        try:
            return transfer.download(job, self._transfer(cache_dir, retries, cancel), progress=bar)
        finally:
            bar.close()

    def read_instance(
        self,
        instance_id: str | Instance,
        *,
        processing_date: Any = None,
        cache_dir: str | os.PathLike[str] | None = None,
        workers: int | None = None,
        progress: bool | ProgressCallback | None = None,
        retries: int = 2,
        cancel: threading.Event | None = None,
        report: str | Report | None = None,
        errors: str = "raise",
    ) -> pd.DataFrame:
        """All segments of an instance as one typed DataFrame, with provenance columns.

        Takes an id or an :class:`Instance` like every other method (a record's own
        ``processing_date`` saves the lookup call, as does passing ``processing_date``).
        Columns are typed from the report registry: the instance's report is looked up (one call)
        unless ``report`` (a name or :class:`Report`) is given. ``errors`` as in :meth:`fetch`.
        """
        check_errors(errors)
        record = instance_id if isinstance(instance_id, Instance) else None
        if record is not None and processing_date is None:
            processing_date = record.processing_date
        inst = _id(instance_id, "instance id")
        if processing_date is None or (report is None and (record is None or not record.report_id)):
            record = self.instance(inst)
            if processing_date is None:
                processing_date = record.processing_date
        if isinstance(report, Report):
            report = report.name
        elif report is None and record is not None and record.report_id:
            report = self.report(record.report_id).name
        return data_fetch.read_instance(
            self._transfer(cache_dir, retries, cancel),
            self._segment_jobs,
            inst,
            processing_date,
            workers=workers,
            progress=progress,
            report=report,
            errors=errors,
        )

    def _find_report(self, request_id: str, report_name: str) -> Report:
        report_name = registry.canonical(
            report_name
        )  # case and spaces do not matter (Apple's filter is exact)
        found = list(self.iter_reports(request_id, name=report_name))
        exact = [r for r in found if r.name == report_name]
        if not exact:
            exact = [r for r in found if (r.name or "").casefold() == report_name.casefold()]
        if exact:
            return exact[0]
        import difflib

        names = [r.name for r in self.iter_reports(request_id) if r.name]
        close = difflib.get_close_matches(report_name, names, n=5, cutoff=0.5)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else f" ({len(names)} reports exist)"
        raise ReportNotFoundError(f"request {request_id} has no report named {report_name!r}{hint}")

    def plan_fetch(
        self,
        request: str | ReportRequest,
        report: str | Report,
        granularity: Granularity | str = "DAILY",
        start: DateLike | None = None,
        end: DateLike | None = None,
        *,
        settle_days: int | None = None,
    ) -> FetchPlan:
        """What a fetch will read: the report, the date window and the instances holding its rows.

        ``start``/``end`` are data dates (the ``Date`` column), inclusive; either may be ``None``.
        Apple publishes a day's rows, and corrections to them, in the instances of the following
        days, so instances are selected server-side by ``processingDate`` in
        [start, end + settle_days] (default :data:`~asc_nb.models.SETTLE_DAYS` per granularity).
        ``report`` is a name (one lookup call) or a :class:`Report` record or a row of
        ``client.reports(...)`` (no call); listing the instances is one more. Pass the plan to :meth:`fetch`, which then only lists segments.
        """
        request_id = _id(request, "request id")
        g = Granularity.parse(granularity, argument="granularity")
        first = None if start is None else iso_date(start, "start")
        last = None if end is None else iso_date(end, "end")
        if first and last and last < first:
            raise ValueError(f"end ({last}) is before start ({first})")
        if isinstance(report, Report):
            record = report
        elif isinstance(report, str):
            record = self._find_report(request_id, report)
        elif isinstance(report, (pd.Series, Mapping)):  # a row of client.reports(...): the record's data
            name, category = report.get("name"), report.get("category")
            record = Report(
                id=_id(report.get("id"), "report id"),
                name=None if pd.isna(name) else str(name),
                category=Category(category) if category in Category._value2member_map_ else None,
                request_id=request_id,
            )
        else:
            raise TypeError(
                f"report must be a report name, a Report record or a row of client.reports(), "
                f"got {type(report).__name__}"
            )
        lag = SETTLE_DAYS[g] if settle_days is None else int(settle_days)
        window = (first, None if last is None else last + timedelta(days=lag))
        found = list(self.iter_instances(record.id, g, processing_date=window if (first or last) else None))
        found.sort(key=lambda i: (i.processing_date or date.min, i.id))
        return FetchPlan(request_id, record, g, first, last, frames.to_frame(Instance, found), lag)

    def fetch(
        self,
        plan: FetchPlan | str | ReportRequest,
        report: str | Report | None = None,
        granularity: Granularity | str = "DAILY",
        start: DateLike | None = None,
        end: DateLike | None = None,
        vintages: bool = False,
        to: str | os.PathLike[str] | None = None,
        progress: bool | ProgressCallback | None = None,
        *,
        cancel: threading.Event | None = None,
        workers: int | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        settle_days: int | None = None,
        retries: int = 2,
        errors: str = "raise",
    ) -> pd.DataFrame | Path:
        """A report's rows for ``Date`` in [start, end]: every segment, verified, latest vintage.

        ``client.fetch(plan)`` runs a :meth:`plan_fetch` plan (only segment listings and downloads
        remain); ``client.fetch(request, report, granularity, start, end)`` plans first. By default
        each ``Date`` keeps only the rows of its greatest ``processing_date`` (Apple's overwrite
        rule); ``vintages=True`` keeps every vintage.

        Returns a DataFrame whose ``attrs`` carry ``report``, ``report_id``, ``request_id``,
        ``granularity``, ``start``, ``end``, ``missing_dates`` (expected dates without a row; also
        warned about with :class:`MissingDatesWarning`) and ``stats``. With ``to=path`` the rows
        are streamed segment by segment into Hive-partitioned Parquet (see :func:`asc_nb.to_parquet`)
        instead, never holding the report in memory, and the path is returned.

        ``progress``: ``True``/``False`` for a tqdm bar (``None``: a bar when there is more than one
        segment, unless ``ASC_NB_PROGRESS=0``), or a callback ``(segments_done, segments_planned,
        bytes_done, bytes_planned)``. ``cancel``: a ``threading.Event``; once set, the download stops
        (in-flight transfers closed, nothing unverified kept) and :class:`DownloadCancelled` is raised.

        Columns are typed from the report registry (:func:`asc_nb.describe_report`), never from the
        values. ``errors="raise"``: a value that does not fit its column raises
        :class:`SegmentFormatError` naming report, instance, segment, line, column and value;
        ``errors="coerce"``: such cells become missing, ``attrs["parse_issues"]`` lists them and one
        :class:`ParseIssuesWarning` says how many. Columns that differ from the registry:
        :class:`SchemaDriftWarning` and ``attrs["schema_drift"]``.
        """
        check_errors(errors)
        if to is not None and Path(to).exists() and not Path(to).is_dir():
            raise ValueError(
                f"to={str(to)!r} is a file: give fetch a directory to write Parquet partitions into"
            )
        if isinstance(plan, FetchPlan):
            if (
                report is not None
                or settle_days is not None
                or (granularity, start, end) != ("DAILY", None, None)
            ):
                raise TypeError(
                    "fetch(plan) takes the report, granularity, dates and settle_days from the plan; "
                    "pass them to plan_fetch instead"
                )
        else:
            if report is None:
                raise TypeError("fetch() needs a plan from plan_fetch, or a request and a report name")
            request_id = _id(plan, "request id")
            granularity = Granularity.parse(granularity, argument="granularity")
            for value, what in ((start, "start"), (end, "end")):
                if value is not None:
                    iso_date(value, what)
            plan = self.plan_fetch(request_id, report, granularity, start, end, settle_days=settle_days)
        transfer_ = self._transfer(cache_dir, retries, cancel)
        jobs = [
            InstanceJob(str(i), None if pd.isna(d) else d.date())
            for i, d in zip(plan.instances["id"], plan.instances["processing_date"], strict=True)
        ]
        rep = plan.report
        meta = {
            "report": rep.name,
            "report_id": rep.id,
            "request_id": plan.request_id,
            "granularity": plan.granularity.value,
            "start": plan.start,
            "end": plan.end,
        }
        common = dict(
            granularity=plan.granularity,
            start=plan.start,
            end=plan.end,
            meta=meta,
            vintages=vintages,
            progress=progress,
            workers=workers,
            errors=errors,
        )
        if to is not None:
            data_fetch.fetch_parquet(transfer_, self._segment_jobs, jobs, Path(to), **common)
            return Path(to)
        return data_fetch.fetch_frame(transfer_, self._segment_jobs, jobs, **common)

    def metrics(
        self,
        app_ids: str | Iterable[str],
        metrics: str | Iterable[str],
        *,
        by: str | Iterable[str] = ("date",),
        start: Any = None,
        end: Any = None,
        granularity: Granularity | str = "DAILY",
        filters: Mapping[str, Any] | None = None,
        approx: bool = False,
        progress: Any = False,
        as_of: Any = None,
    ) -> pd.DataFrame:
        """App Analytics metrics (``asc_nb.metric_catalog()``) as a tidy frame: one row per group.

        Loads only the reports the metrics need, once each (see :mod:`asc_nb.metrics` for the rules:
        unique counts are never summed unless ``approx=True``, ratios come from their parts).
        ``as_of=D``: only instances with processing date <= D are read (what was known then); the
        ``provisional`` column marks rows inside a report's completeness window.
        """
        from . import metrics as _metrics

        loader = _metrics.ClientLoader(self, progress=progress, as_of=as_of)
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


@dataclass(frozen=True)
class FetchPlan:
    """What :meth:`Client.fetch` will read, decided by :meth:`Client.plan_fetch` (no call repeated).

    ``instances`` is the instances DataFrame (``id``, ``granularity``, ``processing_date``,
    ``report_id``) in processing-date order; ``start``/``end`` are the data dates asked for and
    ``settle_days`` how far past ``end`` instances were listed.
    """

    request_id: str
    report: Report
    granularity: Granularity
    start: date | None
    end: date | None
    instances: pd.DataFrame = field(repr=False, compare=False)
    settle_days: int = 0

    def __repr__(self) -> str:
        return (
            f"FetchPlan(request_id={self.request_id!r}, report={self.report.name!r}, "
            f"granularity={self.granularity.value!r}, start={self.start}, end={self.end}, "
            f"instances={len(self.instances)})"
        )
