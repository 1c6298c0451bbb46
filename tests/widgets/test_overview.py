"""The Overview panel in-process: cards, funnel and breakdown over the sandbox, their code run back.

Every view's ``.code`` is executed with ``client`` bound and must leave in ``df`` a frame equal to
the view's ``.frame`` — the "Show code" promise, checked for real.
"""

from __future__ import annotations

import datetime as dt
import threading

import matplotlib
import pandas as pd
import pytest

import asc_nb
from asc_nb.client import Client
from asc_nb.sandbox import Sandbox
from asc_nb.widgets.overview import Overview, complete_after_days

matplotlib.use("Agg")


@pytest.fixture
def client(tmp_path):
    sb = Sandbox(seed=0, history_days=40)
    c = Client(sandbox=sb, cache_dir=tmp_path / "cache")
    yield c
    c.close()


def run_code(code: str, client: Client) -> pd.DataFrame:
    import matplotlib.pyplot as plt

    ns: dict = {"client": client}
    exec(compile(code, "<panel.code>", "exec"), ns)  # noqa: S102 - the panel's own code, on purpose
    plt.close("all")
    return ns["df"]


def test_overview_loads_cards_funnel_and_breakdown_and_each_code_reproduces_its_frame(client):
    ov = Overview(client)
    ov.wait(60)
    assert not ov.busy
    assert ov.status.level == "ok", ov.status.text
    app = str(client.apps()["id"].iloc[0])
    assert list(ov.apps.value) == [app]
    # default range: the last 7 complete days (Sessions/Crashes complete within 5 days)
    assert ov.end.value == client.sandbox.now.date() - dt.timedelta(days=5)
    assert (ov.end.value - ov.start.value).days == 6

    kpis = ov.kpis.frame
    assert ov.frame is kpis and ov.code == ov.kpis.code
    assert kpis["metric"].tolist() == list(ov.kpi_names)
    row = kpis.set_index("metric")
    assert row.loc["impressions", "bound"] == "" and row.loc["active_devices", "bound"] == "upper bound"
    assert row.loc["conversion_rate", "bound"] == "lower bound"
    text = ov.kpis.card_text()
    assert text["active_devices"].startswith("≤ ") and text["conversion_rate"].startswith("≥ ")
    assert text["impressions"].replace(",", "").isdigit()
    assert len(ov.kpis.cards.children) == len(ov.kpi_names)

    for view in (ov.kpis, ov.funnel, ov.breakdown):
        assert view.error is None, view.error
        again = run_code(view.code, client)
        pd.testing.assert_frame_equal(again, view.frame)

    # the card's value is the sum of the days shown in the sparkline data, checked by hand
    daily = ov.kpis.daily
    in_period = daily[
        (daily["date"] >= pd.Timestamp(ov.start.value)) & (daily["date"] <= pd.Timestamp(ov.end.value))
    ]
    assert row.loc["impressions", "value"] == in_period["impressions"].sum()
    funnel = ov.funnel.frame.set_index("step")
    assert funnel.loc["impressions", "value"] == in_period["impressions"].sum()
    assert funnel.loc["total_downloads", "value"] == in_period["total_downloads"].sum()
    assert funnel.loc["product_page_views", "of_previous"] == pytest.approx(
        in_period["product_page_views"].sum() / in_period["impressions"].sum()
    )

    bd = ov.breakdown.frame
    assert list(bd.columns) == ["territory", "impressions", "share"]
    assert len(bd) == 6 and bd["territory"].iloc[-1] == "Other"
    assert int(bd["impressions"].sum()) == int(in_period["impressions"].sum())
    assert float(bd["share"].sum()) == pytest.approx(1.0)


