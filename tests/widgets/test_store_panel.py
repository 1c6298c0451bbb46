"""The Store tab: coverage heat-map (at-risk highlighted), a Sync that never blocks, frame/code/export."""

from __future__ import annotations

import time

import pandas as pd

import asc_nb
from asc_nb.widgets import StorePanel, coverage_heatmap, dashboard
from asc_nb.widgets.dashboard import TAB_STORE

REPORTS = ("App Sessions Standard",)


def test_sync_button_runs_in_the_background_and_shows_coverage(tmp_path):
    sb = asc_nb.Sandbox(seed=14, apps=2, history_days=5)
    with asc_nb.connect(sandbox=sb, cache_dir=tmp_path / "cache") as client:
        store = asc_nb.Store(tmp_path / "store")
        panel = StorePanel(client, store, reports=REPORTS)
        assert panel.wait(30)
        assert "Nothing stored yet" in panel.heatmap.value
        sb.faults.add("slow", path="/instances", seconds=0.6)
        t0 = time.monotonic()
        panel.sync_button.click()
        assert time.monotonic() - t0 < 0.4, "Sync blocked the notebook"
        assert panel.busy and panel.sync_button.disabled
        assert panel.wait(60)
        assert panel.status.level == "ok", panel.status.text
        assert panel.progress.value == panel.progress.max > 1
        assert set(panel.result["status"]) == {"ok"}
        assert panel.heatmap.value.count("asc-nb-cell") == len(panel.frame) > 0
        assert "asc-nb-at-risk" not in panel.heatmap.value
        # .code run with `store` bound leaves df equal to .frame
        scope = {"store": store, "asc_nb": asc_nb}
        exec(panel.code, scope)
        pd.testing.assert_frame_equal(pd.DataFrame(scope["df"]), panel.frame)
        written = panel.export(tmp_path / "coverage.csv")
        assert len(pd.read_csv(written)) == len(panel.frame)
        store.close()


def test_heatmap_highlights_at_risk_dates():
    cov = pd.DataFrame(
        {
            "report": ["App Sessions Standard"] * 3,
            "granularity": ["DAILY"] * 3,
            "date": pd.to_datetime(["2026-01-01", "2026-01-02", "2026-01-03"]),
            "status": ["stored", "at_risk", "missing"],
            "apps": [2, 0, 0],
        }
    )
    markup = coverage_heatmap(cov)
    assert markup.count("asc-nb-at-risk") == 1 and "2026-01-02: at risk" in markup and "1 at risk" in markup


def test_dashboard_has_a_store_tab_when_given_a_store(tmp_path):
    sb = asc_nb.Sandbox(seed=14, apps=1)
    with asc_nb.connect(sandbox=sb, cache_dir=tmp_path / "cache") as client:
        board = dashboard(client, store=asc_nb.Store(tmp_path / "store"))
        assert board.wait(30)
        assert board.titles[-1] == "Store" and board.tabs.get_title(TAB_STORE) == "Store"
        assert board.store_panel in board.panels
        assert dashboard(client).store_panel is None


def test_pending_says_why_not_always_a_snapshot(tmp_path):
    # a world without history: the ONGOING request the sync makes has no instances yet (no snapshot involved)
    sb = asc_nb.Sandbox(seed=14, apps=1)
    with asc_nb.connect(sandbox=sb, cache_dir=tmp_path / "cache") as client:
        panel = StorePanel(client, asc_nb.Store(tmp_path / "store"), reports=REPORTS)
        panel.sync_button.click()
        assert panel.wait(60)
        assert set(panel.result["status"]) == {"pending"}
        assert "snapshot" not in panel.status.text.lower()
        assert "has no instances yet" in panel.status.text
        panel.store.close()
