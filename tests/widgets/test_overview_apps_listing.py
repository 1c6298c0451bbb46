"""``Overview(client)`` on its own lists the apps on its worker, not on the kernel's thread.

The constructor returns with the widgets built (the picker empty or holding the given ids, the status
saying the apps are loading); the listing, the picker's names and the first load of the views follow
on the Overview's worker. The result is the one an Overview handed the same listing (``app_frame=``,
which lists nothing) shows.
"""

from __future__ import annotations

import threading
import time

import matplotlib
import pandas as pd
import pytest

import asc_nb
from asc_nb.client import Client
from asc_nb.sandbox import Sandbox
from asc_nb.widgets.overview import Overview

matplotlib.use("Agg")

#: the apps listing only (``/v1/apps?limit=…``), not the per-app paths under it
APPS_LISTING = r"^/v1/apps(\?|$)"


@pytest.fixture
def client(tmp_path):
    c = Client(sandbox=Sandbox(seed=0, history_days=40), cache_dir=tmp_path / "cache")
    yield c
    c.close()


def _views(ov: Overview) -> dict[str, pd.DataFrame]:
    return {"kpis": ov.kpis.frame, "funnel": ov.funnel.frame, "breakdown": ov.breakdown.frame}


def test_constructor_returns_before_the_apps_listing_and_then_loads_what_it_used_to(client):
    listing = client.apps()
    reference = Overview(client, app_frame=listing)  # the listing at hand: the picker and views as before
    assert reference.wait(120)
    assert reference.kpis.error is None, reference.kpis.error

    kernel = threading.get_ident()
    listed_on: list[int] = []
    real = client.apps

    def spy(*a, **k):
        listed_on.append(threading.get_ident())
        return real(*a, **k)

    client.apps = spy  # a spy on the real method (it still runs), to see which thread lists
    delay = 2.0
    client.sandbox.faults.add("slow", path=APPS_LISTING, seconds=delay)
    t0 = time.monotonic()
    ov = Overview(client)
    took = time.monotonic() - t0
    assert took < delay / 4, f"the constructor took {took:.2f} s: it waited for the apps listing"
    # built at once: an empty picker, the status says what is going on, the overview is busy
    assert ov.apps.options == () and ov.app_names == {}
    assert ov.status.level == "busy" and "apps" in ov.status.text.lower()
    assert ov.busy and ov.refresh.disabled
    assert ov.wait(0.05) is False

    assert ov.wait(180)
    assert listed_on and kernel not in listed_on
    assert not ov.busy and not ov.refresh.disabled
    assert ov.status.level == "ok", ov.status.text
    pd.testing.assert_frame_equal(ov.app_frame, reference.app_frame)
    assert ov.app_names == reference.app_names
    assert ov.apps.options == reference.apps.options and ov.apps.value == reference.apps.value
    assert ov.apps.value == (str(listing["id"].iloc[0]),)
    for name, frame in _views(reference).items():
        pd.testing.assert_frame_equal(_views(ov)[name], frame, obj=name)
    assert ov.frame is ov.kpis.frame and ov.code == reference.code
    assert ov.kpis.card_text() == reference.kpis.card_text()
    del client.apps


def test_given_app_ids_show_at_once_and_get_their_names_after_the_listing(client):
    listing = client.apps()
    ids = [str(i) for i in listing["id"]]
    client.sandbox.faults.add("slow", path=APPS_LISTING, seconds=1.5)
    t0 = time.monotonic()
    ov = Overview(client, ids[1:3], autoload=False)
    assert time.monotonic() - t0 < 0.5
    assert ov.apps.value == tuple(ids[1:3])  # the caller's ids are chosen from the start
    assert ov.wait(60)
    names = dict(zip(listing["id"].astype(str), listing["name"].astype(str), strict=True))
    assert ov.app_names == names
    assert ov.apps.options == tuple((f"{names[i]} ({i})", i) for i in ids)
    assert ov.apps.value == tuple(ids[1:3])
    assert ov.kpis.frame is None  # autoload=False: the listing loads no view


def test_a_retry_after_on_the_listing_counts_down_in_the_overview_status(client):
    client.sandbox.faults.add("rate_limit", path=APPS_LISTING, retry_after=2)
    seen: list[str] = []
    ov = Overview(client, autoload=False)
    ov.observe(lambda ch: seen.append(ch["new"]), names="waiting")
    assert ov.wait(30)
    assert any("Retry-After" in s for s in seen), seen
    assert ov.waiting == "" and ov.error is None and len(ov.app_names) == 3


def test_an_error_listing_the_apps_lands_in_the_status_not_as_a_traceback(client):
    client.sandbox.faults.add("server_error", path=APPS_LISTING, count=None)
    ov = Overview(client)  # no exception here, nor on the worker
    assert ov.wait(120)
    assert isinstance(ov.error, asc_nb.ServerError)
    assert ov.status.level == "error" and "apps" in ov.status.text.lower(), ov.status.text
    assert ov.apps.options == () and ov.kpis.frame is None
    assert not ov.busy and not ov.refresh.disabled
    client.sandbox.faults.clear()
    ov.refresh.click()  # nothing chosen: the panel says so
    assert ov.status.level == "error" and "at least one app" in ov.status.text


def test_a_load_asked_while_the_apps_are_listed_runs_after_the_listing(client):
    first = str(client.apps()["id"].iloc[0])
    client.sandbox.faults.add("slow", path=APPS_LISTING, seconds=1.5)
    ov = Overview(client, autoload=False)
    t0 = time.monotonic()
    ov.load()  # the picker is still empty: the load waits for the listing instead of failing
    assert time.monotonic() - t0 < 0.5
    assert ov.wait(180)
    assert ov.apps.value == (first,) and ov.kpis.error is None
    assert ov.kpis.frame is not None and ov.status.level == "ok", ov.status.text


def test_given_app_ids_still_load_when_the_listing_fails_and_the_status_says_why(client):
    app = str(client.apps()["id"].iloc[1])
    client.sandbox.faults.add("server_error", path=APPS_LISTING, count=None)
    ov = Overview(client, app)
    assert ov.wait(180)
    assert ov.apps.value == (app,) and ov.app_names == {app: app}  # no name to show: the id stands in
    assert ov.kpis.error is None and ov.kpis.frame is not None
    assert ov.status.level == "warn" and "Could not list the apps" in ov.status.text, ov.status.text
