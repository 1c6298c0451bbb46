"""The explorer never shows one request's data under another request's title.

In the dashboard an analyst starts "Download all" for request A, then (the download runs in a
thread, the kernel stays free) clicks "Explore reports" on request B: ``explorer.load(B)``. The
download thread used to read ``self.request_id`` when it got round to calling ``fetch`` and when
it finished, so it either downloaded B although A's instances were listed, or published its frame,
preview and ``result`` as B's.
"""

from __future__ import annotations

import asc_nb
from asc_nb.widgets import ReportsExplorer

REPORT = "App Sessions Standard"


def test_switching_request_during_a_download(tmp_path) -> None:
    sb = asc_nb.Sandbox(seed=0, apps=5)
    with asc_nb.connect(sandbox=sb, cache_dir=tmp_path / "cache") as client:
        apps = [str(a) for a in client.apps().id]
        a = client.create_report_request(apps[0], "ONGOING").id
        b = client.create_report_request(apps[1], "ONGOING").id
        sb.advance(days=6)
        ex = ReportsExplorer(client, a)
        ex.select_report(REPORT)
        ex.find_instances()
        sb.faults.add("slow", host="download", count=None, seconds=0.2)
        ex.download.click()
        ex.load(b)  # while A's segments are still downloading
        ex.wait(120)
        assert ex.request_id == b
        # whatever is shown now belongs to B (nothing was downloaded for B)
        assert ex.frame is None or ex.frame.attrs.get("request_id") == b
        assert ex.result is None or ex.result.get("request_id") == b
        # and the download that was started fetched A, the request whose instances were listed
        listed = [path for _, host, path in sb.calls if host == "api" and "/instances" in path]
        assert any(a in p for p in listed) and not any(b in p for p in listed)
        assert "Download" in ex.status.text or "download" in ex.status.text
