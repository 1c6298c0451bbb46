"""Query parameters: validated from models.ENDPOINTS, 400 PARAMETER_ERROR.* naming the parameter, paging."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest

from asc_nb.sandbox import Sandbox

from .helpers import Api, first_app


@pytest.fixture
def world(sb: Sandbox, api: Api) -> dict[str, str]:
    """One ONGOING request, two days on (instances exist)."""
    app = first_app(sb)
    req = api.create(app).json()["data"]["id"]
    sb.advance(days=3)
    return {"app": app, "request": req, "report": f"r1-{req}"}


def _bad(r, parameter: str, code: str = "PARAMETER_ERROR.INVALID") -> None:
    assert r.status_code == 400, r.text
    err = r.json()["errors"][0]
    assert err["code"] == code and err["status"] == "400"
    assert err["source"] == {"parameter": parameter}


@pytest.mark.parametrize(
    "path, params, parameter, code",
    [
        ("/v1/apps", {"foo": "1"}, "foo", "PARAMETER_ERROR.ILLEGAL"),
        (
            "/v1/apps",
            {"include": "appInfo"},
            "include",
            "PARAMETER_ERROR.INVALID",
        ),  # not a relationship of apps
        ("/v1/apps", {"limit": "201"}, "limit", "PARAMETER_ERROR.INVALID"),
        ("/v1/apps", {"limit": "0"}, "limit", "PARAMETER_ERROR.INVALID"),
        ("/v1/apps", {"limit": "ten"}, "limit", "PARAMETER_ERROR.INVALID"),
        ("/v1/apps", {"sort": "price"}, "sort", "PARAMETER_ERROR.INVALID"),
        ("/v1/apps", {"fields[apps]": "name,colour"}, "fields[apps]", "PARAMETER_ERROR.INVALID"),
        ("/v1/apps", {"cursor": "bogus"}, "cursor", "PARAMETER_ERROR.INVALID"),
        ("/v1/apps", {"filter[name]": ""}, "filter[name]", "PARAMETER_ERROR.INVALID"),
    ],
)
def test_bad_parameters_on_apps(api: Api, path: str, params: dict, parameter: str, code: str) -> None:
    _bad(api.get(path, **params), parameter, code)


def test_bad_parameters_on_analytics_endpoints(api: Api, world: dict[str, str]) -> None:
    req, rep, app = world["request"], world["report"], world["app"]
    _bad(
        api.get(f"/v1/apps/{app}/analyticsReportRequests", **{"filter[accessType]": "WEEKLY"}),
        "filter[accessType]",
    )
    _bad(api.get(f"/v1/apps/{app}/analyticsReportRequests", **{"limit[reports]": "51"}), "limit[reports]")
    _bad(api.get(f"/v1/apps/{app}/analyticsReportRequests", include="instances"), "include")
    _bad(api.get(f"/v1/analyticsReportRequests/{req}", limit="5"), "limit", "PARAMETER_ERROR.ILLEGAL")
    _bad(
        api.get(f"/v1/analyticsReportRequests/{req}/reports", **{"filter[category]": "GAMES"}),
        "filter[category]",
    )
    _bad(
        api.get(f"/v1/analyticsReports/{rep}/instances", **{"filter[granularity]": "HOURLY"}),
        "filter[granularity]",
    )
    _bad(
        api.get(f"/v1/analyticsReports/{rep}/instances", **{"filter[processingDate]": "03/02/2026"}),
        "filter[processingDate]",
    )
    _bad(
        api.get(f"/v1/analyticsReports/{rep}/instances", **{"fields[analyticsReportInstances]": "url"}),
        "fields[analyticsReportInstances]",
    )
    _bad(
        api.get(f"/v1/analyticsReports/{rep}/relationships/instances", **{"filter[granularity]": "DAILY"}),
        "filter[granularity]",
        "PARAMETER_ERROR.ILLEGAL",
    )
    _bad(api.get(f"/v1/analyticsReports/{rep}/instances", limit="500"), "limit")
    r = api.http.delete(f"/v1/analyticsReportRequests/{req}?include=reports", headers=api.auth())
    _bad(r, "include", "PARAMETER_ERROR.ILLEGAL")
    assert req in api.sb.world.requests


def test_default_limit_is_50_and_cursor_paging_is_complete(api: Api, world: dict[str, str]) -> None:
    path = f"/v1/analyticsReportRequests/{world['request']}/reports"
    first = api.get(path).json()
    assert first["meta"]["paging"] == {"total": 129, "limit": 50}
    assert len(first["data"]) == 50
    assert first["links"]["self"].endswith(path)
    everything = api.all_pages(path)
    ids = [d["id"] for d in everything]
    assert len(ids) == len(set(ids)) == 129
    by_max = api.all_pages(path, limit=200)
    assert [d["id"] for d in by_max] == ids


def test_next_link_echoes_other_parameters_and_the_cursor_is_opaque(api: Api, world: dict[str, str]) -> None:
    path = f"/v1/analyticsReports/{world['report']}/instances"
    r = api.get(path, limit=1, **{"filter[granularity]": "DAILY"})
    body = r.json()
    nxt = body["links"]["next"]
    query = dict(parse_qsl(urlsplit(nxt).query))
    assert query["limit"] == "1" and query["filter[granularity]"] == "DAILY"
    assert not query["cursor"].isdigit()
    page2 = api.get_url(nxt).json()
    assert page2["data"][0]["id"] != body["data"][0]["id"]
    # a cursor is bound to its endpoint
    _bad(api.get("/v1/apps", cursor=query["cursor"]), "cursor")


def test_sparse_fieldsets(api: Api, world: dict[str, str]) -> None:
    apps = api.get("/v1/apps", **{"fields[apps]": "name"}).json()["data"]
    assert all(set(a["attributes"]) == {"name"} and "relationships" not in a for a in apps)
    rep = api.get(
        f"/v1/analyticsReports/{world['report']}", **{"fields[analyticsReports]": "category"}
    ).json()
    assert rep["data"]["attributes"] == {"category": rep["data"]["attributes"]["category"]}
    assert "relationships" not in rep["data"]
    inst = api.get(
        f"/v1/analyticsReports/{world['report']}/instances",
        **{"fields[analyticsReportInstances]": "processingDate,segments"},
    ).json()["data"][0]
    assert set(inst["attributes"]) == {"processingDate"} and "segments" in inst["relationships"]
    req = api.get(
        f"/v1/analyticsReportRequests/{world['request']}", **{"fields[analyticsReportRequests]": "accessType"}
    ).json()["data"]
    assert req["attributes"] == {"accessType": "ONGOING"}


def test_include_reports_with_limit(api: Api, world: dict[str, str]) -> None:
    body = api.get(
        f"/v1/analyticsReportRequests/{world['request']}",
        include="reports",
        **{"limit[reports]": "3", "fields[analyticsReports]": "name"},
    ).json()
    rel = body["data"]["relationships"]["reports"]
    assert rel["meta"]["paging"] == {"total": 129, "limit": 3}
    assert [d["id"] for d in rel["data"]] == [i["id"] for i in body["included"]]
    assert all(set(i["attributes"]) == {"name"} for i in body["included"])
    listing = api.get(f"/v1/apps/{world['app']}/analyticsReportRequests", include="reports").json()
    assert len(listing["included"]) == 10  # undocumented default for limit[reports]; we use 10
    without = api.get(f"/v1/analyticsReportRequests/{world['request']}").json()
    assert "included" not in without and "data" not in without["data"]["relationships"]["reports"]


def test_filters(api: Api, sb: Sandbox, world: dict[str, str]) -> None:
    req = world["request"]
    names = ["App Sessions Standard", "App Crashes"]
    got = api.get(f"/v1/analyticsReportRequests/{req}/reports", **{"filter[name]": ",".join(names)}).json()
    assert sorted(d["attributes"]["name"] for d in got["data"]) == sorted(names)
    perf = api.all_pages(f"/v1/analyticsReportRequests/{req}/reports", **{"filter[category]": "PERFORMANCE"})
    assert perf and {d["attributes"]["category"] for d in perf} == {"PERFORMANCE"}
    weekly = api.all_pages(
        f"/v1/analyticsReports/{world['report']}/instances", **{"filter[granularity]": "WEEKLY,MONTHLY"}
    )
    assert {d["attributes"]["granularity"] for d in weekly} <= {"WEEKLY", "MONTHLY"}
    daily = api.all_pages(f"/v1/analyticsReports/{world['report']}/instances")
    one = daily[0]["attributes"]["processingDate"]
    only = api.get(
        f"/v1/analyticsReports/{world['report']}/instances", **{"filter[processingDate]": one}
    ).json()
    assert {d["attributes"]["processingDate"] for d in only["data"]} == {one}
    app = sb.world.apps[world["app"]]
    assert [a["id"] for a in api.get("/v1/apps", **{"filter[bundleId]": app["bundleId"]}).json()["data"]] == [
        app["id"]
    ]
    assert api.get("/v1/apps", **{"filter[id]": "1"}).json()["data"] == []
    names_sorted = [a["attributes"]["name"] for a in api.get("/v1/apps", sort="-name").json()["data"]]
    assert names_sorted == sorted(names_sorted, key=str.casefold, reverse=True)
    snap = api.get(
        f"/v1/apps/{world['app']}/analyticsReportRequests", **{"filter[accessType]": "ONE_TIME_SNAPSHOT"}
    )
    assert snap.json()["data"] == []


def test_linkage_endpoints(api: Api, world: dict[str, str]) -> None:
    links = api.get(f"/v1/apps/{world['app']}/relationships/analyticsReportRequests").json()
    assert links["data"] == [{"type": "analyticsReportRequests", "id": world["request"]}]
    reps = api.get(f"/v1/analyticsReportRequests/{world['request']}/relationships/reports", limit=2).json()
    assert (
        reps["data"][0] == {"type": "analyticsReports", "id": f"r1-{world['request']}"}
        and "next" in reps["links"]
    )
    insts = api.all_pages(f"/v1/analyticsReports/{world['report']}/relationships/instances")
    full = api.all_pages(f"/v1/analyticsReports/{world['report']}/instances")
    assert [i["id"] for i in insts] == [i["id"] for i in full]
    segs = api.get(f"/v1/analyticsReportInstances/{full[0]['id']}/relationships/segments").json()["data"]
    assert segs and all(s["type"] == "analyticsReportSegments" for s in segs)
