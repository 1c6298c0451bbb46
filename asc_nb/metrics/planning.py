"""Planning a metrics question: which report and granularity answer each metric, checked honestly.

:func:`plan` runs named stages, each small enough to read on its own:

1. :func:`_question` — parse and check the arguments (metrics, apps, by, window, filters);
2. :func:`_by_family` — the asked metrics plus ratio parts, grouped by report family;
3. :func:`_choose_report` — per family one report that has every column the question needs and,
   first choice, is **published at the asked granularity** (a weekly question reads Apple's
   WEEKLY rows, even when only the Detailed level has them); a daily roll-up only when no report
   of the family is published at that granularity, and then a :class:`DailyRollupWarning`;
4. :func:`_check_unique` — a unique count coarser than its report's grain is refused (or, with
   ``approx=True``, marked an upper bound);
5. :func:`_ratio_bounds` — a ratio over a bound is a bound itself.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from asc_nb import registry
from asc_nb.errors import DailyRollupWarning, MetricError, NonAdditiveMetricError
from asc_nb.models import Granularity, iso_date

from .catalog import DERIVED, METRICS, family_reports

#: ``load(report_name, granularity, app_ids, start, end, columns) -> DataFrame`` — the rows of one
#: report (latest vintage per date) for those apps, with at least ``date``, ``app_apple_identifier``
#: and ``columns`` (snake_case) when the report has them.
Loader = Callable[[str, str, Sequence[str], "dt.date | None", "dt.date | None", Sequence[str]], "Any"]

#: columns that never make two rows of one app different measurements (the app's name follows its id)
_NOT_GRAIN = frozenset({"app_name", "app_apple_identifier"})


@dataclass(frozen=True)
class Fetch:
    """One report load: every metric of the question that comes from this report and granularity."""

    report: str
    granularity: Granularity
    columns: tuple[str, ...]
    metrics: tuple[str, ...]
    #: daily rows summed to ``MetricPlan.granularity`` (no report of the family is published at that granularity)
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


# ----------------------------------------------------------------------------- small helpers


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
    return tuple(
        f.column
        for f in schema.fields  # identifiers too: a Content Apple Identifier splits rows
        if f.column not in _NOT_GRAIN and f.column != "date" and f.kind in ("dimension", "date", "identifier")
    )


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


# ----------------------------------------------------------------------------- stage 1: the question


@dataclass(frozen=True)
class _Question:
    apps: tuple[str, ...]
    asked: tuple[str, ...]
    by: tuple[str, ...]
    group_cols: tuple[str, ...]
    keys: tuple[str, ...]
    granularity: Granularity
    start: dt.date | None
    end: dt.date | None
    filters: dict[str, tuple[str, ...]]
    approx: bool


def _question(
    app_ids: Any,
    metrics: Any,
    by: Any,
    start: Any,
    end: Any,
    granularity: Any,
    filters: Mapping[str, Any] | None,
    approx: bool,
) -> _Question:
    """Parse and check the arguments; every mistake is a :class:`MetricError` that says what to fix."""
    apps = tuple(dict.fromkeys(str(a) for a in _names(app_ids, "app_ids")))
    asked = _names(metrics, "metrics")
    derived = [m for m in asked if m in DERIVED]
    if derived:
        raise MetricError(
            f"{', '.join(map(repr, derived))} {'is' if len(derived) == 1 else 'are'} computed by "
            f"{'; '.join(DERIVED[m][2] for m in derived)} (cohorts and rolling windows of devices "
            f"come with bounds), not by metrics()"
        )
    unknown = [m for m in asked if m not in METRICS]
    if unknown:
        raise MetricError(
            f"Unknown metric(s) {', '.join(map(repr, unknown))}; asc_nb.metric_catalog() lists "
            f"them: {', '.join(METRICS)}"
        )
    by_t = () if by is None else tuple(dict.fromkeys(_names(by, "by") if by else ()))
    first, last = _day(start, "start"), _day(end, "end")
    if first and last and last < first:
        raise MetricError(f"end ({last}) is before start ({first})")
    filt: dict[str, tuple[str, ...]] = {}
    for col, vals in (filters or {}).items():
        vs = (vals,) if isinstance(vals, str) else tuple(vals)
        if not vs:
            raise MetricError(f"filters[{col!r}] is empty: give at least one value, or leave the column out")
        filt[str(col)] = tuple(str(v) for v in vs)
    group_cols = tuple(c for c in by_t if c not in ("date", "app_id"))
    keys = tuple(
        (["app_id"] if (len(apps) > 1 or "app_id" in by_t) else [])
        + (["date"] if "date" in by_t else [])
        + list(group_cols)
    )
    return _Question(
        apps,
        tuple(dict.fromkeys(asked)),
        by_t,
        group_cols,
        keys,
        _granularity(granularity),
        first,
        last,
        filt,
        approx,
    )


# ----------------------------------------------------------------------------- stage 2: families


def _by_family(base: Sequence[str]) -> dict[str, list[str]]:
    """The non-ratio metrics of the question, grouped by report family (in question order)."""
    families: dict[str, list[str]] = {}
    for name in base:
        m = METRICS[name]
        if m.kind != "ratio":
            assert m.family
            families.setdefault(m.family, []).append(name)
    return families


# ----------------------------------------------------------------------------- stage 3: the report


@dataclass(frozen=True)
class _Choice:
    schema: Any
    load_g: Granularity
    rollup: bool
    #: why the source is what it is, when that is not the obvious report (shown in attrs["sources"])
    note: str = ""


def _published(schema: Any, g: Granularity) -> bool:
    return g in tuple(Granularity.parse(x) for x in schema.granularities)


def _needed_columns(names: Sequence[str], q: _Question) -> set[str]:
    need = set(q.group_cols) | set(q.filters)
    for n in names:
        need |= METRICS[n].filter_columns
    return need


def _no_report_has(names: Sequence[str], reports: Sequence[str], need: set[str], q: _Question) -> MetricError:
    s0 = registry.get(reports[-1])
    missing = sorted(need - _columns(s0))
    what = "broken down by" if [c for c in missing if c in q.group_cols] else "filtered on"
    return MetricError(
        f"{', '.join(names)} cannot be {what} {', '.join(missing)}: "
        f"{' / '.join(reports)} {'has' if len(reports) == 1 else 'have'} no such column. "
        f"Its columns: {', '.join(sorted(_columns(s0) - _NOT_GRAIN))}; ask these metrics separately "
        f"or drop that breakdown/filter."
    )


def _daily_rollup(family: str, names: Sequence[str], fits: Sequence[Any], g: Granularity) -> _Choice:
    """No report of the family is published at ``g``: sum daily rows, and say so loudly."""
    daily = [s for s in fits if _published(s, Granularity.DAILY)]
    if not daily:
        have = sorted({Granularity.parse(x).value for s in fits for x in s.granularities})
        raise MetricError(
            f"{' / '.join(s.name for s in fits)} {'is' if len(fits) == 1 else 'are'} published only "
            f"{', '.join(have)}; ask granularity={have[0]!r}"
        )
    chosen = daily[0]
    warnings.warn(
        DailyRollupWarning(
            f"{', '.join(names)} at {g.value}: no report of {family} with the needed columns is published "
            f"{g.value}, so {chosen.name} DAILY rows are summed per {g.value.lower()[:-2]}. Daily rows lose more "
            f"to Apple's privacy thresholds than {g.value} rows would, so the sums can be lower than Apple's own "
            f"{g.value.lower()} numbers."
        ),
        stacklevel=5,
    )
    return _Choice(chosen, Granularity.DAILY, True)


def _choose_report(family: str, names: Sequence[str], q: _Question) -> _Choice:
    """One report of ``family`` with every needed column, published at the asked granularity if any is."""
    reports = family_reports(family)
    undocumented = [r for r in reports if not registry.get(r).fields]
    if undocumented:
        raise MetricError(
            f"{', '.join(names)} need(s) the columns of {' / '.join(undocumented)}, which the report registry "
            f"does not describe yet (asc_nb.describe_report shows no fields): the metric cannot be computed "
            f"without guessing Apple's columns"
        )
    need = _needed_columns(names, q)
    fits = [registry.get(r) for r in reports if need <= _columns(registry.get(r))]
    if not fits:
        raise _no_report_has(names, reports, need, q)
    published = [s for s in fits if _published(s, q.granularity)]
    if not published:
        return _daily_rollup(family, names, fits, q.granularity)
    chosen = published[0]
    # e.g. App Downloads: Apple publishes WEEKLY/MONTHLY only in the Detailed report
    note = "" if chosen is fits[0] else f" ({fits[0].name} is not published {q.granularity.value})"
    return _Choice(chosen, q.granularity, False, note)


# ----------------------------------------------------------------------------- stage 4: unique counts


def _check_unique(name: str, choice: _Choice, q: _Question) -> str | None:
    """None when ``name`` is exact at the question's grain, else "upper bound" (approx) or raise."""
    m = METRICS[name]
    if m.kind != "unique":
        return None
    schema = choice.schema
    covered = set(q.by) | {c for c, v in q.filters.items() if len(v) == 1} | m.fixed_columns
    missing = [c for c in _grain(schema) if c not in covered]
    reasons = []
    if "date" not in q.by:
        reasons.append("across dates (by has no 'date')")
    if missing:
        reasons.append("across " + ", ".join(missing))
    if choice.rollup:
        reasons.append(
            f"across the days of each {q.granularity.value.lower()[:-2]} ({schema.name} has no "
            f"{q.granularity.value} instances)"
        )
    if not reasons:
        return None
    if not q.approx:
        have = ", ".join(x.value if isinstance(x, Granularity) else str(x) for x in schema.granularities)
        exact_by = ("date", *_grain(schema))
        alternatives = ""
        if m.any_of and any(c in {c for alt in m.any_of for c, _ in alt} for c in missing):
            alternatives = (
                f" {name} adds rows of different {', '.join(sorted(m.filter_columns - m.fixed_columns))} "
                f"values, so it is never exact from the reports."
            )
        raise NonAdditiveMetricError(
            f"{name} is a unique count ({m.measure} of {schema.name}): Apple counts each device once per row, "
            f"so summing rows {' and '.join(reasons)} counts a device again for every row it is in. "
            f"It is exact only at the report's own grain: by={exact_by!r} at a granularity "
            f"{schema.name} is published in ({have}), "
            f"or filter each of {', '.join(missing) or 'those columns'} to one value.{alternatives} "
            f"Pass approx=True to get the sum of rows as an upper bound "
            f"(named in df.attrs['approximate'])."
        )
    return "upper bound"


