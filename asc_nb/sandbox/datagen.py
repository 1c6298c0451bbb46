"""Deterministic report rows and segment files for the sandbox.

Why it looks like this: clients must learn to handle what Apple really sends — several Date
batches per daily instance, later instances correcting earlier ones, blank fields, several
segments, a comma-delimited report with a BOM — and tests must be able to compute the exact
answer. So every value is a pure function of (seed, app id, report name, granularity, Date,
dimension values), and restatement only scales it by a fixed fraction per vintage.

Schedule and coverage (Apple, shared/spec/FACTS.md §9) — :func:`covered_dates`:

* ``DAILY`` + ``ONGOING``, processingDate P: new rows for P-1 (vintage 0) and the restated
  rows of P-2 (vintage 1) and P-3 (vintage 2 = final). A Date thus appears in three
  consecutive instances; the latest (greatest processingDate) carries its final values.
* ``WEEKLY`` (published Fridays): the latest complete Mon–Sun week ending on or before P-5
  (on a Friday: the previous Mon–Sun); ``Date`` = that Monday; final values.
* ``MONTHLY`` (published on the 5th): the latest complete month ending on or before P-5 (on
  the 5th: the previous month); ``Date`` = its 1st; final values.
* ``ONE_TIME_SNAPSHOT`` follows the same calendar but never restates: a DAILY instance holds
  only P-1, with final values; WEEKLY/MONTHLY as above.

Values: vintage 0 = 80 %, vintage 1 = 95 %, vintage >= 2 = 100 % of the final value
(integer floor), for every count column. The set of rows of a Date never depends on the
vintage, so "keep the latest processingDate per Date and dimensions" yields exactly the final
values (see :func:`rows_for_date` with ``vintage=FINAL_VINTAGE``), while summing every
instance over-counts.

Rows: for each Date, a deterministic set of distinct dimension combinations (tens to a few
hundred at ``data_scale=1``; ``data_scale`` multiplies the count, bounded by the size of the
report's dimension space). Rows at a larger scale are a superset of rows at a smaller one.
About 3 % of rows are privacy-suppressed (every count blank); Source Info, Campaign, Page
Title and Engagement Type are blank where they do not apply. About 30 % of (app,
FRAMEWORK_USAGE report) pairs have no rows at all: their files are header-only.

Files: header row, the report's delimiter (tab; comma + UTF-8 BOM + RFC 4180 quoting for App
Crashes Expanded), ``\\n`` line ends, UTF-8, gzip with mtime 0 (ISA-L if installed, as the
project depends on it; zlib otherwise), one gzip file per ``segment_rows`` rows, each with
its own header. In tab-separated files tabs and newlines inside values become spaces.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from asc_nb.models import AccessType, Category, Granularity
from asc_nb.sandbox.catalog import ReportSpec, find_report

try:  # ISA-L is a project dependency: ~5x faster than zlib at the same ratio class
    from isal import igzip as _igzip

    def _gzip(data: bytes) -> bytes:
        return _igzip.compress(data, compresslevel=2, mtime=0)

except ImportError:  # pragma: no cover - isal missing
    import gzip as _gz

    def _gzip(data: bytes) -> bytes:
        return _gz.compress(data, compresslevel=6, mtime=0)


__all__ = [
    "FINAL_VINTAGE",
    "VINTAGE_PERCENT",
    "covered_dates",
    "instance_rows",
    "instance_segments",
    "is_processing_date",
    "rows_for_date",
]

#: Vintage at which a Date's values are final (a DAILY instance restates P-2 and P-3).
FINAL_VINTAGE = 2
#: Percent of the final value published at vintage 0, 1, 2 (>= 2 is final).
VINTAGE_PERCENT = (80, 95, 100)
#: Weekly and monthly periods are published once they ended at least this many days ago.
PERIOD_LAG_DAYS = 5
#: Share of rows whose counts are privacy-suppressed (blank).
SUPPRESSED_SHARE = 0.03

DateLike = date | str

# --------------------------------------------------------------------------- schedule


def _as_date(value: DateLike) -> date:
    if isinstance(value, date):
        return value if type(value) is date else date(value.year, value.month, value.day)
    return date.fromisoformat(str(value)[:10])


def is_processing_date(granularity: Granularity | str, day: DateLike) -> bool:
    """Whether Apple publishes an instance of ``granularity`` on ``day`` (daily; Fridays; the 5th)."""
    g = Granularity.parse(granularity)
    d = _as_date(day)
    if g is Granularity.DAILY:
        return True
    if g is Granularity.WEEKLY:
        return d.weekday() == 4
    return d.day == 5


def covered_dates(
    granularity: Granularity | str, processing_date: DateLike, access_type: AccessType | str
) -> list[tuple[date, int]]:
    """The (Date, vintage) batches an instance holds, oldest first (see the module docstring)."""
    g = Granularity.parse(granularity, argument="granularity")
    p = _as_date(processing_date)
    a = AccessType.parse(access_type, argument="access_type")
    if g is Granularity.DAILY:
        if a is AccessType.ONE_TIME_SNAPSHOT:
            return [(p - timedelta(days=1), FINAL_VINTAGE)]
        return [(p - timedelta(days=k + 1), k) for k in range(FINAL_VINTAGE, -1, -1)]
    end = p - timedelta(days=PERIOD_LAG_DAYS)
    if g is Granularity.WEEKLY:
        sunday = end - timedelta(days=(end.weekday() + 1) % 7)
        return [(sunday - timedelta(days=6), FINAL_VINTAGE)]
    first = end.replace(day=1)
    if (end + timedelta(days=1)).month == end.month:  # `end` is not a month's last day
        first = (first - timedelta(days=1)).replace(day=1)
    return [(first, FINAL_VINTAGE)]


# --------------------------------------------------------------------------- dimensions


@dataclass(frozen=True)
class _Dim:
    """A dimension column's vocabulary. Code 0 is the blank value when ``parent`` is set."""

    values: tuple[str, ...]
    weights: tuple[float, ...]
    #: this column is blank unless column ``parent`` holds one of ``allowed``
    parent: str | None = None
    allowed: tuple[str, ...] = ()


