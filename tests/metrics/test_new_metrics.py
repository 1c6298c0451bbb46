"""The metrics Apple defines on its *Performance metrics* help page that the catalog lacked — product page
conversion rate, crash rate, sales/proceeds per paying user, retention, active in last 30 days — each
checked against a computation by hand from the raw rows client.fetch returns."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

import asc_nb
from asc_nb import metrics as M
from asc_nb.client import Client
from asc_nb.errors import MetricError, NonAdditiveMetricError
from asc_nb.sandbox import Sandbox

START, END = "2026-02-16", "2026-02-22"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    sb = Sandbox(seed=0, history_days=60)
    client = Client(sandbox=sb, cache_dir=tmp_path_factory.mktemp("new-metrics"))
    app = str(client.apps()["id"].iloc[0])
    req = client.report_requests(app)["id"].iloc[0]
    yield sb, client, app, req
    client.close()


def raw(client, req, report, start=START, end=END):
    return client.fetch(req, report, "DAILY", start, end, progress=False)


def is_(df, col, value):
    return df[col].astype("string").str.casefold().eq(value.casefold()).fillna(False).astype(bool)


def per_date(df, mask, col):
    return df[mask].groupby("date")[col].sum().astype("float64")


def series(df, name):
    return df.set_index("date")[name].astype("float64")


def test_every_new_metric_is_in_the_catalog_with_apples_page():
    cat = asc_nb.metric_catalog().set_index("name")
    for name in (
        "product_page_conversion_rate",
        "crash_rate",
        "sales_per_paying_user",
        "proceeds_per_paying_user",
        "retention",
        "active_last_30_days",
    ):
        assert cat.loc[name, "source"].startswith(
            "https://developer.apple.com/help/app-store-connect/reference/"
        )
        assert not cat.loc[name, "additive"]


def test_product_page_conversion_rate_is_product_page_downloads_over_unique_page_views(world):
    sb, client, app, req = world
    dl, de = (
        raw(client, req, "App Downloads Standard"),
        raw(client, req, "App Store Discovery and Engagement Standard"),
    )
    got = client.metrics([app], ["product_page_conversion_rate"], start=START, end=END, approx=True)
    assert got.attrs["approximate"] == {"product_page_conversion_rate": "lower bound"}
    downloads = per_date(
        dl,
        (is_(dl, "download_type", "First-time download") | is_(dl, "download_type", "Redownload"))
        & is_(dl, "page_type", "Product page"),
        "counts",
    )
    views = per_date(
        de, is_(de, "event", "Page view") & is_(de, "page_type", "Product page"), "unique_counts"
    )
    pd.testing.assert_series_equal(
        series(got, "product_page_conversion_rate"),
        downloads / views,
        check_names=False,
        check_index_type=False,
    )
    with pytest.raises(NonAdditiveMetricError):
        client.metrics([app], ["product_page_conversion_rate"], start=START, end=END)


def test_crash_rate_is_crashes_over_sessions_of_the_same_days(world):
    sb, client, app, req = world
    cr, se = raw(client, req, "App Crashes"), raw(client, req, "App Sessions Standard")
    got = client.metrics([app], ["crash_rate", "crashes", "sessions"], start=START, end=END)
    assert got.attrs["approximate"] == {}
    expected = cr.groupby("date")["crashes"].sum().astype("float64") / se.groupby("date")["sessions"].sum()
    pd.testing.assert_series_equal(
        series(got, "crash_rate"), expected.astype("float64"), check_names=False, check_index_type=False
    )
    by_version = client.metrics([app], ["crash_rate"], by=("date", "app_version"), start=START, end=END)
    assert by_version["crash_rate"].notna().any()


@pytest.mark.parametrize(
    "name, measure",
    [("sales_per_paying_user", "sales_in_usd"), ("proceeds_per_paying_user", "proceeds_in_usd")],
)
def test_per_paying_user_ratios_are_amount_over_paying_users(world, name, measure):
    sb, client, app, req = world
    pu = raw(client, req, "App Store Purchases Standard")
    got = client.metrics([app], [name], start=START, end=END, approx=True)
    assert got.attrs["approximate"] == {name: "lower bound"}  # paying users summed over rows: an upper bound
    expected = pu.groupby("date")[measure].sum().astype("float64") / pu.groupby("date")["paying_users"].sum()
    pd.testing.assert_series_equal(
        series(got, name), expected.astype("float64"), check_names=False, check_index_type=False
    )


def test_retention_is_the_cohorts_devices_x_days_later_over_day_zero_with_bounds(world):
    sb, client, app, req = world
    day = dt.date(2026, 2, 16)
    rows = raw(client, req, "App Sessions Standard", day, day + dt.timedelta(days=7))
    loader = M.ClientLoader(client)
    got = M.retention(loader, app, start=day, end=day, days=(1, 7))
    cohort = rows[pd.to_datetime(rows["app_download_date"]).dt.date.eq(day).fillna(False)]
    d0 = cohort[cohort["date"].dt.date == day]
    for x in (1, 7):
        dx = cohort[cohort["date"].dt.date == day + dt.timedelta(days=x)]
        row = got[got["day"] == x].iloc[0]
        assert int(row["cohort"]) == int(d0["unique_devices"].sum())
        assert int(row["active"]) == int(dx["unique_devices"].sum())
        assert row["rate"] == pytest.approx(dx["unique_devices"].sum() / d0["unique_devices"].sum())
        low = dx.groupby("device")["unique_devices"].max().sum() / d0["unique_devices"].sum()
        high = dx["unique_devices"].sum() / d0.groupby("device")["unique_devices"].max().sum()
        assert row["rate_low"] == pytest.approx(low) and row["rate_high"] == pytest.approx(high)
        assert row["rate_low"] <= row["rate"] <= row["rate_high"]
    assert int(got["cohort"].iloc[0]) > 0
    with pytest.raises(MetricError, match="30 days"):
        M.retention(loader, app, start=day, end=day, days=(31,))


def test_active_last_30_days_lies_between_its_bounds_computed_by_hand(world):
    sb, client, app, req = world
    day = dt.date(2026, 2, 27)
    rows = raw(client, req, "App Sessions Standard", day - dt.timedelta(days=29), day)
    assert rows["date"].nunique() == 30
    got = M.active_last_30_days(M.ClientLoader(client), app, start=day, end=day).iloc[0]
    assert int(got["days"]) == 30
    assert int(got["high"]) == int(rows["unique_devices"].sum())
    assert int(got["low"]) == int(rows.groupby("device")["unique_devices"].max().sum())
    assert 0 < got["low"] < got["high"]
    busiest_day = rows.groupby("date")["unique_devices"].sum().max()
    assert got["high"] > busiest_day  # 30 days of devices, not one


def test_active_last_30_days_has_no_upper_bound_when_days_are_missing(world):
    sb, client, app, req = world
    day = dt.date(2026, 2, 20)  # its window starts before the oldest instance Apple still keeps
    with pytest.warns(Warning):
        got = M.active_last_30_days(M.ClientLoader(client), app, start=day, end=day).iloc[0]
    assert int(got["days"]) < 30 and pd.isna(got["high"]) and got["low"] > 0
