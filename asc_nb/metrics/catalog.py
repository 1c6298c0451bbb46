"""Which App Analytics metrics exist: where their rows are, what they sum, whether sums are allowed.

A metric names a report *family* — the title of Apple's report page, as the registry records it
(``ReportSchema.family``) — never a list of report names: the reports of a family, Standard
before Detailed, come from :mod:`asc_nb.registry`, so a family is declared once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

from asc_nb import registry

Kind = Literal["count", "unique", "amount", "ratio"]
#: ``((column, accepted values), ...)`` — every clause must hold (values compared case-insensitively)
Clauses = tuple[tuple[str, tuple[str, ...]], ...]

# ----------------------------------------------------------------------------- Apple's pages

_RPT = "https://developer.apple.com/documentation/analytics-reports/"
SRC_DISCOVERY = _RPT + "app-store-discovery-and-engagement"
SRC_DOWNLOADS = _RPT + "app-download"
SRC_INSTALLS = _RPT + "app-installs"
SRC_SESSIONS = _RPT + "app-sessions"
SRC_CRASHES = _RPT + "app-crashes"
SRC_PURCHASES = _RPT + "app-store-purchase"
SRC_HELP = "https://developer.apple.com/help/app-store-connect/reference/app-metrics"
SRC_RATES = "https://developer.apple.com/help/app-store-connect/reference/performance-metrics"
SRC_MEASURING = "https://developer.apple.com/app-store/measuring-app-performance/"

# report families (Apple's page titles, as in the registry)
DISCOVERY = "App Store Discovery and Engagement"
DOWNLOADS = "App Store Downloads"
INSTALLS = "App Store Installations and Deletions"
SESSIONS = "App Sessions"
CRASHES = "App Crashes"
PURCHASES = "App Store Purchases"

_LEVEL_ORDER = {"Standard": 0, None: 1, "Detailed": 2}


def family_reports(family: str) -> tuple[str, ...]:
    """The API report names of a registry family, preferred first (Standard, unlevelled, Detailed)."""
    members = [r for r in registry.reports() if r.family == family]
    if not members:
        raise KeyError(f"the report registry has no family {family!r}")
    return tuple(r.name for r in sorted(members, key=lambda r: _LEVEL_ORDER[r.level]))


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
    where: Clauses = ()
    numerator: str | None = None
    denominator: str | None = None
    #: rows matching ANY of these clause sets (each an AND), on top of ``where``; () = no alternatives
    any_of: tuple[Clauses, ...] = ()

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
        return family_reports(self.family)

    @property
    def filter_columns(self) -> set[str]:
        """Every column a row filter of this metric reads."""
        return {c for c, _ in self.where} | {c for alt in self.any_of for c, _ in alt}

    @property
    def fixed_columns(self) -> set[str]:
        """Columns this metric's rows hold one value of (a filter to one value counts as grouped)."""
        fixed = {c for c, v in self.where if len(v) == 1}
        if self.any_of:
            first = {(c, v) for c, v in self.any_of[0] if len(v) == 1}
            fixed |= {c for c, v in first if all((c, v) in set(alt) for alt in self.any_of[1:])}
        return fixed

    @property
    def expression(self) -> str:
        if self.kind == "ratio":
            return f"{self.numerator} / {self.denominator}"

        def clause(c: str, v: tuple[str, ...]) -> str:
            return f"{c} == {v[0]!r}" if len(v) == 1 else f"{c} in {list(v)!r}"

        parts = [clause(c, v) for c, v in self.where]
        if self.any_of:
            alts = [" and ".join(clause(c, v) for c, v in alt) for alt in self.any_of]
            parts.append("(" + " or ".join(f"({a})" if " and " in a else a for a in alts) + ")")
        cond = " and ".join(parts)
        return f"sum({self.measure})" + (f" where {cond}" if cond else "")


