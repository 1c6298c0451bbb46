"""as_of and provisional: metrics as they were known on a past processing date, checked by hand against
every vintage of the raw rows (client.fetch(vintages=True)), and which rows may still change."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from asc_nb import registry
from asc_nb.client import Client
from asc_nb.errors import ASCError, ConfigError
from asc_nb.sandbox import Sandbox

SE = "App Sessions Standard"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    sb = Sandbox(seed=0, history_days=40)
    client = Client(sandbox=sb, cache_dir=tmp_path_factory.mktemp("asof-cache"))
    app = str(client.apps()["id"].iloc[0])
    req = client.report_requests(app)["id"].iloc[0]
    yield sb, client, app, req
    client.close()


def known_on(vintages: pd.DataFrame, as_of: dt.date) -> pd.Series:
    """By hand: per date, the rows of the newest processing date <= as_of, summed."""
    v = vintages[pd.to_datetime(vintages["processing_date"]).dt.date <= as_of]
    newest = v.groupby("date")["processing_date"].transform("max")
    return v[v["processing_date"] == newest].groupby("date")["sessions"].sum().astype("int64")


def test_as_of_reads_only_instances_processed_by_then_latest_vintage_among_them(world):
    sb, client, app, req = world
    today = sb.now.date()
    as_of = today - dt.timedelta(days=1)
    start, end = today - dt.timedelta(days=8), today - dt.timedelta(days=1)
    vintages = client.fetch(req, SE, "DAILY", start, end, vintages=True, progress=False)
    then = client.metrics([app], ["sessions"], start=start, end=end, as_of=as_of)
    now = client.metrics([app], ["sessions"], start=start, end=end)
    expected = known_on(vintages, as_of)
    got = then.set_index("date")["sessions"].dropna().astype("int64")
    pd.testing.assert_series_equal(got, expected, check_names=False, check_index_type=False)
    pd.testing.assert_series_equal(
        now.set_index("date")["sessions"].dropna().astype("int64"),
        known_on(vintages, today),
        check_names=False,
        check_index_type=False,
    )
    restated = [d for d in expected.index if d in got.index and known_on(vintages, today)[d] != expected[d]]
    assert restated, "the window should hold a date Apple restated after as_of"
    assert then.attrs["as_of"] == as_of.isoformat() and now.attrs["as_of"] is None
    assert pd.Timestamp(today - dt.timedelta(days=1)) not in got.index  # processed only today: unknown then


def test_provisional_marks_dates_inside_the_reports_completeness_window(world):
    sb, client, app, req = world
    today = sb.now.date()
    window = registry.get(SE).complete_after_days  # Apple: App Sessions complete within five days
    start, end = today - dt.timedelta(days=12), today - dt.timedelta(days=1)
    for ref, as_of in ((today, None), (today - dt.timedelta(days=2), today - dt.timedelta(days=2))):
        df = client.metrics([app], ["sessions"], start=start, end=end, as_of=as_of)
        assert str(df["provisional"].dtype) == "boolean"
        expected = [d.date() > ref - dt.timedelta(days=window) for d in df["date"]]
        assert df["provisional"].tolist() == expected
        assert any(expected) and not all(expected)
    weekly = client.metrics([app], ["sessions"], granularity="WEEKLY", start=start, end=end)
    assert not weekly["provisional"].any()  # WEEKLY instances are complete when Apple publishes them


def test_a_future_as_of_is_a_typed_error_that_says_what_to_do(world):
    sb, client, app, req = world
    tomorrow = sb.now.date() + dt.timedelta(days=1)
    with pytest.raises(ConfigError, match="after the source's today") as err:
        client.metrics([app], ["sessions"], start="2026-02-20", end="2026-02-25", as_of=tomorrow)
    assert isinstance(err.value, ASCError)
    with pytest.raises(ConfigError):
        client.metrics([app], ["sessions"], as_of="yesterday")


def test_store_as_of_equals_the_client_as_of_after_the_store_saw_both_vintages(tmp_path):
    from asc_nb.store import Store

    sb = Sandbox(seed=5, history_days=30)
    with Client(sandbox=sb, cache_dir=tmp_path / "cache") as client:
        app = str(client.apps()["id"].iloc[0])
        then = sb.now.date()
        start, end = then - dt.timedelta(days=6), then - dt.timedelta(days=1)
        store = Store(tmp_path / "store")
        try:
            store.sync(client, apps=[app], reports=[SE], granularities=["DAILY"], start=start, progress=False)
            sb.advance(days=3)  # Apple restates the last days; the store keeps the vintages it had
            store.sync(client, apps=[app], reports=[SE], granularities=["DAILY"], start=start, progress=False)
            old = store.metrics([app], ["sessions"], start=start, end=end, as_of=then)
            new = store.metrics([app], ["sessions"], start=start, end=end)
            via_api = client.metrics([app], ["sessions"], start=start, end=end, as_of=then)
            pd.testing.assert_frame_equal(old, via_api)
            assert old.attrs["as_of"] == then.isoformat()
            assert (new["sessions"] >= old["sessions"]).all() and (new["sessions"] > old["sessions"]).any()
            assert old["provisional"].any() and not new["provisional"].all()
            with pytest.raises(ConfigError):
                store.metrics(
                    [app], ["sessions"], start=start, end=end, as_of=sb.now.date() + dt.timedelta(days=1)
                )
        finally:
            store.close()