def _zipf(n: int, s: float = 1.0) -> tuple[float, ...]:
    return tuple(1.0 / (k + 1) ** s for k in range(n))


def _rising(n: int) -> tuple[float, ...]:
    """Weights favouring the last values (newest versions)."""
    return tuple((k + 1) ** 2 for k in range(n))


DEVICES = ("iPhone", "iPad", "Mac", "Apple TV", "Apple Vision Pro")
PLATFORM_VERSIONS: dict[str, tuple[str, ...]] = {
    "iPhone": (
        "iOS 16.7",
        "iOS 17.5",
        "iOS 17.6",
        "iOS 18.1",
        "iOS 18.3",
        "iOS 18.5",
        "iOS 26.0",
        "iOS 26.1",
    ),
    "iPad": ("iPadOS 17.7", "iPadOS 18.3", "iPadOS 18.5", "iPadOS 26.0", "iPadOS 26.1"),
    "Mac": ("macOS 14.7", "macOS 15.3", "macOS 15.5", "macOS 26.0"),
    "Apple TV": ("tvOS 18.3", "tvOS 18.5", "tvOS 26.0"),
    "Apple Vision Pro": ("visionOS 2.3", "visionOS 2.5", "visionOS 26.0"),
}
TERRITORIES = tuple(
    [
        "US",
        "CN",
        "JP",
        "GB",
        "DE",
        "FR",
        "CA",
        "AU",
        "KR",
        "BR",
        "IT",
        "ES",
        "MX",
        "IN",
        "NL",
        "SE",
        "CH",
        "TW",
        "HK",
        "SG",
        "TR",
        "PL",
        "SA",
        "AE",
        "BE",
        "AT",
        "DK",
        "NO",
        "FI",
        "IE",
        "NZ",
        "PT",
        "CZ",
        "IL",
        "TH",
        "ID",
        "MY",
        "PH",
        "VN",
        "ZA",
        "AR",
        "CL",
        "CO",
    ]
)
APP_VERSIONS = ("1.0", "1.1", "1.2", "1.2.1", "2.0", "2.1", "2.2", "2.3", "2.3.1", "3.0", "3.1", "3.1.2")
SOURCE_TYPES = (
    "App Store search",
    "App Store browse",
    "App referrer",
    "Web referrer",
    "App Clip",
    "Notification",
    "Unavailable",
)
_REFERRERS = ("App referrer", "Web referrer")
PAGE_TYPES = (
    "Product page",
    "In-app event",
    "Store sheet",
    "No page",
    "Notification",
    "App version history",
    "App privacy",
    "Developer page",
    "Media view",
)

