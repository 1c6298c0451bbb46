"""The metric computation on frames made by hand: no client, no store, no sandbox.

Every expected number here is written out or computed with plain pandas next to the call,
so a wrong filter, a summed unique count or an averaged ratio shows up as a wrong number.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

import asc_nb
from asc_nb import metrics as M
from asc_nb import registry
from asc_nb.errors import ASCError, MetricError, NonAdditiveMetricError

DE = "App Store Discovery and Engagement Standard"
DL = "App Downloads Standard"
SE = "App Sessions Standard"
CR = "App Crashes"
APP = "1000000001"
APP2 = "1000000002"


def make(report: str, rows: list[dict]) -> pd.DataFrame:
    """Rows of ``report`` with every registry column present (unspecified dimensions get one value)."""
    schema = registry.get(report)
    out = []
    for r in rows:
        row = {}
        for f in schema.fields:
            if f.column in r:
                row[f.column] = r[f.column]
            elif f.column == "app_apple_identifier":
                row[f.column] = int(APP)
            elif f.kind in ("count", "amount"):
                row[f.column] = 1
            elif f.kind == "date":
                row[f.column] = pd.Timestamp("2026-02-01")
            else:
                row[f.column] = "x"
        out.append(row)
    df = pd.DataFrame(out)
    df["date"] = pd.to_datetime(df["date"])
    for f in schema.fields:
        if f.kind in ("count", "amount") and f.column in df:
            df[f.column] = df[f.column].astype("Int64" if f.kind == "count" else "Float64")
    return df


class FakeSource:
    """A loader over in-memory frames keyed by (report, granularity); records every load."""

    def __init__(self, frames: dict[tuple[str, str], pd.DataFrame]):
        self.frames = frames
        self.calls: list[tuple] = []

    def __call__(self, report, granularity, app_ids, start, end, columns):
        self.calls.append((report, granularity, tuple(app_ids), start, end, tuple(columns)))
        df = self.frames[(report, granularity)]
        missing = set(columns) - set(df.columns)
        assert not missing, f"loader asked for columns {missing} the report does not have"
        return df


def de_rows() -> pd.DataFrame:
    d1, d2 = "2026-02-02", "2026-02-03"
    return make(
        DE,
        [
            dict(date=d1, event="Impression", territory="US", counts=100, unique_counts=60),
            dict(date=d1, event="Impression", territory="GB", counts=50, unique_counts=40),
            dict(
                date=d1,
                event="Page view",
                page_type="Product page",
                territory="US",
                counts=30,
                unique_counts=20,
            ),
            dict(
                date=d1,
                event="page VIEW",
                page_type="product page",
                territory="GB",
                counts=5,
                unique_counts=4,
            ),
            dict(
                date=d1,
                event="Page view",
                page_type="In-app event",
                territory="US",
                counts=7,
                unique_counts=7,
            ),
            dict(date=d1, event="Tap", territory="US", counts=9, unique_counts=9),
            dict(date=d2, event="Impression", territory="US", counts=80, unique_counts=50),
            dict(
                date=d2, event="Impression", territory="GB", counts=pd.NA, unique_counts=pd.NA
            ),  # privacy drop
        ],
    )


def dl_rows() -> pd.DataFrame:
    d1, d2 = "2026-02-02", "2026-02-03"
    return make(
        DL,
        [
            dict(date=d1, download_type="First-time download", territory="US", counts=12),
            dict(date=d1, download_type="Redownload", territory="US", counts=3),
            dict(date=d1, download_type="First-time download", territory="GB", counts=4),
            dict(date=d1, download_type="Auto-update", territory="US", counts=40),
            dict(date=d1, download_type="Manual update", territory="US", counts=2),
            dict(date=d1, download_type="Restore", territory="US", counts=1),
            dict(date=d2, download_type="First-time download", territory="US", counts=10),
        ],
    )


def test_catalog_lists_the_required_metrics_with_definitions_and_sources():
    cat = asc_nb.metric_catalog()
    assert list(cat.columns) == ["name", "reports", "definition", "expression", "additive", "unit", "source"]
    required = {
        "impressions",
        "impressions_unique",
        "product_page_views",
        "product_page_views_unique",
        "conversion_rate",
        "first_time_downloads",
        "redownloads",
        "total_downloads",
        "updates",
        "sessions",
        "session_duration",
        "active_devices",
        "crashes",
        "installations",
        "deletions",
        "purchases",
        "sales",
        "proceeds",
        "paying_users",
    }
    assert required <= set(cat["name"])
    assert cat["name"].is_unique
    assert cat["source"].str.startswith("https://developer.apple.com/").all()
    assert (cat["definition"].str.len() > 40).all()
    row = cat.set_index("name")
    assert row.loc["conversion_rate", "expression"] == "total_downloads / impressions_unique"
    assert not row.loc["impressions_unique", "additive"] and row.loc["impressions", "additive"]
    assert not row.loc["active_devices", "additive"] and not row.loc["conversion_rate", "additive"]
    assert row.loc["conversion_rate", "unit"] == "fraction"
    # every report a metric names exists in the registry, and every column it reads is that report's
    for m in M.METRICS.values():
        if m.kind == "ratio":
            assert m.numerator in M.METRICS and m.denominator in M.METRICS
            continue
        for report in m.reports:
            if not registry.get(report).fields:
                continue  # not transcribed into the registry yet: plan() refuses these (tested below)
            cols = {f.column for f in registry.get(report).fields}
            assert m.measure in cols, (m.name, report)
            assert m.filter_columns <= cols, (m.name, report)
            kind = registry.get(report).field(m.measure)
            assert kind.additive is (m.kind != "unique"), (m.name, report, kind.additive)


def test_additive_counts_by_date_match_a_hand_sum():
    de, dl = de_rows(), dl_rows()
    src = FakeSource({(DE, "DAILY"): de, (DL, "DAILY"): dl})
    df = M.metrics(
        src,
        [APP],
        [
            "impressions",
            "product_page_views",
            "first_time_downloads",
            "redownloads",
            "total_downloads",
            "updates",
            "restores",
        ],
    )
    assert list(df.columns) == [
        "date",
        "impressions",
        "product_page_views",
        "first_time_downloads",
        "redownloads",
        "total_downloads",
        "updates",
        "restores",
        "provisional",
    ]
    assert str(df["impressions"].dtype) == "Int64"
    d1 = df.iloc[0]
    assert d1["date"] == pd.Timestamp("2026-02-02")
    assert (
        d1["impressions"] == 150 + 35
    )  # App Store Connect's impressions: list impressions + product page views
    assert d1["product_page_views"] == 35  # case-insensitive values; in-app event pages are not product pages
    assert d1["first_time_downloads"] == 16 and d1["redownloads"] == 3 and d1["total_downloads"] == 19
    assert d1["updates"] == 42 and d1["restores"] == 1
    d2 = df.iloc[1]
    assert d2["impressions"] == 80  # the suppressed row adds nothing, and is not a zero
    assert pd.isna(d2["product_page_views"])  # no rows at all: unknown, not 0
    assert sorted(c[0] for c in src.calls) == [DL, DE]  # one load per report, whatever the metric count


def test_unique_count_by_date_alone_is_refused_and_names_the_exact_grain():
    src = FakeSource({(DE, "DAILY"): de_rows()})
    with pytest.raises(NonAdditiveMetricError) as err:
        M.metrics(src, [APP], ["impressions_unique"])
    msg = str(err.value)
    assert isinstance(err.value, ASCError)
    assert "territory" in msg and "approx=True" in msg and "upper bound" in msg
    assert src.calls == []  # refused before anything is loaded


def test_unique_count_at_the_report_grain_is_exact_and_not_summed():
    de = de_rows()
    grain = ["date"] + [
        f.column
        for f in registry.get(DE).fields
        if f.kind in ("dimension", "date") and f.column not in ("date", "app_name")
    ]
    src = FakeSource({(DE, "DAILY"): de})
    df = M.metrics(src, [APP], ["impression_events_unique"], by=[c for c in grain if c != "event"])
    assert df.attrs["approximate"] == {}
    imp = de[de.event == "Impression"]
    assert sorted(df["impression_events_unique"].dropna().tolist()) == sorted(
        imp.unique_counts.dropna().tolist()
    )
    # App Store Connect's unique impressions add two Event values' rows: a device can be in both, never exact
    with pytest.raises(NonAdditiveMetricError, match="never exact"):
        M.metrics(src, [APP], ["impressions_unique"], by=[c for c in grain if c != "event"])


def test_approx_sums_unique_counts_as_an_upper_bound_and_the_ratio_as_a_lower_bound():
    de, dl = de_rows(), dl_rows()
    src = FakeSource({(DE, "DAILY"): de, (DL, "DAILY"): dl})
    df = M.metrics(src, [APP], ["impressions_unique", "conversion_rate"], approx=True)
    assert df.attrs["approximate"] == {"impressions_unique": "upper bound", "conversion_rate": "lower bound"}
    d1 = df.iloc[0]
    assert d1["impressions_unique"] == 60 + 40 + 20 + 4  # list + product page rows: at least the true devices
    assert d1["conversion_rate"] == pytest.approx(19 / 124)
    assert str(df["conversion_rate"].dtype) == "Float64"


def test_ratio_is_numerator_over_denominator_never_an_average_of_ratios():
    de = make(
        DE,
        [
            dict(date="2026-02-02", event="Impression", territory="US", counts=1, unique_counts=100),
            dict(date="2026-02-02", event="Impression", territory="GB", counts=1, unique_counts=10),
        ],
    )
    dl = make(
        DL,
        [
            dict(date="2026-02-02", download_type="First-time download", territory="US", counts=10),
            dict(date="2026-02-02", download_type="First-time download", territory="GB", counts=10),
        ],
    )
    src = FakeSource({(DE, "DAILY"): de, (DL, "DAILY"): dl})
    df = M.metrics(src, [APP], ["conversion_rate"], approx=True)
    assert df["conversion_rate"].iloc[0] == pytest.approx(20 / 110)  # not (0.1 + 1.0) / 2
    by_t = M.metrics(src, [APP], ["conversion_rate"], by=("date", "territory"), approx=True)
    assert by_t.set_index("territory")["conversion_rate"].to_dict() == pytest.approx({"GB": 1.0, "US": 0.1})


def test_filters_select_rows_case_insensitively_and_a_single_value_counts_as_grouped():
    de = de_rows()
    src = FakeSource({(DE, "DAILY"): de})
    df = M.metrics(src, [APP], ["impressions"], filters={"territory": ["us"]})
    assert df["impressions"].tolist() == [100 + 30, 80]
    grain = [
        f.column
        for f in registry.get(DE).fields
        if f.kind in ("dimension", "date") and f.column not in ("date", "app_name", "territory", "event")
    ]
    df = M.metrics(src, [APP], ["impression_events_unique"], by=("date", *grain), filters={"territory": "GB"})
    assert df.attrs["approximate"] == {}
    assert df["impression_events_unique"].iloc[0] == 40


def test_breakdown_or_filter_the_report_lacks_is_a_clear_error():
    src = FakeSource({})
    with pytest.raises(MetricError, match="territory"):
        M.metrics(src, [APP], ["crashes"], by=("date", "territory"))
    with pytest.raises(MetricError, match="territory"):
        M.metrics(src, [APP], ["crashes"], filters={"territory": ["US"]})
    with pytest.raises(MetricError, match="metric_catalog"):
        M.metrics(src, [APP], ["impresions"])
    with pytest.raises(
        MetricError, match=r"asc_nb\.metrics\.retention\("
    ):  # in the catalog, but its own function
        M.metrics(src, [APP], ["retention"])
    with pytest.raises(ValueError):  # MetricError is a ValueError too
        M.metrics(src, [APP], [])
    assert src.calls == []


def test_several_apps_make_app_id_a_group_key():
    de1 = de_rows()
    de2 = de_rows().assign(app_apple_identifier=int(APP2), counts=lambda d: d.counts * 2)
    src = FakeSource({(DE, "DAILY"): pd.concat([de1, de2], ignore_index=True)})
    df = M.metrics(src, [APP, APP2], ["impressions"])
    assert list(df.columns) == ["app_id", "date", "impressions", "provisional"]
    assert str(df["app_id"].dtype) == "string"
    got = df.set_index(["app_id", "date"])["impressions"]
    assert got[(APP, pd.Timestamp("2026-02-02"))] == 185 and got[(APP2, pd.Timestamp("2026-02-02"))] == 370
    only1 = M.metrics(src, [APP], ["impressions"])  # rows of other apps are never counted
    assert only1["impressions"].tolist() == [185, 80]


def test_weekly_reads_weekly_instances_where_the_report_has_them():
    schema = registry.get(SE)
    assert asc_nb.Granularity.WEEKLY in tuple(asc_nb.Granularity.parse(g) for g in schema.granularities)
    grain = [
        f.column
        for f in schema.fields
        if f.kind in ("dimension", "date") and f.column not in ("date", "app_name")
    ]
    weekly = make(SE, [dict(date="2026-02-02", sessions=70, unique_devices=9)])
    daily = make(SE, [dict(date=f"2026-02-0{d}", sessions=10, unique_devices=3) for d in range(2, 9)])
    src = FakeSource({(SE, "WEEKLY"): weekly, (SE, "DAILY"): daily})
    df = M.metrics(
        src,
        [APP],
        ["sessions", "active_devices"],
        by=("date", *grain),
        granularity="WEEKLY",
        start="2026-02-04",
        end="2026-02-08",
    )
    assert [c[1] for c in src.calls] == ["WEEKLY"]
    assert df["active_devices"].tolist() == [9]  # Apple's weekly unique devices, not 7 x 3
    assert df["date"].tolist() == [pd.Timestamp("2026-02-02")]
    assert df.attrs["sources"]["active_devices"] == f"{SE} WEEKLY"
    with pytest.raises(NonAdditiveMetricError):  # by week alone is still coarser than the report's rows
        M.metrics(src, [APP], ["active_devices"], granularity="WEEKLY")


def test_weekly_downloads_come_from_the_weekly_rows_apple_publishes_not_daily_sums():
    """App Downloads Standard is DAILY only; Apple publishes WEEKLY rows in the Detailed report: use those."""
    dd = "App Downloads Detailed"
    assert "WEEKLY" not in [g.value for g in registry.get(DL).granularities]
    weekly = make(
        dd,
        [
            dict(date="2026-02-02", download_type="Redownload", counts=40),
            dict(date="2026-02-02", download_type="Redownload", territory="GB", counts=5),
        ],
    )
    daily = make(DL, [dict(date=f"2026-02-0{d}", download_type="Redownload", counts=d) for d in range(1, 10)])
    src = FakeSource({(dd, "WEEKLY"): weekly, (DL, "DAILY"): daily})
    df = M.metrics(src, [APP], ["redownloads"], granularity="WEEKLY", start="2026-02-02", end="2026-02-08")
    assert [c[:2] for c in src.calls] == [(dd, "WEEKLY")]  # the daily rows are never read
    assert df["date"].tolist() == [pd.Timestamp("2026-02-02")]
    assert df["redownloads"].tolist() == [45]  # Apple's weekly rows, not sum(range(2, 9)) = 35 daily
    assert df.attrs["sources"]["redownloads"] == f"{dd} WEEKLY ({DL} is not published WEEKLY)"
    assert not df["provisional"].any()  # weekly instances are complete when published


def test_a_family_published_only_daily_is_summed_per_week_with_a_loud_warning():
    from asc_nb.errors import DailyRollupWarning
    from asc_nb.metrics import planning

    q = planning._question([APP], ["sessions"], ("date",), "2026-02-02", "2026-02-08", "WEEKLY", None, False)
    with pytest.warns(DailyRollupWarning, match="privacy"):
        choice = planning._choose_report("App Store Opt-in", [], q)  # App Opt In: DAILY only
    assert choice.rollup and choice.load_g is asc_nb.Granularity.DAILY


def test_plan_loads_each_report_once_and_counts_its_minimum_calls():
    p = M.plan(
        [APP],
        ["impressions", "product_page_views", "total_downloads", "sessions", "crashes"],
        start="2026-02-02",
        end="2026-02-15",
    )
    assert sorted(f.report for f in p.fetches) == sorted([DE, DL, SE, CR])
    n = {(APP, DE): 3, (APP, DL): 2, (APP, SE): 250, (APP, CR): 0}
    # 1 request lookup + per report: 1 report lookup + instance pages + one segment listing per instance
    assert p.min_api_calls(n) == 1 + (1 + 1 + 3) + (1 + 1 + 2) + (1 + 2 + 250) + (1 + 1 + 0)


def test_a_metric_whose_report_the_registry_does_not_describe_is_refused_not_guessed():
    pending = [
        m.name
        for m in M.METRICS.values()
        if m.kind != "ratio" and any(not registry.get(r).fields for r in m.reports)
    ]
    for name in pending:
        with pytest.raises(MetricError, match="registry"):
            M.plan([APP], [name])


def test_caching_loader_serves_covered_questions_and_reloads_wider_ones():
    src = FakeSource({(DE, "DAILY"): de_rows(), (DL, "DAILY"): dl_rows()})
    cache = M.CachingLoader(src, window=(dt.date(2026, 2, 1), dt.date(2026, 2, 3)))
    a = M.metrics(cache, [APP], ["impressions", "total_downloads"], start="2026-02-02", end="2026-02-03")
    b = M.metrics(cache, [APP], ["impressions"], by=("territory",), start="2026-02-02", end="2026-02-02")
    assert cache.loads == 2 and len(src.calls) == 2  # b came from a's load of the same report
    assert src.calls[0][3:5] == (dt.date(2026, 2, 1), dt.date(2026, 2, 3))  # widened to the window
    assert b.set_index("territory")["impressions"].to_dict() == {"GB": 55, "US": 130}  # trimmed to b's dates
    assert a["impressions"].tolist() == [185, 80]
    M.metrics(cache, [APP], ["impressions"], start="2026-01-20", end="2026-02-03")  # wider: fetched again
    assert cache.loads == 3


class DatedSource(FakeSource):
    """A FakeSource that knows its today, as ClientLoader/StoreLoader do."""

    def __init__(self, frames, today):
        super().__init__(frames)
        self.today = today
        self.as_of = None

    def reference_day(self):
        return self.today


def test_provisional_is_counted_back_from_the_sources_today_by_each_reports_window():
    de = de_rows()  # 2026-02-02 and 2026-02-03; Discovery and Engagement is complete within three days
    assert registry.get(DE).complete_after_days == 3
    for today, expected in (
        (dt.date(2026, 2, 5), [False, True]),
        (dt.date(2026, 2, 6), [False, False]),
        (dt.date(2026, 2, 4), [True, True]),
    ):
        df = M.metrics(DatedSource({(DE, "DAILY"): de}, today), [APP], ["impressions"])
        assert df["provisional"].tolist() == expected, today
        assert df.attrs["reference_day"] == today.isoformat() and df.attrs["as_of"] is None
    totals = M.metrics(
        DatedSource({(DE, "DAILY"): de}, dt.date(2026, 2, 5)), [APP], ["impressions"], by=(), end="2026-02-03"
    )
    assert totals["provisional"].tolist() == [True]  # the window's last day is not final yet


def test_as_of_needs_a_loader_that_reads_as_of_that_day():
    src = DatedSource({(DE, "DAILY"): de_rows()}, dt.date(2026, 2, 10))
    with pytest.raises(MetricError, match="same as_of"):
        M.metrics(src, [APP], ["impressions"], as_of="2026-02-04")
    src.as_of = dt.date(2026, 2, 4)
    df = M.metrics(src, [APP], ["impressions"], as_of="2026-02-04")
    assert df.attrs["as_of"] == "2026-02-04" and df["provisional"].tolist() == [True, True]
    with pytest.raises(asc_nb.ConfigError, match="after the source's today"):
        M.metrics(src, [APP], ["impressions"], as_of="2026-02-11")
