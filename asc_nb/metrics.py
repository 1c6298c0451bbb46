"""App Analytics metrics computed from Analytics Reports rows: the numbers, not the files.

Why this module exists: App Store Connect's web App Analytics shows impressions, page views,
downloads, sessions, active devices… Each comes from a particular report, a particular subset
of its rows (an ``Event``, a ``Download Type``) and one of its count columns, and some of those
columns are *unique* counts (devices counted once per row) that must never be summed across
rows. This module knows which, and refuses to over-count.

It imports only :mod:`asc_nb.errors`, :mod:`asc_nb.models` and :mod:`asc_nb.registry`: it is fed
report frames by a *loader* callable ``load(report, granularity, app_ids, start, end, columns)
-> DataFrame`` (a Client, a Store or a test supplies it), so the same computation serves every
source and can be tested on frames made by hand.

How a question is answered (:func:`plan` then :func:`compute`):

1. Each metric belongs to a report *family* (Standard/Detailed). Per family one report is used
   for every metric of the question — Standard unless a breakdown or filter needs a
   Detailed-only column — and one granularity, so each (report, granularity) is loaded once.
2. Week/month answers come from WEEKLY/MONTHLY instances when the report is published at that
   granularity (Apple's own weekly rows, fewer privacy drops), else from daily rows summed per
   week/month; ``df.attrs["sources"]`` says which.
3. A unique count is exact only at its report's own grain: grouped by every dimension of the
   report (a filter to one value counts as grouped), by ``date``, at a granularity the report is
   published in. Anything coarser raises :class:`~asc_nb.errors.NonAdditiveMetricError`; with
   ``approx=True`` the rows are summed and the result is an upper bound, named in
   ``df.attrs["approximate"]`` (a ratio over it is then a bound too).
4. Ratios are computed from their numerator and denominator at the same grain — never averaged.

Counts are ``Int64``, amounts ``Float64``, ratios ``Float64`` (fractions for rates). A group
with no reported rows for a metric is ``<NA>`` (not published, or privacy-suppressed), not 0.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd

from asc_nb import registry
from asc_nb.errors import MetricError, MissingDatesWarning, NonAdditiveMetricError
from asc_nb.models import Granularity, iso_date, period_end, period_start
from asc_nb.models import expected_dates as _expected_dates
from asc_nb.protocols import MetricsClient, SyncClient

__all__ = [
    "METRICS",
    "Metric",
    "MetricPlan",
    "Fetch",
    "Loader",
    "metric_catalog",
    "plan",
    "compute",
    "ClientLoader",
    "CachingLoader",
    "StoreLoader",
    "kpi_summary",
    "funnel",
    "top_n",
]

#: ``load(report_name, granularity, app_ids, start, end, columns) -> DataFrame`` — the rows of one
#: report (latest vintage per date) for those apps, with at least ``date``, ``app_apple_identifier``
#: and ``columns`` (snake_case) when the report has them.
Loader = Callable[[str, str, Sequence[str], "dt.date | None", "dt.date | None", Sequence[str]], pd.DataFrame]

Kind = Literal["count", "unique", "amount", "ratio"]

# ----------------------------------------------------------------------------- sources

_RPT = "https://developer.apple.com/documentation/analytics-reports/"
SRC_DISCOVERY = _RPT + "app-store-discovery-and-engagement"
SRC_DOWNLOADS = _RPT + "app-download"
SRC_INSTALLS = _RPT + "app-installs"
SRC_SESSIONS = _RPT + "app-sessions"
SRC_CRASHES = _RPT + "app-crashes"
SRC_PURCHASES = _RPT + "app-store-purchase"
SRC_HELP = "https://developer.apple.com/help/app-store-connect/reference/app-metrics"
SRC_MEASURING = "https://developer.apple.com/app-store/measuring-app-performance/"

#: report family -> API report names, preferred (Standard) first
FAMILIES: dict[str, tuple[str, ...]] = {
    "discovery": ("App Store Discovery and Engagement Standard", "App Store Discovery and Engagement Detailed"),
    "downloads": ("App Downloads Standard", "App Downloads Detailed"),
    "installs": ("App Store Installation and Deletion Standard", "App Store Installation and Deletion Detailed"),
    "sessions": ("App Sessions Standard", "App Sessions Detailed"),
    "crashes": ("App Crashes",),
    "purchases": ("App Store Purchases Standard", "App Store Purchases Detailed"),
}

#: columns that never make two rows of one app different measurements (the app's name follows its id)
_NOT_GRAIN = frozenset({"app_name", "app_apple_identifier"})


@dataclass(frozen=True)
class Metric:
    """One App Analytics metric: where its rows are, what it sums, and whether sums are allowed."""

    name: str
    kind: Kind
    family: str | None
    unit: str
    definition: str
    source: str
    measure: str | None = None
    #: row filter: column -> accepted values (compared case-insensitively, as Apple says values are)
    where: tuple[tuple[str, tuple[str, ...]], ...] = ()
    numerator: str | None = None
    denominator: str | None = None

    @property
    def additive(self) -> bool:
        """True when rows (and days) may be summed: plain counts and amounts; never unique counts or ratios."""
        return self.kind in ("count", "amount")

    @property
    def reports(self) -> tuple[str, ...]:
        if self.kind == "ratio":
            assert self.numerator and self.denominator
            seen: dict[str, None] = {}
            for part in (self.numerator, self.denominator):
                for r in METRICS[part].reports:
                    seen[r] = None
            return tuple(seen)
        assert self.family
        return FAMILIES[self.family]

    @property
    def expression(self) -> str:
        if self.kind == "ratio":
            return f"{self.numerator} / {self.denominator}"
        cond = " and ".join(
            f"{c} == {v[0]!r}" if len(v) == 1 else f"{c} in {list(v)!r}" for c, v in self.where
        )
        return f"sum({self.measure})" + (f" where {cond}" if cond else "")


def _m(name: str, kind: Kind, family: str | None, unit: str, definition: str, source: str, **kw: Any) -> Metric:
    return Metric(name, kind, family, unit, " ".join(definition.split()), source, **kw)


_IMPRESSION = (("event", ("Impression",)),)
_PAGE_VIEW = (("event", ("Page view",)), ("page_type", ("Product page",)))

#: every metric, by name (definitions paraphrase Apple's pages named in ``source``)
METRICS: dict[str, Metric] = {m.name: m for m in (
    _m("impressions", "count", "discovery", "impressions",
       """How many times the app was shown to someone on the App Store (search results, browsing, the product
       page itself…); repeat views by the same device all count. Rows of the Discovery and Engagement report
       whose Event is Impression.""", SRC_DISCOVERY, measure="counts", where=_IMPRESSION),
    _m("impressions_unique", "unique", "discovery", "devices",
       """How many distinct devices saw the app on the App Store. Apple counts a device once per report row,
       so the number may not be added across rows or days.""", SRC_DISCOVERY,
       measure="unique_counts", where=_IMPRESSION),
    _m("product_page_views", "count", "discovery", "page views",
       """How many times the app's product page was viewed: Discovery and Engagement rows with Event
       'Page view' on Page Type 'Product page' (in-app event pages and store sheets are other page types).""",
       SRC_DISCOVERY, measure="counts", where=_PAGE_VIEW),
    _m("product_page_views_unique", "unique", "discovery", "devices",
       """How many distinct devices viewed the product page; a unique count, not additive across rows.""",
       SRC_DISCOVERY, measure="unique_counts", where=_PAGE_VIEW),
    _m("first_time_downloads", "count", "downloads", "downloads",
       """Downloads by an Apple Account that had never downloaded the app before (Download Type
       'First-time download').""", SRC_DOWNLOADS, measure="counts",
       where=(("download_type", ("First-time download",)),)),
    _m("redownloads", "count", "downloads", "downloads",
       """Downloads by an account that had downloaded the app before, on the same or another device
       (Download Type 'Redownload').""", SRC_DOWNLOADS, measure="counts",
       where=(("download_type", ("Redownload",)),)),
    _m("total_downloads", "count", "downloads", "downloads",
       """First-time downloads plus redownloads — Apple's 'Total Downloads', the numerator of its conversion
       rate. Updates and restores are not downloads in this sense.""", SRC_MEASURING, measure="counts",
       where=(("download_type", ("First-time download", "Redownload")),)),
    _m("updates", "count", "downloads", "updates",
       """App updates, whether started by the person or automatic (Download Type 'Manual update' or
       'Auto-update').""", SRC_DOWNLOADS, measure="counts",
       where=(("download_type", ("Manual update", "Auto-update")),)),
    _m("restores", "count", "downloads", "downloads",
       """Downloads that put the app back while restoring a device from a backup (Download Type
       'Restore').""", SRC_DOWNLOADS, measure="counts", where=(("download_type", ("Restore",)),)),
    _m("conversion_rate", "ratio", None, "fraction",
       """Total downloads divided by unique impressions, as Apple computes App Store conversion: the share of
       devices that saw the app and then downloaded it (a fraction, 0-1; it can exceed 1 where downloads
       happen without an impression). Because its denominator is a unique count it is exact only where that
       count is.""", SRC_MEASURING, numerator="total_downloads", denominator="impressions_unique"),
    _m("installations", "count", "installs", "installations",
       """Completed installations of the app, including reinstalls and installs on other devices of the same
       account (Installation and Deletion rows with Event 'Install'); from people who share data with
       developers.""", SRC_HELP, measure="counts", where=(("event", ("Install",)),)),
    _m("deletions", "count", "installs", "deletions",
       """How many times the app was deleted from a device (Installation and Deletion rows with Event
       'Delete'); from people who share data with developers.""", SRC_INSTALLS, measure="counts",
       where=(("event", ("Delete",)),)),
    _m("sessions", "count", "sessions", "sessions",
       """Times the app was used for at least two seconds; coming back from the background starts a new
       session. From people who share data with developers.""", SRC_HELP, measure="sessions"),
    _m("session_duration", "count", "sessions", "seconds",
       """Total time spent in sessions, in seconds (the report's Total Session Duration).""", SRC_SESSIONS,
       measure="total_session_duration"),
    _m("active_devices", "unique", "sessions", "devices",
       """Devices with at least one session in the period. A unique count: a device active on two days, or
       in two rows, is one device, so rows and days may not be added.""", SRC_HELP,
       measure="unique_devices"),
    _m("sessions_per_active_device", "ratio", None, "sessions per device",
       """Sessions divided by active devices over the same rows and period (not a fraction).""", SRC_HELP,
       numerator="sessions", denominator="active_devices"),
    _m("crashes", "count", "crashes", "crashes",
       """How many times the app crashed, from people who share diagnostics with developers.""", SRC_CRASHES,
       measure="crashes"),
    _m("purchases", "count", "purchases", "purchases",
       """In-app purchases and paid downloads bought on the App Store (the Purchases report's count);
       restored purchases are not counted.""", SRC_HELP, measure="purchases"),
    _m("sales", "amount", "purchases", "USD",
       """What customers were billed, in US dollars (the Purchases report's Sales in USD); not what the
       developer receives.""", SRC_HELP, measure="sales_in_usd"),
    _m("proceeds", "amount", "purchases", "USD",
       """What the developer is estimated to receive after Apple's commission and taxes, in US dollars
       (Proceeds in USD).""", SRC_HELP, measure="proceeds_in_usd"),
    _m("paying_users", "unique", "purchases", "users",
       """Distinct accounts that paid; a unique count, not additive across rows or days.""", SRC_HELP,
       measure="paying_users"),
)}