def _fetch(choice: _Choice, names: Sequence[str], q: _Question) -> Fetch:
    cols = {"date", "app_apple_identifier", *q.group_cols, *q.filters}
    for n in names:
        m = METRICS[n]
        cols |= m.filter_columns
        if m.measure:
            cols.add(m.measure)
    schema = choice.schema
    return Fetch(
        schema.name,
        choice.load_g,
        tuple(sorted(cols & _columns(schema) | {"date"})),
        tuple(names),
        choice.rollup,
    )


# ----------------------------------------------------------------------------- stage 5: ratios


def _ratio_bounds(base: Sequence[str], bounds: dict[str, str], sources: dict[str, str]) -> None:
    """A ratio over an upper-bound denominator is a lower bound, and so on; sources name the parts."""
    for name in base:
        m = METRICS[name]
        if m.kind != "ratio":
            continue
        assert m.numerator and m.denominator
        nb, db = bounds.get(m.numerator), bounds.get(m.denominator)
        if nb and db:
            bounds[name] = "bound"
        elif db == "upper bound":
            bounds[name] = "lower bound"
        elif nb:
            bounds[name] = "upper bound"
        sources[name] = f"{m.numerator} / {m.denominator}"


def plan(
    app_ids: str | Iterable[str],
    metrics: str | Iterable[str],
    *,
    by: str | Iterable[str] = ("date",),
    start: Any = None,
    end: Any = None,
    granularity: Granularity | str = "DAILY",
    filters: Mapping[str, Any] | None = None,
    approx: bool = False,
) -> MetricPlan:
    """Decide which reports to load (once each) and check the question can be answered honestly.

    Raises :class:`MetricError` for an unknown metric or a breakdown/filter column a metric's report
    lacks, and :class:`NonAdditiveMetricError` for a unique count asked at a coarser grain than its
    report's own (unless ``approx=True``). Warns :class:`DailyRollupWarning` when a week or month
    has to be summed from daily rows.
    """
    q = _question(app_ids, metrics, by, start, end, granularity, filters, approx)
    base = _expand(q.asked)
    fetches: list[Fetch] = []
    bounds: dict[str, str] = {}
    sources: dict[str, str] = {}
    for family, names in _by_family(base).items():
        choice = _choose_report(family, names, q)
        for n in names:
            src = (
                f"{choice.schema.name} {choice.load_g.value}"
                + (f" summed to {q.granularity.value}" if choice.rollup else "")
                + choice.note
            )
            bound = _check_unique(n, choice, q)
            if bound:
                bounds[n] = bound
                src += " (sum of unique counts: upper bound)"
            sources[n] = src
        fetches.append(_fetch(choice, names, q))
    _ratio_bounds(base, bounds, sources)
    return MetricPlan(
        metrics=q.asked,
        app_ids=q.apps,
        by=q.by,
        keys=q.keys,
        granularity=q.granularity,
        start=q.start,
        end=q.end,
        filters=tuple(q.filters.items()),
        fetches=tuple(fetches),
        approximate={k: v for k, v in bounds.items() if k in base},
        sources=sources,
    )
