"""Faults injected on demand, so clients can be tested against what the real network does.

``sandbox.faults.add(kind, path=regex, method=None, host="api"|"download", count=1, **options)``
arms a fault; the next ``count`` matching requests suffer it (``count=None``: every one until
:meth:`Faults.clear`). Kinds (aliases in brackets) and their options:

=================  ========================================================================
``slow``           sleep ``seconds`` (default 1.0) of wall time, then answer normally
``rate_limit``     [``429``] 429 ``RATE_LIMIT_EXCEEDED``; ``retry_after`` seconds adds ``Retry-After``
``server_error``   [``5xx``] ``status`` (default 503) with an ErrorResponse body (API) or S3 XML
``reset``          the connection is dropped before any response byte
``truncate``       the headers promise the full body, ``keep`` bytes (default half) arrive, then the
                   connection closes
``corrupt``        [``bad_checksum``] download body with flipped bytes, same length (checksum fails)
``size_mismatch``  download body with ``extra`` bytes (default 16) appended (size check fails)
``expired``        [``expired_url``] the download host answers 403 "Request has expired"
=================  ========================================================================
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from datetime import timedelta

KINDS = ("slow", "rate_limit", "server_error", "reset", "truncate", "corrupt", "size_mismatch", "expired")
ALIASES = {
    "429": "rate_limit",
    "5xx": "server_error",
    "500": "server_error",
    "503": "server_error",
    "bad_checksum": "corrupt",
    "wrong_checksum": "corrupt",
    "expired_url": "expired",
    "connection_reset": "reset",
    "truncated": "truncate",
}


class ConnectionReset(Exception):
    """Raised by the router: the front must drop the connection without answering."""


class Truncated(Exception):
    """Raised by the router: the front must send these headers, only ``body``, then close."""

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        super().__init__(f"truncated to {len(body)} bytes")
        self.status, self.headers, self.body = status, headers, body


@dataclass
class Fault:
    kind: str
    path: str = ".*"
    method: str | None = None
    host: str = "api"
    count: int | None = 1
    options: dict[str, object] = field(default_factory=dict)
    hits: int = 0

    def matches(self, method: str, host: str, path: str) -> bool:
        if self.host not in (host, "any"):
            return False
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return re.search(self.path, path) is not None


class Faults:
    """The armed faults; the router asks :meth:`take` once per request."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(
        self,
        kind: str,
        path: str = ".*",
        method: str | None = None,
        host: str = "api",
        count: int | None = 1,
        **options: object,
    ) -> Fault:
        """Arm a fault (see the module docstring for kinds and options) and return it."""
        kind = ALIASES.get(str(kind).lower(), str(kind).lower())
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(KINDS)}")
        if host not in ("api", "download", "any"):
            raise ValueError("host must be 'api', 'download' or 'any'")
        if count is not None and count < 1:
            raise ValueError("count must be >= 1 or None")
        re.compile(path)
        fault = Fault(kind, path, method, host, count, dict(options))
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        """Disarm every fault."""
        with self._lock:
            self._faults.clear()

    @property
    def armed(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def take(self, method: str, host: str, path: str) -> Fault | None:
        """The first armed fault matching this request, consuming one of its ``count``."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, host, path):
                    fault.hits += 1
                    if fault.count is not None:
                        fault.count -= 1
                        if fault.count <= 0:
                            self._faults.remove(fault)
                    return fault
        return None


# --------------------------------------------------------------------------- data faults
#
# Why: the complaints about Apple's Analytics Reports are rarely about the network; they are about
# the data -- days that never arrive, empty files, two instances for one day, numbers that change
# weeks later, history deleted before anyone synced it. The sandbox injects each of these into the
# ONGOING series of one app x report x granularity (a ONE_TIME_SNAPSHOT stays whole, as Apple's
# "goes back as far as is available" snapshot would), so the store's ledger can be tested against
# known truth. Dates are Dates for ``gap``/``restatement`` and processing dates for the three
# instance kinds. docs/sandbox.md describes each.

#: the data fault kinds (``Sandbox(data_faults=...)``, ``python -m asc_nb.sandbox --data-faults``)
DATA_KINDS = ("gap", "empty", "duplicate", "restatement", "expired")
DATA_ALIASES = {
    "restated": "restatement",
    "late_restatement": "restatement",
    "duplicated": "duplicate",
    "empty_instance": "empty",
    "duplicate_instance": "duplicate",
    "expired_history": "expired",
    "expiry": "expired",
}
#: a restatement changes the Date's values to this percent of the final ones
RESTATED_PERCENT = 110
#: a duplicate instance's values, in percent of the original's (so which one wins matters)
DUPLICATE_PERCENT = 97
#: the restating instance of a ``restatement`` is processed this many days after the Date (default)
RESTATEMENT_LAG = 6


@dataclass(frozen=True)
class DataFault:
    """One data fault in the ONGOING series of (app, report, granularity).

    ``gap``: the Dates ``date`` .. ``date + days - 1`` are in no instance (Apple skipped those days; the
    instances are still published, holding their other Dates). ``empty``: the instance processed on
    ``date`` has no rows (header-only segment), and the Date it brings first (``date - 1`` for DAILY)
    is never delivered by a later instance either. ``duplicate``: a second instance (its own id,
    values at :data:`DUPLICATE_PERCENT` %) for processing date ``date``. ``restatement``: the
    instance processed on ``at`` (default ``date +`` :data:`RESTATEMENT_LAG`) also carries Date
    ``date``, at ``percent`` (default :data:`RESTATED_PERCENT`) % of the final values. ``expired``: the instances
    processed on ``date`` .. ``date + days - 1`` are deleted early (gone from listings, segments 404).
    """

    kind: str
    app_id: str
    report: str
    date: str
    days: int = 1
    granularity: str = "DAILY"
    at: str | None = None
    #: ``restatement``: the restated values in percent of the final ones (default RESTATED_PERCENT)
    percent: int | None = None

    def __post_init__(self) -> None:
        from datetime import date as _date

        kind = DATA_ALIASES.get(self.kind.lower(), self.kind.lower())
        if kind not in DATA_KINDS:
            raise ValueError(f"unknown data fault {self.kind!r}; known: {', '.join(DATA_KINDS)}")
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "date", _date.fromisoformat(str(self.date)[:10]).isoformat())
        if self.days < 1:
            raise ValueError(f"days must be >= 1, got {self.days}")
        if kind == "restatement":
            at = self.at or (_date.fromisoformat(self.date) + timedelta(days=RESTATEMENT_LAG)).isoformat()
            object.__setattr__(self, "at", _date.fromisoformat(str(at)[:10]).isoformat())

    def affected(self) -> dict[str, frozenset[str]]:
        """The Dates this fault damages in the sandbox's schedule -> the ledger states that describe it.

        The truth a ledger is scored against (DAILY: an instance processed on P brings P-1 and restates
        P-2 and P-3, the last with final values -- ``datagen.covered_dates``)."""
        from datetime import date as _date

        from asc_nb.sandbox.datagen import FINAL_VINTAGE

        d0 = _date.fromisoformat(self.date)
        final_lag = FINAL_VINTAGE + 1
        day = timedelta(days=1)
        if self.kind == "gap":
            return {(d0 + k * day).isoformat(): frozenset({"missing", "empty"}) for k in range(self.days)}
        if self.kind == "restatement":
            return {self.date: frozenset({"restated"})}
        if self.granularity != "DAILY":
            first = min(d for d, _ in batches_of(self.granularity, self.date))
            state = {"empty": "empty", "duplicate": "duplicate", "expired": "missing"}[self.kind]
            return {first.isoformat(): frozenset({state})}  # type: ignore[attr-defined]
        if self.kind == "empty":  # the Date it brings never arrives; the Date it should finalise stays early
            return {
                (d0 - day).isoformat(): frozenset({"empty"}),
                (d0 - final_lag * day).isoformat(): frozenset({"empty"}),
            }
        if self.kind == "duplicate":  # the Date whose final values it carries has two candidates
            return {(d0 - final_lag * day).isoformat(): frozenset({"duplicate"})}
        # expired: every Date whose final instance was deleted
        return {(d0 + (k - final_lag) * day).isoformat(): frozenset({"missing"}) for k in range(self.days)}

    def as_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "app_id": self.app_id,
            "report": self.report,
            "granularity": self.granularity,
            "date": self.date,
            "days": self.days,
            "at": self.at,
            "percent": self.percent,
        }


def parse_counts(spec: object) -> dict[str, int]:
    """``"gap=4,empty=2"`` / ``{"gap": 4}`` / ``["gap", "gap", "empty"]`` -> {kind: count}."""
    counts: dict[str, int] = {}
    items: list[tuple[str, int]]
    if isinstance(spec, str):
        items = []
        for part in (p.strip() for p in spec.split(",") if p.strip()):
            name, _, n = part.partition("=")
            items.append((name.strip(), int(n) if n.strip() else 1))
    elif isinstance(spec, dict):
        items = [(str(k), int(v)) for k, v in spec.items()]
    else:
        items = [(str(k), 1) for k in spec]  # type: ignore[attr-defined]
    for name, n in items:
        kind = DATA_ALIASES.get(name.lower(), name.lower())
        if kind not in DATA_KINDS:
            raise ValueError(f"unknown data fault {name!r}; known: {', '.join(DATA_KINDS)}")
        if n < 0:
            raise ValueError(f"a fault count must be >= 0, got {name}={n}")
        counts[kind] = counts.get(kind, 0) + n
    return counts


#: reports the faults are placed in when none are named (what Store.sync fetches by default first)
DEFAULT_FAULT_REPORTS = (
    "App Sessions Standard",
    "App Downloads Standard",
    "App Store Discovery and Engagement Standard",
)


def place(
    counts: dict[str, int],
    *,
    seed: int,
    apps: list[str],
    first: str,
    last: str,
    reports: tuple[str, ...] = DEFAULT_FAULT_REPORTS,
    gap_days: int = 3,
    expired_days: int = 4,
) -> list[DataFault]:
    """Deterministic placement (per seed) of ``counts`` faults among ``apps`` x ``reports`` (DAILY).

    Processing dates and Dates fall in [first, last]; faults of one series are kept 5 days apart so
    that each one's effect can be told from the others'.
    """
    import random
    from datetime import date as _date

    rng = random.Random(f"data-faults/{seed}")
    lo, hi = _date.fromisoformat(first), _date.fromisoformat(last)
    series = [(a, r) for a in apps for r in reports]
    used: dict[tuple[str, str], list[tuple[_date, _date]]] = {s: [] for s in series}
    out: list[DataFault] = []
    kinds = [k for k in DATA_KINDS for _ in range(counts.get(k, 0))]
    for i, kind in enumerate(kinds):
        span = {"gap": gap_days, "expired": expired_days, "restatement": RESTATEMENT_LAG + 1}.get(kind, 1)
        for _ in range(500):
            app, report = series[(i + rng.randrange(len(series))) % len(series)]
            room = (hi - lo).days - span
            if room < 0:
                raise ValueError(f"the window {first}..{last} is too short for a {kind} fault")
            start = lo + timedelta(days=rng.randrange(room + 1))
            end = start + timedelta(days=span - 1)
            if all(
                end + timedelta(days=5) < s or start > e + timedelta(days=5) for s, e in used[(app, report)]
            ):
                used[(app, report)].append((start, end))
                days = gap_days if kind == "gap" else expired_days if kind == "expired" else 1
                out.append(DataFault(kind, app, report, start.isoformat(), days=days))
                break
        else:
            raise ValueError(
                f"no room left for {len(kinds)} data faults in {first}..{last}: use a longer history "
                "or fewer faults"
            )
    return out


class DataFaults:
    """The world's data faults, asked by ``state.World`` per instance (ONGOING only)."""

    def __init__(self, faults: list[DataFault] | None = None) -> None:
        self.faults: list[DataFault] = list(faults or [])

    def __bool__(self) -> bool:
        return bool(self.faults)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.faults)

    def __len__(self) -> int:
        return len(self.faults)

    def add(self, kind: str, app_id: str, report: str, date: str, **options: object) -> DataFault:
        """Add one fault (see :class:`DataFault`)."""
        fault = DataFault(kind, app_id, report, date, **options)  # type: ignore[arg-type]
        self.faults.append(fault)
        return fault

    def _of(self, app_id: str, report: str, granularity: str) -> list[DataFault]:
        return [
            f
            for f in self.faults
            if f.app_id == app_id and f.report == report and f.granularity == granularity
        ]

    def deleted(self, app_id: str, report: str, granularity: str, processing_date: str) -> bool:
        """An instance Apple deleted early (``expired``)."""
        from datetime import date as _date

        p = _date.fromisoformat(processing_date)
        for f in self._of(app_id, report, granularity):
            if f.kind == "expired":
                first = _date.fromisoformat(f.date)
                if first <= p < first + timedelta(days=f.days):
                    return True
        return False

    def duplicated(self, app_id: str, report: str, granularity: str, processing_date: str) -> bool:
        return any(
            f.kind == "duplicate" and f.date == processing_date for f in self._of(app_id, report, granularity)
        )

    def touches(self, app_id: str, report: str, granularity: str) -> bool:
        return bool(self._of(app_id, report, granularity))

    def batches(
        self,
        app_id: str,
        report: str,
        granularity: str,
        processing_date: str,
        batches: list[tuple[object, int]],
        *,
        duplicate: bool = False,
    ) -> list[tuple[object, int, int]]:
        """The (Date, vintage, percent) batches the instance holds once the faults are applied."""
        from datetime import date as _date

        p = _date.fromisoformat(processing_date)
        faults = self._of(app_id, report, granularity)
        pct = DUPLICATE_PERCENT if duplicate else 100
        drop: set[object] = set()
        extra: list[tuple[object, int, int]] = []
        for f in faults:
            d0 = _date.fromisoformat(f.date)
            if f.kind == "gap":
                drop.update(d0 + timedelta(days=k) for k in range(f.days))
            elif f.kind == "empty":
                if p == d0:
                    return []
                drop.add(
                    min(d for d, _ in batches_of(granularity, f.date))
                    if granularity != "DAILY"
                    else d0 - timedelta(days=1)
                )
            elif f.kind == "restatement" and f.at == processing_date:
                extra.append((d0, 99, f.percent or RESTATED_PERCENT))
        restated = {d for d, _, _ in extra}  # a Date the instance holds anyway is replaced, not repeated
        out = [(d, v, pct) for d, v in batches if d not in drop and d not in restated]
        return out + [(d, v, p_ * pct // 100) for d, v, p_ in extra]


def batches_of(granularity: str, processing_date: str) -> list[tuple[object, int]]:
    """The Dates an ONGOING instance holds (the sandbox's schedule, datagen.covered_dates)."""
    from asc_nb.sandbox.datagen import covered_dates

    return covered_dates(granularity, processing_date, "ONGOING")  # type: ignore[return-value]
