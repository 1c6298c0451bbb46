"""client.metrics against the sandbox, each metric checked against a hand computation from raw
report frames (client.fetch), including a date the sandbox restates after a few more days.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from asc_nb import metrics as M
from asc_nb import registry
from asc_nb.client import Client
from asc_nb.errors import NonAdditiveMetricError
from asc_nb.models import SETTLE_DAYS, Granularity
from asc_nb.sandbox import Sandbox

START, END = "2026-02-16", "2026-02-27"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    sb = Sandbox(seed=0, history_days=40)
    client = Client(sandbox=sb, cache_dir=tmp_path_factory.mktemp("metrics-cache"))
    app = str(client.apps()["id"].iloc[0])
    yield sb, client, app
    client.close()


def raw(
    client: Client, app: str, report: str, granularity="DAILY", start=START, end=END, **kw
) -> pd.DataFrame:
    req = client.report_requests(app)["id"].iloc[0]
    return client.fetch(req, report, granularity, start, end, progress=False, **kw)


def rows_where(df: pd.DataFrame, where) -> pd.DataFrame:
    for col, values in where:
        df = df[df[col].astype("string").str.casefold().isin([v.casefold() for v in values]).fillna(False)]
    return df


def is_(df: pd.DataFrame, col: str, value: str) -> pd.Series:
    return df[col].astype("string").str.casefold().eq(value.casefold()).fillna(False).astype(bool)


def seen(df: pd.DataFrame) -> pd.DataFrame:
    """App Store Connect's impressions, by hand: Impression rows plus product page views."""
    return df[
        is_(df, "event", "Impression")
        | (is_(df, "event", "Page view") & is_(df, "page_type", "Product page"))
    ]


def hand(df: pd.DataFrame, metric: str) -> pd.Series:
    """The metric per date, computed here with plain pandas from the report's raw rows."""
    m = M.METRICS[metric]
    sel = seen(df) if metric in ("impressions", "impressions_unique") else rows_where(df, m.where)
    out = sel.groupby("date")[m.measure].sum(min_count=1).dropna()
    return out.astype("float64" if m.kind == "amount" else "int64")


ADDITIVE = [
    "impressions",
    "product_page_views",
    "first_time_downloads",
    "redownloads",
    "total_downloads",
    "updates",
    "restores",
    "sessions",
    "session_duration",
    "crashes",
    "installations",
    "deletions",
    "purchases",
    "sales",
    "proceeds",
]


@pytest.mark.parametrize("metric", ADDITIVE)
def test_additive_metric_by_date_equals_hand_sum(world, metric):
    sb, client, app = world
    m = M.METRICS[metric]
    report = m.reports[0]
    if not registry.get(report).fields:
        pytest.skip(f"the registry does not describe {report}'s columns yet")
    frame = raw(client, app, report)
    missing = ({m.measure} | m.filter_columns) - set(frame.columns)
    if missing:
        pytest.skip(f"the sandbox does not serve {report}'s documented columns {sorted(missing)} yet")
    expected = hand(frame, metric)
    if expected.empty:
        pytest.skip(f"the sandbox serves no {metric} rows for {report} yet")
    got = client.metrics([app], [metric], start=START, end=END)
    assert str(got[metric].dtype) == ("Float64" if m.kind == "amount" else "Int64")
    series = got.set_index("date")[metric].dropna().astype(expected.dtype)
    pd.testing.assert_series_equal(series, expected, check_names=False, check_index_type=False)
    assert got.attrs["sources"][metric] == f"{report} DAILY"


@pytest.mark.parametrize(
    "metric", ["impression_events_unique", "product_page_views_unique", "active_devices", "paying_users"]
)
def test_unique_metric_at_report_grain_equals_the_raw_rows(world, metric):
    sb, client, app = world
    m = M.METRICS[metric]
    report = m.reports[0]
    schema = registry.get(report)
    grain = [
        f.column
        for f in schema.fields
        if f.kind in ("dimension", "date", "identifier")
        and f.column not in ("date", "app_name", "app_apple_identifier")
    ]
    by = ["date", *[c for c in grain if c not in {c for c, v in m.where if len(v) == 1}]]
    got = client.metrics([app], [metric], by=by, start=START, end=END)
    assert got.attrs["approximate"] == {}
    sel = rows_where(raw(client, app, report), m.where)
    expected = sel[m.measure].dropna().astype("int64").sort_values().tolist()
    assert got[metric].dropna().astype("int64").sort_values().tolist() == expected
    with pytest.raises(NonAdditiveMetricError):
        client.metrics([app], [metric], start=START, end=END)