def metric_catalog() -> pd.DataFrame:
    """One row per metric: ``name, reports, definition, expression, additive, unit, source``."""
    rows = [{
        "name": m.name,
        "reports": ", ".join(m.reports),
        "definition": m.definition,
        "expression": m.expression,
        "additive": m.additive,
        "unit": m.unit,
        "source": m.source,
    } for m in METRICS.values()]
    df = pd.DataFrame(rows, columns=["name", "reports", "definition", "expression", "additive", "unit", "source"])
    df["additive"] = df["additive"].astype("boolean")
    for c in ("name", "reports", "definition", "expression", "unit", "source"):
        df[c] = df[c].astype("string")
    return df


# ----------------------------------------------------------------------------- planning


@dataclass(frozen=True)
class Fetch:
    """One report load: every metric of the question that comes from this report and granularity."""

    report: str
    granularity: Granularity
    columns: tuple[str, ...]
    metrics: tuple[str, ...]
    #: daily rows summed to ``MetricPlan.granularity`` (the report is not published at that granularity)
    rollup: bool = False


@dataclass(frozen=True)
class MetricPlan:
    """What :func:`compute` will load and how: the fewest loads that answer the question."""

    metrics: tuple[str, ...]
    app_ids: tuple[str, ...]
    by: tuple[str, ...]
    keys: tuple[str, ...]
    granularity: Granularity
    start: dt.date | None
    end: dt.date | None
    filters: tuple[tuple[str, tuple[str, ...]], ...]
    fetches: tuple[Fetch, ...]
    #: output metric -> "upper bound" / "lower bound" / "bound" (only with approx=True)
    approximate: Mapping[str, str] = field(default_factory=dict)
    #: output metric -> where its numbers come from ("App Sessions Standard WEEKLY", "… DAILY sums")
    sources: Mapping[str, str] = field(default_factory=dict)

    def fetch_for(self, metric: str) -> Fetch:
        for f in self.fetches:
            if metric in f.metrics:
                return f
        raise KeyError(metric)

    def min_api_calls(self, instances: Mapping[tuple[str, str], int], page_size: int = 200) -> int:
        """The fewest App Store Connect API calls that can answer this plan.

        ``instances`` maps (app_id, report) to the number of report instances in the window. Per app:
        one call finds its report request; per (app, report): one finds the report, ``ceil(n /
        page_size)`` (at least one) list its instances and one per instance lists its segments.
        Segment downloads go to another host and are counted apart (one per segment not yet cached).
        """
        total = len(self.app_ids)
        for app in self.app_ids:
            for f in self.fetches:
                n = int(instances[(app, f.report)])
                total += 1 + max(1, -(-n // page_size)) + n
        return total


def _names(values: str | Iterable[str], what: str) -> tuple[str, ...]:
    if isinstance(values, str):
        values = [values]
    out = tuple(str(v) for v in values)
    if not out:
        raise MetricError(f"{what} is empty: name at least one")
    return out


def _expand(metrics: Sequence[str]) -> tuple[str, ...]:
    """The metrics to compute: the asked ones plus the numerators and denominators of ratios."""
    seen: dict[str, None] = {}
    for name in metrics:
        m = METRICS[name]
        if m.kind == "ratio":
            assert m.numerator and m.denominator
            seen.setdefault(m.numerator, None)
            seen.setdefault(m.denominator, None)
        seen.setdefault(name, None)
    return tuple(seen)


def _grain(schema: Any) -> tuple[str, ...]:
    """The columns that tell a report's rows apart besides Date and the app."""
    return tuple(f.column for f in schema.fields  # identifiers too: a Content Apple Identifier splits rows
                 if f.column not in _NOT_GRAIN and f.column != "date" and f.kind in ("dimension", "date", "identifier"))


def _columns(schema: Any) -> set[str]:
    return {f.column for f in schema.fields}


def _day(value: Any, what: str) -> dt.date | None:
    try:
        return None if value is None else iso_date(value, what)
    except ValueError as err:  # the typed error every bad argument of metrics() raises (still a ValueError)
        raise MetricError(str(err)) from None


def _granularity(value: Any) -> Granularity:
    try:
        return Granularity.parse(value, argument="granularity")
    except ValueError as err:
        raise MetricError(str(err)) from None


def plan(app_ids: str | Iterable[str], metrics: str | Iterable[str], *, by: str | Iterable[str] = ("date",),
         start: Any = None, end: Any = None, granularity: Granularity | str = "DAILY",
         filters: Mapping[str, Any] | None = None, approx: bool = False) -> MetricPlan:
    """Decide which reports to load (once each) and check the question can be answered honestly.

    Raises :class:`MetricError` for an unknown metric or a breakdown/filter column a metric's report
    lacks, and :class:`NonAdditiveMetricError` for a unique count asked at a coarser grain than its
    report's own (unless ``approx=True``).
    """
    apps = tuple(dict.fromkeys(str(a) for a in _names(app_ids, "app_ids")))
    asked = _names(metrics, "metrics")
    unknown = [m for m in asked if m not in METRICS]
    if unknown:
        raise MetricError(f"Unknown metric(s) {', '.join(map(repr, unknown))}; asc_nb.metric_catalog() lists "
                          f"them: {', '.join(METRICS)}")
    asked = tuple(dict.fromkeys(asked))
    by_t = () if by is None else tuple(dict.fromkeys(_names(by, "by") if by else ()))
    g = _granularity(granularity)
    first, last = _day(start, "start"), _day(end, "end")
    if first and last and last < first:
        raise MetricError(f"end ({last}) is before start ({first})")
    filt: dict[str, tuple[str, ...]] = {}
    for col, vals in (filters or {}).items():
        vs = (vals,) if isinstance(vals, str) else tuple(vals)
        if not vs:
            raise MetricError(f"filters[{col!r}] is empty: give at least one value, or leave the column out")
        filt[str(col)] = tuple(str(v) for v in vs)
    group_cols = [c for c in by_t if c not in ("date", "app_id")]
    keys = tuple((["app_id"] if (len(apps) > 1 or "app_id" in by_t) else [])
                 + (["date"] if "date" in by_t else []) + group_cols)

    base = _expand(asked)
    families: dict[str, list[str]] = {}
    for name in base:
        m = METRICS[name]
        if m.kind != "ratio":
            assert m.family
            families.setdefault(m.family, []).append(name)

    fetches: list[Fetch] = []
    bounds: dict[str, str] = {}
    sources: dict[str, str] = {}
    for fam, names in families.items():
        need = set(group_cols) | set(filt)
        for n in names:
            need |= {c for c, _ in METRICS[n].where}
        schema = None
        undocumented = [r for r in FAMILIES[fam] if not registry.get(r).fields]
        if undocumented:
            raise MetricError(
                f"{', '.join(names)} need(s) the columns of {' / '.join(undocumented)}, which the report registry "
                f"does not describe yet (asc_nb.describe_report shows no fields): the metric cannot be computed "
                f"without guessing Apple's columns")
        for report in FAMILIES[fam]:
            s = registry.get(report)
            if need <= _columns(s):
                schema = s
                break
        if schema is None:
            s0 = registry.get(FAMILIES[fam][-1])
            missing = sorted(need - _columns(s0))
            lacking_by = [c for c in missing if c in group_cols]
            what = "broken down by" if lacking_by else "filtered on"
            raise MetricError(
                f"{', '.join(names)} cannot be {what} {', '.join(missing)}: "
                f"{' / '.join(FAMILIES[fam])} {'has' if len(FAMILIES[fam]) == 1 else 'have'} no such column. "
                f"Its columns: {', '.join(sorted(_columns(s0) - _NOT_GRAIN))}; ask these metrics separately "
                f"or drop that breakdown/filter.")
        have = tuple(Granularity.parse(x) for x in schema.granularities)
        load_g, rollup = (g, False) if g in have else (Granularity.DAILY, True)
        if rollup and Granularity.DAILY not in have:
            raise MetricError(f"{schema.name} is published only {', '.join(x.value for x in have)}; "
                              f"ask granularity={have[0].value!r}")
        grain = _grain(schema)
        covered = set(by_t) | {c for c, v in filt.items() if len(v) == 1}
        for n in names:
            m = METRICS[n]
            src = f"{schema.name} {load_g.value}" + (f" summed to {g.value}" if rollup else "")
            sources[n] = src
            if m.kind != "unique":
                continue
            here = covered | {c for c, v in m.where if len(v) == 1}
            missing = [c for c in grain if c not in here]
            reasons = []
            if "date" not in by_t:
                reasons.append("across dates (by has no 'date')")
            if missing:
                reasons.append("across " + ", ".join(missing))
            if rollup:
                reasons.append(f"across the days of each {g.value.lower()[:-2]} ({schema.name} has no "
                               f"{g.value} instances)")
            if not reasons:
                continue
            if not approx:
                exact_by = ("date", *grain)
                raise NonAdditiveMetricError(
                    f"{n} is a unique count ({m.measure} of {schema.name}): Apple counts each device once per row, "
                    f"so summing rows {' and '.join(reasons)} counts a device again for every row it is in. "
                    f"It is exact only at the report's own grain: by={exact_by!r} at a granularity "
                    f"{schema.name} is published in ({', '.join(x.value for x in have)}), "
                    f"or filter each of {', '.join(missing) or 'those columns'} to one value. "
                    f"Pass approx=True to get the sum of rows as an upper bound "
                    f"(named in df.attrs['approximate']).")
            bounds[n] = "upper bound"
            sources[n] = src + " (sum of unique counts: upper bound)"
        cols = {"date", "app_apple_identifier", *group_cols, *filt}
        for n in names:
            m = METRICS[n]
            cols |= {c for c, _ in m.where}
            if m.measure:
                cols.add(m.measure)
        fetches.append(Fetch(schema.name, load_g, tuple(sorted(cols & _columns(schema) | {"date"})),
                             tuple(names), rollup))

    for name in base:
        m = METRICS[name]
        if m.kind != "ratio":
            continue
        assert m.numerator and m.denominator
        nb, db = bounds.get(m.numerator), bounds.get(m.denominator)
        if nb or db:
            if nb and db:
                bounds[name] = "bound"
            elif db == "upper bound":
                bounds[name] = "lower bound"
            else:
                bounds[name] = "upper bound"
        sources[name] = f"{m.numerator} / {m.denominator}"

    return MetricPlan(
        metrics=asked, app_ids=apps, by=by_t, keys=keys, granularity=g, start=first, end=last,
        filters=tuple(filt.items()), fetches=tuple(fetches),
        approximate={k: v for k, v in bounds.items() if k in base},
        sources=sources,
    )


# ----------------------------------------------------------------------------- computing


def _match(series: pd.Series, values: tuple[str, ...]) -> pd.Series:
    """Rows whose value is one of ``values``, case-insensitively (Apple: values are not case-sensitive)."""
    wanted = {v.casefold() for v in values}
    text = series.astype("string").str.casefold()
    return text.isin(wanted).fillna(False).astype(bool)


def _prepare(df: pd.DataFrame, f: Fetch, p: MetricPlan) -> pd.DataFrame:
    """Typed, windowed, filtered rows of one load, with ``app_id`` and the period's ``date``."""
    df = df.copy()
    for c in f.columns:
        if c not in df.columns:
            df[c] = pd.Series(pd.NA, index=df.index, dtype="object")
    df["date"] = pd.to_datetime(df["date"]).astype("datetime64[ns]")
    df["app_id"] = df["app_apple_identifier"].astype("Int64").astype("string")
    df = df[df["app_id"].isin(p.app_ids)]
    if f.rollup:
        days = df["date"].dt.date
        df = df.assign(date=pd.to_datetime(days.map(lambda d: period_start(d, p.granularity))).astype(
            "datetime64[ns]"))
    # the window: whole periods that overlap [start, end]
    if p.start is not None:
        df = df[df["date"] >= pd.Timestamp(period_start(p.start, p.granularity))]
    if p.end is not None:
        df = df[df["date"] <= pd.Timestamp(p.end)]
    for col, vals in p.filters:
        df = df[_match(df[col], vals)]
    return df


def _typed(values: pd.Series, kind: Kind) -> pd.Series:
    if kind in ("count", "unique"):
        return values.astype("Int64")
    return values.astype("Float64")


def compute(p: MetricPlan, load: Loader) -> pd.DataFrame:
    """Answer a :class:`MetricPlan` with rows from ``load`` (called once per ``p.fetches`` entry).

    Returns one row per group (``p.keys``) and one column per asked metric; ``attrs`` carry
    ``sources``, ``approximate``, ``granularity`` and ``plan``.
    """
    keys = list(p.keys)
    prepared: dict[tuple[str, Granularity], pd.DataFrame] = {}
    for f in p.fetches:
        lo, hi = p.start, p.end
        if f.rollup:  # whole weeks/months of daily rows
            lo = None if lo is None else period_start(lo, p.granularity)
            hi = None if hi is None else period_end(hi, p.granularity)
        raw = load(f.report, f.granularity.value, list(p.app_ids), lo, hi, list(f.columns))
        prepared[(f.report, f.granularity)] = _prepare(raw, f, p)

    values: dict[str, pd.Series] = {}
    for f in p.fetches:
        df = prepared[(f.report, f.granularity)]
        for name in f.metrics:
            m = METRICS[name]
            rows = df
            for col, vals in m.where:
                rows = rows[_match(rows[col], vals)]
            assert m.measure
            measure = _typed(pd.to_numeric(rows[m.measure], errors="coerce"), m.kind)
            if keys:
                s = measure.groupby([rows[k] for k in keys], dropna=False).sum(min_count=1)
            else:
                s = pd.Series([measure.sum(min_count=1)], index=pd.Index([0], name="_all"))
            values[name] = _typed(s, m.kind)

    out = pd.concat(values, axis=1, join="outer")  # plan() always yields at least one base metric
    for name in _expand(p.metrics):
        m = METRICS[name]
        if m.kind == "ratio":
            assert m.numerator and m.denominator
            num = out[m.numerator].astype("Float64")
            den = out[m.denominator].astype("Float64")
            out[name] = (num / den.where(den != 0)).astype("Float64")
    out = out[list(p.metrics)]
    if keys:
        out = out.reset_index()
        out.columns = [*keys, *p.metrics]
        if "app_id" in out:
            out["app_id"] = out["app_id"].astype("string")
        if "date" in out:
            out["date"] = pd.to_datetime(out["date"]).astype("datetime64[ns]")
        out = out.sort_values(keys, kind="stable", na_position="last").reset_index(drop=True)
    else:
        out = out.reset_index(drop=True)
    for name in p.metrics:
        out[name] = _typed(out[name], METRICS[name].kind)
    out.attrs["granularity"] = p.granularity.value
    out.attrs["sources"] = {k: v for k, v in p.sources.items() if k in p.metrics or k in _expand(p.metrics)}
    out.attrs["approximate"] = {k: v for k, v in p.approximate.items() if k in p.metrics}
    out.attrs["plan"] = p
    return out


def metrics(load: Loader, app_ids: str | Iterable[str], metrics: str | Iterable[str], *,
            by: str | Iterable[str] = ("date",), start: Any = None, end: Any = None,
            granularity: Granularity | str = "DAILY", filters: Mapping[str, Any] | None = None,
            approx: bool = False) -> pd.DataFrame:
    """:func:`plan` + :func:`compute` over any loader (what ``Client.metrics`` / ``Store.metrics`` call)."""
    p = plan(app_ids, metrics, by=by, start=start, end=end, granularity=granularity, filters=filters,
             approx=approx)
    return compute(p, load)


# ----------------------------------------------------------------------------- a Client as a loader


class ClientLoader:
    """A :data:`Loader` over a Client (used duck-typed, never imported: metrics stays below the client).

    Finds each app's report request once (ONGOING preferred, else a ONE_TIME_SNAPSHOT) and fetches
    each report with ``client.fetch`` (latest vintage per date, verified, cached segments reused).
    """

    def __init__(self, client: MetricsClient, *, progress: Any = False) -> None:
        self.client = client
        self.progress = progress
        self._requests: dict[str, str] = {}

    def request_id(self, app_id: str) -> str:
        if app_id not in self._requests:
            reqs = self.client.report_requests(app_id)
            chosen = None
            if len(reqs):
                access = reqs["access_type"].astype(str)
                stopped = reqs.get("stopped_due_to_inactivity", pd.Series(False, index=reqs.index))
                stopped = stopped.astype("boolean").fillna(False).astype(bool)
                for mask in (access.eq("ONGOING") & ~stopped, access.eq("ONGOING"), access.eq("ONE_TIME_SNAPSHOT")):
                    if mask.any():
                        chosen = str(reqs.loc[mask, "id"].iloc[0])
                        break
            if chosen is None:
                raise MetricError(f"App {app_id} has no analytics report request yet: create one with "
                                  f"client.ensure_ongoing({app_id!r}) (Apple needs 1-2 days to produce the first "
                                  f"reports)")
            self._requests[app_id] = chosen
        return self._requests[app_id]

    def __call__(self, report: str, granularity: str, app_ids: Sequence[str], start: dt.date | None,
                 end: dt.date | None, columns: Sequence[str]) -> pd.DataFrame:
        frames = []
        for app in app_ids:
            rid = self.request_id(app)
            df = self.client.fetch(rid, report, granularity, start, end, progress=self.progress)
            frames.append(df)  # every column: a CachingLoader may serve another question from it
        frames = [f for f in frames if len(f.columns)]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(columns))


class CachingLoader:
    """A :data:`Loader` that remembers what it loaded, so several questions share one fetch per report.

    A load is served from memory when an earlier one had the same report, granularity and apps, a
    window covering this one and the columns asked (:func:`compute` trims rows to its own window).
    ``window=(start, end)`` widens every load to that window, so the first question fetches what the
    later ones need. Thread-safe; one instance per batch of questions (a new batch sees new data).
    """

    def __init__(self, inner: Loader, *, window: tuple[dt.date | None, dt.date | None] | None = None) -> None:
        import threading

        self.inner = inner
        self.window = window
        self.loads = 0
        self._frames: dict[tuple[str, str, tuple[str, ...]], tuple[dt.date | None, dt.date | None, pd.DataFrame]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _covers(lo: dt.date | None, hi: dt.date | None, start: dt.date | None, end: dt.date | None) -> bool:
        return (lo is None or (start is not None and lo <= start)) and (hi is None or (end is not None and end <= hi))

    def __call__(self, report: str, granularity: str, app_ids: Sequence[str], start: dt.date | None,
                 end: dt.date | None, columns: Sequence[str]) -> pd.DataFrame:
        key = (report, granularity, tuple(app_ids))
        with self._lock:
            hit = self._frames.get(key)
            if hit is not None and self._covers(hit[0], hit[1], start, end) and set(columns) <= set(hit[2].columns):
                return hit[2]
            lo, hi = start, end
            if self.window is not None:
                wlo, whi = self.window
                lo = None if lo is None or wlo is None else min(lo, wlo)
                hi = None if hi is None or whi is None else max(hi, whi)
            frame = self.inner(report, granularity, app_ids, lo, hi, columns)
            self.loads += 1
            self._frames[key] = (lo, hi, frame)
            return frame


# ----------------------------------------------------------------------------- views over a metrics frame
# Small pure functions the Overview panels use, so the code a panel shows is the code it ran.

FUNNEL_STEPS = ("impressions", "product_page_views", "total_downloads")


def _day_arg(value: Any, what: str) -> dt.date:
    d = _day(value, what)
    if d is None:
        raise MetricError(f"{what} is required")
    return d


def kpi_summary(daily: pd.DataFrame, metrics: Sequence[str], *, start: Any, end: Any) -> pd.DataFrame:
    """Period totals of a by-date metrics frame, with the previous period of the same length.

    ``daily`` is ``metrics(..., by=("date",))`` over at least [start - length, end]. Additive metrics
    are summed over the days; unique counts summed over days are an **upper bound** (a device active
    on two days is one device), and ratios are recomputed from their summed parts (which must be
    columns of ``daily``) — so a ratio over a unique count is a **lower bound**. Returns ``[app_id,]
    metric, value, previous, change, bound, unit`` (``change`` a fraction: 0.1 = +10 %).
    """
    first, last = _day_arg(start, "start"), _day_arg(end, "end")
    if last < first:
        raise MetricError(f"end ({last}) is before start ({first})")
    length = (last - first).days + 1
    prev_first, prev_last = first - dt.timedelta(days=length), first - dt.timedelta(days=1)
    dates = pd.to_datetime(daily["date"]).dt.date if len(daily) else pd.Series([], dtype="object")
    cur = daily[(dates >= first) & (dates <= last)] if len(daily) else daily
    prev = daily[(dates >= prev_first) & (dates <= prev_last)] if len(daily) else daily
    approx = dict(daily.attrs.get("approximate", {}))
    by_app = "app_id" in daily.columns
    apps = list(dict.fromkeys(daily["app_id"].dropna().tolist())) if by_app else [None]

    def total(frame: pd.DataFrame, name: str) -> float | None:
        m = METRICS[name]
        if m.kind == "ratio":
            assert m.numerator and m.denominator
            num, den = total(frame, m.numerator), total(frame, m.denominator)
            return None if num is None or den is None or den == 0 else num / den
        if name not in frame.columns:
            raise MetricError(f"kpi_summary needs a {name!r} column (ask metrics for it)")
        col = frame[name]
        return None if col.isna().all() else float(col.sum())

    rows = []
    for app in apps:
        c = cur[cur["app_id"] == app] if by_app else cur
        p = prev[prev["app_id"] == app] if by_app else prev
        for name in metrics:
            m = METRICS[name]
            value, before = total(c, name), total(p, name)
            bound = approx.get(name, "")
            if m.kind == "unique" and length > 1:
                bound = "upper bound"
            elif m.kind == "ratio" and length > 1:
                den = METRICS[m.denominator or ""]
                num = METRICS[m.numerator or ""]
                if den.kind == "unique" and num.kind != "unique":
                    bound = "lower bound"
                elif num.kind == "unique" and den.kind != "unique":
                    bound = "upper bound"
                elif num.kind == "unique":
                    bound = "bound"
            change = None if value is None or not before else value / before - 1
            row = {"metric": name, "value": value, "previous": before, "change": change, "bound": bound,
                   "unit": m.unit}
            if by_app:
                row = {"app_id": app, **row}
            rows.append(row)
    cols = (["app_id"] if by_app else []) + ["metric", "value", "previous", "change", "bound", "unit"]
    out = pd.DataFrame(rows, columns=cols)
    for c in ("value", "previous", "change"):
        out[c] = pd.array(out[c].tolist(), dtype="Float64")
    for c in ("metric", "bound", "unit") + (("app_id",) if by_app else ()):
        out[c] = out[c].astype("string")
    out.attrs["approximate"] = {str(r["metric"]): str(r["bound"]) for _, r in out.iterrows() if r["bound"]}
    out.attrs["period"] = (first.isoformat(), last.isoformat())
    out.attrs["previous_period"] = (prev_first.isoformat(), prev_last.isoformat())
    return out


def funnel(totals: pd.DataFrame, steps: Sequence[str] = FUNNEL_STEPS) -> pd.DataFrame:
    """The acquisition funnel from a metrics frame: each step's total and its rate from the step before.

    ``totals`` holds one column per step (rows — apps, dates — are summed; steps must be additive).
    Returns ``step, value, of_previous, of_first`` (fractions).
    """
    rows = []
    first = previous = None
    for name in steps:
        m = METRICS[name]
        if not m.additive:
            raise NonAdditiveMetricError(f"{name} is not additive: a funnel step must be a plain count")
        col = totals[name]
        value = None if col.isna().all() else int(col.sum())
        rows.append({
            "step": name,
            "value": value,
            "of_previous": None if value is None or not previous else value / previous,
            "of_first": None if value is None or not first else value / first,
        })
        first = value if first is None else first
        previous = value
    out = pd.DataFrame(rows, columns=["step", "value", "of_previous", "of_first"])
    out["step"] = out["step"].astype("string")
    out["value"] = pd.array(out["value"].tolist(), dtype="Int64")
    for c in ("of_previous", "of_first"):
        out[c] = pd.array(out[c].tolist(), dtype="Float64")
    return out


def top_n(rows: pd.DataFrame, dimension: str, metric: str, n: int = 5, *, other: str = "Other") -> pd.DataFrame:
    """A breakdown: the ``n`` largest values of ``dimension`` by ``metric``, the rest summed as ``other``.

    ``rows`` is ``metrics(..., [metric], by=(dimension,))`` (other keys, such as ``app_id``, are summed
    over). Blank dimension values are shown as ``(blank)``. Returns ``dimension, metric, share``.
    """
    m = METRICS[metric]
    if not m.additive:
        raise NonAdditiveMetricError(f"{metric} is not additive: its rows cannot be summed into 'Other'")
    if n < 1:
        raise MetricError(f"n must be at least 1, got {n}")
    keyed = rows.assign(**{dimension: rows[dimension].astype("string").fillna("(blank)")})
    sums = keyed.groupby(dimension, dropna=False)[metric].sum(min_count=1).dropna()
    order = sorted(range(len(sums)), key=lambda i: (-float(sums.iloc[i]), str(sums.index[i])))
    sums = sums.iloc[order]  # largest first; ties in label order, so the table is stable
    head, rest = sums.iloc[:n], sums.iloc[n:]
    labels = [str(x) for x in head.index]
    values = [int(v) if m.kind != "amount" else float(v) for v in head.to_numpy()]
    if len(rest):
        labels.append(other)
        values.append(int(rest.sum()) if m.kind != "amount" else float(rest.sum()))
    total = sum(values)
    out = pd.DataFrame({dimension: labels, metric: values})
    out[dimension] = out[dimension].astype("string")
    out[metric] = out[metric].astype("Int64" if m.kind != "amount" else "Float64")
    out["share"] = pd.array([v / total if total else None for v in values], dtype="Float64")
    return out


# ----------------------------------------------------------------------------- a Store as a loader


class StoreLoader:
    """A :data:`Loader` over a Store (duck-typed: ``read``/``sync``), optionally filling gaps from a client.

    With ``client``, a (report, granularity, apps, window) whose dates the store lacks is synced
    once (``attempted`` remembers it), then read from the lake; an identical later question is
    answered from the lake alone, with no API call. Without ``client`` the store is only read.
    """

    def __init__(self, store: Any, *, client: SyncClient | None = None, attempted: set[tuple[Any, ...]] | None = None,
                 progress: Any = False) -> None:
        self.store = store
        self.client = client
        self.attempted = attempted if attempted is not None else set()
        self.progress = progress

    def _read(self, report: str, granularity: str, app_ids: Sequence[str], start: dt.date | None,
              end: dt.date | None) -> pd.DataFrame:
        from asc_nb.errors import ReportNotFoundError

        try:
            return self.store.read(report, granularity=granularity, apps=list(app_ids), start=start, end=end)
        except ReportNotFoundError:
            if self.client is None:
                raise
            return pd.DataFrame({"app_id": pd.Series(dtype="string"), "date": pd.Series(dtype="datetime64[ns]")})

    def __call__(self, report: str, granularity: str, app_ids: Sequence[str], start: dt.date | None,
                 end: dt.date | None, columns: Sequence[str]) -> pd.DataFrame:
        g = Granularity.parse(granularity)
        lo = None if start is None else period_start(start, g)  # weekly/monthly rows are dated at the period start
        df = self._read(report, g.value, app_ids, lo, end)
        if self.client is not None and lo is not None and end is not None:
            want = set(_expected_dates(lo, end, g))
            have = pd.to_datetime(df["date"]).dt.date if len(df) else pd.Series([], dtype="object")
            apps_col = df["app_id"].astype("string") if "app_id" in df else pd.Series([], dtype="string")
            missing = [a for a in app_ids if not want <= set(have[apps_col == a])]
            key = (report, g.value, tuple(missing), lo, end)
            if missing and key not in self.attempted:
                self.attempted.add(key)
                self.store.sync(self.client, apps=missing, reports=[report], granularities=[g.value],
                                start=lo, progress=self.progress)
                df = self._read(report, g.value, app_ids, lo, end)
        if lo is not None and end is not None:
            self._warn_gaps(df, report, g, app_ids, lo, end)
        return df

    def _warn_gaps(self, df: pd.DataFrame, report: str, g: Granularity, app_ids: Sequence[str], lo: dt.date,
                   end: dt.date) -> None:
        """Say which dates the lake lacks, as ``client.fetch`` does: a partial answer must not look whole."""
        have = pd.to_datetime(df["date"]).dt.date if len(df) else pd.Series([], dtype="object")
        apps_col = df["app_id"].astype("string") if "app_id" in df else pd.Series([], dtype="string")
        want = _expected_dates(lo, end, g)
        gaps = {a: [d for d in want if d not in set(have[apps_col == a])] for a in app_ids}
        gaps = {a: days for a, days in gaps.items() if days}
        if not gaps:
            return
        days = sorted({d for v in gaps.values() for d in v})
        shown = ", ".join(d.isoformat() for d in days[:10]) + (" …" if len(days) > 10 else "")
        how = ("store.sync(client, reports=[...], granularities=[...]) first, or pass client= to store.metrics"
               if self.client is None else "Apple has not published them, privacy dropped them, or they are older "
               "than the 35-day instance retention and were never synced")
        warnings.warn(MissingDatesWarning(
            f"{report} {g.value}: the store has no rows for {len(days)} date(s) of app(s) "
            f"{', '.join(sorted(gaps))} in {lo}..{end}: {shown} ({how})"), stacklevel=2)
