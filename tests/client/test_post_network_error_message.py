"""After a dropped POST the client checks what happened; its error must say what it found.

``create_report_request`` lists the app's requests after a connection error on the POST and, when
nothing was created, re-raises. For a 5xx the message then says "No request was created (checked);
it is safe to call again", but a ``NetworkError`` kept only "not retried, a POST may have reached
the server" — the opposite of what the client had just verified, leaving the analyst to check by hand.
"""

from __future__ import annotations

import pytest

from asc_nb.client import Client
from asc_nb.errors import NetworkError
from asc_nb.sandbox import Sandbox


def test_dropped_post_says_nothing_was_created(tmp_path) -> None:
    sb = Sandbox(seed=0)
    with Client(sandbox=sb, cache_dir=tmp_path, sleep=lambda s: None) as client:
        app = str(client.apps().id[0])
        sb.faults.add("reset", path="/v1/analyticsReportRequests$", method="POST")
        with pytest.raises(NetworkError) as info:
            client.create_report_request(app, "ONGOING")
        assert client.report_requests(app).empty
    text = str(info.value)
    assert "POST" in text and "/v1/analyticsReportRequests" in text
    assert "No request was created (checked); it is safe to call again" in text, text


def test_unverified_post_does_not_claim_it_checked(tmp_path) -> None:
    """When the check itself fails, the error must not say "checked" (it could not know)."""
    sb = Sandbox(seed=0)
    with Client(sandbox=sb, cache_dir=tmp_path, sleep=lambda s: None) as client:
        app = str(client.apps().id[0])
        sb.faults.add("server_error", path="/v1/analyticsReportRequests$", method="POST", status=503)
        sb.faults.add(
            "server_error", path=r"/v1/apps/\d+/analyticsReportRequests", method="GET", count=None, status=500
        )
        with pytest.raises(Exception) as info:
            client.create_report_request(app, "ONGOING")
        sb.faults.clear()
    text = str(info.value)
    assert "503" in text and "(checked)" not in text and "Could not check" in text, text
