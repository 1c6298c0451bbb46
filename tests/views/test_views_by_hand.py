"""Each view against a hand computation from raw ``client.fetch`` rows of a sandbox world: exact agreement.

The hand side uses plain pandas on the report rows (no asc_nb.metrics); the view side goes through
``client.metrics``. Counts must agree to the unit, rates to the last bit (same sums, same division).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from asc_nb import metrics as M
from asc_nb import views
from asc_nb.errors import NonAdditiveMetricError

from .conftest import END, START, where

DISCOVERY, DOWNLOADS, SESSIONS = (
    "App Store Discovery and Engagement Standard",
    "App Downloads Standard",
    "App Sessions Standard",
)


def hand_total(raw, app: str, metric: str, start: str = START, end: str = END) -> int:
    if metric == "impressions":  # App Store Connect's Impressions: list impressions plus product page views
        rows = raw(app, DISCOVERY, start, end)
        listed = where(rows, event="Impression")
        page = where(rows, event="Page view", page_type="Product page")
        return int(listed["counts"].sum()) + int(page["counts"].sum())
    if metric == "product_page_views":
        rows = where(raw(app, DISCOVERY, start, end), event="Page view", page_type="Product page")
        return int(rows["counts"].sum())
    if metric == "total_downloads":
        rows = where(raw(app, DOWNLOADS, start, end), download_type=["First-time download", "Redownload"])
        return int(rows["counts"].sum())
    if metric == "sessions":
        return int(raw(app, SESSIONS, start, end)["sessions"].sum())
    if metric == "active_devices":  # the sum of rows: what approx=True returns, an upper bound
        return int(raw(app, SESSIONS, start, end)["unique_devices"].sum())
    raise AssertionError(metric)


def test_funnel_steps_and_rates_equal_hand_sums(world, raw):
    _sb, client, apps = world
    v = views.funnel(client, apps[0], start=START, end=END)
    want = [hand_total(raw, apps[0], s) for s in views.STEPS]
    assert v.frame["step"].tolist() == list(views.STEPS)
    assert v.frame["value"].tolist() == want
    assert all(x > 0 for x in want)
    for i in range(1, len(want)):
        assert v.frame["of_previous"].iloc[i] == want[i] / want[i - 1]
        assert v.frame["of_first"].iloc[i] == want[i] / want[0]
    assert "conversion_rate" not in v.frame.attrs and any("left out" in n for n in v.notes)


def test_funnel_of_two_apps_sums_the_apps(world, raw):
    _sb, client, apps = world
    v = views.funnel(client, apps, start=START, end=END)
    assert v.frame["value"].tolist() == [sum(hand_total(raw, a, s) for a in apps) for s in views.STEPS]


def test_funnel_apples_conversion_rate_only_as_a_lower_bound(world, raw):
    _sb, client, apps = world
    v = views.funnel(client, apps[0], start=START, end=END, approx=True)
    rows = raw(apps[0], DISCOVERY)  # the denominator: unique impressions, list and product page rows summed
    unique = int(where(rows, event="Impression")["unique_counts"].sum()) + int(
        where(rows, event="Page view", page_type="Product page")["unique_counts"].sum()
    )
    assert v.frame.attrs["conversion_rate"] == {
        "value": hand_total(raw, apps[0], "total_downloads") / unique,
        "bound": "lower bound",
    }
    assert v.bounds == {"conversion_rate": "lower bound"}
    with pytest.raises(NonAdditiveMetricError):  # the unique step itself is refused without approx
        views.funnel(client, apps[0], start=START, end=END, steps=("impressions_unique", "total_downloads"))


def test_compare_with_previous_period(world, raw):
    _sb, client, apps = world
    start, end = "2026-02-20", "2026-02-26"
    v = views.compare_periods(client, apps[0], ["total_downloads", "sessions"], start=start, end=end)
    assert v.frame.attrs["previous_period"] == ("2026-02-13", "2026-02-19")
    for metric in ("total_downloads", "sessions"):
        row = v.frame[v.frame["metric"] == metric].iloc[0]
        cur, pre = (
            hand_total(raw, apps[0], metric, start, end),
            hand_total(raw, apps[0], metric, "2026-02-13", "2026-02-19"),
        )
        assert (row["current"], row["previous"]) == (cur, pre)
        assert row["change"] == cur - pre and row["change_pct"] == (cur - pre) / pre
        assert row["bound"] == ""
    # the sandbox's clock is 2026-03-02; App Sessions is final after 5 days: 02-26 is still provisional
    assert v.frame.set_index("metric").loc["sessions", "provisional_days"] == 1
    daily = v.frame.attrs["daily"]
    assert daily.loc[daily["provisional"], "date"].dt.strftime("%Y-%m-%d").unique().tolist() == ["2026-02-26"]


def test_compare_periods_refuses_summed_unique_counts_and_bounds_them_with_approx(world, raw):
    _sb, client, apps = world
    with pytest.raises(NonAdditiveMetricError):
        views.compare_periods(client, apps[0], ["active_devices"], start="2026-02-20", end="2026-02-26")
    v = views.compare_periods(
        client,
        apps[0],
        ["active_devices", "sessions_per_active_device"],
        start="2026-02-20",
        end="2026-02-26",
        approx=True,
    )
    f = v.frame.set_index("metric")
    devices = hand_total(raw, apps[0], "active_devices", "2026-02-20", "2026-02-26")
    assert f.loc["active_devices", "current"] == devices
    assert f.loc["active_devices", "bound"] == "upper bound"
    assert (
        f.loc["sessions_per_active_device", "current"]
        == hand_total(raw, apps[0], "sessions", "2026-02-20", "2026-02-26") / devices
    )
    assert f.loc["sessions_per_active_device", "bound"] == "lower bound"


class ShiftedYear:
    """A source whose "last year" rows are the raw rows of the week before, moved back 357 more days.

    It answers through ``asc_nb.metrics.metrics(loader, ...)`` — the public function Client and Store use —
    with a loader over raw fetch rows, so the view's windowing and arithmetic meet known numbers.
    """

    def __init__(self, raw, app: str) -> None:
        self.raw, self.app = raw, app

    def _load(self, report, granularity, app_ids, start, end, columns):
        now = self.raw(self.app, report, "2026-02-13", "2026-02-26")
        old = self.raw(self.app, report, "2026-02-13", "2026-02-19").copy()
        old["date"] = old["date"] - pd.Timedelta(days=357)  # 02-13..02-19 -> 2025-02-21..27
        return pd.concat([now, old], ignore_index=True)

    def metrics(
        self, app_ids, metrics, *, as_of=None, **kw
    ):  # raw rows: as_of moves only the provisional marks
        return M.metrics(self._load, app_ids, metrics, **kw)


def test_compare_with_same_weekdays_last_year(world, raw):
    _sb, _client, apps = world
    src = ShiftedYear(raw, apps[0])
    v = views.compare_periods(
        src,
        apps[0],
        ["total_downloads"],
        start="2026-02-20",
        end="2026-02-26",
        against="last_year",
        as_of="2026-03-02",
    )
    assert v.frame.attrs["previous_period"] == ("2025-02-21", "2025-02-27")
    assert dt.date(2025, 2, 21).weekday() == dt.date(2026, 2, 20).weekday()  # Friday against Friday
    row = v.frame.iloc[0]
    assert row["current"] == hand_total(raw, apps[0], "total_downloads", "2026-02-20", "2026-02-26")
    assert row["previous"] == hand_total(raw, apps[0], "total_downloads", "2026-02-13", "2026-02-19")


def test_territories_rank_and_shares(world, raw):
    _sb, client, apps = world
    v = views.territories(client, apps[0], "total_downloads", start=START, end=END, n=5)
    rows = where(raw(apps[0], DOWNLOADS), download_type=["First-time download", "Redownload"])
    by = rows.groupby(rows["territory"].astype("string").fillna("(blank)"))["counts"].sum()
    by = sorted(by.items(), key=lambda kv: (-kv[1], kv[0]))
    assert list(zip(v.frame["territory"], v.frame["total_downloads"], strict=True)) == by
    assert v.frame["rank"].tolist() == list(range(1, len(by) + 1))
    total = sum(x for _, x in by)
    assert v.frame["share"].tolist() == [x / total for _, x in by]
    top = v.frame.attrs["top"]
    assert top["territory"].tolist() == [t for t, _ in by[:5]] + ["Other"]
    assert int(top["total_downloads"].iloc[-1]) == sum(x for _, x in by[5:])
    with pytest.raises(NonAdditiveMetricError):
        views.territories(client, apps[0], "active_devices", start=START, end=END)


def test_session_cohorts_equal_hand_groups(world, raw):
    _sb, client, apps = world
    v = views.session_cohorts(client, apps[0], start=START, end=END, max_day=14)
    rows = raw(apps[0], SESSIONS)
    blank = rows["app_download_date"].isna()
    g = rows[~blank].groupby(["app_download_date", "date"])["sessions"].sum().reset_index()
    g["day"] = (g["date"] - g["app_download_date"]).dt.days
    g = g[(g["day"] >= 0) & (g["day"] <= 14)].sort_values(["app_download_date", "day"])
    assert len(g) > 50
    got = v.frame
    assert list(zip(got["app_download_date"], got["day"], got["sessions"], strict=True)) == list(
        zip(g["app_download_date"], g["day"], g["sessions"], strict=True)
    )
    assert "active_devices" not in got
    assert any(f"{int(rows.loc[blank, 'sessions'].sum()):,} sessions have a blank" in n for n in v.notes)
    bounded = views.session_cohorts(client, apps[0], start=START, end=END, max_day=14, approx=True)
    assert bounded.bounds == {"active_devices": "upper bound", "sessions_per_active_device": "lower bound"}
    dev = rows[~blank].groupby(["app_download_date", "date"])["unique_devices"].sum()
    first = bounded.frame.iloc[0]
    key = (first["app_download_date"], first["app_download_date"] + pd.Timedelta(days=int(first["day"])))
    assert first["active_devices"] == dev.loc[key]


def test_compare_apps_keeps_each_app_apart(world, raw):
    _sb, client, apps = world
    v = views.compare_apps(
        client, apps, ["total_downloads", "sessions", "active_devices"], start=START, end=END, approx=True
    )
    assert sorted(v.frame["app_id"]) == sorted(apps)
    for app in apps:
        row = v.frame[v.frame["app_id"] == app].iloc[0]
        for metric in ("total_downloads", "sessions", "active_devices"):
            assert row[metric] == hand_total(raw, app, metric)
    assert v.bounds == {"active_devices": "upper bound"}
    with pytest.raises(NonAdditiveMetricError):
        views.compare_apps(client, apps, ["active_devices"], start=START, end=END)