def test_show_code_export_and_breakdown_controls(client, tmp_path):
    ov = Overview(client)
    ov.wait(60)
    ov.breakdown.show_code.click()
    shown = ov.breakdown.code_view.value
    assert "client.metrics(" in shown and "top_n" in shown
    ov.breakdown.dimension.value = "device"
    ov.breakdown.top.value = 2
    ov.wait(60)
    assert list(ov.breakdown.frame.columns[:2]) == ["device", "impressions"]
    assert len(ov.breakdown.frame) <= 3
    assert "&#x27;device&#x27;" in ov.breakdown.code_view.value  # the shown code follows the new choice
    pd.testing.assert_frame_equal(run_code(ov.breakdown.code, client), ov.breakdown.frame)
    ov.funnel.export_path.value = str(tmp_path / "funnel.csv")
    ov.funnel.export_button.click()
    assert ov.funnel.status.level == "ok", ov.funnel.status.text
    back = pd.read_csv(tmp_path / "funnel.csv")
    assert back["value"].tolist() == ov.funnel.frame["value"].astype("int64").tolist()
    out = ov.kpis.export(tmp_path / "kpis.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(out), ov.kpis.frame, check_dtype=False)
    with pytest.raises(ValueError, match="csv or .parquet"):
        ov.kpis.export(tmp_path / "kpis.xlsx")
    assert not (tmp_path / "kpis.xlsx").exists()


def test_changing_apps_and_range_updates_the_cards_and_compares_apps(client):
    import warnings

    filters, show = list(warnings.filters), warnings.showwarning
    ov = Overview(client)
    ov.wait(60)
    # three views caught warnings on three threads: the process-wide warning state is as it was
    assert warnings.filters == filters and warnings.showwarning is show
    first = ov.kpis.card_text()
    ids = [v for _, v in ov.apps.options]
    ov.apps.value = tuple(ids[:2])
    ov.refresh.click()
    ov.wait(60)
    assert set(ov.kpis.frame["app_id"]) == set(ids[:2])
    assert len(ov.kpis.cards.children) == 2 * len(ov.kpi_names)
    pd.testing.assert_frame_equal(run_code(ov.kpis.code, client), ov.kpis.frame)
    ov.apps.value = (ids[1],)
    ov.start.value = ov.start.value - dt.timedelta(days=7)
    ov.refresh.click()
    ov.wait(60)
    assert ov.kpis.card_text() != first
    assert ov.kpis.frame.attrs["period"][0] == ov.start.value.isoformat()


def test_work_runs_off_the_calling_thread_and_errors_land_in_the_panel(client):
    sb = client.sandbox
    sb.latency = 0.02
    ov = Overview(client, autoload=False)
    caller = threading.get_ident()
    seen: list[int] = []
    real = client.fetch

    def spy(*a, **k):
        seen.append(threading.get_ident())
        return real(*a, **k)

    client.fetch = spy  # a spy on the real method (it still runs), to see which thread fetches
    ov.refresh.click()
    assert ov.busy  # click() returned while the work goes on
    ov.wait(120)
    assert seen and caller not in seen
    del client.fetch
    sb.latency = 0.0
    ov.breakdown.metric.value = "sessions"
    ov.breakdown.dimension.value = "page_type"
    ov.wait(60)
    assert ov.breakdown.error is None
    ov.kpi_names = ("crashes",)
    ov.breakdown.metric.value = "impressions"
    ov.start.value = dt.date(2026, 2, 20)
    ov.end.value = dt.date(2026, 2, 10)
    ov.refresh.click()
    assert ov.status.level == "error" and "before the start" in ov.status.text
    ov.end.value = dt.date(2026, 2, 24)
    ov.load(parts=("kpis",))
    ov.wait(60)
    assert ov.kpis.error is None
    # a question the reports cannot answer: the error shows in the panel, no traceback
    ov.breakdown.metric.options = [*ov.breakdown.metric.options, "crashes"]
    ov.breakdown.metric.value = "crashes"
    ov.breakdown.dimension.value = "territory"
    ov.wait(60)
    assert ov.breakdown.error is not None and "territory" in str(ov.breakdown.error)
    assert ov.breakdown.status.level == "error"


def test_dashboard_has_an_overview_tab_built_when_first_opened(client):
    from asc_nb.widgets import dashboard

    dash = dashboard(client)
    dash.wait(60)
    assert dash.overview is None  # nothing loaded until the tab is opened
    dash.tabs.selected_index = 3
    assert dash.tabs.get_title(3) == "Overview"
    ov = dash.overview
    assert ov is not None and dash._overview_box.children == (ov,)
    assert dash.wait(120)
    assert list(ov.apps.value) == [dash.request_panel.app.value]
    assert ov.kpis.frame is not None and ov.kpis.error is None
    assert dash.open_overview() is ov  # built once


def test_overview_over_a_store_shows_store_code_that_reproduces_its_frames(client, tmp_path):
    from asc_nb.store import Store

    app = str(client.apps()["id"].iloc[0])
    end = client.sandbox.now.date() - dt.timedelta(days=5)
    start = end - dt.timedelta(days=6)
    store = Store(tmp_path / "store")
    try:
        store.metrics(
            [app],
            ["impressions", "total_downloads", "sessions"],
            start=start - dt.timedelta(days=7),
            end=end,
            client=client,
        )  # fills the lake for these reports and dates
        store.metrics([app], ["crashes"], start=start - dt.timedelta(days=7), end=end, client=client)
        before = len(client.sandbox.calls)
        ov = Overview(
            store, app, kpis=("impressions", "total_downloads", "sessions", "crashes"), start=start, end=end
        )
        assert ov.wait(60)
        assert len(client.sandbox.calls) == before  # a store answers from its lake: no API call
        for view in (ov.kpis, ov.funnel, ov.breakdown):
            assert view.error is None, view.error
            assert view.code.count("store.metrics(") == 1 and "client" not in view.code
            ns: dict = {"store": store}
            import matplotlib.pyplot as plt

            exec(compile(view.code, "<panel.code>", "exec"), ns)  # noqa: S102
            plt.close("all")
            pd.testing.assert_frame_equal(ns["df"], view.frame)
        direct = client.metrics([app], ["impressions"], by=(), start=start, end=end)
        assert int(ov.funnel.frame.set_index("step").loc["impressions", "value"]) == int(
            direct["impressions"].iloc[0]
        )
    finally:
        store.close()


def test_a_refresh_fetches_each_report_once_for_all_three_views(client):
    sb = client.sandbox
    ov = Overview(client, autoload=False)
    before = len(sb.calls)
    ov.load()
    assert ov.wait(120)
    listings = [p for _m, host, p in sb.calls[before:] if host == "api" and "/reports?" in p]
    # KPIs read four reports (Discovery and Engagement, Downloads, Sessions, Crashes); the funnel and the
    # breakdown reuse what the KPIs' load fetched instead of listing and downloading it again
    assert len(listings) == 4, listings
    assert ov._cache is not None and ov._cache.loads == 4
    for view in (ov.kpis, ov.funnel, ov.breakdown):
        pd.testing.assert_frame_equal(run_code(view.code, client), view.frame)
    before = len(sb.calls)
    ov.breakdown.dimension.value = "device"  # same apps and dates: served from the refresh's loads
    assert ov.wait(60)
    assert [c for c in sb.calls[before:] if c[1] == "api"] == []
    pd.testing.assert_frame_equal(run_code(ov.breakdown.code, client), ov.breakdown.frame)


def test_overview_over_a_store_by_default_shows_what_the_lake_holds(tmp_path):
    # a store synced from the sandbox (or a month ago): its data ends at its reference day, not at the wall clock,
    # and it holds only the reports synced — the default cards are those it can answer, and the rest are named
    from asc_nb.store import Store

    sb = asc_nb.Sandbox(seed=14, apps=1, history_days=20)
    with asc_nb.connect(sandbox=sb, cache_dir=tmp_path / "cache") as client:
        app = str(client.apps()["id"][0])
        store = Store(tmp_path / "store")
        store.sync(
            client,
            reports=["App Sessions Standard", "App Store Discovery and Engagement Standard"],
            progress=False,
        )
    ov = Overview(store, app)
    assert ov.wait(120)
    assert ov.kpis.error is None, ov.kpis.error
    assert ov.end.value == store.reference_day - dt.timedelta(days=complete_after_days(ov.kpi_names))
    assert set(ov.kpi_names) == {"impressions", "product_page_views", "sessions", "active_devices"}
    values = ov.kpis.frame.set_index("metric")["value"]
    assert values["sessions"] > 0 and values["impressions"] > 0
    assert "App Downloads Standard" in ov.kpis.status.text and "App Crashes" in ov.kpis.status.text
    # the funnel needs downloads: it says so in its own panel instead of showing numbers
    assert "App Downloads Standard" in str(ov.funnel.error)
    store.close()
