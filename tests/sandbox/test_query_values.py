"""Query values as strict as Apple documents them, and every parameter the spec declares accepted.

Both fronts (in-process and loopback). The accepted-parameter tests build their queries from the
spec file (helpers.SPEC), not from models.ENDPOINTS, so they check the table rather than echo it.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import Front
from .helpers import SPEC, first_app


@pytest.fixture
def ids(front: Front) -> dict[str, str]:
    """One ONGOING request three days on, so reports, instances and segments exist."""
    sb, api = front.sb, front.api
    app = first_app(sb)
    req = api.create(app).json()["data"]["id"]
    sb.advance(days=3)
    report = f"r1-{req}"
    inst = api.get(f"/v1/analyticsReports/{report}/instances").json()["data"][0]
    seg = api.get(f"/v1/analyticsReportInstances/{inst['id']}/segments").json()["data"][0]["id"]
    return {
        "apps": app,
        "analyticsReportRequests": req,
        "analyticsReports": report,
        "analyticsReportInstances": inst["id"],
        "analyticsReportSegments": seg,
        "processingDate": inst["attributes"]["processingDate"],
    }


def _bad(r: Any, parameter: str, *words: str) -> None:
    assert r.status_code == 400, r.text
    err = r.json()["errors"][0]
    assert err["code"] == "PARAMETER_ERROR.INVALID" and err["source"] == {"parameter": parameter}, err
    for w in words:
        assert w in err["detail"], err["detail"]


# --------------------------------------------------------------------------- dates

GOOD_DATE_SHAPES = ["{d}", "{d},{d}"]
BAD_DATES = [
    "20260302",  # ISO 8601 basic form: Python 3.11's date.fromisoformat takes it
    "2026-W10-1",  # ISO week date: so does this
    "2026W101",
    "2026-061",  # ordinal date
    " 2026-03-02",
    "2026-03-02 ",
    "2026-03-02\t",
    "2026-3-2",
    "26-03-02",
    "2026/03/02",
    "03/02/2026",
    "2026-02-30",
    "2026-13-01",
    "0000-01-01",
    "2026-03-02T00:00:00",
    "2026-03-02Z",
    "\uff12\uff10\uff12\uff16-03-02",  # full-width digits
    "+2026-03-02",
    "2026-03-02,",
    ",2026-03-02",
    "",
]


@pytest.mark.parametrize("value", BAD_DATES, ids=[repr(v) for v in BAD_DATES])
def test_processing_date_is_yyyy_mm_dd_and_nothing_else(
    front: Front, ids: dict[str, str], value: str
) -> None:
    r = front.api.get(
        f"/v1/analyticsReports/{ids['analyticsReports']}/instances", **{"filter[processingDate]": value}
    )
    _bad(r, "filter[processingDate]")


@pytest.mark.parametrize("shape", GOOD_DATE_SHAPES)
def test_good_dates_filter(front: Front, ids: dict[str, str], shape: str) -> None:
    d = ids["processingDate"]
    r = front.api.get(
        f"/v1/analyticsReports/{ids['analyticsReports']}/instances",
        **{"filter[processingDate]": shape.format(d=d)},
    )
    assert r.status_code == 200 and {i["attributes"]["processingDate"] for i in r.json()["data"]} == {d}


# --------------------------------------------------------------------------- integers


@pytest.mark.parametrize(
    "name, value, words",
    [
        ("limit", "0", ("minimum of 1",)),
        ("limit", "-1", ("minimum of 1",)),
        ("limit", "201", ("maximum of 200",)),
        ("limit", "99999999999999999999", ("maximum of 200",)),
        ("limit", " 5", ("not a valid integer",)),
        ("limit", "5 ", ("not a valid integer",)),
        ("limit", "+5", ("not a valid integer",)),
        ("limit", "5.0", ("not a valid integer",)),
        ("limit", "1e2", ("not a valid integer",)),
        ("limit", "\u0665", ("not a valid integer",)),  # Arabic-Indic five: int() takes it
        ("limit", "1_0", ("not a valid integer",)),  # int() takes this too
        ("limit", "", ("not a valid integer",)),
        ("limit[reports]", "51", ("maximum of 50",)),
        ("limit[reports]", "0", ("minimum of 1",)),
    ],
)
def test_limits_say_which_bound_they_broke(
    front: Front, ids: dict[str, str], name: str, value: str, words: tuple[str, ...]
) -> None:
    r = front.api.get(f"/v1/apps/{ids['apps']}/analyticsReportRequests", **{name: value})
    _bad(r, name, *words)


def test_limit_bounds_themselves_are_fine(front: Front, ids: dict[str, str]) -> None:
    path = f"/v1/apps/{ids['apps']}/analyticsReportRequests"
    for params in (
        {"limit": "1"},
        {"limit": "200"},
        {"limit[reports]": "1", "include": "reports"},
        {"limit[reports]": "50", "include": "reports"},
    ):
        assert front.api.get(path, **params).status_code == 200, params


# --------------------------------------------------------------------------- repeated parameters, trimming


@pytest.mark.parametrize(
    "query, parameter",
    [
        ("limit=5&limit=6", "limit"),
        ("limit=5&limit=5", "limit"),
        ("filter[accessType]=ONGOING&filter[accessType]=ONE_TIME_SNAPSHOT", "filter[accessType]"),
        ("include=reports&include=reports", "include"),
        ("fields[analyticsReports]=name&fields%5BanalyticsReports%5D=category", "fields[analyticsReports]"),
    ],
)
def test_a_repeated_parameter_is_refused_not_merged(
    front: Front, ids: dict[str, str], query: str, parameter: str
) -> None:
    r = front.api.get_url(f"/v1/apps/{ids['apps']}/analyticsReportRequests?{query}")
    _bad(r, parameter, "more than once", "comma-separated")


@pytest.mark.parametrize(
    "name, value",
    [
        ("filter[accessType]", " ONGOING"),
        ("filter[accessType]", "ONGOING,"),
        ("filter[accessType]", "ongoing"),
        ("fields[analyticsReportRequests]", "accessType, reports"),
        ("fields[analyticsReportRequests]", ""),
        ("include", "reports "),
        ("include", ""),
    ],
)
def test_values_are_taken_as_sent(front: Front, ids: dict[str, str], name: str, value: str) -> None:
    _bad(front.api.get(f"/v1/apps/{ids['apps']}/analyticsReportRequests", **{name: value}), name)


# --------------------------------------------------------------------------- every declared parameter


def _value(param: dict[str, Any], ids: dict[str, str]) -> str:
    schema = param["schema"]
    name = param["name"]
    enum = schema.get("items", schema).get("enum")
    if enum:
        return ",".join(enum) if name.startswith("fields[") else enum[0]
    if schema["type"] == "integer":
        return str(schema["maximum"])
    if schema["type"] == "boolean":
        return "false"
    return ids["processingDate"] if name == "filter[processingDate]" else "x"


GETS = [(path, op) for path, ops in SPEC["paths"].items() for m, op in ops.items() if m == "get"]


@pytest.mark.parametrize("path, op", GETS, ids=[p for p, _ in GETS])
def test_every_declared_parameter_at_once_is_accepted(
    front: Front, ids: dict[str, str], path: str, op: dict
) -> None:
    """All the operation's parameters in one query (every fields[...] with all its values): 200, valid body."""
    params = {p["name"]: _value(p, ids) for p in op.get("parameters", []) if p.get("in") == "query"}
    owner = path.split("/")[2]
    r = front.api.get(path.replace("{id}", ids[owner]), **params)
    assert r.status_code == 200, r.text  # the response hook checks the schema


