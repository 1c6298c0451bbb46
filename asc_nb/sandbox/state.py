"""The simulated world: apps, API keys, report requests, and the schedule of their instances.

Nothing here is materialised ahead of time: the instances a report holds are *computed* from
the request's timeline and the simulated clock each time someone asks, so a world with a
two-year snapshot costs nothing until a report's instances are listed.

Timeline of a request (all in simulated time):

* ``created_at`` -- the POST. ``ready_at`` = created + 24..48 h (deterministic per request from
  the seed): no instance exists before it. The reports list exists from the start (every
  catalog entry, ids ``r<number>-<requestId>``); it is the instances that take a day or two.
* ONGOING: a DAILY instance for every processing date from ``ready_at``'s day on, a WEEKLY one
  every Friday, a MONTHLY one on the 5th. The instance for date ``d`` is generated at
  ``max(ready_at, d 00:00 UTC)``.
* ONE_TIME_SNAPSHOT: everything is generated at ``ready_at``: DAILY instances for every day from
  ``history_start`` (2024-01-01) to the creation date, WEEKLY for every Friday whose Mon-Sun week
  starts on or after ``history_start``, MONTHLY for every 5th whose previous month starts on or
  after it -- and nothing new afterwards.
* Every instance disappears ``INSTANCE_RETENTION_DAYS`` (35) after it was generated.
* An ONGOING request whose reports/instances/segments are not read for ``inactivity_days``
  becomes ``stoppedDueToInactivity`` at ``last_read + inactivity_days`` and generates nothing
  generated after that instant. It stays stopped (Apple: "make a new request").
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from asc_nb.models import (
    HISTORY_START,
    INSTANCE_RETENTION_DAYS,
    SNAPSHOT_COOLDOWN_DAYS,
    AccessType,
    Granularity,
)
from asc_nb.sandbox.clock import SimClock, iso
from asc_nb.sandbox.datagen import covered_dates, instance_segments, is_processing_date

RETENTION = timedelta(days=INSTANCE_RETENTION_DAYS)
#: generated segment bytes kept in memory (most recently used instances first)
SEGMENT_CACHE_BYTES = 64 * 1024 * 1024
GRANULARITY_ORDER = {Granularity.DAILY: 0, Granularity.WEEKLY: 1, Granularity.MONTHLY: 2}

_APP_NAMES = (
    "Pocket Garden",
    "Tide Tables",
    "Lumen Notes",
    "Orbit Fitness",
    "Paper Cranes",
    "Night Market",
    "Quill Journal",
    "Harbor Maps",
    "Cinder Chess",
    "Maple Budget",
    "Echo Recorder",
    "Atlas Trails",
)
_LOCALES = ("en-US", "en-GB", "de-DE", "fr-FR", "ja", "es-ES")


class ConflictError(Exception):
    """A create the API refuses with 409 (``detail`` is what Apple would say)."""

    def __init__(self, detail: str, code: str = "STATE_ERROR") -> None:
        super().__init__(detail)
        self.detail, self.code = detail, code


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def midnight(d: date) -> datetime:
    return datetime.combine(d, time(0), tzinfo=timezone.utc)


def _days(start: date, end: date) -> Iterator[date]:
    d = start
    while d <= end:
        yield d
        d += timedelta(days=1)


def first_covered_day(granularity: Granularity, d: date, access_type: AccessType) -> date:
    """The first Date an instance processed on ``d`` holds (the data generator decides coverage)."""
    return covered_dates(granularity, d, access_type)[0][0]


@dataclass
class ReportRequest:
    id: str
    app_id: str
    access_type: AccessType
    created_at: datetime
    ready_at: datetime
    last_read_at: datetime
    stopped_at: datetime | None = None
    deleted_at: datetime | None = None

    def stopped(self, now: datetime, inactivity: timedelta) -> bool:
        """Settle the inactivity rule lazily at ``now`` and say whether the request is stopped."""
        if self.access_type is not AccessType.ONGOING:
            return False
        if self.stopped_at is None and self.last_read_at + inactivity <= now:
            self.stopped_at = self.last_read_at + inactivity
        return self.stopped_at is not None


@dataclass(frozen=True)
class Instance:
    id: str
    request_id: str
    report_number: int
    granularity: Granularity
    processing_date: date
    generated_at: datetime
    #: a second instance for one processing date (an injected ``duplicate`` data fault)
    duplicate: bool = False

    @property
    def report_id(self) -> str:
        return f"r{self.report_number}-{self.request_id}"


@dataclass(frozen=True)
class Segment:
    id: str
    instance_id: str
    index: int
    checksum: str
    size: int


@dataclass
class RateWindow:
    """Calls of one key over the rolling hour (wall clock)."""

    calls: deque[float] = field(default_factory=deque)


class World:
    """Everything the API can see, guarded by one re-entrant lock (the fronts are multi-threaded)."""

    def __init__(
        self,
        *,
        seed: int = 0,
        apps: int | Sequence[Mapping[str, Any]] = 3,
        clock: SimClock,
        inactivity_days: float = 30,
        history_start: str | date = HISTORY_START,
        data_scale: float = 1.0,
        segment_rows: int = 2000,
    ) -> None:
        self.seed = seed
        self.ns = uuid.uuid5(uuid.NAMESPACE_URL, f"https://asc-sandbox.invalid/seed/{seed}")
        self.clock = clock
        self.inactivity = timedelta(days=inactivity_days)
        self.history_start = date.fromisoformat(str(history_start))
        self.data_scale = data_scale
        self.segment_rows = segment_rows
        self.lock = threading.RLock()
        self.apps: dict[str, dict[str, Any]] = {}
        for app in self._make_apps(apps):
            self.apps[app["id"]] = app
        self.requests: dict[str, ReportRequest] = {}
        self.deleted: dict[str, ReportRequest] = {}
        self._counter = 0
        self.instances: dict[str, Instance] = {}
        self.segments: dict[str, Segment] = {}
        self._segment_cache: OrderedDict[str, list[bytes]] = OrderedDict()
        self._segment_cache_bytes = 0
        self._instances_memo: dict[str, tuple[tuple[Any, ...], list[Instance]]] = {}
        self._catalog_by_number: dict[int, Any] | None = None
        self._enumerated: tuple[datetime, frozenset[str]] | None = None
        from asc_nb.sandbox.faults import DataFaults

        #: injected data faults (gaps, empty/duplicate instances, restatements, early deletions)
        self.data_faults = DataFaults()

    # ------------------------------------------------------------------ ids and apps

    def uuid(self, name: str) -> str:
        """A deterministic UUID for ``name`` under this seed (same seed => same ids)."""
        return str(uuid.uuid5(self.ns, name))

    def _int(self, name: str) -> int:
        return int.from_bytes(hashlib.sha256(f"{self.seed}/{name}".encode()).digest()[:8], "big")

    def _make_apps(self, apps: int | Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        if isinstance(apps, int):
            specs: list[Mapping[str, Any]] = [{} for _ in range(apps)]
        else:
            specs = list(apps)
        out = []
        offset = self._int("apps") % len(_APP_NAMES)
        for i, spec in enumerate(specs):
            name = spec.get("name") or _APP_NAMES[(offset + i) % len(_APP_NAMES)]
            slug = "".join(ch for ch in name.lower() if ch.isalnum())
            app = {
                "id": str(spec.get("id") or 1_400_000_000 + self._int(f"app/{i}") % 600_000_000),
                "name": name,
                "bundleId": spec.get("bundleId") or f"com.example.{slug}",
                "sku": spec.get("sku") or f"{slug.upper()[:12]}{i + 1:02d}",
                "primaryLocale": spec.get("primaryLocale")
                or _LOCALES[self._int(f"locale/{i}") % len(_LOCALES)],
            }
            out.append(app)
        return out

    # ------------------------------------------------------------------ catalog (lazy import)

    def catalog(self) -> dict[int, Any]:
        """The report catalog by number (imported lazily: ``catalog.py`` is another layer)."""
        if self._catalog_by_number is None:
            from asc_nb.sandbox.catalog import catalog

            self._catalog_by_number = {spec.number: spec for spec in catalog()}
        return self._catalog_by_number

    def report_spec(self, number: int) -> Any:
        return self.catalog()[number]

    # ------------------------------------------------------------------ requests

    @property
    def now(self) -> datetime:
        return self.clock.now

    def _ready_delay(self, request_id: str) -> timedelta:
        """24 h plus 0..24 h (minute resolution), fixed per request by the seed."""
        return timedelta(hours=24, minutes=self._int(f"delay/{request_id}") % (24 * 60 + 1))

    def create_request(
        self, app_id: str, access_type: AccessType, *, created_at: datetime | None = None
    ) -> ReportRequest:
        """Create a request, enforcing one per app and access type and the snapshot cooldown."""
        with self.lock:
            now = self.now if created_at is None else created_at
            for req in self.requests.values():
                if req.app_id == app_id and req.access_type is access_type:
                    raise ConflictError("You already have such an entity")
            if access_type is AccessType.ONE_TIME_SNAPSHOT:
                previous = [
                    r.created_at
                    for r in (*self.requests.values(), *self.deleted.values())
                    if r.app_id == app_id and r.access_type is access_type
                ]
                if previous:
                    next_ok = max(previous) + timedelta(days=SNAPSHOT_COOLDOWN_DAYS)
                    if now < next_ok:
                        raise ConflictError(
                            f"You can make one ONE_TIME_SNAPSHOT request per app every {SNAPSHOT_COOLDOWN_DAYS}"
                            f" days; the last one for this app was created {iso(max(previous))}, the next is"
                            f" possible from {iso(next_ok)}."
                        )
            self._counter += 1
            rid = self.uuid(f"request/{app_id}/{access_type.value}/{self._counter}")
            req = ReportRequest(rid, app_id, access_type, now, now + self._ready_delay(rid), last_read_at=now)
            self.requests[rid] = req
            return req

    def delete_request(self, request_id: str) -> None:
        with self.lock:
            req = self.requests.pop(request_id)
            req.deleted_at = self.now
            self.deleted[request_id] = req

    def requests_of(self, app_id: str) -> list[ReportRequest]:
        with self.lock:
            return sorted(
                (r for r in self.requests.values() if r.app_id == app_id), key=lambda r: (r.created_at, r.id)
            )

    def is_stopped(self, req: ReportRequest) -> bool:
        with self.lock:
            return req.stopped(self.now, self.inactivity)

    def touch(self, req: ReportRequest) -> None:
        """Record a read of the request's data (what keeps an ONGOING request alive)."""
        with self.lock:
            if not req.stopped(self.now, self.inactivity):
                req.last_read_at = max(req.last_read_at, self.now)

    # ------------------------------------------------------------------ reports

    def report_ids(self, req: ReportRequest) -> list[tuple[str, Any]]:
        return [(f"r{n}-{req.id}", spec) for n, spec in sorted(self.catalog().items())]

    def find_report(self, report_id: str) -> tuple[ReportRequest, Any] | None:
        """Parse ``r<number>-<requestId>``; ``None`` if either half is unknown."""
        head, sep, request_id = report_id.partition("-")
        if not sep or not head.startswith("r") or not head[1:].isdigit():
            return None
        req = self.requests.get(request_id)
        spec = self.catalog().get(int(head[1:]))
        if req is None or spec is None:
            return None
        return req, spec

    # ------------------------------------------------------------------ instances (lazy schedule)

    def _generated_at(self, req: ReportRequest, granularity: Granularity, d: date) -> datetime | None:
        """When the instance (req, granularity, d) was generated, or ``None`` if it is not live now."""
        now = self.now
        if now < req.ready_at or not is_processing_date(granularity, d):
            return None
        if req.access_type is AccessType.ONE_TIME_SNAPSHOT:
            if not self.history_start <= d <= req.created_at.date():
                return None
            if first_covered_day(granularity, d, req.access_type) < self.history_start:
                return None
            generated = req.ready_at
        else:
            if d < req.ready_at.date():
                return None
            generated = max(req.ready_at, midnight(d))
            end = req.stopped_at if req.stopped(now, self.inactivity) else now
            if generated > end:  # type: ignore[operator]
                return None
        if generated + RETENTION <= now:
            return None
        return generated

    def _schedule(self, req: ReportRequest, granularity: Granularity) -> Iterator[tuple[date, datetime]]:
        """(processingDate, generated_at) of the *live* instances of one granularity, oldest first."""
        now = self.now
        if now < req.ready_at:
            return
        if req.access_type is AccessType.ONE_TIME_SNAPSHOT:
            first, last = self.history_start, req.created_at.date()
        else:
            first, last = max(req.ready_at.date(), (now - RETENTION).date()), now.date()
        for d in _days(first, last):
            generated = self._generated_at(req, granularity, d)
            if generated is not None:
                yield d, generated

    def instances_of(self, req: ReportRequest, spec: Any) -> list[Instance]:
        """The live instances of one report, DAILY then WEEKLY then MONTHLY, oldest first.

        Memoised per (report, clock, stop state): paging through a long listing asks for the same
        list once per page, and rebuilding a 10,000-day schedule each time made it quadratic.
        """
        report_id = f"r{spec.number}-{req.id}"
        with self.lock:
            key = (
                report_id,
                self.now,
                req.stopped(self.now, self.inactivity) and req.stopped_at,
                len(self.data_faults),
            )
            memo = self._instances_memo.get(report_id)
            if memo is not None and memo[0] == key:
                return memo[1]
        out = []
        with self.lock:
            for gran in sorted((Granularity.parse(g) for g in spec.granularities), key=GRANULARITY_ORDER.get):
                for d, generated in self._schedule(req, gran):
                    if self._faulted_out(req, spec.number, gran, d):
                        continue
                    iid = self.uuid(f"instance/{report_id}/{gran.value}/{d.isoformat()}")
                    twins = [(iid, False)]
                    if self._duplicated(req, spec.number, gran, d):
                        twins.append(
                            (self.uuid(f"instance/{report_id}/{gran.value}/{d.isoformat()}/duplicate"), True)
                        )
                    for iid, dup in twins:
                        inst = self.instances.get(iid)
                        if inst is None:
                            inst = Instance(iid, req.id, spec.number, gran, d, generated, dup)
                            self.instances[iid] = inst
                        out.append(inst)
            self._instances_memo[report_id] = (key, out)
            if len(self._instances_memo) > 512:
                del self._instances_memo[next(iter(self._instances_memo))]
        return out

    def find_instance(self, instance_id: str) -> Instance | None:
        """A live instance by id (ids are uuid5: unseen ones are found by enumerating live requests)."""
        with self.lock:
            inst = self.instances.get(instance_id)
            stamp = (self.now, frozenset(self.requests))
            if inst is None and self._enumerated != stamp and _is_uuid(instance_id):
                # an id nobody listed yet (e.g. remembered from an earlier run with the same seed)
                self._enumerated = stamp
                for req in list(self.requests.values()):
                    for _, spec in self.report_ids(req):
                        self.instances_of(req, spec)
                inst = self.instances.get(instance_id)
            if inst is None or not self.instance_alive(inst):
                return None
            return inst

    def instance_alive(self, inst: Instance) -> bool:
        req = self.requests.get(inst.request_id)
        return (
            req is not None
            and self._generated_at(req, inst.granularity, inst.processing_date) is not None
            and not self._faulted_out(req, inst.report_number, inst.granularity, inst.processing_date)
        )

    # ------------------------------------------------------------------ data faults (faults.DataFaults)

    def _fault_key(self, req: ReportRequest, number: int, gran: Granularity) -> tuple[str, str, str] | None:
        if not self.data_faults or req.access_type is not AccessType.ONGOING:
            return None  # faults hit the ONGOING series; a ONE_TIME_SNAPSHOT stays whole
        key = (req.app_id, self.report_spec(number).name, gran.value)
        return key if self.data_faults.touches(*key) else None

    def _faulted_out(self, req: ReportRequest, number: int, gran: Granularity, d: date) -> bool:
        key = self._fault_key(req, number, gran)
        return key is not None and self.data_faults.deleted(*key, d.isoformat())

    def _duplicated(self, req: ReportRequest, number: int, gran: Granularity, d: date) -> bool:
        key = self._fault_key(req, number, gran)
        return key is not None and self.data_faults.duplicated(*key, d.isoformat())

    # ------------------------------------------------------------------ segments

    def segment_bytes(self, inst: Instance) -> list[bytes]:
        """The gzip bytes of each segment (from datagen), cached for the most recent instances."""
        with self.lock:
            cached = self._segment_cache.get(inst.id)
            if cached is not None:
                self._segment_cache.move_to_end(inst.id)
                return cached
        req = self.requests.get(inst.request_id) or self.deleted[inst.request_id]
        batches = None
        key = self._fault_key(req, inst.report_number, inst.granularity)
        if key is not None:
            from asc_nb.sandbox.faults import batches_of

            batches = self.data_faults.batches(
                *key,
                inst.processing_date.isoformat(),
                batches_of(inst.granularity.value, inst.processing_date.isoformat()),
                duplicate=inst.duplicate,
            )
        blobs = instance_segments(
            self.seed,
            self.apps[req.app_id],
            self.report_spec(inst.report_number),
            inst.granularity.value,
            inst.processing_date,
            req.access_type.value,
            data_scale=self.data_scale,
            segment_rows=self.segment_rows,
            batches=batches,
        )
        with self.lock:
            raced = self._segment_cache.pop(inst.id, None)
            if raced is not None:  # another thread generated it meanwhile
                self._segment_cache_bytes -= sum(map(len, raced))
            self._segment_cache[inst.id] = blobs
            self._segment_cache_bytes += sum(map(len, blobs))
            # bounded by bytes, not entries: a benchmark's instances can be hundreds of MB each
            while len(self._segment_cache) > 1 and (
                len(self._segment_cache) > 256 or self._segment_cache_bytes > SEGMENT_CACHE_BYTES
            ):
                _, old = self._segment_cache.popitem(last=False)
                self._segment_cache_bytes -= sum(map(len, old))
        return blobs

    def segments_of(self, inst: Instance) -> list[Segment]:
        out = []
        for n, blob in enumerate(self.segment_bytes(inst)):
            sid = self.uuid(f"segment/{inst.id}/{n}")
            seg = Segment(sid, inst.id, n, hashlib.md5(blob).hexdigest(), len(blob))
            with self.lock:
                self.segments[sid] = seg
            out.append(seg)
        return out

    def find_segment(self, segment_id: str) -> tuple[Segment, Instance] | None:
        with self.lock:
            seg = self.segments.get(segment_id)
            if seg is None:
                return None
            inst = self.instances.get(seg.instance_id)
            if inst is None or not self.instance_alive(inst):
                return None
            return seg, inst


class RateLimiter:
    """Apple's per-key rolling-hour budget, counted on the wall clock (tokens are signed with real time)."""

    def __init__(self, limit: int, wall_clock: Callable[[], float]) -> None:
        self.limit = limit
        self.wall_clock = wall_clock
        self._windows: dict[str, RateWindow] = {}
        self._lock = threading.Lock()

    def hit(self, key_id: str) -> tuple[bool, int]:
        """Count one call if the budget allows; return (allowed, remaining after it)."""
        now = self.wall_clock()
        with self._lock:
            window = self._windows.setdefault(key_id, RateWindow())
            while window.calls and window.calls[0] <= now - 3600:
                window.calls.popleft()
            if len(window.calls) >= self.limit:
                return False, 0
            window.calls.append(now)
            return True, self.limit - len(window.calls)

    def remaining(self, key_id: str | None) -> int:
        if key_id is None:
            return self.limit
        now = self.wall_clock()
        with self._lock:
            window = self._windows.get(key_id)
            if window is None:
                return self.limit
            return max(0, self.limit - sum(1 for t in window.calls if t > now - 3600))
