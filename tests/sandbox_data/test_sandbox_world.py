"""The sandbox's numbers add up: one world underneath every published row (issue 12, point 3).

Each rule of docs/sandbox-data.md is checked against the generator's own hidden layer
(``world_rows``: every row of a Date before the privacy rule, with its users) and against what
is published (``rows_for_date`` / the segment files). The expected relations are Apple's
semantics, computed here with pandas, never by the code under test.
"""

from __future__ import annotations

import gzip
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from asc_nb import registry
from asc_nb.models import AccessType, Granularity
from asc_nb.sandbox import Sandbox, datagen
from asc_nb.sandbox.catalog import GENERIC_COLUMNS, catalog, find_report
from asc_nb.sandbox.datagen import instance_rows, instance_segments, rows_for_date, world_rows
from asc_nb.sandbox.world import DOWNLOAD_DATE_MAX_AGE, MIN_USERS

APP = {"id": "1476097583", "name": "Café Racer"}
SEED = 5
MONDAY = date(2026, 2, 23)
WEEK = [MONDAY + timedelta(days=k) for k in range(7)]
FEBRUARY = [date(2026, 2, 1) + timedelta(days=k) for k in range(28)]
DAILY, WEEKLY, MONTHLY = Granularity.DAILY, Granularity.WEEKLY, Granularity.MONTHLY

#: the reports App Analytics metrics are computed from, plus amounts (Purchases) and two others
MAIN = [
    "App Store Discovery and Engagement Standard",
    "App Store Discovery and Engagement Detailed",
    "App Downloads Detailed",
    "App Store Installation and Deletion Standard",
    "App Store Installation and Deletion Detailed",
    "App Sessions Standard",
    "App Sessions Detailed",
    "App Crashes",
    "App Store Purchases Detailed",
    "App Clip Usage Standard",
    "Streaming Playback Performance",  # generic layout (Apple documents no fields)
]
PAIRS = sorted(
    {s.family for s in catalog() if s.name.endswith(" Detailed")}
    & {s.family for s in catalog() if s.name.endswith(" Standard")}
)


def _dims(name: str) -> list[str]:
    spec = find_report(name)
    return [c for c in spec.dimensions if c not in ("Date",)]


def _role(name: str, measure: str) -> str:
    col = find_report(name).column(measure)
    if col.additive is True:
        return "additive"
    return "unique" if col.additive is False and col.kind == "count" else "level"


def _measures(name: str, role: str) -> list[str]:
    return [m for m in find_report(name).measures if _role(name, m) == role]


def _keyed(df: pd.DataFrame, dims: list[str]) -> pd.DataFrame:
    """Dimensions as text (blank = "") so they can be grouped and joined; amounts as integer cents
    (decimal text in the files; summed as floats they would differ in the last bit)."""
    out = _exact(df)
    for d in dims:
        col = out[d]
        if pd.api.types.is_datetime64_any_dtype(col):
            out[d] = col.dt.strftime("%Y-%m-%d").fillna("")
        else:
            out[d] = col.astype("string").fillna("")
    return out


