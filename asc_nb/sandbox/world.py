"""The sandbox's world: one set of underlying daily cells from which every published row derives.

Why: a sandbox whose weekly numbers are not the sum of its daily ones, whose Standard and
Detailed reports disagree or whose unique counts add up teaches the wrong lessons. So the
sandbox first builds a world and only then *publishes* rows from it, the way Apple aggregates
and thresholds its own data (docs/sandbox-data.md describes it for users).

The world, per (seed, app, report family) — a family is a report name without its
``Standard``/``Detailed`` level, so both levels share one world:

* a **universe** of distinct dimension combinations (cells) over the family's finest dimensions
  (the Detailed level's), drawn once. Values come from Apple's glossaries (the registry) where
  Apple lists them. Each cell has a weight so that, summed over the universe, every
  dimension's value shares follow the weights below (importance sampling: cells are drawn from
  a flattened distribution and weighted back), and popular cells are much bigger than rare ones;
* for every day, each cell's **users** (distinct users/devices behind it that day): its weight
  times the app's size and a weekly rhythm, with multiplicative noise and stochastic rounding,
  so rare cells come and go. Measures derive from users: counts are users times a per-cell rate
  (>= 1, so a unique count never exceeds its count), durations are counts times seconds, amounts
  counts times a price (kept in cents, so sums are exact), the first unique count *is* users;
* a report **projects** the day's cells onto its own dimensions (summing: within a day the
  extra Detailed dimensions are attribution, each user belongs to exactly one Detailed row of a
  Standard row) and, for WEEKLY and MONTHLY, **aggregates** the period's days: additive measures
  are sums of the daily values; a unique count is ``max + share * (sum - max)`` of the daily
  values (share = the family's :attr:`Profile.union`), so it lies between the largest daily
  value and the sum;
* **privacy**: a row is published only when at least :data:`MIN_USERS` users stand behind it in
  every version Apple publishes — including the first, 80 % vintage of a daily Date — so
  ``floor(users * 80 / 100) >= 5``. Our reading of Apple's "omits values with data from fewer
  than 5 users or 5 unique devices": the row is left out. Apple also adds small noise to
  Detailed reports; the sandbox adds none, so every sum above is exact.

Fields with documented limits respect them: App Download Date is the day the device downloaded
the app when that is at most :data:`DOWNLOAD_DATE_MAX_AGE` days before the row's day, blank
otherwise. Every value is a pure function of (seed, app, family, day, cell): nothing depends on
which instance, vintage or granularity asks first.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from asc_nb.models import Category
from asc_nb.sandbox.catalog import FIXED, ReportSpec, catalog

#: Apple's privacy threshold: fewer users/devices than this and the row is not published.
MIN_USERS = 5
#: A row must clear MIN_USERS at this percent of its final users (the first daily vintage).
PUBLISH_PERCENT = 80
#: App Download Date is blank when the download is older than this many days.
DOWNLOAD_DATE_MAX_AGE = 30

_EPOCH = date(1970, 1, 1)

# --------------------------------------------------------------------------- hashing

_M1, _M2, _GOLD = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB), np.uint64(0x9E3779B97F4A7C15)


def mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser, vectorised (uint64 arithmetic wraps, as intended)."""
    with np.errstate(over="ignore"):
        x = x + _GOLD
        x = (x ^ (x >> np.uint64(30))) * _M1
        x = (x ^ (x >> np.uint64(27))) * _M2
    return x ^ (x >> np.uint64(31))


def unit(h: np.ndarray) -> np.ndarray:
    """uint64 hashes -> floats in [0, 1)."""
    return (h >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


def key(*parts: object) -> int:
    """A stable 64-bit key (Python's ``hash`` is salted per process)."""
    text = "\x1f".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little")


def u(*parts: object) -> float:
    return key(*parts) / 2.0**64


# --------------------------------------------------------------------------- vocabularies

DEVICES = ("iPhone", "iPad", "Mac", "Apple TV", "Apple Vision Pro")
#: Platform Version values by the Device they belong to (prefix -> device); Apple lists none.
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
    "Apple Watch": ("watchOS 10.6", "watchOS 11.5", "watchOS 26.0"),
    "iPod": ("iOS 15.8",),
}
TERRITORIES = (
    "US CN JP GB DE FR CA AU KR BR IT ES MX IN NL SE CH TW HK SG TR PL SA AE BE AT DK NO FI IE NZ PT CZ IL "
    "TH ID MY PH VN ZA AR CL CO"
).split()
APP_VERSIONS = ("1.0", "1.1", "1.2", "1.2.1", "2.0", "2.1", "2.2", "2.3", "2.3.1", "3.0", "3.1", "3.1.2")

