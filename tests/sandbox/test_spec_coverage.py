"""Every (operation, status) the spec declares is produced and validates against its schema.

The validation itself happens in the ``Api`` response hook (helpers.py) for every response of
every sandbox test; this test makes sure every declared pair actually occurs at least once.
"""

from __future__ import annotations

from asc_nb import models
from asc_nb.sandbox import Sandbox

from .helpers import CHECKER, SPEC, Api, create_doc, first_app


def _declared() -> set[tuple[str, int]]:
    out = set()
    for ep in models.ENDPOINTS:
        for status in SPEC["paths"][ep.path][ep.method.lower()]["responses"]:
            out.add((ep.name, int(status)))
    return out


def test_every_declared_response_occurs_and_validates(make_api) -> None:
    CHECKER.seen.clear()
    sb = Sandbox(history_days=3)
    admin: Api = make_api(sb)
    dev: Api = make_api(sb, sb.add_key(role="DEVELOPER"))
    app = first_app(sb)
    req = admin.get(f"/v1/apps/{app}/analyticsReportRequests").json()["data"][0]["id"]
    report = f"r10-{req}"
    inst = admin.get(f"/v1/analyticsReports/{report}/instances").json()["data"][0]["id"]
    seg = admin.get(f"/v1/analyticsReportInstances/{inst}/segments").json()["data"][0]["id"]
    ids = {
        "apps": app,
        "analyticsReportRequests": req,
        "analyticsReports": report,
        "analyticsReportInstances": inst,
        "analyticsReportSegments": seg,
    }
    other_app = list(sb.world.apps)[1]

    for ep in models.ENDPOINTS:
        owner = ep.path.split("/")[2]
        path = ep.url(ids[owner]) if "{id}" in ep.path else ep.path
        if ep.method == "GET":
            admin.get(path)
            admin.get(path, bogus="1")
            dev.get(path)
            admin.http.get(path)  # 401
            if "{id}" in ep.path:
                admin.get(ep.url("does-not-exist"))
            sb.faults.add("rate_limit", path=f"^{path}$")
            admin.get(path)
    # POST: 201, 400, 401, 403, 409, 422, 429
    admin.create(other_app, "ONE_TIME_SNAPSHOT")
    admin.http.post("/v1/analyticsReportRequests?x=1", json=create_doc(other_app), headers=admin.auth())
    admin.http.post("/v1/analyticsReportRequests", json=create_doc(other_app))
    dev.create(other_app)
    admin.create(other_app, "ONE_TIME_SNAPSHOT")
    admin.post("/v1/analyticsReportRequests", {"data": {"type": "nope"}})
    sb.faults.add("rate_limit", path="^/v1/analyticsReportRequests$", method="POST")
    admin.create(other_app)
    # DELETE: 204, 400, 401, 403, 404, 429
    path = f"/v1/analyticsReportRequests/{req}"
    admin.http.delete(path + "?x=1", headers=admin.auth())
    admin.http.delete(path)
    dev.delete(path)
    sb.faults.add("rate_limit", path=f"^{path}$", method="DELETE")
    admin.delete(path)
    admin.delete(path)
    admin.delete(path)

    missing = _declared() - CHECKER.seen
    assert not missing, sorted(missing)