def _exact(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for c in out.columns:
        if str(out[c].dtype) == "Float64":
            out[c] = (out[c] * 100).round().astype("Int64")
    return out


def _days(name: str, days: list[date], *, world: bool) -> pd.DataFrame:
    get = world_rows if world else rows_for_date
    return _exact(pd.concat([get(SEED, APP, name, DAILY, d) for d in days], ignore_index=True))


def _weekly_names() -> list[str]:
    return [s.name for s in catalog() if WEEKLY in s.granularities]


# --------------------------------------------------------------------------- periods vs days


@pytest.mark.parametrize("name", _weekly_names())
def test_weekly_totals_are_the_sums_of_the_days_and_published_days_sum_to_no_more(name):
    week = _exact(world_rows(SEED, APP, name, WEEKLY, MONDAY))
    days = _days(name, WEEK, world=True)
    published_days = _days(name, WEEK, world=False)
    published_week = _exact(rows_for_date(SEED, APP, name, WEEKLY, MONDAY))
    for m in _measures(name, "additive"):
        assert week[m].sum() == days[m].sum(), m  # the world: exact
        assert published_days[m].sum() <= published_week[m].sum() <= week[m].sum(), m


@pytest.mark.parametrize("name", [n for n in MAIN if MONTHLY in find_report(n).granularities])
def test_every_weekly_and_monthly_row_is_its_days_summed_and_uniques_are_bounded(name):
    dims = _dims(name)
    for granularity, start, days in ((WEEKLY, MONDAY, WEEK), (MONTHLY, FEBRUARY[0], FEBRUARY)):
        period = _keyed(world_rows(SEED, APP, name, granularity, start), dims)
        daily = _keyed(_days(name, days, world=True), dims)
        additive, uniques = _measures(name, "additive"), _measures(name, "unique") + ["users"]
        agg = daily.groupby(dims, dropna=False).agg(
            **{f"{m}__sum": (m, "sum") for m in additive + uniques},
            **{f"{m}__max": (m, "max") for m in uniques},
        )
        joined = period.set_index(dims).join(agg, how="outer")
        assert joined.notna().all().all(), "a period row without days, or days without a period row"
        assert len(joined) == len(period) > len(daily) / len(days)
        for m in additive:
            assert (joined[m] == joined[f"{m}__sum"]).all(), m
        for m in uniques:
            assert (joined[f"{m}__max"] <= joined[m]).all(), m
            assert (joined[m] <= joined[f"{m}__sum"]).all(), m
            assert (joined[m] < joined[f"{m}__sum"]).any(), m  # repeats exist: summing days over-counts


def test_monthly_totals_are_the_sums_of_the_days():
    for name in (
        "App Sessions Standard",
        "App Store Discovery and Engagement Detailed",
        "App Downloads Detailed",
    ):
        month = world_rows(SEED, APP, name, MONTHLY, FEBRUARY[0])
        days = _days(name, FEBRUARY, world=True)
        published_days = _days(name, FEBRUARY, world=False)
        for m in _measures(name, "additive"):
            assert month[m].sum() == days[m].sum()
            assert published_days[m].sum() < month[m].sum()  # privacy dropped some daily rows...
            assert published_days[m].sum() > 0.8 * month[m].sum()  # ...but only a little


# --------------------------------------------------------------------------- Standard vs Detailed


@pytest.mark.parametrize("family", PAIRS)
def test_detailed_rolled_up_never_exceeds_standard_and_equals_it_before_privacy(family):
    std_name, det_name = f"{family} Standard", f"{family} Detailed"
    std_dims = _dims(std_name)
    grans = [g for g in find_report(std_name).granularities if g in find_report(det_name).granularities]
    for g in grans:
        day = {DAILY: WEEK[2], WEEKLY: MONDAY, MONTHLY: FEBRUARY[0]}[g]
        std_all = _keyed(world_rows(SEED, APP, std_name, g, day), std_dims).set_index(std_dims)
        det_all = _keyed(world_rows(SEED, APP, det_name, g, day), std_dims)
        std_pub = std_all[std_all["published"]]
        det_pub = det_all[det_all["published"]]
        for m in _measures(std_name, "additive"):
            world_sum = det_all.groupby(std_dims)[m].sum()
            assert world_sum.sort_index().equals(std_all[m].sort_index()), (g, m)  # same world
            rolled = det_pub.groupby(std_dims)[m].sum()
            assert rolled.index.isin(std_pub.index).all(), (
                g,
                m,
            )  # a detailed row's standard row is published
            assert (rolled <= std_pub[m].reindex(rolled.index)).all(), (g, m)
            dropped = det_all[~det_all["published"]].groupby(std_dims).size()
            intact = rolled.index.difference(dropped.index)
            assert (rolled[intact] == std_pub[m].reindex(intact)).all(), (g, m)  # equal where nothing dropped
            assert det_pub[m].sum() <= std_pub[m].sum()
        for m in _measures(std_name, "unique"):
            biggest = det_all.groupby(std_dims)[m].max()
            assert (biggest <= std_all[m].reindex(biggest.index)).all(), (g, m)
            if g is DAILY:  # within a day each user is in one detailed row: uniques add up exactly
                assert det_all.groupby(std_dims)[m].sum().sort_index().equals(std_all[m].sort_index())


@pytest.mark.parametrize("family", ["App Store Discovery and Engagement", "App Sessions", "App Downloads"])
def test_detailed_splits_standard_rows_and_its_privacy_drops_more(family):
    std = world_rows(SEED, APP, f"{family} Standard", DAILY, WEEK[0])
    det = world_rows(SEED, APP, f"{family} Detailed", DAILY, WEEK[0])
    measure = find_report(f"{family} Standard").measures[0]
    assert len(det) > 1.2 * len(std) and det["published"].sum() > std["published"].sum()
    dropped_std = std.loc[~std["published"], measure].sum()
    dropped_det = det.loc[~det["published"], measure].sum()
    assert dropped_det > dropped_std > 0


# --------------------------------------------------------------------------- privacy


@pytest.mark.parametrize("name", MAIN)
def test_a_row_is_published_only_with_at_least_five_users_in_every_vintage(name):
    for g, day in ((DAILY, WEEK[3]), (WEEKLY, MONDAY)):
        if g not in find_report(name).granularities:
            continue
        everything = world_rows(SEED, APP, name, g, day)
        published = everything[everything["published"]]
        assert (published["users"] * 80 // 100 >= MIN_USERS).all()
        assert (everything.loc[~everything["published"], "users"] * 80 // 100 < MIN_USERS).all()
        shown = rows_for_date(SEED, APP, name, g, day)
        pd.testing.assert_frame_equal(
            published.drop(columns=["users", "published"]).reset_index(drop=True), shown
        )
        for m in _measures(name, "unique"):
            assert (published[m] <= published["users"]).all()
    if DAILY in find_report(name).granularities:
        assert (~world_rows(SEED, APP, name, DAILY, WEEK[3])["published"]).any(), "the rule never bites"
        earliest = rows_for_date(SEED, APP, name, DAILY, WEEK[3], vintage=0)
        first_unique = _measures(name, "unique")[:1]
        for m in first_unique:  # the 80 % version too shows at least five users
            assert (earliest[m] >= MIN_USERS).all()


def test_unique_counts_never_exceed_their_counts():
    for name, count, unique in (
        ("App Sessions Detailed", "Sessions", "Unique Devices"),
        ("App Store Discovery and Engagement Detailed", "Counts", "Unique Counts"),
        ("App Crashes", "Crashes", "Unique Devices"),
    ):
        for g, day in ((DAILY, WEEK[1]), (WEEKLY, MONDAY), (MONTHLY, FEBRUARY[0])):
            df = world_rows(SEED, APP, name, g, day)
            assert (df[unique] <= df[count]).all(), (name, g)


# --------------------------------------------------------------------------- documented limits and values


@pytest.mark.parametrize("name", [s.name for s in catalog() if "App Download Date" in s.column_names])
def test_app_download_date_is_blank_beyond_thirty_days(name):
    spec = find_report(name)
    assert DOWNLOAD_DATE_MAX_AGE == 30
    for g in spec.granularities:
        day = {DAILY: WEEK[4], WEEKLY: MONDAY, MONTHLY: FEBRUARY[0]}[g]
        df = world_rows(SEED, APP, name, g, day)
        last = max(datagen.period_days(g, day))
        dl = df["App Download Date"]
        assert dl.isna().any() and dl.notna().any()
        shown = df.loc[dl.notna()]
        assert (shown["App Download Date"] <= pd.Timestamp(last)).all()
        assert (
            shown["App Download Date"]
            >= pd.Timestamp(last) - pd.Timedelta(days=30 + len(datagen.period_days(g, day)) - 1)
        ).all()
        if g is DAILY:
            age = (shown["Date"] - shown["App Download Date"]).dt.days
            assert age.between(0, 30).all() and age.max() >= 20


@pytest.mark.parametrize("name", [s.name for s in catalog() if s.documented])
def test_dimension_values_come_from_apples_glossaries(name):
    spec = find_report(name)
    g = WEEKLY if WEEKLY in spec.granularities else DAILY
    df = world_rows(SEED, APP, name, g, MONDAY)
    for field in registry.get(name).fields:
        if field.values and field.kind == "dimension":
            used = set(df[field.name].astype(str)) - {""}
            assert used <= set(field.values), (field.name, used - set(field.values))


def test_funnel_values_are_realistic():
    """What the metrics are computed from: impressions > page views > taps, first-time downloads exist."""
    disc = rows_for_date(SEED, APP, "App Store Discovery and Engagement Standard", DAILY, WEEK[2])
    events = disc.groupby("Event")["Counts"].sum()
    assert events["Impression"] > 3 * events["Page view"] > 3 * events["Tap"] > 0
    dl = (
        rows_for_date(SEED, APP, "App Downloads Standard", DAILY, WEEK[2])
        .groupby("Download Type")["Counts"]
        .sum()
    )
    assert dl["First-time Download"] > 0 and dl.sum() < events["Impression"]
    inst = rows_for_date(SEED, APP, "App Store Installation and Deletion Standard", DAILY, WEEK[2])
    by_event = inst.groupby("Event")["Counts"].sum()
    assert by_event["Install"] > by_event["Delete"] > 0
    sessions = rows_for_date(SEED, APP, "App Sessions Standard", DAILY, WEEK[2])
    crashes = rows_for_date(SEED, APP, "App Crashes", DAILY, WEEK[2])
    assert sessions["Sessions"].sum() > 10 * crashes["Crashes"].sum() > 0
    purchases = rows_for_date(SEED, APP, "App Store Purchases Standard", DAILY, WEEK[2])
    assert (purchases["Proceeds in USD"] < purchases["Sales in USD"]).all()
    assert (purchases["Proceeds in USD"] >= 0.69 * purchases["Sales in USD"]).all()  # 70 % or 85 %, floored
    pre = rows_for_date(SEED, APP, "App Store Pre-Orders Standard", DAILY, WEEK[2])
    assert (pre["Pre-Order Canceled"] <= pre["Pre-Orders Placed"]).all()
    opt = rows_for_date(SEED, APP, "App Opt In", DAILY, WEEK[2])
    assert len(opt) == 1 and (opt["Users Opting-In"] < opt["Downloading Users"]).all()


# --------------------------------------------------------------------------- layouts and granularities


@pytest.mark.parametrize("spec", catalog(), ids=lambda s: s.name)
def test_every_generated_header_is_the_registry_fields(spec):
    schema = registry.get(spec.name)
    expected = [f.name for f in schema.fields] if schema.documented else [c.name for c in GENERIC_COLUMNS]
    g = spec.granularities[-1]
    p = {DAILY: WEEK[3], WEEKLY: date(2026, 3, 6), MONTHLY: date(2026, 3, 5)}[g]
    seg = instance_segments(SEED, APP, spec, g, p, AccessType.ONGOING)[0]
    text = gzip.decompress(seg).decode("utf-8").removeprefix("\ufeff")
    header = text.split("\n", 1)[0]
    assert header.split(spec.delimiter) == expected
    assert list(instance_rows(SEED, APP, spec, g, p, AccessType.ONGOING).columns) == expected


def test_only_the_registrys_granularities_exist():
    sb = Sandbox(seed=SEED, apps=1)
    app = next(iter(sb.world.apps))
    req = sb.world.create_request(app, AccessType.ONGOING)
    for _ in range(8):  # 40 days, reading now and then so the request is not stopped for inactivity
        sb.advance(days=5)
        sb.world.touch(req)
    seen = 0
    for spec in catalog():
        grans = {i.granularity for i in sb.world.instances_of(req, spec)}
        assert grans == set(registry.get(spec.name).granularities), spec.name
        seen += len(grans) == 1
    assert seen > 10  # the DAILY-only reports really are DAILY only
    daily_only = next(s for s in catalog() if s.granularities == (DAILY,))
    with pytest.raises(ValueError, match="only DAILY"):
        instance_rows(SEED, APP, daily_only, WEEKLY, date(2026, 3, 6), AccessType.ONGOING)


def test_the_world_is_deterministic_and_independent_of_who_asks_first():
    name = "App Sessions Detailed"
    weekly_first = world_rows(SEED, APP, name, WEEKLY, MONDAY)
    datagen.clear_caches()
    days_first = _days(name, WEEK, world=True)
    again = world_rows(SEED, APP, name, WEEKLY, MONDAY)
    pd.testing.assert_frame_equal(weekly_first, again)
    datagen.clear_caches()
    pd.testing.assert_frame_equal(days_first, _days(name, WEEK, world=True))
    assert not np.array_equal(
        world_rows(SEED + 1, APP, name, WEEKLY, MONDAY)["Sessions"].to_numpy()[:50],
        weekly_first["Sessions"].to_numpy()[:50],
    )


@pytest.mark.parametrize(
    "name", ["App Sessions Detailed", "Browser Choice Screen Selection", "App Store Purchases Standard"]
)
def test_packed_and_numbered_keys_aggregate_the_same(name, monkeypatch):
    """Reports with very many dimensions number their keys instead of packing them: same rows."""
    from asc_nb.sandbox import world

    g = WEEKLY if WEEKLY in find_report(name).granularities else DAILY
    day = MONDAY if g is WEEKLY else WEEK[0]
    packed = world_rows(SEED, APP, name, g, day)
    datagen.clear_caches()
    monkeypatch.setattr(world, "_radices", lambda cells, dims: None)
    pd.testing.assert_frame_equal(world_rows(SEED, APP, name, g, day), packed)
