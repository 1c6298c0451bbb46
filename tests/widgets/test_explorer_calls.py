"""The explorer downloads the plan it listed: its download makes exactly the calls its listing did not.

Listing is ``load`` (the request, its app's name, the request's reports) and ``find_instances`` (one instances listing, through
``client.plan_fetch`` with the listed report row: no report lookup); the download then lists each
shown instance's segments once and downloads each segment once. Counted in the sandbox's own log.
"""

from __future__ import annotations

from collections import Counter

import pandas as pd

from asc_nb.widgets import ReportsExplorer

REPORT = "App Sessions Standard"


def test_download_repeats_no_listing_call(client, app_ids, sandbox) -> None:
    req = client.create_report_request(app_ids[0], "ONGOING")
    sandbox.advance(days=6)
    start = len(sandbox.calls)
    ex = ReportsExplorer(client, req.id)
    ex.select_report(REPORT)
    inst = ex.find_instances()
    listing = [p.split("?")[0] for _, host, p in sandbox.calls[start:] if host == "api"]
    report_id = ex.report.value
    # the request (its access type and app, for the title and the advice), the app's name (the dashboard
    # shares its apps listing instead), the reports, then one instances listing
    assert listing == [
        f"/v1/analyticsReportRequests/{req.id}",
        f"/v1/apps/{app_ids[0]}",
        f"/v1/analyticsReportRequests/{req.id}/reports",
        f"/v1/analyticsReports/{report_id}/instances",
    ]
    assert inst is not None and len(inst) >= 3

    mark = len(sandbox.calls)
    ex.download.click()
    ex.wait(120)
    assert ex.error is None, ex.status.text
    api = Counter(p.split("?")[0] for _, host, p in sandbox.calls[mark:] if host == "api")
    assert api == Counter(
        f"/v1/analyticsReportInstances/{i}/segments" for i in inst["id"]
    )  # nothing else, once each
    downloads = [p for _, host, p in sandbox.calls[mark:] if host == "download"]
    assert len(downloads) == len(set(downloads)) == ex.result["segments"]
    # and the frame is what a fresh fetch of the same choice returns
    expected = client.fetch(
        req.id, REPORT, "DAILY", ex.start.value.isoformat(), ex.end.value.isoformat(), progress=False
    )
    pd.testing.assert_frame_equal(ex.frame, expected)