def test_conversion_rate_is_total_downloads_over_summed_unique_impressions_marked_as_a_bound(world):
    sb, client, app = world
    got = client.metrics(
        [app], ["conversion_rate", "total_downloads", "impressions_unique"], start=START, end=END, approx=True
    )
    assert got.attrs["approximate"] == {"conversion_rate": "lower bound", "impressions_unique": "upper bound"}
    downloads = hand(raw(client, app, "App Downloads Standard"), "total_downloads")
    unique = hand(raw(client, app, "App Store Discovery and Engagement Standard"), "impressions_unique")
    expected = (downloads / unique).dropna()
    series = got.set_index("date")["conversion_rate"].dropna().astype("float64")
    pd.testing.assert_series_equal(
        series, expected.astype("float64"), check_names=False, check_index_type=False
    )
    assert ((series > 0) & (series < 5)).all()


def test_breakdown_and_filter_match_the_raw_rows(world):
    sb, client, app = world
    df = raw(client, app, "App Store Discovery and Engagement Standard")
    imp = seen(df)
    by_territory = client.metrics([app], ["impressions"], by=("territory",), start=START, end=END)
    expected = imp.groupby("territory")["counts"].sum(min_count=1).dropna().astype("int64")
    got = by_territory.set_index("territory")["impressions"].dropna().astype("int64")
    pd.testing.assert_series_equal(
        got.sort_index(), expected.sort_index(), check_names=False, check_index_type=False
    )
    top = expected.idxmax()
    only = client.metrics([app], ["impressions"], by=(), start=START, end=END, filters={"territory": [top]})
    assert int(only["impressions"].iloc[0]) == int(expected[top])


def test_restated_date_follows_the_latest_vintage(tmp_path):
    sb = Sandbox(seed=3, history_days=40)
    with Client(sandbox=sb, cache_dir=tmp_path / "c") as client:
        app = str(client.apps()["id"].iloc[0])
        last = (sb.now.date() - dt.timedelta(days=1)).isoformat()  # published once, not final yet
        first = (sb.now.date() - dt.timedelta(days=3)).isoformat()
        before = client.metrics([app], ["sessions"], start=first, end=last).set_index("date")["sessions"]
        sb.advance(days=3)
        after = client.metrics([app], ["sessions"], start=first, end=last).set_index("date")["sessions"]
        raw_final = raw(client, app, "App Sessions Standard", start=first, end=last)
        every_vintage = raw(client, app, "App Sessions Standard", start=first, end=last, vintages=True)
        day = pd.Timestamp(last)
        assert int(after[day]) == int(hand(raw_final, "sessions")[day])
        assert int(after[day]) > int(before[day])  # the early vintage was a partial count
        assert int(after[day]) < int(every_vintage.groupby("date")["sessions"].sum()[day])  # never summed


def test_weekly_unique_devices_come_from_weekly_instances(world):
    sb, client, app = world
    report = "App Sessions Standard"
    schema = registry.get(report)
    grain = [
        f.column
        for f in schema.fields
        if f.kind in ("dimension", "date") and f.column not in ("date", "app_name")
    ]
    start, end = "2026-02-09", "2026-02-15"
    got = client.metrics(
        [app], ["active_devices", "sessions"], by=("date", *grain), granularity="WEEKLY", start=start, end=end
    )
    assert got.attrs["sources"]["active_devices"] == f"{report} WEEKLY"
    weekly = raw(client, app, report, "WEEKLY", start, end)
    assert len(weekly) and set(weekly["date"]) == {pd.Timestamp(start)}
    assert sorted(got["active_devices"].dropna().astype("int64")) == sorted(
        weekly["unique_devices"].dropna().astype("int64")
    )
    daily = raw(client, app, report, "DAILY", start, end)
    daily_sum = int(daily["unique_devices"].sum())
    assert int(got["active_devices"].sum()) != daily_sum  # not seven daily counts added up
    with pytest.raises(NonAdditiveMetricError, match="WEEKLY"):
        client.metrics([app], ["active_devices"], granularity="WEEKLY", start=start, end=end)