def test_unmodelled_includes_are_empty_not_400(front: Front, ids: dict[str, str]) -> None:
    api = front.api
    body = api.get("/v1/apps", include="builds,appInfos,ciProduct", **{"limit[builds]": "5"}).json()
    assert body["included"] == [] and len(body["data"]) == len(front.sb.world.apps)
    rels = body["data"][0]["relationships"]
    assert rels["builds"] == {"meta": {"paging": {"total": 0, "limit": 5}}, "data": []}
    assert rels["appInfos"]["data"] == [] and "ciProduct" not in rels  # a to-one has no empty linkage to show
    one = api.get(
        f"/v1/apps/{ids['apps']}", include="appStoreVersions", **{"fields[appStoreVersions]": "platform"}
    )
    assert one.status_code == 200 and one.json()["included"] == []
    assert "included" not in api.get(f"/v1/apps/{ids['apps']}").json()
    _bad(api.get("/v1/apps", include="analyticsReportRequests"), "include")  # not an include of /v1/apps
    _bad(api.get("/v1/apps", **{"fields[builds]": "colour"}), "fields[builds]")
    _bad(api.get("/v1/apps", **{"limit[builds]": "51"}), "limit[builds]", "maximum of 50")


def test_filters_on_unmodelled_relationships_match_no_app(front: Front) -> None:
    api = front.api
    assert api.get("/v1/apps", **{"filter[appStoreVersions.platform]": "IOS"}).json()["data"] == []
    assert api.get("/v1/apps", **{"filter[reviewSubmissions.state]": "IN_REVIEW"}).json()["data"] == []
    _bad(
        api.get("/v1/apps", **{"filter[appStoreVersions.platform]": "WINDOWS"}),
        "filter[appStoreVersions.platform]",
    )
    assert len(api.get("/v1/apps", **{"exists[gameCenterEnabledVersions]": "false"}).json()["data"]) == len(
        front.sb.world.apps
    )
    assert api.get("/v1/apps", **{"exists[gameCenterEnabledVersions]": "true"}).json()["data"] == []
    _bad(
        api.get("/v1/apps", **{"exists[gameCenterEnabledVersions]": "yes"}),
        "exists[gameCenterEnabledVersions]",
    )


# --------------------------------------------------------------------------- property: never 5xx

NAMES = sorted({p["name"] for _, op in GETS for p in op.get("parameters", [])} | {"cursor", "x", "limit[x]"})
VALUES = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", "0", "1", "50", "201", "DAILY", "2026-03-02", "reports", "name", "true", ",", " "]),
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    pairs=st.lists(st.tuples(st.sampled_from(NAMES), VALUES), max_size=5),
    which=st.sampled_from(["/v1/apps", "/v1/apps/{app}", "/v1/apps/{app}/analyticsReportRequests"]),
)
def test_any_query_is_200_or_a_named_400(front: Front, pairs: list[tuple[str, str]], which: str) -> None:
    app = first_app(front.sb)
    r = front.api.http.get(which.format(app=app), params=pairs, headers=front.api.auth())
    assert r.status_code in (200, 400), r.text
    if r.status_code == 400:
        err = r.json()["errors"][0]
        assert err["code"].startswith("PARAMETER_ERROR.") and err["source"]["parameter"] in dict(pairs)
    assert not front.sb.internal_errors