def _m(
    name: str, kind: Kind, family: str | None, unit: str, definition: str, source: str, **kw: Any
) -> Metric:
    return Metric(name, kind, family, unit, " ".join(definition.split()), source, **kw)


_IMPRESSION: Clauses = (("event", ("Impression",)),)
_PAGE_VIEW: Clauses = (("event", ("Page view",)), ("page_type", ("Product page",)))
#: App Store Connect's Impressions: shown in a list **or** on the product page
_SEEN = (_IMPRESSION, _PAGE_VIEW)
_DOWNLOAD: Clauses = (("download_type", ("First-time download", "Redownload")),)

#: every metric, by name (definitions paraphrase Apple's pages named in ``source``)
METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        _m(
            "impressions",
            "count",
            DISCOVERY,
            "impressions",
            """App Store Connect's Impressions: how many times the app was seen on the App Store — in lists
       (search results, browsing, Today/Games/Apps tabs) and on its own product page; repeat views count
       again. Discovery and Engagement rows whose Event is Impression plus those whose Event is Page view
       on Page Type Product page (Apple's Impression event does not include page views, App Store Connect's
       Impressions metric does).""",
            SRC_HELP,
            measure="counts",
            any_of=_SEEN,
        ),
        _m(
            "impressions_unique",
            "unique",
            DISCOVERY,
            "devices",
            """App Store Connect's unique impressions: distinct devices that saw the app in a list or on its
       product page — the denominator of its conversion rate. The reports count a device once per row and
       a device that saw both a list and the page is in two rows, so this is never exact from the reports:
       approx=True gives the sum of the rows' unique counts, an upper bound.""",
            SRC_RATES,
            measure="unique_counts",
            any_of=_SEEN,
        ),
        _m(
            "impression_events",
            "count",
            DISCOVERY,
            "impressions",
            """Apple's Impression event alone: times the app was shown in a list (search results, browsing…),
       product page views not included. Discovery and Engagement rows whose Event is Impression.""",
            SRC_DISCOVERY,
            measure="counts",
            where=_IMPRESSION,
        ),
        _m(
            "impression_events_unique",
            "unique",
            DISCOVERY,
            "devices",
            """Distinct devices with an Impression event (product page views not included); a unique count,
       not additive across rows or days.""",
            SRC_DISCOVERY,
            measure="unique_counts",
            where=_IMPRESSION,
        ),
        _m(
            "product_page_views",
            "count",
            DISCOVERY,
            "page views",
            """How many times the app's product page was viewed: Discovery and Engagement rows with Event
       'Page view' on Page Type 'Product page' (in-app event pages and store sheets are other page types).""",
            SRC_DISCOVERY,
            measure="counts",
            where=_PAGE_VIEW,
        ),
        _m(
            "product_page_views_unique",
            "unique",
            DISCOVERY,
            "devices",
            """How many distinct devices viewed the product page; a unique count, not additive across rows.""",
            SRC_DISCOVERY,
            measure="unique_counts",
            where=_PAGE_VIEW,
        ),
        _m(
            "first_time_downloads",
            "count",
            DOWNLOADS,
            "downloads",
            """Downloads by an Apple Account that had never downloaded the app before (Download Type
       'First-time download').""",
            SRC_DOWNLOADS,
            measure="counts",
            where=(("download_type", ("First-time download",)),),
        ),
        _m(
            "redownloads",
            "count",
            DOWNLOADS,
            "downloads",
            """Downloads by an account that had downloaded the app before, on the same or another device
       (Download Type 'Redownload').""",
            SRC_DOWNLOADS,
            measure="counts",
            where=(("download_type", ("Redownload",)),),
        ),
        _m(
            "total_downloads",
            "count",
            DOWNLOADS,
            "downloads",
            """First-time downloads plus redownloads — Apple's 'Total Downloads', the numerator of its conversion
       rate; Apple says it can include pre-orders (here: the download rows whatever their Pre-Order flag).
       Updates and restores are not downloads in this sense.""",
            SRC_MEASURING,
            measure="counts",
            where=_DOWNLOAD,
        ),
        _m(
            "product_page_downloads",
            "count",
            DOWNLOADS,
            "downloads",
            """Total downloads that started on the app's product page (Download Type first-time or redownload,
       Page Type 'Product page') — the numerator of the product page conversion rate.""",
            SRC_RATES,
            measure="counts",
            where=(*_DOWNLOAD, ("page_type", ("Product page",))),
        ),
        _m(
            "updates",
            "count",
            DOWNLOADS,
            "updates",
            """App updates, whether started by the person or automatic (Download Type 'Manual update' or
       'Auto-update').""",
            SRC_DOWNLOADS,
            measure="counts",
            where=(("download_type", ("Manual update", "Auto-update")),),
        ),
        _m(
            "restores",
            "count",
            DOWNLOADS,
            "downloads",
            """Downloads that put the app back while restoring a device from a backup (Download Type
       'Restore').""",
            SRC_DOWNLOADS,
            measure="counts",
            where=(("download_type", ("Restore",)),),
        ),
        _m(
            "conversion_rate",
            "ratio",
            None,
            "fraction",
            """Total downloads divided by unique impressions (devices that saw the app in a list or on its
       product page), as App Store Connect computes conversion (a fraction, 0-1; it can exceed 1 where
       downloads happen without an impression). Its denominator is never exact from the reports, so the
       rate is a lower bound (approx=True).""",
            SRC_RATES,
            numerator="total_downloads",
            denominator="impressions_unique",
        ),
        _m(
            "product_page_conversion_rate",
            "ratio",
            None,
            "fraction",
            """Total downloads that came from the product page divided by unique product page views (a
       fraction). Exact where its denominator is (the Discovery report's own grain).""",
            SRC_RATES,
            numerator="product_page_downloads",
            denominator="product_page_views_unique",
        ),
        _m(
            "installations",
            "count",
            INSTALLS,
            "installations",
            """Completed installations of the app, including reinstalls and installs on other devices of the same
       account (Installation and Deletion rows with Event 'Install'); from people who share data with
       developers.""",
            SRC_HELP,
            measure="counts",
            where=(("event", ("Install",)),),
        ),
        _m(
            "deletions",
            "count",
            INSTALLS,
            "deletions",
            """How many times the app was deleted from a device (Installation and Deletion rows with Event
       'Delete'); from people who share data with developers.""",
            SRC_INSTALLS,
            measure="counts",
            where=(("event", ("Delete",)),),
        ),
        _m(
            "sessions",
            "count",
            SESSIONS,
            "sessions",
            """Times the app was used for at least two seconds; coming back from the background starts a new
       session. From people who share data with developers.""",
            SRC_HELP,
            measure="sessions",
        ),
        _m(
            "session_duration",
            "count",
            SESSIONS,
            "seconds",
            """Total time spent in sessions, in seconds (the report's Total Session Duration).""",
            SRC_SESSIONS,
            measure="total_session_duration",
        ),
        _m(
            "active_devices",
            "unique",
            SESSIONS,
            "devices",
            """Devices with at least one session in the period. A unique count: a device active on two days, or
       in two rows, is one device, so rows and days may not be added.""",
            SRC_HELP,
            measure="unique_devices",
        ),
        _m(
            "sessions_per_active_device",
            "ratio",
            None,
            "sessions per device",
            """Sessions divided by active devices over the same rows and period (not a fraction).""",
            SRC_RATES,
            numerator="sessions",
            denominator="active_devices",
        ),
        _m(
            "crashes",
            "count",
            CRASHES,
            "crashes",
            """How many times the app crashed, from people who share diagnostics with developers.""",
            SRC_CRASHES,
            measure="crashes",
        ),
        _m(
            "crash_rate",
            "ratio",
            None,
            "crashes per session",
            """Crashes divided by sessions over the same period and app (a fraction of sessions). The two come
       from different reports and different opt-ins (diagnostics vs. analytics sharing), so group only by
       columns both reports have (date, app_version, device, platform_version).""",
            SRC_RATES,
            numerator="crashes",
            denominator="sessions",
        ),
        _m(
            "purchases",
            "count",
            PURCHASES,
            "purchases",
            """In-app purchases and paid downloads bought on the App Store (the Purchases report's count);
       restored purchases are not counted.""",
            SRC_HELP,
            measure="purchases",
        ),
        _m(
            "sales",
            "amount",
            PURCHASES,
            "USD",
            """What customers were billed, in US dollars (the Purchases report's Sales in USD); not what the
       developer receives.""",
            SRC_HELP,
            measure="sales_in_usd",
        ),
        _m(
            "proceeds",
            "amount",
            PURCHASES,
            "USD",
            """What the developer is estimated to receive after Apple's commission and taxes, in US dollars
       (Proceeds in USD).""",
            SRC_HELP,
            measure="proceeds_in_usd",
        ),
        _m(
            "paying_users",
            "unique",
            PURCHASES,
            "users",
            """Distinct accounts that paid; a unique count, not additive across rows or days.""",
            SRC_HELP,
            measure="paying_users",
        ),
        _m(
            "sales_per_paying_user",
            "ratio",
            None,
            "USD per user",
            """Sales divided by paying users over the same rows and period.""",
            SRC_RATES,
            numerator="sales",
            denominator="paying_users",
        ),
        _m(
            "proceeds_per_paying_user",
            "ratio",
            None,
            "USD per user",
            """Proceeds divided by paying users over the same rows and period.""",
            SRC_RATES,
            numerator="proceeds",
            denominator="paying_users",
        ),
    )
}

