"""store.metrics: the same numbers as client.metrics, from the lake; an identical second question
makes no API call and downloads nothing.
"""

from __future__ import annotations

import pandas as pd

from asc_nb.client import Client
from asc_nb.sandbox import Sandbox
from asc_nb.store import Store

METRICS = ["impressions", "total_downloads", "sessions"]
START, END = "2026-02-09", "2026-02-22"


def test_store_metrics_equal_client_metrics_and_a_repeat_makes_no_calls(tmp_path):
    sb = Sandbox(seed=0, history_days=40)
    with Client(sandbox=sb, cache_dir=tmp_path / "cache") as client:
        app = str(client.apps()["id"].iloc[0])
        direct = client.metrics([app], METRICS, start=START, end=END)
        store = Store(tmp_path / "store")
        try:
            before = len(sb.calls)
            first = store.metrics([app], METRICS, start=START, end=END, client=client)
            assert len(sb.calls) > before  # the empty lake was filled from the API
            pd.testing.assert_frame_equal(first, direct)
            before = len(sb.calls)
            again = store.metrics([app], METRICS, start=START, end=END, client=client)
            assert sb.calls[before:] == []  # no API call, no download
            pd.testing.assert_frame_equal(again, direct)
            offline = store.metrics([app], METRICS, start=START, end=END)  # no client: the lake alone
            pd.testing.assert_frame_equal(offline, direct)
            assert len(sb.calls) == before
        finally:
            store.close()