_DIMS: dict[str, _Dim] = {
    "App Version": _Dim(APP_VERSIONS, _rising(len(APP_VERSIONS))),
    "Device": _Dim(DEVICES, (0.70, 0.18, 0.06, 0.03, 0.03)),
    "Territory": _Dim(TERRITORIES, _zipf(len(TERRITORIES), 1.1)),
    "Source Type": _Dim(SOURCE_TYPES, (0.40, 0.22, 0.12, 0.10, 0.04, 0.04, 0.08)),
    "Source Info": _Dim(
        (
            "",
            "com.google.chrome.ios",
            "com.burbn.instagram",
            "com.facebook.Facebook",
            "org.mozilla.ios.Firefox",
            "www.google.com",
            "www.reddit.com",
            "news.ycombinator.com",
            "duckduckgo.com",
            "bücherwurm.de",
            "café-ratgeber.fr",
            "t.co",
        ),
        (0.10, *_zipf(11, 0.8)),
        parent="Source Type",
        allowed=_REFERRERS,
    ),
    "Campaign": _Dim(
        (
            "",
            "spring_sale",
            "newsletter-2026-03",
            "influencer_q1",
            "été-promo",
            "search_ads_brand",
            "onboarding_v2",
        ),
        (0.55, 0.12, 0.10, 0.08, 0.06, 0.05, 0.04),
        parent="Source Type",
        allowed=_REFERRERS,
    ),
    "Page Type": _Dim(PAGE_TYPES, (0.55, 0.08, 0.12, 0.10, 0.04, 0.03, 0.02, 0.04, 0.02)),
    "Page Title": _Dim(
        (
            "",
            "Default Product Page",
            "Summer Campaign",
            "Café Edition",
            "Pro Features",
            "Família & Amigos",
            "Live Tournament Finals",
            "Weekly Challenge",
            "Première Night",
        ),
        (0.15, 0.40, 0.10, 0.08, 0.08, 0.05, 0.06, 0.05, 0.03),
        parent="Page Type",
        allowed=("Product page", "In-app event"),
    ),
    "Download Type": _Dim(
        ("First-time Download", "Redownload", "Manual update", "Auto-update", "Restore"),
        (0.30, 0.12, 0.10, 0.45, 0.03),
    ),
    "Pre-Order": _Dim(("No", "Yes"), (0.97, 0.03)),
    "Event": _Dim(("Impression", "Page view", "Tap"), (0.6, 0.3, 0.1)),
    "Engagement Type": _Dim(
        (
            "",
            "Get",
            "Update",
            "Redownload",
            "Open",
            "IAE reminder",
            "IAE reminder deactivated",
            "Notification tap",
            "Share",
        ),
        (0.05, 0.40, 0.15, 0.10, 0.15, 0.05, 0.02, 0.05, 0.03),
        parent="Event",
        allowed=("Tap",),
    ),
    "Crash Reason": _Dim(
        (
            "EXC_BAD_ACCESS (SIGSEGV)",
            "EXC_CRASH (SIGABRT)",
            "EXC_BREAKPOINT (SIGTRAP)",
            "Watchdog timeout, scene-update",
            'Uncaught exception "NSInvalidArgumentException"',
            "Out of memory (jetsam), foreground",
        ),
        (0.35, 0.25, 0.15, 0.10, 0.10, 0.05),
    ),
}
_DIMS["Source Type (downloads)"] = _Dim(
    (*SOURCE_TYPES, "Institutional purchase"), (0.40, 0.22, 0.12, 0.10, 0.04, 0.04, 0.06, 0.02)
)
_PV_FLAT = tuple(v for d in DEVICES for v in PLATFORM_VERSIONS[d])
_PV_OFFSET = np.cumsum([0] + [len(PLATFORM_VERSIONS[d]) for d in DEVICES[:-1]])
_PV_LEN = np.array([len(PLATFORM_VERSIONS[d]) for d in DEVICES])
#: App Download Date: this many days back from Date at most
_DOWNLOAD_AGE_DAYS = 730

