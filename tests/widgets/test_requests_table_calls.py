"""``RequestsTable`` works out each request's status with the fewest calls.

Whether a request has produced anything yet is one question — "is there at least one instance?" —
but the table listed *every* instance of the probe report, all pages: a ONE_TIME_SNAPSHOT holds about
a thousand (daily, weekly and monthly since 2024-01-01), five calls of the key's hourly budget on
every refresh, delete or app change, for an answer the first page gives.
"""

from __future__ import annotations

import asc_nb
from asc_nb.widgets import RequestsTable


def test_status_of_a_snapshot_costs_two_calls(tmp_path) -> None:
    sb = asc_nb.Sandbox(seed=0, apps=2)
    with asc_nb.connect(sandbox=sb, cache_dir=tmp_path / "cache") as client:
        app = str(client.apps().id[0])
        client.create_report_request(app, "ONE_TIME_SNAPSHOT")
        sb.advance(days=2)
        table = RequestsTable(client, app, apps=client.apps())
        assert list(table.frame["status"]) == ["snapshot"]
        before = len(sb.calls)
        table.load()
        probe = [p for _, _, p in sb.calls[before:] if "/instances" in p]
        # one request: list requests, then reports?filter[name] + one page of instances
        assert len(probe) == 1, probe
        assert len(sb.calls) - before == 3
