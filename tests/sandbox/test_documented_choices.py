"""The sandbox's own choices where Apple is silent behave as docs/sandbox.md says (both fronts)."""

from __future__ import annotations

from pathlib import Path

from asc_nb import models
from asc_nb.sandbox import auth, routes

from .conftest import Front
from .helpers import first_app

DOC = (Path(__file__).resolve().parents[2] / "docs" / "sandbox.md").read_text()


def test_reads_are_exactly_routes_READS(front: Front) -> None:
    """Each GET touches the request (keeps it alive) iff its endpoint is in READS; downloads do not."""
    sb, api = front.sb, front.api
    app = first_app(sb)
    req_id = api.create(app).json()["data"]["id"]
    sb.advance(days=3)
    report = f"r1-{req_id}"
    inst = api.get(f"/v1/analyticsReports/{report}/instances").json()["data"][0]["id"]
    seg = api.get(f"/v1/analyticsReportInstances/{inst}/segments").json()["data"][0]
    ids = {
        "apps": app,
        "analyticsReportRequests": req_id,
        "analyticsReports": report,
        "analyticsReportInstances": inst,
        "analyticsReportSegments": seg["id"],
    }
    req = sb.world.requests[req_id]
    assert set(models.ENDPOINTS_BY_NAME) >= routes.READS
    touched = set()
    for ep in models.ENDPOINTS:
        if ep.method != "GET":
            continue
        sb.advance(hours=1)
        path = ep.url(ids[ep.path.split("/")[2]]) if "{id}" in ep.path else ep.path
        assert api.get(path).status_code == 200, path
        if req.last_read_at == sb.now:
            touched.add(ep.name)
    assert touched == routes.READS
    url = api.get(f"/v1/analyticsReportSegments/{seg['id']}").json()["data"]["attributes"]["url"]
    listed_at = req.last_read_at
    sb.advance(minutes=1)
    assert front.dl.get(url).status_code == 200
    assert req.last_read_at == listed_at < sb.now  # a download is not a read of its own (its listing was)


def test_default_include_limit(front: Front) -> None:
    sb, api = front.sb, front.api
    req = api.create(first_app(sb)).json()["data"]["id"]
    body = api.get(f"/v1/analyticsReportRequests/{req}", include="reports").json()
    assert routes.DEFAULT_INCLUDE_LIMIT == 10
    assert len(body["included"]) == 10
    assert body["data"]["relationships"]["reports"]["meta"]["paging"]["limit"] == 10


def test_the_page_states_the_values_the_code_uses() -> None:
    assert f"**{models.SNAPSHOT_COOLDOWN_DAYS} days**" in DOC
    assert f"**{routes.DEFAULT_INCLUDE_LIMIT}** when" in DOC
    assert f"**{auth.CLOCK_SKEW} s**" in DOC
    assert "`routes.READS`" in DOC and "**422** by default" in DOC  # READS itself is pinned above
