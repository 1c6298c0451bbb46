"""An offline, deterministic twin of Apple's App Store Connect Analytics Reports API.

``Sandbox`` builds a world (apps, a demo ADMIN key, report requests over a simulated clock) and
serves it three ways that share one router: :meth:`Sandbox.transport` (in-process httpx, hosts
``https://api.asc-sandbox.invalid`` and ``https://downloads.asc-sandbox.invalid``),
:meth:`Sandbox.serve` (real HTTP on 127.0.0.1, one port per host) and ``python -m asc_nb.sandbox``.
It imports only ``asc_nb.models`` and ``asc_nb.registry`` from the rest of the package, never the client.
Report rows come from one consistent world (``world.py``; docs/sandbox-data.md).

Modelling choices where Apple is silent (see ``state.py`` for the timeline):

* the reports list of a request exists at once; its *instances* start 24-48 h after creation;
* ``limit[reports]`` defaults to 10 when ``include=reports`` is sent without it;
* a read is a GET of the request's reports, instances or segments (not of the request itself);
* a ONE_TIME_SNAPSHOT's instances are all generated at its ready time and vanish 35 days later;
* token validity and the rate limit use the wall clock (``wall_clock=``), everything else the
  simulated one; individual keys (``sub`` = ``user``) may use the API with their role;
* faults: ``sandbox.faults.add(kind, path=regex, method=None, host="api"|"download", count=1, ...)``
  (kinds in ``faults.py``); ``sandbox.calls`` lists ``(method, host, path?query)`` of every call;
* data faults (gaps, empty and duplicate instances, late restatements, early deletions) in the
  ONGOING series: ``Sandbox(data_faults=...)`` (``faults.DataFault``; docs/sandbox.md "Data faults").
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from asc_nb.models import HISTORY_START, AccessType, Role
from asc_nb.sandbox.auth import ApiKey, KeyRing, make_key, new_key_id
from asc_nb.sandbox.clock import DEFAULT_START, SimClock
from asc_nb.sandbox.faults import DEFAULT_FAULT_REPORTS, DataFault, Faults, parse_counts, place
from asc_nb.sandbox.state import RateLimiter, World

__all__ = ["Sandbox", "DataFault", "API_BASE_URL", "DOWNLOAD_BASE_URL"]

API_BASE_URL = "https://api.asc-sandbox.invalid"
DOWNLOAD_BASE_URL = "https://downloads.asc-sandbox.invalid"


class Sandbox:
    """A simulated App Store Connect team: same seed, same apps, ids, rows and bytes.

    ``history_days=N`` starts the world with every app already holding an ONGOING request
    created N days ago (and read up to now, so it is not stopped for inactivity).

    ``data_faults`` injects faults into the data of the ONGOING series (``faults.DATA_KINDS``:
    ``gap``, ``empty``, ``duplicate``, ``restatement``, ``expired``): counts placed
    deterministically for the seed among the apps x ``fault_reports`` (``"gap=2,empty=1"`` or
    ``{"gap": 2}``), or explicit :class:`~asc_nb.sandbox.faults.DataFault` s / dicts of their
    fields. ``sandbox.data_faults`` lists what was placed (docs/sandbox.md).
    """

    def __init__(
        self,
        seed: int = 0,
        apps: int | Sequence[Mapping[str, Any]] = 3,
        history_days: int = 0,
        start: str | datetime = DEFAULT_START,
        rate_limit: int = 3600,
        inactivity_days: float = 30,
        latency: float = 0.0,
        data_scale: float = 1.0,
        segment_rows: int = 2000,
        wall_clock: Callable[[], float] = time.time,
        history_start: str = HISTORY_START,
        data_faults: str | Mapping[str, int] | Sequence[Any] | None = None,
        fault_reports: Sequence[str] | None = None,
    ) -> None:
        self.seed = seed
        self.clock = SimClock(start)
        self.world = World(
            seed=seed,
            apps=apps,
            clock=self.clock,
            inactivity_days=inactivity_days,
            history_start=history_start,
            data_scale=data_scale,
            segment_rows=segment_rows,
        )
        self.keys = KeyRing(wall_clock)
        self.limiter = RateLimiter(rate_limit, wall_clock)
        self.faults = Faults()
        self.latency = latency
        self.calls: list[tuple[str, str, str]] = []
        #: tracebacks of sandbox bugs answered as 500 (tests assert this stays empty)
        self.internal_errors: list[str] = []
        self._calls_lock = threading.Lock()
        self._origins: dict[str, str] = {API_BASE_URL: "api", DOWNLOAD_BASE_URL: "download"}
        self._download_for: dict[str, str] = {API_BASE_URL: DOWNLOAD_BASE_URL}
        self.api_base_url = API_BASE_URL
        self.download_base_url = DOWNLOAD_BASE_URL
        demo = self.add_key(role="ADMIN", individual=False, _name="demo")
        self.key_id: str = demo["key_id"]
        self.issuer_id: str = demo["issuer_id"]
        self.private_key_pem: str = demo["private_key_pem"]
        if history_days:
            created = self.clock.now - timedelta(days=history_days)
            for app_id in self.world.apps:
                req = self.world.create_request(app_id, AccessType.ONGOING, created_at=created)
                req.last_read_at = self.clock.now
        if data_faults:
            self._place_data_faults(data_faults, fault_reports, history_days)
        from asc_nb.sandbox.routes import Router

        self.router = Router(self)

    # ------------------------------------------------------------------ data faults

    @property
    def data_faults(self) -> list[DataFault]:
        """The injected data faults (the truth a ledger is tested against)."""
        return list(self.world.data_faults)

    def _place_data_faults(self, spec: Any, reports: Sequence[str] | None, history_days: int) -> None:
        explicit = not isinstance(spec, (str, Mapping)) and all(
            isinstance(f, (DataFault, Mapping)) for f in spec
        )
        if explicit:
            for f in spec:
                fault = f if isinstance(f, DataFault) else DataFault(**dict(f))
                self.world.data_faults.faults.append(fault)
            return
        counts = parse_counts(spec)
        if not history_days:
            raise ValueError(
                "counted data faults need a history: pass history_days (e.g. 40) with data_faults"
            )
        today = self.clock.now.date()
        # inside Apple's 35-day retention, clear of the first days and of the completeness window
        first = max(today - timedelta(days=min(history_days, 33) - 5), today - timedelta(days=30))
        last = today - timedelta(days=7)
        chosen = tuple(reports) if reports else DEFAULT_FAULT_REPORTS
        for fault in place(
            counts,
            seed=self.seed,
            apps=list(self.world.apps),
            first=first.isoformat(),
            last=last.isoformat(),
            reports=chosen,
        ):
            self.world.data_faults.faults.append(fault)

    # ------------------------------------------------------------------ keys

    def add_key(
        self, role: str | Role = "SALES_AND_REPORTS", individual: bool = False, *, _name: str | None = None
    ) -> dict[str, Any]:
        """Register a new key (made now, never stored on disk) and return its id, issuer and PEM."""
        role = Role.parse(role)
        kid = new_key_id(set(self.keys.keys), f"{self.seed}/{_name}" if _name else None)
        issuer = self.world.uuid("issuer")
        key: ApiKey = self.keys.add(make_key(kid, issuer, role, individual))
        return key.as_dict()

    # ------------------------------------------------------------------ clock

    @property
    def now(self) -> datetime:
        """The simulated time (UTC)."""
        return self.clock.now

    def advance(self, days: float = 0, hours: float = 0, minutes: float = 0) -> datetime:
        """Move the simulated clock forward; reports and instances appear as time passes."""
        return self.clock.advance(days=days, hours=hours, minutes=minutes)

    # ------------------------------------------------------------------ routing

    def handle(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes = b""
    ) -> tuple[int, dict[str, str], bytes]:
        """The single router behind every front."""
        return self.router.handle(method, url, headers, body)

    def host_kind(self, origin: str) -> str:
        kind = self._origins.get(origin)
        if kind is None:
            kind = "download" if origin.split("//", 1)[-1].startswith("downloads.") else "api"
        return kind

    def download_origin_for(self, api_origin: str) -> str:
        return self._download_for.get(api_origin, DOWNLOAD_BASE_URL)

    def register_origins(self, api_origin: str, download_origin: str) -> None:
        self._origins[api_origin] = "api"
        self._origins[download_origin] = "download"
        self._download_for[api_origin] = download_origin

    def unregister_origins(self, api_origin: str, download_origin: str) -> None:
        self._origins.pop(api_origin, None)
        self._origins.pop(download_origin, None)
        self._download_for.pop(api_origin, None)

    def record_call(self, method: str, host: str, path_with_query: str) -> None:
        with self._calls_lock:
            self.calls.append((method, host, path_with_query))

    # ------------------------------------------------------------------ fronts

    def transport(self) -> Any:
        """An ``httpx.BaseTransport`` serving both hosts in-process."""
        from asc_nb.sandbox.transport import SandboxTransport

        return SandboxTransport(self)

    def async_transport(self) -> Any:
        """An ``httpx.AsyncBaseTransport`` serving both hosts in-process."""
        from asc_nb.sandbox.transport import AsyncSandboxTransport

        return AsyncSandboxTransport(self)

    @contextlib.contextmanager
    def serve(self, port: int = 0, download_port: int = 0) -> Iterator[Any]:
        """Real HTTP on 127.0.0.1 (any free ports by default); yields ``base_url``, ``download_base_url``."""
        from asc_nb.sandbox.server import serve

        with serve(self, port, download_port) as handle:
            yield handle

    def __repr__(self) -> str:
        return (
            f"Sandbox(seed={self.seed}, apps={len(self.world.apps)}, now={self.now:%Y-%m-%dT%H:%M:%SZ}, "
            f"requests={len(self.world.requests)})"
        )
