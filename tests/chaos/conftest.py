"""Chaos fixtures: one served sandbox world, a skewable wall clock, a ledger and the summary table.

Every fault comes from the sandbox's own fault injection (``sandbox.faults``) or its
configuration (``wall_clock``, the simulated clock), over real loopback HTTP: no part of the
client is mocked. Each test tells the ledger which fault it tried on which lifecycle step and
what came of it — ``recovered`` (the data equals the fault-free baseline), ``reported`` (a
typed error that says what happened) — and whether any data was lost (a wrong frame, an
unverified file in the cache, a duplicate or missing report request). At the end of the run
``pytest_terminal_summary`` prints one row per fault.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from asc_nb.client import Client
from asc_nb.models import AccessType
from asc_nb.sandbox import Sandbox

REPORT = "App Sessions Standard"

# --------------------------------------------------------------------------- ledger


@dataclass
class Entry:
    fault: str
    step: str
    outcome: str = "failed"  # recovered | reported | failed (the test did not get to a verdict)
    data_lost: bool = False
    detail: str = ""


LEDGER: list[Entry] = []
_LEDGER_LOCK = threading.Lock()


class Chaos:
    """One test's entry in the ledger."""

    def __init__(self) -> None:
        self.entry: Entry | None = None

    def start(self, fault: str, step: str) -> Entry:
        self.entry = Entry(fault, step)
        with _LEDGER_LOCK:
            LEDGER.append(self.entry)
        return self.entry

    def recovered(self, *, data_lost: bool = False, detail: str = "") -> None:
        self._set("recovered", data_lost, detail)

    def reported(self, *, data_lost: bool = False, detail: str = "") -> None:
        self._set("reported", data_lost, detail)

    def _set(self, outcome: str, data_lost: bool, detail: str) -> None:
        assert self.entry is not None, "call chaos.start(fault, step) first"
        self.entry.outcome, self.entry.data_lost, self.entry.detail = outcome, data_lost, detail


@pytest.fixture
def chaos() -> Chaos:
    return Chaos()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not LEDGER:
        return
    rows: dict[str, dict[str, int]] = {}
    for e in LEDGER:
        r = rows.setdefault(e.fault, {"tried": 0, "recovered": 0, "reported": 0, "data lost": 0, "failed": 0})
        r["tried"] += 1
        r[e.outcome] += 1
        r["data lost"] += int(e.data_lost)
    cols = ["tried", "recovered", "reported", "data lost", "failed"]
    width = max(len("fault"), *(len(k) for k in rows))
    tr = terminalreporter
    tr.write_sep("=", "chaos summary: faults tried / recovered / reported / data lost")
    tr.write_line(f"{'fault':<{width}}  " + "  ".join(f"{c:>9}" for c in cols))
    totals = dict.fromkeys(cols, 0)
    for fault, r in rows.items():
        tr.write_line(f"{fault:<{width}}  " + "  ".join(f"{r[c]:>9}" for c in cols))
        for c in cols:
            totals[c] += r[c]
    tr.write_line(f"{'TOTAL':<{width}}  " + "  ".join(f"{totals[c]:>9}" for c in cols))
    steps = sorted({e.step for e in LEDGER})
    tr.write_line(f"lifecycle steps covered ({len(steps)}): {', '.join(steps)}")


# --------------------------------------------------------------------------- clocks and sleeps


class SkewClock:
    """The sandbox's wall clock: real time + ``offset`` seconds.

    :meth:`expire_next` makes the token check of the next API request whose ``path?query`` matches a
    regex read the clock ``seconds`` later, once. It is armed on that request's own check (see
    :func:`install_token_expiry`), so no other reader — another server thread, the rate limiter, a
    request for another path — can take the jump meant for it.
    """

    def __init__(self) -> None:
        self.offset = 0.0
        self._armed: tuple[re.Pattern[str], float] | None = None
        self._lock = threading.Lock()
        self._local = threading.local()

    def __call__(self) -> float:
        extra = getattr(self._local, "extra", 0.0)
        self._local.extra = 0.0
        return time.time() + self.offset + extra

    def expire_next(self, path: str, seconds: float) -> None:
        with self._lock:
            self._armed = (re.compile(path), seconds)

    def take_jump(self, target: str) -> None:
        """Called by the token check of a request for ``target``: arm this thread's next reading if it matches."""
        with self._lock:
            if self._armed is None or not self._armed[0].search(target):
                return
            seconds, self._armed = self._armed[1], None
        self._local.extra = seconds

    def reset(self) -> None:
        with self._lock:
            self.offset, self._armed = 0.0, None


def install_token_expiry(sb: Sandbox, clock: SkewClock) -> None:
    """Let ``clock.expire_next`` reach the token check of the matching request (and that check only)."""
    verify = sb.keys.verify

    def verify_with_jump(
        authorization: str | None, method: str | None = None, path: str = "", query: str = ""
    ) -> Any:
        clock.take_jump(path + (f"?{query}" if query else ""))
        try:
            return verify(authorization, method, path, query)
        finally:
            clock._local.extra = 0.0  # a check that failed before reading the clock leaves nothing behind

    sb.keys.verify = verify_with_jump  # type: ignore[method-assign]


