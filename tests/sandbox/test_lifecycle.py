"""The simulated lifecycle: requests, 409 rules, schedule, retention, inactivity, snapshots, determinism."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date, timedelta

import httpx
import pytest

from asc_nb.sandbox import Sandbox

from .helpers import Api, create_doc, first_app


def _instances(api: Api, report_id: str, **params) -> list[dict]:
    return api.all_pages(f"/v1/analyticsReports/{report_id}/instances", limit=200, **params)


def _dates(insts: list[dict], granularity: str) -> list[str]:
    return [i["attributes"]["processingDate"] for i in insts if i["attributes"]["granularity"] == granularity]


def test_create_is_201_with_location_and_readable(api: Api, sb: Sandbox) -> None:
    r = api.create(first_app(sb))
    assert r.status_code == 201
    data = r.json()["data"]
    assert r.headers["Location"] == f"{sb.api_base_url}/v1/analyticsReportRequests/{data['id']}"
    assert r.json()["links"]["self"] == f"{sb.api_base_url}/v1/analyticsReportRequests"
    assert data["attributes"] == {"accessType": "ONGOING", "stoppedDueToInactivity": False}
    got = api.get_url(r.headers["Location"]).json()["data"]
    assert got["id"] == data["id"]


def test_second_request_of_same_type_is_409_until_deleted(api: Api, sb: Sandbox) -> None:
    app = first_app(sb)
    req = api.create(app).json()["data"]["id"]
    r = api.create(app)
    assert r.status_code == 409
    err = r.json()["errors"][0]
    assert err["code"] == "STATE_ERROR" and err["detail"] == "You already have such an entity"
    other_app = list(sb.world.apps)[1]
    assert api.create(other_app).status_code == 201  # per app
    assert api.delete(f"/v1/analyticsReportRequests/{req}").status_code == 204
    assert api.get(f"/v1/analyticsReportRequests/{req}").status_code == 404
    assert api.delete(f"/v1/analyticsReportRequests/{req}").status_code == 404
    assert api.create(app).status_code == 201


def test_stopped_request_still_blocks(sb: Sandbox, api: Api) -> None:
    app = first_app(sb)
    req = api.create(app).json()["data"]["id"]
    sb.advance(days=31)
    assert api.get(f"/v1/analyticsReportRequests/{req}").json()["data"]["attributes"][
        "stoppedDueToInactivity"
    ]
    assert api.create(app).status_code == 409
    api.delete(f"/v1/analyticsReportRequests/{req}")
    assert api.create(app).status_code == 201


def test_snapshot_cooldown_counts_deleted_ones(api: Api, sb: Sandbox) -> None:
    app = first_app(sb)
    snap = api.create(app, "ONE_TIME_SNAPSHOT").json()["data"]["id"]
    assert api.create(app).status_code == 201  # ONGOING is independent
    api.delete(f"/v1/analyticsReportRequests/{snap}")
    sb.advance(days=30)
    r = api.create(app, "ONE_TIME_SNAPSHOT")
    assert r.status_code == 409
    detail = r.json()["errors"][0]["detail"]
    assert "2026-04-02T09:00:00Z" in detail and "31" in detail
    sb.advance(days=1)
    assert api.create(app, "ONE_TIME_SNAPSHOT").status_code == 201


@pytest.mark.parametrize(
    "doc, content_type, status, pointer",
    [
        (b"{not json", "application/json", 422, ""),
        (
            {"data": {"type": "apps", "attributes": {"accessType": "ONGOING"}}},
            "application/json",
            422,
            "/data/type",
        ),
        (
            {
                "data": {
                    "type": "analyticsReportRequests",
                    "attributes": {"accessType": "WEEKLY"},
                    "relationships": {"app": {"data": {"type": "apps", "id": "x"}}},
                }
            },
            "application/json",
            422,
            "/data/attributes/accessType",
        ),
        (
            {"data": {"type": "analyticsReportRequests", "attributes": {"accessType": "ONGOING"}}},
            "application/json",
            422,
            "/data/relationships",
        ),
        (
            {
                "data": {
                    "type": "analyticsReportRequests",
                    "attributes": {"accessType": "ONGOING"},
                    "relationships": {"app": {"data": {"type": "apps", "id": "404"}}},
                }
            },
            "application/json",
            422,
            "/data/relationships/app/data/id",
        ),
        ({"data": {"type": "analyticsReportRequests"}}, "application/json", 422, "/data/attributes"),
        (None, "text/plain", 415, None),
    ],
    ids=[
        "bad-json",
        "wrong-type",
        "bad-access-type",
        "no-app",
        "unknown-app",
        "no-attributes",
        "content-type",
    ],
)
def test_malformed_bodies(
    api: Api, sb: Sandbox, doc, content_type: str, status: int, pointer: str | None
) -> None:
    if doc is None:
        doc = create_doc(first_app(sb))
    body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    r = api.post("/v1/analyticsReportRequests", content=body, content_type=content_type)
    assert r.status_code == status, r.text
    err = r.json()["errors"][0]
    if pointer is not None:
        assert err["source"] == {"pointer": pointer}
    assert not sb.world.requests


def test_unknown_ids_and_paths_are_404(api: Api) -> None:
    for path in (
        "/v1/apps/999",
        "/v1/analyticsReportRequests/nope",
        "/v1/analyticsReports/r1-nope",
        "/v1/analyticsReports/nope",
        "/v1/analyticsReportInstances/nope",
        "/v1/analyticsReportSegments/nope",
        "/v1/analyticsReportInstances/nope/segments",
        "/v1/apps/999/analyticsReportRequests",
        "/v2/whatever",
    ):
        r = api.get(path)
        assert r.status_code == 404, path
        assert r.json()["errors"][0]["code"] == "NOT_FOUND"
    r = api.get("/v1/analyticsReportRequests")
    assert r.status_code == 403 and "GET_COLLECTION" in r.json()["errors"][0]["detail"]


def test_reports_exist_at_once_instances_after_24_to_48_hours(api: Api, sb: Sandbox) -> None:
    req = api.create(first_app(sb)).json()["data"]["id"]
    reports = api.all_pages(f"/v1/analyticsReportRequests/{req}/reports")
    assert len(reports) == 129 and all(re.fullmatch(rf"r\d+-{req}", r["id"]) for r in reports)
    assert {r["attributes"]["category"] for r in reports} == {
        "APP_USAGE",
        "APP_STORE_ENGAGEMENT",
        "COMMERCE",
        "FRAMEWORK_USAGE",
        "PERFORMANCE",
    }
    report = reports[0]["id"]
    ready = sb.world.requests[req].ready_at
    assert timedelta(hours=24) <= ready - sb.now <= timedelta(hours=48)
    sb.advance(hours=23, minutes=59)
    assert _instances(api, report) == []
    sb.advance(minutes=(ready - sb.now).total_seconds() / 60 - 1)
    assert _instances(api, report) == []
    sb.advance(minutes=1)
    first = _instances(api, report)
    assert _dates(first, "DAILY") == [ready.date().isoformat()]


def test_ready_delay_differs_per_request_but_not_per_run() -> None:
    delays = []
    for seed in (0, 1):
        sb = Sandbox(seed=seed, apps=4)
        delays.append(
            [
                sb.world.create_request(a, __import__("asc_nb").models.AccessType.ONGOING).ready_at - sb.now
                for a in sb.world.apps
            ]
        )
    assert len(set(delays[0])) > 1
    sb = Sandbox(seed=0, apps=4)
    from asc_nb.models import AccessType

    assert [
        sb.world.create_request(a, AccessType.ONGOING).ready_at - sb.now for a in sb.world.apps
    ] == delays[0]


def test_ongoing_schedule_daily_weekly_fridays_monthly_fifth(api: Api, sb: Sandbox) -> None:
    req = api.create(first_app(sb)).json()["data"]["id"]
    for _ in range(5):  # keep reading so it stays active
        sb.advance(days=7)
        api.get(f"/v1/analyticsReportRequests/{req}/reports", limit=1)
    insts = _instances(api, f"r1-{req}")
    daily = [date.fromisoformat(d) for d in _dates(insts, "DAILY")]
    assert daily == [daily[0] + timedelta(days=i) for i in range(len(daily))]
    assert daily[-1] == sb.now.date()
    weekly = [date.fromisoformat(d) for d in _dates(insts, "WEEKLY")]
    assert weekly and all(d.weekday() == 4 for d in weekly)
    assert [date.fromisoformat(d) for d in _dates(insts, "MONTHLY")] == [date(2026, 3, 5), date(2026, 4, 5)]
    ids = [i["id"] for i in insts]
    assert len(set(ids)) == len(ids)


def test_instances_are_deleted_35_days_after_generation(sb: Sandbox, api: Api) -> None:
    req = api.create(first_app(sb)).json()["data"]["id"]
    sb.advance(days=2)
    first = _instances(api, f"r1-{req}")[0]
    assert api.get(f"/v1/analyticsReportInstances/{first['id']}").status_code == 200
    for _ in range(6):
        sb.advance(days=6)
        api.get(f"/v1/analyticsReportRequests/{req}/reports", limit=1)
    insts = _instances(api, f"r1-{req}")
    assert first["id"] not in {i["id"] for i in insts}
    assert api.get(f"/v1/analyticsReportInstances/{first['id']}").status_code == 404
    daily = _dates(insts, "DAILY")
    assert len(daily) == 35


def test_inactivity_stops_an_ongoing_request(sb: Sandbox, api: Api) -> None:
    keep, idle = (api.create(a).json()["data"]["id"] for a in list(sb.world.apps)[:2])
    for _ in range(4):
        sb.advance(days=10)
        api.get(f"/v1/analyticsReportRequests/{keep}/reports", limit=1)
        # reading the request itself does not count as reading its data
        api.get(f"/v1/analyticsReportRequests/{idle}")
    assert not api.get(f"/v1/analyticsReportRequests/{keep}").json()["data"]["attributes"][
        "stoppedDueToInactivity"
    ]
    assert api.get(f"/v1/analyticsReportRequests/{idle}").json()["data"]["attributes"][
        "stoppedDueToInactivity"
    ]
    last = max(_dates(_instances(api, f"r1-{idle}"), "DAILY"))
    stopped_at = sb.world.requests[idle].stopped_at
    assert date.fromisoformat(last) <= stopped_at.date()
    sb.advance(days=3)
    assert max(_dates(_instances(api, f"r1-{idle}"), "DAILY")) == last  # nothing new, even after a read
    assert api.get(f"/v1/analyticsReportRequests/{idle}").json()["data"]["attributes"][
        "stoppedDueToInactivity"
    ]


def test_inactivity_period_is_configurable(make_api) -> None:
    sb = Sandbox(inactivity_days=2)
    api = make_api(sb)
    req = api.create(first_app(sb)).json()["data"]["id"]
    sb.advance(days=1, hours=23)
    assert not api.get(f"/v1/analyticsReportRequests/{req}").json()["data"]["attributes"][
        "stoppedDueToInactivity"
    ]
    sb.advance(hours=1)
    assert api.get(f"/v1/analyticsReportRequests/{req}").json()["data"]["attributes"][
        "stoppedDueToInactivity"
    ]


def test_snapshot_backfills_history_then_nothing_new(api: Api, sb: Sandbox) -> None:
    req = api.create(first_app(sb), "ONE_TIME_SNAPSHOT").json()["data"]["id"]
    sb.advance(days=2)
    insts = _instances(api, f"r1-{req}")
    daily = _dates(insts, "DAILY")
    # the first daily instance is the one whose data (the day before it) starts on 2024-01-01
    assert daily[0] == "2024-01-02" and daily[-1] == "2026-03-02" and len(daily) == len(set(daily)) == 791
    weekly, monthly = _dates(insts, "WEEKLY"), _dates(insts, "MONTHLY")
    assert weekly[0] == "2024-01-12" and monthly[0] == "2024-02-05" and monthly[-1] == "2026-02-05"
    sb.advance(days=10)
    again = _instances(api, f"r1-{req}")
    assert [i["id"] for i in again] == [i["id"] for i in insts]
    sb.advance(days=30)
    assert _instances(api, f"r1-{req}") == []  # all generated at once, all gone 35 days later


def test_snapshot_history_start_is_configurable(make_api) -> None:
    sb = Sandbox(history_start="2026-02-01")
    api = make_api(sb)
    req = api.create(first_app(sb), "ONE_TIME_SNAPSHOT").json()["data"]["id"]
    sb.advance(days=2)
    assert _dates(_instances(api, f"r1-{req}"), "DAILY")[0] == "2026-02-02"  # holds 2026-02-01


def test_history_days_world(make_api) -> None:
    sb = Sandbox(seed=3, apps=2, history_days=30)
    api = make_api(sb)
    for app in sb.world.apps:
        reqs = api.get(f"/v1/apps/{app}/analyticsReportRequests").json()["data"]
        assert len(reqs) == 1 and reqs[0]["attributes"] == {
            "accessType": "ONGOING",
            "stoppedDueToInactivity": False,
        }
        daily = _dates(_instances(api, f"r1-{reqs[0]['id']}"), "DAILY")
        assert 27 <= len(daily) <= 29 and daily[-1] == sb.now.date().isoformat()


def _fingerprint(seed: int) -> str:
    sb = Sandbox(seed=seed, history_days=3)
    api = Api(sb)
    dl = httpx.Client(transport=sb.transport())
    try:
        h = hashlib.sha256()
        apps = api.get("/v1/apps").content
        h.update(apps)
        app = json.loads(apps)["data"][0]["id"]
        req = api.get(f"/v1/apps/{app}/analyticsReportRequests").json()["data"][0]["id"]
        h.update(req.encode())
        inst = _instances(api, f"r10-{req}")[-1]["id"]
        segs = api.get(f"/v1/analyticsReportInstances/{inst}/segments").json()["data"]
        for s in segs:
            h.update(s["id"].encode() + s["attributes"]["checksum"].encode())
            h.update(dl.get(s["attributes"]["url"]).content)
        h.update(api.create(app, "ONE_TIME_SNAPSHOT").json()["data"]["id"].encode())
        return h.hexdigest()
    finally:
        api.close()
        dl.close()


def test_same_seed_same_world_other_seed_other_world() -> None:
    assert _fingerprint(0) == _fingerprint(0)
    assert _fingerprint(0) != _fingerprint(1)


def test_apps_from_a_list_of_dicts(make_api) -> None:
    sb = Sandbox(apps=[{"name": "My App", "id": "123456789"}, {"name": "Other", "bundleId": "com.x.other"}])
    apps = make_api(sb).get("/v1/apps").json()["data"]
    assert apps[0]["id"] == "123456789" and apps[0]["attributes"]["name"] == "My App"
    assert apps[1]["attributes"]["bundleId"] == "com.x.other"
