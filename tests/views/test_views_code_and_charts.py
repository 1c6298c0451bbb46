"""Every view's ``code`` reproduces its frame; its chart starts counts at zero, names units, is not blank."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread

from asc_nb import views

from .conftest import END, START


def make(client, apps, name):
    if name == "funnel":
        return views.funnel(client, apps[0], start=START, end=END)
    if name == "compare_periods":
        return views.compare_periods(
            client, apps[0], ["total_downloads", "sessions"], start="2026-02-20", end="2026-02-26"
        )
    if name == "territories":
        return views.territories(client, apps[0], "impressions", start=START, end=END, n=6)
    if name == "session_cohorts":
        return views.session_cohorts(client, apps[0], start=START, end=END, max_day=10)
    return views.compare_apps(client, apps, ["total_downloads", "sessions"], start=START, end=END)


NAMES = ["funnel", "compare_periods", "territories", "session_cohorts", "compare_apps"]


@pytest.mark.parametrize("name", NAMES)
def test_code_leaves_the_same_frame_in_df(world, name):
    _sb, client, apps = world
    v = make(client, apps, name)
    ns = {"client": client}
    exec(v.code, ns)
    pd.testing.assert_frame_equal(ns["df"], v.frame)
    assert v.name == name and v.as_of is not None


@pytest.mark.parametrize("name", NAMES)
def test_chart_counts_from_zero_with_units_and_ink(world, name):
    _sb, client, apps = world
    v = make(client, apps, name)
    fig = v.chart()
    for ax in fig.axes:
        if name in ("funnel", "territories"):  # horizontal bars: the value axis is x
            assert ax.get_xlim()[0] == 0 and "(" in ax.get_xlabel()
        else:
            assert ax.get_ylim()[0] == 0 and "(" in ax.get_ylabel()
    img = imread(io.BytesIO(v.png()))
    ink = (img[..., :3] < 0.9).any(axis=2)
    assert ink.mean() > 0.01  # something is drawn, not a blank canvas
    assert v.svg().lstrip().startswith("<?xml")
    assert v.png() == v.png()  # deterministic
    html = v._repr_html_()
    assert "data:image/png;base64," in html and "<table" in html


def test_provisional_days_follow_the_registry_window(world):
    _sb, client, apps = world
    v = views.funnel(client, apps[0], start="2026-02-20", end="2026-03-01")
    # clock 2026-03-02; sessions complete after 5 days -> 02-26..03-01 provisional (4 days)
    assert views.complete_after(views.STEPS) == 5
    assert v.provisional == 4
    assert "4 provisional date(s)" in v.notes_text() and "as of 2026-03-02" in v.notes_text()
    early = views.funnel(client, apps[0], start="2026-02-20", end="2026-02-24")
    assert early.provisional == 0
    assert np.array_equal(
        views.provisional_mask(
            pd.DataFrame({"date": pd.to_datetime(["2026-02-25", "2026-02-26"])}),
            ["sessions"],
            views.reference_day(client),
        ).to_numpy(),
        [False, True],
    )


def test_as_of_reaches_metrics_and_moves_the_provisional_marks(world):
    _sb, client, apps = world
    v = views.funnel(client, apps[0], start="2026-02-20", end="2026-02-26", as_of="2026-02-28")
    assert v.as_of.isoformat() == "2026-02-28"
    assert v.provisional == 3  # sessions are final after 5 days: from 02-28, 02-24..02-26 are not yet
    assert "as_of='2026-02-28'" in v.code
    # the numbers are what client.metrics answers as of that day (instances processed by then), not the latest
    known = client.metrics(
        [apps[0]], list(views.STEPS), start="2026-02-20", end="2026-02-26", as_of="2026-02-28"
    )
    assert v.frame["value"].tolist() == [int(known[s].sum()) for s in views.STEPS]


def test_bad_arguments_are_typed_errors_that_say_what_to_fix(world):
    import asc_nb
    from asc_nb.errors import ConfigError, MetricError

    _sb, client, apps = world
    with pytest.raises(MetricError, match="against must be one of previous, last_year"):
        views.compare_periods(client, apps[0], ["sessions"], start=START, end=END, against="yesterday")
    with pytest.raises(MetricError, match="start"):
        views.funnel(client, apps[0], start="2026-13-01", end=END)
    with pytest.raises(MetricError, match="before start"):
        views.compare_periods(client, apps[0], ["sessions"], start=END, end=START)
    with pytest.raises(MetricError, match="Unknown metric"):
        views.compare_apps(client, apps, ["downloadz"], start=START, end=END)
    with pytest.raises(ConfigError, match="at least one app"):
        asc_nb.report(client, [])