#: Values for fields Apple gives no glossary for (our inventions, realistic in shape).
_FREE_VALUES: dict[str, tuple[str, ...]] = {
    "App Version": APP_VERSIONS,
    "Platform Version": tuple(v for vs in PLATFORM_VERSIONS.values() for v in vs),
    "Territory": tuple(TERRITORIES),
    "Device": DEVICES,
    "Platform": ("iOS", "iPadOS", "macOS", "tvOS", "visionOS"),
    "Build": ("22E240", "22F76", "22G86", "23A341", "23B85"),
    "Release Type": ("Release", "Beta"),
    "Browser": ("Safari", "Chrome", "Firefox", "Edge"),
    "Browser Version": ("17.6", "18.5", "26.0", "138.0", "139.0"),
    "Payment Method": ("Credit card", "Apple Account balance", "Carrier billing"),
    "Content Name": ("Pro Upgrade", "Coin Pack S", "Coin Pack L", "Annual Pass"),
    # Apple's glossaries (FACTS.md §10), for a field whose registry entry lists no values
    "Source Type": (
        "App Store search",
        "App Store browse",
        "App referrer",
        "Web referrer",
        "App Clip",
        "Notification",
        "Unavailable",
    ),
    "Page Type": (
        "Product page",
        "In-app event",
        "Store sheet",
        "No page",
        "Notification",
        "App version history",
        "App privacy",
        "Developer page",
        "Media view",
    ),
    "Event": ("Impression", "Page view", "Tap"),
    "Download Type": ("First-time Download", "Redownload", "Manual update", "Auto-update", "Restore"),
    "Pre-Order": ("No", "Yes"),
    "Engagement Type": (
        "Get",
        "Update",
        "Redownload",
        "Open",
        "IAE reminder",
        "IAE reminder deactivated",
        "Notification tap",
        "Share",
    ),
    "Source Info": (
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
    "Campaign": (
        "spring_sale",
        "newsletter-2026-03",
        "influencer_q1",
        "été-promo",
        "search_ads_brand",
        "onboarding_v2",
    ),
    "Page Title": (
        "Default Product Page",
        "Summer Campaign",
        "Café Edition",
        "Pro Features",
        "Família & Amigos",
        "Live Tournament Finals",
        "Weekly Challenge",
        "Première Night",
    ),
    "Crash Reason": (
        "EXC_BAD_ACCESS (SIGSEGV)",
        "EXC_CRASH (SIGABRT)",
        "EXC_BREAKPOINT (SIGTRAP)",
        "Watchdog timeout, scene-update",
        'Uncaught exception "NSInvalidArgumentException"',
        "Out of memory (jetsam), foreground",
    ),
}

#: Relative weights of known values (casefolded); values not listed get a Zipf weight.
_WEIGHTS: dict[str, dict[str, float]] = {
    "device": {"iphone": 70, "ipad": 18, "mac": 6, "apple tv": 3, "apple vision pro": 2, "apple watch": 1},
    "source type": {
        "app store search": 40,
        "app store browse": 22,
        "app referrer": 12,
        "web referrer": 10,
        "app clip": 3,
        "notification": 3,
        "unavailable": 8,
        "institutional purchase": 2,
    },
    "page type": {
        "product page": 55,
        "in-app event": 8,
        "store sheet": 12,
        "no page": 10,
        "notification": 4,
        "app version history": 3,
        "app privacy": 2,
        "developer page": 4,
        "media view": 2,
    },
    "event": {"impression": 80, "page view": 14, "tap": 6, "install": 78, "delete": 22},
    "download type": {
        "first-time download": 33,
        "redownload": 12,
        "manual update": 8,
        "auto-update": 44,
        "restore": 3,
    },
    "pre-order": {"no": 97, "yes": 3},
    "engagement type": {
        "get": 40,
        "update": 15,
        "redownload": 10,
        "open": 15,
        "iae reminder": 5,
        "iae reminder deactivated": 2,
        "notification tap": 5,
        "share": 3,
    },
}
_REFERRERS = ("app referrer", "web referrer")
#: child field -> (parent field, parent values (casefolded) for which the child is filled, blank share)
_CONDITIONAL: dict[str, tuple[str, tuple[str, ...], float]] = {
    "source info": ("source type", _REFERRERS, 0.10),
    "campaign": ("source type", _REFERRERS, 0.55),
    "page title": ("page type", ("product page", "in-app event"), 0.15),
    "engagement type": ("event", ("tap",), 0.05),
}
#: Cells are drawn from the glossary weights raised to this power (flatter), then weighted back.
_FLATTEN = 0.5
#: Spread (sigma) of a cell's log-normal popularity on top of its values' weights.
_SPREAD = 1.5
#: App Download Date: share of users whose download is older than DOWNLOAD_DATE_MAX_AGE (blank)
_OLD_DOWNLOAD_SHARE = 0.6


def _zipf(n: int, s: float = 1.0) -> np.ndarray:
    return 1.0 / (np.arange(n) + 1.0) ** s


def _rising(n: int) -> np.ndarray:
    """Weights favouring the last values (newest versions)."""
    return (np.arange(n) + 1.0) ** 2


def values_for(column_name: str, documented: tuple[str, ...]) -> tuple[str, ...]:
    """A dimension's vocabulary: Apple's glossary when it lists one, else ours, else placeholders."""
    if documented:
        return documented
    if column_name in _FREE_VALUES:
        return _FREE_VALUES[column_name]
    return tuple(f"{column_name} {k}" for k in range(1, 7))


def _weights(name: str, values: Sequence[str]) -> np.ndarray:
    known = _WEIGHTS.get(name.casefold())
    if name == "App Version":
        return _rising(len(values))
    if name == "Territory":
        return _zipf(len(values), 1.1)
    if known and any(v.casefold() in known for v in values):
        return np.array([known.get(v.casefold(), 1.0) for v in values], dtype=np.float64)
    return _zipf(len(values), 0.9)


# --------------------------------------------------------------------------- family structure


@dataclass(frozen=True)
class Dim:
    """One dimension of a family's world. Codes index ``values``; -1 is blank.

    ``kind`` "age": codes are days before the cell's day (App Download Date); -1 = too old.
    Sampling is over ``groups``: row g of ``support`` lists the codes allowed when the parent's
    code selects group g (``group_of[parent_code + 1]``, -1 = forced blank).
    """

    name: str
    kind: str  # "category" | "age"
    values: tuple[str, ...]
    parent: int | None
    group_of: np.ndarray  # int: parent code + 1 -> group index, or -1 (blank)
    cdfs: tuple[np.ndarray, ...]  # per group: CDF of the sampling distribution over its support
    supports: tuple[np.ndarray, ...]  # per group: codes (-1 = blank)
    ratios: tuple[np.ndarray, ...]  # per group: p/q importance weight per support entry
    #: age dims: 1 = days before the row's day, -1 = days after it
    sign: int = 1


def _group_dist(p: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(cdf of q, support, p/q) for target probabilities ``p`` over ``codes``; q flattens p."""
    p = p / p.sum()
    q = p**_FLATTEN
    q = q / q.sum()
    return np.cumsum(q), codes, p / q


def _make_dim(
    name: str, values: tuple[str, ...], kind: str, parent: Dim | None, parent_index: int | None
) -> Dim:
    if kind in ("before", "after"):  # another date field: a day up to a week before (or after) the row's day
        ages = np.arange(8)
        cdf, sup, ratio = _group_dist(np.exp(-ages / 2.0), ages)
        sign = 1 if kind == "before" else -1
        return Dim(name, "age", (), None, np.zeros(1, np.int64), (cdf,), (sup,), (ratio,), sign)
    if kind == "age":
        ages = np.arange(DOWNLOAD_DATE_MAX_AGE + 1)
        recent = np.exp(-ages / 6.0)
        p = np.concatenate([recent / recent.sum() * (1 - _OLD_DOWNLOAD_SHARE), [_OLD_DOWNLOAD_SHARE]])
        cdf, sup, ratio = _group_dist(p, np.concatenate([ages, [-1]]))
        return Dim(name, kind, (), None, np.zeros(1, np.int64), (cdf,), (sup,), (ratio,))
    w = _weights(name, values)
    codes = np.arange(len(values))
    cond = _CONDITIONAL.get(name.casefold())
    if parent is not None and name in ("Platform Version", "Device"):
        # versions belong to a device by their prefix (a device without versions gets blank);
        # devices belong to a platform (iOS: iPhone, iPadOS: iPad, …)
        groups, group_of = [], []
        for pv in parent.values:
            if name == "Platform Version":
                prefixes = tuple(v.split(" ")[0] for v in PLATFORM_VERSIONS.get(pv, ()))
            else:
                prefixes = tuple(d for d, vs in PLATFORM_VERSIONS.items() if vs and vs[0].split(" ")[0] == pv)
            allowed = np.array(
                [(v.split(" ")[0] if name == "Platform Version" else v) in prefixes for v in values]
            )
            if not prefixes or not allowed.any():
                group_of.append(-1)
                continue
            group_of.append(len(groups))
            groups.append(_group_dist(w[allowed], codes[allowed]))
        return Dim(
            name,
            kind,
            values,
            parent_index,
            np.array([-1, *group_of]),
            tuple(g[0] for g in groups),
            tuple(g[1] for g in groups),
            tuple(g[2] for g in groups),
        )
    if parent is not None and cond is not None and any(v.casefold() in cond[1] for v in parent.values):
        _, allowed_parents, blank = cond
        p = np.concatenate([w / w.sum() * (1 - blank), [blank]])
        cdf, sup, ratio = _group_dist(p, np.concatenate([codes, [-1]]))
        group_of = np.array([-1] + [0 if v.casefold() in allowed_parents else -1 for v in parent.values])
        return Dim(name, kind, values, parent_index, group_of, (cdf,), (sup,), (ratio,))
    cdf, sup, ratio = _group_dist(w, codes)
    return Dim(name, kind, values, None, np.zeros(1, np.int64), (cdf,), (sup,), (ratio,))


@dataclass(frozen=True)
class Profile:
    """How big and how busy a family's world is (at data_scale=1 and an average app)."""

    #: distinct cells in the universe
    cells: int
    #: expected users per day, summed over the universe
    users: float
    #: of the users a period adds beyond its busiest day, the share that are new (not repeats)
    union: float
    #: per-measure (name -> (low, high)) events per user; default (1.0, 1.6)
    rates: dict[str, tuple[float, float]] = field(default_factory=dict)


#: Families whose numbers App Analytics metrics are computed from come first; ratios between
#: families follow a typical funnel (impressions > page views > downloads; sessions from devices).
PROFILES: dict[str, Profile] = {
    "App Store Discovery and Engagement": Profile(600, 30000.0, 0.75, {"Counts": (1.0, 2.2)}),
    "App Store Web Preview Engagement": Profile(150, 1500.0, 0.8, {"Counts": (1.0, 1.5)}),
    "App Downloads": Profile(400, 4000.0, 0.9, {"Counts": (1.0, 1.05)}),
    "App Store Installation and Deletion": Profile(400, 4000.0, 0.9, {"Counts": (1.0, 1.1)}),
    "App Sessions": Profile(500, 15000.0, 0.35, {"Sessions": (1.2, 3.5)}),
    "App Crashes": Profile(90, 900.0, 0.6, {"Crashes": (1.0, 1.6)}),
    "App Crashes Expanded": Profile(120, 900.0, 0.6, {"Crashes": (1.0, 1.6)}),
    "App Store Purchases": Profile(300, 1500.0, 0.8, {"Purchases": (1.0, 1.4)}),
    "App Store Pre-Orders": Profile(
        200, 800.0, 0.9, {"Pre-Orders Placed": (1.0, 1.0), "Pre-Order Canceled": (0.02, 0.15)}
    ),
    "App Opt In": Profile(1, 1200.0, 0.9, {"Downloading Users": (1.0, 1.0), "Users Opting-In": (0.2, 0.6)}),
}


def profile(spec: ReportSpec) -> Profile:
    if spec.family in PROFILES:
        return PROFILES[spec.family]
    cells = 30 + int(u("cells", spec.family) * 120)
    return Profile(
        cells, cells * (10.0 + 15.0 * u("users", spec.family)), 0.5 + 0.3 * u("union", spec.family)
    )


@dataclass(frozen=True)
class Family:
    """The dimensions and measures of one family's world (its finest level's columns)."""

    name: str
    dims: tuple[Dim, ...]
    measures: tuple[tuple[str, str], ...]  # (column, role): role in unique|count|duration|amount|level
    profile: Profile
    #: per measure: a level kept in cents (a rate), not an integer
    amount_levels: tuple[bool, ...] = ()
    #: indices of the dimensions only the Detailed level has (they split Standard cells)
    detail: tuple[int, ...] = ()

    def index(self, name: str) -> int:
        for i, d in enumerate(self.dims):
            if d.name == name:
                return i
        raise KeyError(name)


def measure_role(spec: ReportSpec, name: str) -> str:
    """unique (a non-additive count: Unique Devices, Paying Users), level (a rate, average or
    other non-additive value), duration, amount or count."""
    col = spec.column(name)
    if col.additive is False and col.kind == "count" and not name.casefold().startswith(("avg ", "average ")):
        return "unique"  # an average Apple types integer (Avg Install Duration) is a level, not a user count
    if not col.additive:
        return "level"
    if col.kind == "amount":
        return "amount"
    low = name.casefold()
    if "duration" in low or "(seconds)" in low:
        return "duration"
    return "count"


def _world_columns(spec: ReportSpec) -> list[str]:
    return [c.name for c in spec.columns if c.name not in FIXED and not c.is_measure]


_FAMILIES: dict[str, tuple[Family, tuple[ReportSpec, ...]]] = {}


def family_of(spec: ReportSpec) -> Family:
    """The family whose world ``spec`` is published from (memoised per family name)."""
    got = _FAMILIES.get(spec.family)
    if got is not None and spec in got[1]:
        return got[0]
    members = tuple(s for s in catalog() if s.family == spec.family) if spec in catalog() else (spec,)
    # the finest member: the one with the most dimensions; the others must be projections of it
    finest = max(members, key=lambda s: len(_world_columns(s)))
    if not all(set(_world_columns(s)) <= set(_world_columns(finest)) for s in members):
        members, finest = (spec,), spec
    dims: list[Dim] = []
    for col in finest.columns:
        if col.name in FIXED or col.is_measure:
            continue
        kind = "age" if col.kind == "date" else "category"
        if kind == "age" and col.name != "App Download Date":
            kind = "after" if "end" in col.name.casefold().split() else "before"
        values = () if kind != "category" else values_for(col.name, col.values)
        if col.kind == "identifier":
            values = tuple(
                str(1_000_000_000 + key("id", spec.family, col.name, k) % 900_000_000) for k in range(6)
            )
        parent_idx = None
        cond = _CONDITIONAL.get(col.name.casefold())
        parent_name = {"Platform Version": "Device", "Device": "Platform"}.get(
            col.name, cond[0] if cond else None
        )
        if parent_name is not None:
            for i, d in enumerate(dims):
                if d.name.casefold() == parent_name.casefold():
                    parent_idx = i
        parent = dims[parent_idx] if parent_idx is not None else None
        dims.append(_make_dim(col.name, values, kind, parent, parent_idx))
    measures: list[tuple[str, str]] = []
    amount_levels: list[bool] = []
    for s in members:
        for m in s.measures:
            if m not in (n for n, _ in measures):
                measures.append((m, measure_role(s, m)))
                amount_levels.append(s.column(m).kind == "amount")
    coarsest = set(_world_columns(min(members, key=lambda s: len(_world_columns(s)))))
    detail = tuple(i for i, d in enumerate(dims) if d.name not in coarsest)
    fam = Family(spec.family, tuple(dims), tuple(measures), profile(spec), tuple(amount_levels), detail)
    _FAMILIES[spec.family] = (fam, members)
    return fam


# --------------------------------------------------------------------------- universe


@dataclass(frozen=True)
class Universe:
    """The distinct cells of one (seed, app, family, data_scale), in draw order."""

    codes: np.ndarray  # int32 [n_cells, n_dims]; -1 blank; age dims: days before the cell's day
    weight: np.ndarray  # float64 [n_cells]: mean 1 over the draw
    ident: np.ndarray  # uint64 [n_cells]: stable per cell (its draw index), seeds its daily values
    per_cell: float  # expected users per unit weight per day (before the app's size and rhythm)

    @property
    def n(self) -> int:
        return len(self.weight)


def app_factor(seed: int, app_id: str) -> float:
    """An app's size relative to an average app: shared by every family (one world per app)."""
    return 0.5 + u("app", seed, app_id)


def uses_report(seed: int, app_id: str, spec: ReportSpec) -> bool:
    """An app uses ~70 % of frameworks; the other framework reports are privacy-empty."""
    return spec.category is not Category.FRAMEWORK_USAGE or u("uses", seed, app_id, spec.name) >= 0.3


def _draw(
    fam: Family, stream: int, counter: np.ndarray, which: Sequence[int], codes: np.ndarray, weight: np.ndarray
) -> None:
    """Draw dimensions ``which`` for rows ``counter`` (in place): a counter-based stream per
    dimension, so a longer draw extends a shorter one; parents are drawn before children."""
    for j in which:
        dim = fam.dims[j]
        x = unit(mix(counter + np.uint64(key("draw", stream, j))))
        parent = codes[:, dim.parent] if dim.parent is not None else np.zeros(len(counter), np.int32) - 1
        group = dim.group_of[parent + 1] if dim.parent is not None else np.zeros(len(counter), np.int64)
        for g, (cdf, sup, ratio) in enumerate(zip(dim.cdfs, dim.supports, dim.ratios, strict=True)):
            rows = np.nonzero(group == g)[0]
            pick = np.minimum(cdf.searchsorted(x[rows], side="right"), len(cdf) - 1)
            codes[rows, j] = sup[pick]
            weight[rows] *= ratio[pick]


#: A Standard cell splits into 1 .. this many Detailed cells (Source Info, Campaign, Page Title).
_MAX_VARIANTS = 4


def _row_hash(codes: np.ndarray) -> np.ndarray:
    """One 64-bit hash per row of codes (distinct rows collide with probability ~n^2 / 2^64)."""
    h = np.zeros(len(codes), np.uint64)
    for j in range(codes.shape[1]):
        h = mix(h ^ codes[:, j].astype(np.int64).astype(np.uint64))
    return h


def build_universe(seed: int, app_id: str, fam: Family, data_scale: float) -> Universe:
    """The first ``n`` distinct cells of the family's draw stream (a larger scale extends a smaller one)."""
    factor = app_factor(seed, app_id)
    n = int(round(fam.profile.cells * factor * data_scale))
    per_cell = fam.profile.users / fam.profile.cells if fam.dims else fam.profile.users
    stream = key("universe", seed, app_id, fam.name)
    if n <= 0 or not fam.dims:
        k = 0 if n <= 0 else 1
        return Universe(
            np.zeros((k, len(fam.dims)), np.int32), np.ones(k), np.arange(k, dtype=np.uint64), per_cell
        )
    coarse = [j for j in range(len(fam.dims)) if j not in fam.detail]
    if fam.detail:  # Standard cells first, each split into Detailed variants below
        n = max(1, int(round(n / 2.0)))
    m, distinct = int(n * 1.3) + 16, 0
    for _ in range(8):  # widen the draw until enough distinct cells, or the space is exhausted
        codes = np.full((m, len(fam.dims)), -1, np.int32)
        weight = np.ones(m)
        _draw(fam, stream, np.arange(m, dtype=np.uint64), coarse, codes, weight)
        _, first = np.unique(_row_hash(codes), return_index=True)
        if len(first) >= n or len(first) < distinct * 1.1:
            break
        distinct = len(first)
        m *= 2
    first = np.sort(first)[:n]  # draw order: a larger n keeps every smaller n's cells
    codes, weight = codes[first], weight[first]
    ident = first.astype(np.uint64) * np.uint64(_MAX_VARIANTS)
    if fam.detail:
        # variant v of Standard cell i: detail dimensions drawn from counter i * _MAX_VARIANTS + v;
        # the Standard cell's weight is shared by its variants (its users are split, not added)
        k = 1 + np.floor(_MAX_VARIANTS * unit(mix(ident ^ np.uint64(key("variants", stream))))).astype(
            np.int64
        )
        parent = np.repeat(np.arange(len(first)), k)
        v = np.arange(len(parent)) - np.repeat(np.cumsum(k) - k, k)
        ident = ident[parent] + v.astype(np.uint64)
        codes, weight = codes[parent].copy(), weight[parent] / k[parent]
        _draw(fam, stream, ident, fam.detail, codes, weight)
        # variants that drew the same detail values are one cell: keep the first
        _, keep = np.unique(_row_hash(codes), return_index=True)
        keep = np.sort(keep)
        lost = np.bincount(parent, minlength=len(first)) - np.bincount(parent[keep], minlength=len(first))
        codes, ident = codes[keep], ident[keep]
        weight = weight[keep] * (k / (k - lost))[parent[keep]]
    # a cell's own popularity, independent of its values (mean 1, log-normal): a long tail of
    # rare cells that appear on some days only, and are published in weekly/monthly rows
    h = mix(ident ^ np.uint64(key("popularity", stream)))
    z = np.sqrt(-2.0 * np.log1p(-unit(h))) * np.cos(2 * np.pi * unit(mix(h)))
    popularity = np.exp(_SPREAD * z - _SPREAD**2 / 2)
    return Universe(codes, weight * popularity, ident, per_cell)


# --------------------------------------------------------------------------- one day


def rhythm(day: date) -> float:
    """The world's daily activity: weekends ~15 % busier, slow growth (shared by every family)."""
    weekend = 1.15 if day.weekday() >= 5 else 1.0
    return weekend * math.exp((day - date(2024, 1, 1)).days * 0.0004)


@dataclass(frozen=True)
class Cells:
    """Cells with at least one user on one day: users and every family measure (final values)."""

    codes: np.ndarray  # int32 [n, dims]; age dims already absolute (day ordinal since 1970), -1 blank
    users: np.ndarray  # int64
    measures: np.ndarray  # int64 [n, n_measures] (amounts in cents; levels as values)


def day_cells(seed: int, app_id: str, fam: Family, universe: Universe, day: date) -> Cells:
    """The family's world on ``day``: a pure function of (seed, app, family, day, cell)."""
    factor = app_factor(seed, app_id)
    dkey = np.uint64(key("day", seed, app_id, fam.name, day.isoformat()))
    h = mix(universe.ident ^ dkey)
    lam = universe.per_cell * universe.weight * factor * rhythm(day)
    users = np.floor(lam * (0.5 + unit(h)) + unit(mix(h ^ _GOLD))).astype(np.int64)
    live = users > 0
    users, h = users[live], h[live]
    codes = universe.codes[live].copy()
    ordinal = (day - _EPOCH).days
    for j, dim in enumerate(fam.dims):
        if dim.kind == "age":
            col = codes[:, j]
            codes[:, j] = np.where(col >= 0, ordinal - dim.sign * col, -1)
    out = np.zeros((len(users), len(fam.measures)), np.int64)
    first_count: np.ndarray | None = None
    n_unique = 0
    for k, (name, role) in enumerate(fam.measures):
        r = unit(mix(h + np.uint64(key("measure", k))))
        if role == "unique":
            out[:, k] = users if n_unique == 0 else np.floor(users * (0.6 + 0.4 * r)).astype(np.int64)
            n_unique += 1
        elif role == "count":
            lo, hi = fam.profile.rates.get(name, (1.0, 1.6))
            jitter = unit(mix(h ^ np.uint64(k + 1)))
            if hi <= 1.0 and first_count is not None:  # a share of the first count (cancellations, opt-ins)
                out[:, k] = np.floor(first_count * (lo + (hi - lo) * r) + jitter).astype(np.int64)
            else:
                extra = users * (lo - 1.0 + (hi - lo) * r)
                out[:, k] = users + np.floor(extra + jitter).astype(np.int64)
            if first_count is None:
                first_count = out[:, k]
        elif role == "duration":
            base = first_count if first_count is not None else users
            out[:, k] = base * (20 + np.floor(580 * r).astype(np.int64))
        elif role == "amount":
            # sales = count x a price per cell (0.99 .. 9.99); proceeds = sales less Apple's 15 or 30 %
            base = first_count if first_count is not None else users
            price = unit(mix(h ^ np.uint64(key("price"))))
            sales = base * (99 + np.floor(900 * price).astype(np.int64))
            if "proceeds" in name.casefold():
                out[:, k] = sales * np.where(price < 0.5, 70, 85) // 100
            else:
                out[:, k] = sales
        elif fam.amount_levels[k]:  # a rate (amount, in cents): 0.01 .. 0.99
            out[:, k] = 1 + np.floor(98 * r).astype(np.int64)
        else:  # level: a per-cell value, averaged (weighted by users) over periods
            out[:, k] = 10 + np.floor(990 * r).astype(np.int64)
    return Cells(codes, users, out)


# --------------------------------------------------------------------------- aggregation


@dataclass(frozen=True)
class Rows:
    """A report's rows for one Date (a day or a period), before privacy: final values."""

    codes: np.ndarray  # int32 [n, report dims] (age dims absolute ordinals; -1 blank)
    users: np.ndarray  # int64: distinct users behind the row
    measures: np.ndarray  # int64 [n, report measures]
    published: np.ndarray  # bool: passes the privacy rule

    @property
    def n(self) -> int:
        return len(self.users)


def publishable(users: np.ndarray) -> np.ndarray:
    """Apple's threshold, applied to the first (80 %) version a row is published in."""
    return users * PUBLISH_PERCENT // 100 >= MIN_USERS


def _union(maxes: np.ndarray, sums: np.ndarray, share: float) -> np.ndarray:
    return maxes + np.floor(share * (sums - maxes) + 0.5).astype(np.int64)


def _radices(cells: Sequence[Cells], dims: list[int]) -> tuple[np.ndarray, np.ndarray] | None:
    """(low, radix) per dimension so every key of these days packs into one int64, or None."""
    lo = np.zeros(len(dims), np.int64)
    radix = np.ones(len(dims), np.int64)
    total = 1
    for j, d in enumerate(dims):
        cols = [c.codes[:, d] for c in cells if len(c.users)]
        low = min((int(c.min()) for c in cols), default=0)
        high = max((int(c.max()) for c in cols), default=0)
        lo[j], radix[j] = low, high - low + 1
        total *= high - low + 1
    return (lo, radix) if total < 1 << 62 else None


def _packed(codes: np.ndarray, dims: list[int], lo: np.ndarray, radix: np.ndarray) -> np.ndarray:
    out = np.zeros(len(codes), np.int64)
    for j, d in enumerate(dims):
        out *= radix[j]
        out += codes[:, d] - lo[j]
    return out


def _unpacked(packed: np.ndarray, lo: np.ndarray, radix: np.ndarray) -> np.ndarray:
    out = np.zeros((len(packed), len(radix)), np.int32)
    rest = packed.copy()
    for j in range(len(radix) - 1, -1, -1):
        out[:, j] = rest % radix[j] + lo[j]
        rest //= radix[j]
    return out


def _sorted_groups(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(order, starts) grouping equal values of a 1-D key, sorted."""
    order = np.argsort(key, kind="stable")
    if not len(key):
        return order, np.zeros(0, np.int64)
    sk = key[order]
    change = np.ones(len(key), bool)
    change[1:] = sk[1:] != sk[:-1]
    return order, np.nonzero(change)[0]


def project(fam: Family, spec: ReportSpec, days: Sequence[Cells]) -> Rows:
    """Project each day's cells onto the report's dimensions, then aggregate the days.

    Within a day users and every additive or unique measure add up (each user is in exactly
    one cell). Across days additive measures add up; users and unique counts take
    ``max + union * (sum - max)``; levels are users-weighted means.
    """
    dims = [fam.index(c) for c in _world_columns(spec)]
    roles = dict(fam.measures)
    midx = [next(k for k, (n, _) in enumerate(fam.measures) if n == m) for m in spec.measures]
    packing = _radices(days, dims)
    if packing is not None:  # the common case: each key packs into one int64
        lo, radix = packing
        day_keys = [_packed(c.codes, dims, lo, radix) for c in days]
        return _aggregate(fam, spec, days, day_keys, midx, roles, lambda k: _unpacked(k, lo, radix))
    # very many dimensions: number the distinct keys instead
    lengths = [len(c.users) for c in days]
    every = np.concatenate([c.codes[:, dims] for c in days]) if days else np.zeros((0, len(dims)), np.int32)
    uniq, inverse = np.unique(every, axis=0, return_inverse=True)
    day_keys = np.split(inverse.reshape(-1).astype(np.int64), np.cumsum(lengths)[:-1])
    return _aggregate(fam, spec, days, day_keys, midx, roles, lambda k: uniq[k].astype(np.int32))


def _aggregate(
    fam: Family,
    spec: ReportSpec,
    days: Sequence[Cells],
    day_keys: Sequence[np.ndarray],
    midx: list[int],
    roles: dict[str, str],
    unpack: Callable[[np.ndarray], np.ndarray],
) -> Rows:
    """:func:`project` on 1-D int64 keys (one per cell and day, order-preserving for packed keys)."""
    levels = [k for k, m in enumerate(spec.measures) if roles[m] == "level"]
    keys, users_l, meas_l = [], [], []
    for cells, key in zip(days, day_keys, strict=True):
        order, starts = _sorted_groups(key)
        su = cells.users[order]
        vals = cells.measures[:, midx][order]
        if levels:
            vals[:, levels] *= su[:, None]  # users-weighted, divided after the last sum
        if len(starts):
            keys.append(key[order[starts]])
            users_l.append(np.add.reduceat(su, starts))
            meas_l.append(np.add.reduceat(vals, starts, axis=0))
    if not keys:
        z = np.zeros(0, np.int64)
        n_dims = len(_world_columns(spec))
        return Rows(np.zeros((0, n_dims), np.int32), z, np.zeros((0, len(midx)), np.int64), z.astype(bool))
    key, users_d, meas_d = np.concatenate(keys), np.concatenate(users_l), np.concatenate(meas_l)
    if len(keys) == 1:
        users, meas, weights = users_d, meas_d, users_d
    else:
        order, starts = _sorted_groups(key)
        key, users_d, meas_d = key[order[starts]], users_d[order], meas_d[order]
        share = fam.profile.union
        weights = np.add.reduceat(users_d, starts)
        users = _union(np.maximum.reduceat(users_d, starts), weights, share)
        meas = np.add.reduceat(meas_d, starts, axis=0)
        for k, m in enumerate(spec.measures):
            if roles[m] == "unique":
                meas[:, k] = _union(np.maximum.reduceat(meas_d[:, k], starts), meas[:, k], share)
    for k in levels:
        meas[:, k] = meas[:, k] // np.maximum(weights, 1)
    return Rows(unpack(key), users, meas, publishable(users))
