"""App Analytics metrics computed from Analytics Reports rows: the numbers, not the files.

Why this package exists: App Store Connect's web App Analytics shows impressions, page views,
downloads, sessions, active devices… Each comes from a particular report, a particular subset
of its rows (an ``Event``, a ``Download Type``) and one of its count columns, and some of those
columns are *unique* counts (devices counted once per row) that must never be summed across
rows. This package knows which, and refuses to over-count.

It imports only :mod:`asc_nb.errors`, :mod:`asc_nb.models` and :mod:`asc_nb.registry`: it is fed
report frames by a *loader* callable ``load(report, granularity, app_ids, start, end, columns)
-> DataFrame`` (a Client, a Store or a test supplies it), so the same computation serves every
source and can be tested on frames made by hand.

Modules, one job each: :mod:`.catalog` (which metrics exist, from which report family),
:mod:`.planning` (:func:`plan`: which report and granularity answer a question, in named stages),
:mod:`.compute` (:func:`compute`: the sums, ratios and the ``provisional`` column),
:mod:`.loaders` (Client, Store, caching), :mod:`.views` (kpi_summary, funnel, top_n) and
:mod:`.cohorts` (retention, active in the last 30 days).

How a question is answered:

1. Each metric belongs to a report *family* (an Apple report page; its Standard/Detailed reports
   come from the registry). Per family one report is used for every metric of the question —
   Standard unless a breakdown or filter needs a Detailed-only column, **or unless only the
   Detailed report is published at the asked granularity** — and one granularity, so each
   (report, granularity) is loaded once.
2. Week/month answers come from WEEKLY/MONTHLY instances whenever a report of the family is
   published at that granularity (Apple's own weekly rows, fewer privacy drops); only otherwise
   are daily rows summed per week/month, with a :class:`~asc_nb.errors.DailyRollupWarning`.
   ``df.attrs["sources"]`` says which.
3. A unique count is exact only at its report's own grain: grouped by every dimension of the
   report (a filter to one value counts as grouped), by ``date``, at a granularity the report is
   published in. Anything coarser raises :class:`~asc_nb.errors.NonAdditiveMetricError`; with
   ``approx=True`` the rows are summed and the result is an upper bound, named in
   ``df.attrs["approximate"]`` (a ratio over it is then a bound too).
4. Ratios are computed from their numerator and denominator at the same grain — never averaged.
5. ``as_of=D`` answers with what was known when Apple's processing date was D; every frame has a
   boolean ``provisional`` column (the row's last day is inside a report's completeness window,
   counted back from ``as_of`` or the source's today) and ``attrs["as_of"]``.

Counts are ``Int64``, amounts ``Float64``, ratios ``Float64`` (fractions for rates). A group
with no reported rows for a metric is ``<NA>`` (not published, or privacy-suppressed), not 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from asc_nb.errors import MetricError, NonAdditiveMetricError
from asc_nb.models import Granularity, period_end, period_start
from asc_nb.models import expected_dates as _expected_dates

from .catalog import DERIVED, METRICS, Kind, Metric, family_reports, metric_catalog
from .cohorts import active_last_30_days, retention
from .compute import compute, provisional_cutoff
from .loaders import CachingLoader, ClientLoader, DatedLoader, StoreLoader, check_as_of
from .planning import Fetch, Loader, MetricPlan, _day, _expand, plan
from .views import FUNNEL_STEPS, funnel, kpi_summary, top_n

__all__ = [
    "METRICS",
    "DERIVED",
    "FAMILIES",
    "Metric",
    "MetricPlan",
    "Fetch",
    "Loader",
    "Kind",
    "metric_catalog",
    "metrics",
    "plan",
    "compute",
    "ClientLoader",
    "CachingLoader",
    "StoreLoader",
    "DatedLoader",
    "kpi_summary",
    "funnel",
    "top_n",
    "retention",
    "active_last_30_days",
    "NonAdditiveMetricError",
    "FUNNEL_STEPS",
]

#: report family (Apple's page title) -> its API report names, preferred first — derived from the
#: registry for the families metrics use (the registry is the one place a family is declared)
FAMILIES: dict[str, tuple[str, ...]] = {
    fam: family_reports(fam) for fam in dict.fromkeys(m.family for m in METRICS.values() if m.family)
}

# kept importable for callers of the single-module version (widgets use _expand and _day)
_ = (MetricError, _day, _expand, _expected_dates, period_start, period_end, provisional_cutoff, check_as_of)


def _reference(load: Loader) -> Any:
    return load.reference_day() if isinstance(load, DatedLoader) else None


def metrics(
    load: Loader,
    app_ids: str | Iterable[str],
    metrics: str | Iterable[str],
    *,
    by: str | Iterable[str] = ("date",),
    start: Any = None,
    end: Any = None,
    granularity: Granularity | str = "DAILY",
    filters: Mapping[str, Any] | None = None,
    approx: bool = False,
    as_of: Any = None,
) -> pd.DataFrame:
    """:func:`plan` + :func:`compute` over any loader (what ``Client.metrics`` / ``Store.metrics`` call).

    ``as_of`` must match the loader's own ``as_of`` (``ClientLoader(client, as_of=D)``): the loader
    reads the vintages, this function only marks the rows. A day after the loader's today is a
    :class:`~asc_nb.errors.ConfigError`.
    """
    day = check_as_of(as_of, _reference(load))
    loader_as_of = getattr(load, "as_of", None)
    if day is not None and loader_as_of != day:
        raise MetricError(
            f"as_of={day.isoformat()} but the loader reads "
            f"{'the latest vintages' if loader_as_of is None else f'as of {loader_as_of}'}: build the "
            f"loader with the same as_of (ClientLoader(client, as_of=...), "
            f"StoreLoader(store, as_of=...))"
        )
    day = day if day is not None else loader_as_of
    p = plan(
        app_ids, metrics, by=by, start=start, end=end, granularity=granularity, filters=filters, approx=approx
    )
    return compute(p, load, as_of=day)