class Sleeps(list):
    """Injected as the client's ``sleep``: records instead of waiting (thread-safe append)."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


# --------------------------------------------------------------------------- the world


@dataclass
class Baseline:
    apps: pd.DataFrame
    data_app: str
    mutable_app: str
    request_id: str
    requests: pd.DataFrame
    request: Any
    report_id: str
    reports: pd.DataFrame
    instance_id: str
    instances: pd.DataFrame
    segments: pd.DataFrame
    segment_bytes: bytes
    start: str
    end: str
    frame: pd.DataFrame


@dataclass
class World:
    sandbox: Sandbox
    base_url: str
    download_base_url: str
    clock: SkewClock
    base: Baseline | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    def client(self, cache_dir: Path, sleeps: Sleeps, **kwargs: Any) -> Client:
        return Client(
            sandbox=self.sandbox, base_url=self.base_url, cache_dir=cache_dir, sleep=sleeps, **kwargs
        )

    def ongoing(self, app_id: str) -> list[Any]:
        """The (not deleted) ONGOING requests of an app, straight from the world's state."""
        world = self.sandbox.world
        with world.lock:
            return [
                r
                for r in world.requests.values()
                if r.app_id == app_id and r.access_type is AccessType.ONGOING
            ]

    def requests_per_app_and_type(self) -> dict[tuple[str, str], int]:
        world = self.sandbox.world
        with world.lock:
            counts: dict[tuple[str, str], int] = {}
            for r in world.requests.values():
                key = (r.app_id, r.access_type.value)
                counts[key] = counts.get(key, 0) + 1
            return counts


def make_world(seed: int = 11, apps: int = 201, **kwargs: Any) -> tuple[Sandbox, SkewClock]:
    clock = SkewClock()
    # a huge hourly budget: the matrix must not depend on the order tests run in
    # (the rolling-hour limit itself is exercised in benchmarks/load.py)
    sb = Sandbox(seed=seed, apps=apps, history_days=30, rate_limit=10**6, wall_clock=clock, **kwargs)
    install_token_expiry(sb, clock)
    return sb, clock


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """A team of 201 apps (two pages of apps), each with a 30-day-old ONGOING request, served on 127.0.0.1."""
    sb, clock = make_world()
    with sb.serve() as handle:
        w = World(sb, handle.base_url, handle.download_base_url, clock)
        w.base = _baseline(w, tmp_path_factory.mktemp("baseline-cache"))
        yield w


def _baseline(w: World, cache: Path) -> Baseline:
    """Everything each step returns when nothing goes wrong (compared against after every fault)."""
    with w.client(cache, Sleeps()) as c:
        apps = c.apps()
        assert len(apps) == 201 and len(c.last_documents) == 2
        data_app, mutable_app = str(apps["id"].iloc[0]), str(apps["id"].iloc[-1])
        requests = c.report_requests(data_app)
        request_id = str(requests["id"].iloc[0])
        with w.client(cache, Sleeps()) as cold:  # as a fresh client sees it (no parent app id known)
            request = cold.report_request(request_id)
        reports = c.reports(request_id, name=REPORT)
        report_id = str(reports["id"].iloc[0])
        instances = c.instances(report_id, "DAILY")
        assert len(instances) >= 10
        days = sorted(instances["processing_date"].dt.date)
        # three settled days well inside the live window
        start, end = days[-8].isoformat(), days[-6].isoformat()
        instance_id = str(instances.loc[instances["processing_date"].dt.date == days[-8], "id"].iloc[0])
        segments = c.segments(instance_id)
        path = c.download_segment(segments.iloc[0])
        frame = c.fetch(request_id, REPORT, start=start, end=end, progress=False)
        assert len(frame) > 0
        return Baseline(
            apps,
            data_app,
            mutable_app,
            request_id,
            requests,
            request,
            report_id,
            reports,
            instance_id,
            instances,
            segments,
            path.read_bytes(),
            start,
            end,
            frame,
        )


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture(scope="session")
def client_pool(world: World) -> Iterator[dict[Any, Client]]:
    """Clients are reused across cases (building one costs two TLS contexts, ~0.15 s); each case still
    gets its own empty cache and sleep recorder. A long-lived notebook client meets faults the same way."""
    pool: dict[Any, Client] = {}
    yield pool
    for c in pool.values():
        c.close()


@pytest.fixture
def fresh(
    world: World, client_pool: dict[Any, Client], tmp_path: Path, sleeps: Sleeps
) -> Iterator[Callable[..., Client]]:
    """``fresh(**client_kwargs)``: a client on the shared world with an empty cache and this test's
    sleep recorder; faults and clock skew are cleared before and after."""

    def make(pool_key: str = "", **kwargs: Any) -> Client:
        key = (pool_key, tuple(sorted(kwargs)), tuple(str(v) for _, v in sorted(kwargs.items())))
        c = client_pool.get(key)
        if c is None:
            c = client_pool[key] = world.client(tmp_path / "cache", sleeps, **kwargs)
        c.cache_dir = tmp_path / "cache"
        c.http.sleep = sleeps
        return c

    world.sandbox.faults.clear()
    world.clock.reset()
    yield make
    world.sandbox.faults.clear()
    world.clock.reset()


# --------------------------------------------------------------------------- invariants


def unverified_files(cache_dir: Path) -> list[str]:
    """Re-hash every file in the cache: its name is its MD5, and nothing half-written may remain."""
    bad: list[str] = []
    if not cache_dir.exists():
        return bad
    for p in cache_dir.rglob("*"):
        if p.is_dir():
            continue
        if ".partial" in p.parts:
            bad.append(f"leftover temporary file {p.name}")
            continue
        digest = hashlib.md5(p.read_bytes()).hexdigest()
        if p.name != f"{digest}.gz" or p.parent.name != digest[:2]:
            bad.append(f"{p.relative_to(cache_dir)} hashes to {digest}")
    return bad


def duplicate_requests(w: World) -> list[tuple[str, str]]:
    return [k for k, n in w.requests_per_app_and_type().items() if n > 1]


def settle(since: float, seconds: float) -> None:
    """Sleep until a request slowed by ``seconds`` (armed at ``since``) has surely been processed."""
    time.sleep(max(0.0, since + seconds + 0.3 - time.monotonic()))