#: Rows per Date at data_scale=1 (before the app factor), and daily volume of the first count.
_SIZE: dict[str, tuple[int, float]] = {
    "App Sessions Standard": (150, 60.0),
    "App Sessions Detailed": (220, 40.0),
    "App Crashes": (60, 4.0),
    "App Crashes Expanded": (80, 3.0),
    "App Downloads Standard": (120, 25.0),
    "App Downloads Detailed": (180, 18.0),
    "App Store Discovery and Engagement Standard": (200, 200.0),
    "App Store Discovery and Engagement Detailed": (300, 150.0),
}
_GRANULARITY_ROWS = {Granularity.DAILY: 1, Granularity.WEEKLY: 3, Granularity.MONTHLY: 8}
_GRANULARITY_DAYS = {Granularity.DAILY: 1, Granularity.WEEKLY: 7, Granularity.MONTHLY: 30}
_FIXED = ("Date", "App Name", "App Apple Identifier")

# --------------------------------------------------------------------------- hashing

_M1, _M2, _GOLD = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB), np.uint64(0x9E3779B97F4A7C15)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser, vectorised (uint64 arithmetic wraps, as intended)."""
    x = x + _GOLD
    x = (x ^ (x >> np.uint64(30))) * _M1
    x = (x ^ (x >> np.uint64(27))) * _M2
    return x ^ (x >> np.uint64(31))


def _unit(h: np.ndarray) -> np.ndarray:
    """uint64 hashes -> floats in [0, 1)."""
    return (h >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


def _key(*parts: object) -> int:
    """A stable 64-bit key (Python's ``hash`` is salted per process)."""
    text = "\x1f".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little")


def _u(*parts: object) -> float:
    return _key(*parts) / 2.0**64


# --------------------------------------------------------------------------- generation


@dataclass(frozen=True)
class _Block:
    """The rows of one Date of one report, final values (vintage applied when written)."""

    day: date
    dims: dict[str, np.ndarray]  # column -> codes (int32); App Download Date -> age in days
    finals: dict[str, np.ndarray]  # measure column -> int64 final values
    suppressed: np.ndarray  # bool: every count blank

    @property
    def n(self) -> int:
        return len(self.suppressed)


def _dim_for(spec: ReportSpec, column: str) -> _Dim | None:
    if column == "Source Type" and spec.name.startswith("App Downloads"):
        return _DIMS["Source Type (downloads)"]
    return _DIMS.get(column)


def _dim_values(spec: ReportSpec, column: str) -> tuple[str, ...]:
    if column == "Platform Version":
        return _PV_FLAT
    dim = _dim_for(spec, column)
    assert dim is not None, column
    return dim.values


def _has_rows(seed: int, app_id: str, spec: ReportSpec) -> bool:
    """An app uses ~70 % of frameworks; the other framework reports are privacy-empty."""
    return spec.category is not Category.FRAMEWORK_USAGE or _u("uses", seed, app_id, spec.name) >= 0.3


def _target_rows(seed: int, app_id: str, spec: ReportSpec, g: Granularity, data_scale: float) -> int:
    if not _has_rows(seed, app_id, spec):
        return 0
    base = _SIZE.get(spec.name, (20 + int(_u("rows", spec.name) * 100), 0.0))[0]
    app_factor = 0.5 + _u("app", seed, app_id)
    return int(round(base * app_factor * _GRANULARITY_ROWS[g] * data_scale))


def _volume(seed: int, app_id: str, spec: ReportSpec, g: Granularity) -> float:
    base = _SIZE.get(spec.name, (0, 5.0 + 20.0 * _u("volume", spec.name)))[1]
    return base * (0.5 + _u("app", seed, app_id)) * _GRANULARITY_DAYS[g]


def _draw(spec: ReportSpec, key: int, m: int) -> dict[str, np.ndarray]:
    """m candidate rows; a counter-based stream per column, so a longer draw extends a shorter one."""
    codes: dict[str, np.ndarray] = {}
    counter = np.arange(m, dtype=np.uint64)
    for i, col in enumerate(c.name for c in spec.columns if c.kind != "integer" and c.name not in _FIXED):
        u = _unit(_mix(counter + np.uint64(_key("draw", key, i))))
        if col == "Platform Version":
            dev = codes["Device"]  # Device precedes Platform Version in every layout
            codes[col] = (_PV_OFFSET[dev] + (_PV_LEN[dev] * u**0.6).astype(np.int64)).astype(np.int32)
        elif col == "App Download Date":
            codes[col] = np.minimum(np.floor(np.log1p(-u) / np.log1p(-0.02)), _DOWNLOAD_AGE_DAYS - 1).astype(
                np.int32
            )
        else:
            dim = _dim_for(spec, col)
            assert dim is not None, col
            cdf = np.cumsum(dim.weights) / sum(dim.weights)
            c = np.minimum(cdf.searchsorted(u, side="right"), len(dim.values) - 1).astype(np.int32)
            if dim.parent is not None:
                parent = _dim_for(spec, dim.parent)
                assert parent is not None
                ok = [j for j, v in enumerate(parent.values) if v in dim.allowed]
                c[~np.isin(codes[dim.parent], ok)] = 0
            codes[col] = c
    return codes


def _radix(spec: ReportSpec, col: str) -> int:
    return _DOWNLOAD_AGE_DAYS if col == "App Download Date" else len(_dim_values(spec, col))


def _popularity(spec: ReportSpec, codes: dict[str, np.ndarray]) -> np.ndarray:
    n = len(next(iter(codes.values()))) if codes else 0
    pop = np.ones(n)
    for col, c in codes.items():
        dim = _dim_for(spec, col)
        if dim is not None:
            w = np.asarray(dim.weights, dtype=np.float64)
            pop *= (w / w.max())[c]
        elif col == "App Download Date":
            pop *= np.exp(-c / 120.0)
    return pop


def _generate_block(
    seed: int, app_id: str, spec: ReportSpec, g: Granularity, day: date, data_scale: float
) -> _Block:
    n = _target_rows(seed, app_id, spec, g, data_scale)
    key = _key("rows", seed, app_id, spec.name, g.value, day.isoformat())
    dim_cols = [c.name for c in spec.columns if c.kind != "integer" and c.name not in _FIXED]
    if n <= 0:
        empty = {c: np.zeros(0, np.int32) for c in dim_cols}
        return _Block(day, empty, {m: np.zeros(0, np.int64) for m in spec.measures}, np.zeros(0, bool))
    m = int(n * 1.3) + 16
    distinct = 0
    for _ in range(6):  # widen the draw until enough distinct combinations, or the space is exhausted
        codes = _draw(spec, key, m)
        idx = np.zeros(m, np.uint64)
        for col in dim_cols:
            idx = idx * np.uint64(_radix(spec, col)) + codes[col].astype(np.uint64)
        uniq, first = np.unique(idx, return_index=True)
        if len(uniq) >= n or len(uniq) < distinct * 1.25:
            break
        distinct = len(uniq)
        m *= 2
    # the first n distinct combinations in draw order, listed sorted by dimensions (as `uniq` is)
    keep = first if len(first) <= n else first[first <= np.partition(first, n - 1)[n - 1]]
    codes = {c: v[keep] for c, v in codes.items()}
    idx = idx[keep]
    # values: a pure function of (seed, app, report, granularity, Date) and the dimension codes
    h1 = _mix(idx ^ np.uint64(_key("values", seed, app_id, spec.name, g.value, day.isoformat())))
    h2, h3 = _mix(h1), _mix(h1 ^ _GOLD)
    u1, u2, u3 = _unit(h1), _unit(h2), _unit(h3)
    volume = _volume(seed, app_id, spec, g)
    first_count = 1 + np.floor(volume * _popularity(spec, codes) ** 0.25 * (0.25 + 1.5 * u1)).astype(np.int64)
    finals: dict[str, np.ndarray] = {}
    for j, meas in enumerate(spec.measures):
        if j == 0:
            finals[meas] = first_count
        elif "Duration" in meas:
            finals[meas] = first_count * (20 + (u2 * 580).astype(np.int64))
        else:  # unique devices / unique counts: a share of the first count, at least 1
            finals[meas] = np.maximum(1, np.floor(first_count * (0.3 + 0.65 * u2)).astype(np.int64))
    return _Block(day, codes, finals, u3 < SUPPRESSED_SHARE)


class _ByteLRU:
    """A thread-safe LRU bounded by total bytes, so a huge data_scale cannot pin gigabytes."""

    def __init__(self, budget: int, size: Callable[[Any], int]):
        self._budget, self._size, self._used = budget, size, 0
        self._items: OrderedDict[tuple, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple, make: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = make()
        size = self._size(value)
        if size <= self._budget // 4:
            with self._lock:
                if key not in self._items:
                    self._items[key] = value
                    self._used += size
                while self._used > self._budget:
                    _, old = self._items.popitem(last=False)
                    self._used -= self._size(old)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._used = 0


_BLOCKS = _ByteLRU(64 << 20, lambda b: 64 + b.n * (4 * len(b.dims) + 8 * len(b.finals) + 1))
_SEGMENTS = _ByteLRU(64 << 20, lambda segs: 64 + sum(len(s) for s in segs))


def _block(seed: int, app_id: str, spec: ReportSpec, g: Granularity, day: date, data_scale: float) -> _Block:
    return _BLOCKS.get(
        (seed, app_id, spec.name, g, day, data_scale),
        lambda: _generate_block(seed, app_id, spec, g, day, data_scale),
    )


def _vintage_values(finals: np.ndarray, vintage: int) -> np.ndarray:
    pct = VINTAGE_PERCENT[min(vintage, len(VINTAGE_PERCENT) - 1)]
    return finals if pct == 100 else finals * pct // 100


def _resolve(
    app: Mapping[str, Any], report: ReportSpec | str, granularity: Granularity | str
) -> tuple[str, str, ReportSpec, Granularity]:
    spec = find_report(report)
    g = Granularity.parse(granularity, argument="granularity")
    if g not in spec.granularities:
        allowed = ", ".join(x.value for x in spec.granularities)
        raise ValueError(f"report {spec.name!r} has no {g.value} instances (only {allowed})")
    return str(app["id"]), str(app["name"]), spec, g


def _instance_blocks(
    seed: int,
    app_id: str,
    spec: ReportSpec,
    g: Granularity,
    processing_date: DateLike,
    access_type: AccessType | str,
    data_scale: float,
) -> list[tuple[_Block, int]]:
    return [
        (_block(seed, app_id, spec, g, day, float(data_scale)), vintage)
        for day, vintage in covered_dates(g, processing_date, access_type)
    ]


# --------------------------------------------------------------------------- DataFrames


def _frame(spec: ReportSpec, app_id: str, app_name: str, parts: list[tuple[_Block, int]]) -> pd.DataFrame:
    """Typed rows: dates datetime64[ns], strings (blank = ""), counts Int64 (suppressed = <NA>)."""
    n = sum(b.n for b, _ in parts)
    data: dict[str, Any] = {}
    for col in spec.columns:
        name = col.name
        if name == "Date":
            days = np.concatenate([np.full(b.n, np.datetime64(b.day, "D")) for b, _ in parts] or [[]])
            data[name] = pd.to_datetime(days.astype("datetime64[D]")).astype("datetime64[ns]")
        elif name == "App Name":
            data[name] = pd.array([app_name] * n, dtype="string")
        elif name == "App Apple Identifier":
            data[name] = pd.array(np.full(n, int(app_id), np.int64), dtype="Int64")
        elif name == "App Download Date":
            ages = [np.datetime64(b.day, "D") - b.dims[name].astype("timedelta64[D]") for b, _ in parts]
            days = np.concatenate(ages) if ages else np.zeros(0, "datetime64[D]")
            data[name] = pd.to_datetime(days).astype("datetime64[ns]")
        elif col.kind == "integer":
            vals = np.concatenate(
                [_vintage_values(b.finals[name], v) for b, v in parts] or [np.zeros(0, np.int64)]
            )
            mask = np.concatenate([b.suppressed for b, _ in parts] or [np.zeros(0, bool)])
            data[name] = pd.arrays.IntegerArray(vals.astype(np.int64), mask)
        else:
            values = np.asarray(_dim_values(spec, name), dtype=object)
            codes = np.concatenate([b.dims[name] for b, _ in parts] or [np.zeros(0, np.int32)])
            data[name] = pd.array(values[codes], dtype="string")
    return pd.DataFrame(data, columns=list(spec.column_names))


def instance_rows(
    seed: int,
    app: Mapping[str, Any],
    report: ReportSpec | str,
    granularity: Granularity | str,
    processing_date: DateLike,
    access_type: AccessType | str,
    *,
    data_scale: float = 1.0,
) -> pd.DataFrame:
    """The rows of one instance, typed, exactly as :func:`instance_segments` writes them."""
    app_id, app_name, spec, g = _resolve(app, report, granularity)
    return _frame(
        spec,
        app_id,
        app_name,
        _instance_blocks(seed, app_id, spec, g, processing_date, access_type, data_scale),
    )


def rows_for_date(
    seed: int,
    app: Mapping[str, Any],
    report: ReportSpec | str,
    granularity: Granularity | str,
    day: DateLike,
    vintage: int = FINAL_VINTAGE,
    *,
    data_scale: float = 1.0,
) -> pd.DataFrame:
    """One Date's rows at a given vintage — with the default, the truth a correct dedupe must reach."""
    app_id, app_name, spec, g = _resolve(app, report, granularity)
    block = _block(seed, app_id, spec, g, _as_date(day), float(data_scale))
    return _frame(spec, app_id, app_name, [(block, vintage)])


# --------------------------------------------------------------------------- files


def _escaper(delimiter: str) -> Callable[[str], str]:
    """Tab files: tabs/newlines inside values become spaces. Comma files: RFC 4180 quoting where needed."""
    if delimiter == "\t":
        return lambda s: s.replace("\t", " ").replace("\r", " ").replace("\n", " ")

    def quote(s: str) -> str:
        if any(ch in s for ch in (delimiter, '"', "\n", "\r")):
            return '"' + s.replace('"', '""') + '"'
        return s

    return quote


_VOCABS: dict[tuple[str, str], pa.Array] = {}


def _vocab(spec: ReportSpec, column: str) -> pa.Array:
    """Escaped vocabulary of a column (bounded: one entry per report and column)."""
    key = (spec.name, column)
    arr = _VOCABS.get(key)
    if arr is None:
        esc = _escaper(spec.delimiter)
        arr = _VOCABS[key] = pa.array([esc(v) for v in _dim_values(spec, column)], pa.large_string())
    return arr


@lru_cache(maxsize=64)
def _days_back(day: date) -> pa.Array:
    """ISO dates ``day``, ``day - 1``, ... (the App Download Date vocabulary of a Date)."""
    days = np.datetime64(day, "D") - np.arange(_DOWNLOAD_AGE_DAYS).astype("timedelta64[D]")
    return pa.array(days.astype(str).tolist(), pa.large_string())


def _block_table(spec: ReportSpec, app_id: str, app_name: str, block: _Block, vintage: int) -> pa.Table:
    """The block's cells as written: dictionary-encoded escaped strings (no copy per row), int64 counts."""
    s, esc = pa.large_string(), _escaper(spec.delimiter)
    zeros = pa.array(np.zeros(block.n, np.int32))
    arrays: list[pa.Array] = []
    for col in spec.columns:
        name = col.name
        if name in _FIXED:
            value = {"Date": block.day.isoformat(), "App Name": app_name, "App Apple Identifier": app_id}[
                name
            ]
            arrays.append(pa.DictionaryArray.from_arrays(zeros, pa.array([esc(value)], s)))
        elif name == "App Download Date":
            arrays.append(pa.DictionaryArray.from_arrays(pa.array(block.dims[name]), _days_back(block.day)))
        elif col.kind == "integer":
            vals = _vintage_values(block.finals[name], vintage)
            arrays.append(pa.array(vals, pa.int64(), mask=block.suppressed))
        else:
            arrays.append(pa.DictionaryArray.from_arrays(pa.array(block.dims[name]), _vocab(spec, name)))
    return pa.Table.from_arrays(arrays, names=[f"c{i}" for i in range(len(arrays))])


def _text(table: pa.Table, delimiter: str, fast: bool) -> bytes:
    """Rows as delimited text with "\\n" line ends; cells are already escaped.

    ``fast`` uses Arrow's CSV writer (fastest), which refuses values holding a quote; the
    general path joins columns with Arrow string kernels (~2x slower). Both give the same bytes.
    """
    if table.num_rows == 0:
        return b""
    if fast:
        sink = pa.BufferOutputStream()
        options = pcsv.WriteOptions(include_header=False, delimiter=delimiter, quoting_style="none")
        pcsv.write_csv(table, sink, options)
        return sink.getvalue().to_pybytes()
    s = pa.large_string()
    cols = [c if c.type == s else c.cast(s) for c in table.columns]
    line = pc.binary_join_element_wise(
        *cols, pa.scalar(delimiter, s), null_handling="replace", null_replacement=""
    )
    lines = pc.binary_join_element_wise(line, pa.scalar("", s), pa.scalar("\n", s)).combine_chunks()
    _, offsets_buf, data_buf = lines.buffers()
    offsets = np.frombuffer(offsets_buf, np.int64)
    return data_buf.to_pybytes()[offsets[lines.offset] : offsets[lines.offset + len(lines)]]


def _can_write_fast(spec: ReportSpec, app_name: str) -> bool:
    if spec.delimiter != "\t" or '"' in app_name:
        return False
    return not any(
        '"' in v
        for c in spec.columns
        if c.kind == "string" and c.name not in _FIXED
        for v in _dim_values(spec, c.name)
    )


def _segments(
    spec: ReportSpec, app_id: str, app_name: str, parts: list[tuple[_Block, int]], segment_rows: int
) -> list[bytes]:
    if segment_rows < 1:
        raise ValueError(f"segment_rows must be >= 1; got {segment_rows}")
    esc = _escaper(spec.delimiter)
    header = ("\ufeff" if spec.bom else "") + spec.delimiter.join(esc(c) for c in spec.column_names) + "\n"
    head = header.encode()
    tables = [_block_table(spec, app_id, app_name, b, v) for b, v in parts if b.n]
    if not tables:
        return [_gzip(head)]
    table = pa.concat_tables(tables)
    fast = _can_write_fast(spec, app_name)
    return [
        _gzip(head + _text(table.slice(start, segment_rows), spec.delimiter, fast))
        for start in range(0, table.num_rows, segment_rows)
    ]


def instance_segments(
    seed: int,
    app: Mapping[str, Any],
    report: ReportSpec | str,
    granularity: Granularity | str,
    processing_date: DateLike,
    access_type: AccessType | str,
    *,
    data_scale: float = 1.0,
    segment_rows: int = 2000,
) -> list[bytes]:
    """The instance's segment files: gzip bytes, each with the header row; deterministic."""
    app_id, app_name, spec, g = _resolve(app, report, granularity)
    p = _as_date(processing_date)
    a = AccessType.parse(access_type, argument="access_type")
    key = (seed, app_id, app_name, spec.name, g, p, a, float(data_scale), segment_rows)

    def make() -> list[bytes]:
        parts = _instance_blocks(seed, app_id, spec, g, p, a, data_scale)
        return _segments(spec, app_id, app_name, parts, segment_rows)

    return list(_SEGMENTS.get(key, make))