def test_canonical_question_makes_exactly_the_plans_minimum_calls(tmp_path):
    """Three metrics from three reports, one app, two weeks: one request lookup, one fetch per report."""
    metrics = ["impressions", "total_downloads", "sessions"]
    start, end = "2026-02-09", "2026-02-22"
    plan = M.plan(["1827342876"], metrics, start=start, end=end)
    assert len(plan.fetches) == 3

    counting = Sandbox(seed=0, history_days=40)  # a twin world, to count what the plan needs
    with Client(sandbox=counting, cache_dir=tmp_path / "count") as c:
        app = str(c.apps()["id"].iloc[0])
        assert app == "1827342876"
        req = c.report_requests(app)["id"].iloc[0]
        n, segments = {}, 0
        window = (start, (dt.date.fromisoformat(end) + dt.timedelta(days=SETTLE_DAYS[Granularity.DAILY])))
        for f in plan.fetches:
            report = c.reports(req, name=f.report)["id"].iloc[0]
            inst = c.instances(report, "DAILY", processing_date=(window[0], window[1].isoformat()))
            n[(app, f.report)] = len(inst)
            segments += sum(len(c.segments(i)) for i in inst["id"])

    sb = Sandbox(seed=0, history_days=40)
    with Client(sandbox=sb, cache_dir=tmp_path / "run") as client:
        before = len(sb.calls)
        df = client.metrics([app], metrics, start=start, end=end)
        calls = sb.calls[before:]
    api = [c for c in calls if c[1] == "api"]
    downloads = [c for c in calls if c[1] == "download"]
    assert len(api) == plan.min_api_calls(n), "\n".join(c[2] for c in api)
    assert len(downloads) == segments
    assert len(df) == 14 and df[metrics].notna().all().all()


def test_metrics_over_both_transports_equal_the_hand_sum(make_client):
    """The same answer in-process and over the sandbox's real loopback HTTP server."""
    client = make_client(Sandbox(seed=0, history_days=40))
    app = str(client.apps()["id"].iloc[0])
    got = client.metrics([app], ["impressions", "sessions"], start="2026-02-16", end="2026-02-19")
    for metric, report in (
        ("impressions", "App Store Discovery and Engagement Standard"),
        ("sessions", "App Sessions Standard"),
    ):
        expected = hand(raw(client, app, report, start="2026-02-16", end="2026-02-19"), metric)
        series = got.set_index("date")[metric].astype("int64")
        pd.testing.assert_series_equal(series, expected, check_names=False, check_index_type=False)


def test_weekly_first_time_downloads_are_apples_weekly_rows_not_thinned_daily_sums(world):
    """App Downloads is published WEEKLY only in its Detailed report: a weekly question reads those rows."""
    sb, client, app = world
    start, end = "2026-02-09", "2026-02-15"
    got = client.metrics([app], ["first_time_downloads"], by=(), granularity="WEEKLY", start=start, end=end)
    assert got.attrs["sources"]["first_time_downloads"].startswith("App Downloads Detailed WEEKLY")
    weekly = raw(client, app, "App Downloads Detailed", "WEEKLY", start, end)
    by_hand = int(weekly.loc[is_(weekly, "download_type", "First-time download"), "counts"].sum())
    daily = raw(client, app, "App Downloads Standard", "DAILY", start, end)
    daily_sum = int(daily.loc[is_(daily, "download_type", "First-time download"), "counts"].sum())
    assert int(got["first_time_downloads"].iloc[0]) == by_hand
    assert daily_sum < by_hand  # the daily rows lose more to privacy thresholds: the old, silent shortfall
    print(
        f"weekly first-time downloads: WEEKLY rows {by_hand}, DAILY sums {daily_sum} "
        f"({1 - daily_sum / by_hand:.1%} low)"
    )


def test_impressions_count_product_page_views_and_impression_events_do_not(world):
    sb, client, app = world
    df = raw(client, app, "App Store Discovery and Engagement Standard")
    got = client.metrics(
        [app], ["impressions", "impression_events", "product_page_views"], by=(), start=START, end=END
    )
    events = int(df.loc[is_(df, "event", "Impression"), "counts"].sum())
    pages = int(df.loc[is_(df, "event", "Page view") & is_(df, "page_type", "Product page"), "counts"].sum())
    assert int(got["impression_events"].iloc[0]) == events
    assert int(got["product_page_views"].iloc[0]) == pages
    assert int(got["impressions"].iloc[0]) == events + pages
    with pytest.raises(NonAdditiveMetricError, match="never exact"):
        client.metrics([app], ["conversion_rate"], start=START, end=END)
