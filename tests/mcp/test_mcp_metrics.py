"""The metrics tool over stdio: the Store's exact numbers, checked against raw lake rows, with provenance whose
code reproduces the answer; unique counts refused with the library's own words; bad input a tool error."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from mcp_harness import MAX_ROWS, table

from asc_nb import registry
from asc_nb.errors import NonAdditiveMetricError


def weeks(world) -> tuple[tuple[str, str], tuple[str, str]]:
    """'last week' (the seven days ending two days before the store's reference day) and the week before."""
    end = world.store.reference_day - dt.timedelta(days=2)
    last = (end - dt.timedelta(days=6), end)
    before = (last[0] - dt.timedelta(days=7), last[0] - dt.timedelta(days=1))
    return tuple((a.isoformat(), b.isoformat()) for a, b in (last, before))  # type: ignore[return-value]


def raw_first_time_by_territory(world, app: str, start: str, end: str) -> dict[str, int]:
    """The same number straight from the lake's rows: no metrics code involved."""
    rows = world.store.read("App Downloads Standard", apps=[app], start=start, end=end)
    first = rows[rows["download_type"].astype("string").str.casefold() == "first-time download"]
    return {str(k): int(v) for k, v in first.groupby("territory", observed=True)["counts"].sum().items() if v}


def test_first_time_downloads_by_territory_last_week_vs_the_week_before(mcp_server, world) -> None:
    app = world.apps[0]
    answers = {}
    for label, (start, end) in zip(("last", "before"), weeks(world), strict=True):
        got = mcp_server.ok(
            "metrics",
            {
                "app_ids": [app],
                "metrics": ["first_time_downloads"],
                "by": ["territory"],
                "start": start,
                "end": end,
            },
        )
        values = {
            r["territory"]: r["first_time_downloads"]
            for r in table(got["result"]).records
            if r["first_time_downloads"]
        }
        assert values == raw_first_time_by_territory(world, app, start, end), label
        want = world.store.metrics([app], ["first_time_downloads"], by=("territory",), start=start, end=end)
        assert values == {
            str(t): int(v)
            for t, v in zip(want["territory"], want["first_time_downloads"], strict=True)
            if pd.notna(v) and v
        }
        answers[label] = got
    assert answers["last"]["result"] != answers["before"]["result"]  # two different weeks, two answers


def test_provenance_names_reports_vintages_and_reproducing_code(mcp_server, world) -> None:
    app = world.apps[1]
    start, end = weeks(world)[0]
    got = mcp_server.ok(
        "metrics", {"app_ids": [app], "metrics": ["total_downloads", "sessions"], "start": start, "end": end}
    )
    prov = got["provenance"]
    assert prov["as_of"] == "latest" and prov["reference_day"] == world.store.reference_day.isoformat()
    by_report = {r["report"]: r for r in prov["reports"]}
    assert set(by_report) == {"App Downloads Standard", "App Sessions Standard"}
    for report, entry in by_report.items():
        rows = world.store.read(report, apps=[app], start=start, end=end)
        assert entry["rows_read"] == len(rows) > 0
        assert entry["processing_dates"] == sorted({d.date().isoformat() for d in rows["processing_date"]})
        assert entry["instances"] == rows["instance_id"].nunique() == len(entry["vintages"])
        assert {v["instance_id"] for v in entry["vintages"]} == set(rows["instance_id"])
    # the code runs as printed and gives the same table
    scope: dict = {}
    exec(prov["code"], scope)  # noqa: S102 - the code the server printed is the thing under test
    df = scope["df"]
    res = table(got["result"])
    assert res.columns == [str(c) for c in df.columns]
    assert [r[0] for r in res.rows] == [d.date().isoformat() for d in df["date"]]
    for name in ("total_downloads", "sessions"):
        assert [r[res.columns.index(name)] for r in res.rows] == [
            None if pd.isna(v) else int(v) for v in df[name]
        ]
    assert got["sources"]["total_downloads"].startswith("App Downloads Standard DAILY")


def test_the_last_days_are_marked_provisional(mcp_server, world) -> None:
    ref = world.store.reference_day
    days = registry.get("App Sessions Standard").complete_after_days
    start = (ref - dt.timedelta(days=8)).isoformat()
    got = mcp_server.ok(
        "metrics",
        {"app_ids": world.apps[:1], "metrics": ["sessions"], "start": start, "end": ref.isoformat()},
    )
    dates = [r[0] for r in table(got["result"]).rows]
    want = [d for d in dates if dt.date.fromisoformat(d) > ref - dt.timedelta(days=days)]
    assert want and got["provenance"]["provisional_dates"] == want
    old = mcp_server.ok(
        "metrics",
        {
            "app_ids": world.apps[:1],
            "metrics": ["sessions"],
            "by": [],
            "start": (ref - dt.timedelta(days=16)).isoformat(),
            "end": (ref - dt.timedelta(days=10)).isoformat(),
        },
    )
    assert old["provenance"]["provisional_dates"] == []
    total = mcp_server.ok(
        "metrics",
        {
            "app_ids": world.apps[:1],
            "metrics": ["sessions"],
            "by": [],
            "start": start,
            "end": ref.isoformat(),
        },
    )
    assert (
        total["provenance"]["provisional_dates"] == want
    )  # a total without dates still says which may change


def test_summed_unique_counts_are_refused_in_the_librarys_words(mcp_server, world) -> None:
    args = {
        "app_ids": world.apps,
        "metrics": ["active_devices"],
        "by": [],
        "start": weeks(world)[0][0],
        "end": weeks(world)[0][1],
    }
    text = mcp_server.error("metrics", args)
    with pytest.raises(NonAdditiveMetricError) as raised:
        world.store.metrics(world.apps, ["active_devices"], by=(), start=args["start"], end=args["end"])
    assert str(raised.value) in text and "NonAdditiveMetricError" in text and "approx=True" in text

    got = mcp_server.ok("metrics", {**args, "approx": True})
    assert got["approximate"] == {"active_devices": "upper bound"}
    want = world.store.metrics(
        world.apps, ["active_devices"], by=(), start=args["start"], end=args["end"], approx=True
    )
    assert [r["active_devices"] for r in table(got["result"]).records] == [
        int(v) for v in want["active_devices"]
    ]
    assert "approx=True" in got["provenance"]["code"]


@pytest.mark.parametrize(
    "args, words",
    [
        ({"metrics": ["downloadz"]}, ["MetricError", "Unknown metric", "downloadz", "total_downloads"]),
        ({"metrics": ["sessions"], "start": "2026-13-40"}, ["start"]),
        ({"metrics": ["sessions"], "start": "2026-02-20", "end": "2026-02-10"}, ["end", "before start"]),
        ({"metrics": ["sessions"], "by": ["no_such_column"]}, ["MetricError", "no_such_column"]),
        ({"metrics": ["sessions"], "granularity": "HOURLY"}, ["granularity"]),
        ({"metrics": ["sessions"], "as_of": "2099-01-01"}, ["ConfigError", "as_of=2099-01-01"]),  # the future
        ({"metrics": ["sessions"], "as_of": "yesterday-ish"}, ["as_of"]),
        ({"metrics": []}, ["metrics"]),
    ],
)
def test_bad_questions_are_tool_errors_and_the_server_lives_on(mcp_server, world, args, words) -> None:
    text = mcp_server.error("metrics", {"app_ids": world.apps[:1], **args})
    for word in words:
        assert word in text, (word, text)
    assert "Traceback" not in text
    assert mcp_server.ok("list_apps")["apps"]  # still serving


def test_an_answer_too_big_for_one_reply_says_how_to_narrow_it(mcp_server, world) -> None:
    text = mcp_server.error(
        "metrics",
        {"app_ids": world.apps, "metrics": ["total_downloads"], "by": ["date", "territory", "device"]},
    )
    assert f"more than one answer may carry ({MAX_ROWS})" in text and "narrow" in text


def test_as_of_answers_what_the_store_knew_then(mcp_server, world) -> None:
    ref = world.store.reference_day
    as_of = (ref - dt.timedelta(days=3)).isoformat()  # before the restating sync's processing dates
    args = {
        "app_ids": world.apps[:1],
        "metrics": ["sessions"],
        "start": (ref - dt.timedelta(days=8)).isoformat(),
        "end": as_of,
    }
    got = mcp_server.ok("metrics", {**args, "as_of": as_of})
    want = world.store.metrics(
        world.apps[:1], ["sessions"], start=args["start"], end=args["end"], as_of=as_of
    )
    latest = world.store.metrics(world.apps[:1], ["sessions"], start=args["start"], end=args["end"])
    assert got["provenance"]["as_of"] == as_of
    for entry in got["provenance"]["reports"]:
        assert max(entry["processing_dates"]) <= as_of
    sessions = [r["sessions"] for r in table(got["result"]).records]
    assert sessions == [None if pd.isna(v) else int(v) for v in want["sessions"]]
    # the restating sync changed the last days: what the store knew then is not what it knows now
    assert sessions != [None if pd.isna(v) else int(v) for v in latest["sessions"]]
    assert f"as_of={as_of!r}" in got["provenance"]["code"]


def test_the_store_and_metrics_agree_for_several_apps_and_a_bounded_ratio(mcp_server, world) -> None:
    start, end = weeks(world)[1]
    got = mcp_server.ok(
        "metrics",
        {
            "app_ids": world.apps,
            "metrics": ["sessions", "sessions_per_active_device"],
            "start": start,
            "end": end,
            "approx": True,
        },
    )
    want = world.store.metrics(
        world.apps, ["sessions", "sessions_per_active_device"], start=start, end=end, approx=True
    )
    # active devices summed over rows is an upper bound, so sessions per device is a lower bound
    assert got["approximate"] == {"sessions_per_active_device": "lower bound"} == want.attrs["approximate"]
    res = table(got["result"])
    assert res.columns == [str(c) for c in want.columns]
    assert res.columns[:4] == ["app_id", "date", "sessions", "sessions_per_active_device"]
    assert len(res.rows) == len(want) == 14
    for row, (_, w) in zip(res.records, want.iterrows(), strict=True):
        assert row["app_id"] == w["app_id"] and row["sessions"] == int(w["sessions"])
        assert row["sessions_per_active_device"] == pytest.approx(float(w["sessions_per_active_device"]))


def test_health_is_the_stores_ledger(mcp_server, world) -> None:
    got = mcp_server.ok("health", {})
    want = world.store.health()
    res = table(got["result"])
    assert res.columns == [str(c) for c in want.columns]
    assert len(res.rows) == len(want) > 0
    assert got["states"] == {str(k): int(v) for k, v in want["state"].astype("string").value_counts().items()}
    assert set(got["states"]) <= {
        "final",
        "provisional",
        "missing",
        "empty",
        "duplicate",
        "restated",
        "expiring",
    }
    some = mcp_server.ok(
        "health", {"apps": world.apps[:1], "reports": ["App Sessions Standard"], "states": ["provisional"]}
    )
    rows = table(some["result"]).records
    assert rows and {(r["app_id"], r["report"], r["state"]) for r in rows} == {
        (world.apps[0], "App Sessions Standard", "provisional")
    }
    assert some["provenance"]["code"].endswith(
        f"df = store.health(apps={world.apps[:1]!r}, reports=['App Sessions Standard'], states=['provisional'])"
    )
    text = mcp_server.error("health", {"states": ["sparkling"]})
    assert "ConfigError" in text and "sparkling" in text