#: metrics computed by their own function (cohorts, rolling windows), listed in the catalog too
DERIVED: dict[str, tuple[str, str, str, str, str]] = {
    # name: (reports, definition, expression, unit, source)
    "retention": (
        "App Sessions Standard",
        "Share of the devices that downloaded the app on a day (and used it that day) that are active X "
        "days later (X up to 30). From App Sessions rows by App Download Date, which Apple fills only up "
        "to 30 days back; the device counts are sums of unique counts over rows, so the rate comes with "
        "bounds (rate_low, rate_high).",
        "asc_nb.metrics.retention(load, app, start=, end=, days=(1, 7, 28))",
        "fraction",
        SRC_RATES,
    ),
    "active_last_30_days": (
        "App Sessions Standard",
        "Devices with at least one session in the 30 days up to a date. Not exact from daily rows (a "
        "device active on two days is in both): bounded below by the largest row of each device type and "
        "above by the sum of the 30 days' rows.",
        "asc_nb.metrics.active_last_30_days(load, app, start=, end=)",
        "devices",
        SRC_HELP,
    ),
}


def metric_catalog() -> pd.DataFrame:
    """One row per metric: ``name, reports, definition, expression, additive, unit, source``."""
    rows = [
        {
            "name": m.name,
            "reports": ", ".join(m.reports),
            "definition": m.definition,
            "expression": m.expression,
            "additive": m.additive,
            "unit": m.unit,
            "source": m.source,
        }
        for m in METRICS.values()
    ]
    rows += [
        {
            "name": name,
            "reports": reps,
            "definition": d,
            "expression": e,
            "additive": False,
            "unit": u,
            "source": s,
        }
        for name, (reps, d, e, u, s) in DERIVED.items()
    ]
    df = pd.DataFrame(
        rows, columns=["name", "reports", "definition", "expression", "additive", "unit", "source"]
    )
    df["additive"] = df["additive"].astype("boolean")
    for c in ("name", "reports", "definition", "expression", "unit", "source"):
        df[c] = df[c].astype("string")
    return df
