"""store.metrics says when the lake lacks dates (as client.fetch does), instead of a silently partial answer."""

from __future__ import annotations

import warnings

import pytest

import asc_nb


@pytest.fixture(scope="module")
def synced(tmp_path_factory):
    root = tmp_path_factory.mktemp("gaps")
    client = asc_nb.connect(
        sandbox=asc_nb.Sandbox(seed=14, apps=1, history_days=30), cache_dir=root / "cache"
    )
    app = str(client.apps()["id"][0])
    store = asc_nb.Store(root / "store")
    store.sync(client, reports=["App Sessions Standard"], progress=False)  # DAILY only
    yield store, app
    store.close()
    client.close()


def test_weekly_from_a_store_that_holds_only_daily_warns(synced):
    store, app = synced
    with pytest.warns(
        asc_nb.MissingDatesWarning, match="App Sessions Standard WEEKLY: the store has no rows"
    ):
        frame = store.metrics([app], ["sessions"], granularity="WEEKLY", start="2026-02-09", end="2026-02-22")
    assert frame.empty


def test_dates_before_the_lake_warn_and_a_covered_window_does_not(synced):
    store, app = synced
    with pytest.warns(asc_nb.MissingDatesWarning, match="2026-01-01"):
        store.metrics([app], ["sessions"], start="2026-01-01", end="2026-02-10")
    with warnings.catch_warnings():
        warnings.simplefilter("error", asc_nb.MissingDatesWarning)
        assert len(store.metrics([app], ["sessions"], start="2026-02-09", end="2026-02-22")) == 14


def test_sql_on_a_view_the_store_lacks_names_its_views(synced):
    store, _ = synced
    with pytest.raises(asc_nb.ReportNotFoundError, match="app_sessions_standard_daily") as caught:
        store.sql("select * from app_sessions_standard_weekly")
    assert "pg_" not in str(caught.value)
    assert len(store.sql("select count(*) as n from app_sessions_standard_daily")) == 1
