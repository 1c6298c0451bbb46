"""The Store tab's ledger section: states coloured, reasons on hover, a Repair button that never blocks."""

from __future__ import annotations

import re
import time

import asc_nb
from asc_nb.widgets import StorePanel
from asc_nb.widgets.store import STATE_COLOURS, ledger_html

from .conftest import REPORTS


def test_ledger_cells_are_coloured_by_state_with_the_reason_on_hover(faulted):
    ledger = faulted.store.health()
    markup = ledger_html(ledger)
    cells = re.findall(r'class="asc-nb-state asc-nb-state-(\w+)" title="([^"]*)"', markup)
    strip = cells[: len(ledger)]
    assert len(strip) == len(ledger)
    assert {s for s, _ in strip} == set(ledger["state"].astype(str))
    dup = ledger[ledger["state"] == "duplicate"].iloc[0]
    assert any(
        s == "duplicate" and t.startswith(f"{dup['date']:%Y-%m-%d}: duplicate — Apple published")
        for s, t in strip
    )
    for state in ("missing", "duplicate", "restated", "empty"):
        assert f"background:{STATE_COLOURS[state]}" in markup
    assert "asc-nb-ledger-table" in markup and "reference day 2026-03-02" in markup


def test_repair_button_runs_on_the_worker_and_says_what_it_did(tmp_path):
    sb = asc_nb.Sandbox(seed=7, apps=2, history_days=40, data_faults="gap=1,duplicate=1")
    with asc_nb.connect(sandbox=sb, cache_dir=tmp_path / "cache") as client:
        store = asc_nb.Store(tmp_path / "store")
        store.sync(client, reports=list(REPORTS), progress=False)
        panel = StorePanel(client, store, reports=REPORTS)
        assert panel.wait(60)
        assert (
            "asc-nb-state-missing" in panel.ledger_view.value
            or "asc-nb-state-empty" in panel.ledger_view.value
        )
        sb.faults.add("slow", path="/analyticsReportRequests", seconds=0.6)
        t0 = time.monotonic()
        panel.repair_button.click()
        assert time.monotonic() - t0 < 0.4, "Repair blocked the notebook"
        assert panel.busy and panel.repair_button.disabled and panel.sync_button.disabled
        assert panel.wait(120)
        assert panel.status.level == "warn", panel.status.text  # the snapshot is pending; the duplicate stays
        assert "pending" in panel.status.text and "cannot be repaired now" in panel.status.text
        assert set(panel.plan["action"]) == {"snapshot", "not_repairable"}
        sb.advance(days=2)
        panel.repair_button.click()
        assert panel.wait(120)
        states = set(panel.ledger["state"].astype(str))
        assert states <= {"final", "provisional", "duplicate"} and "duplicate" in states
        assert "asc-nb-state-missing" not in panel.ledger_view.value
        store.close()


def test_an_unreadable_store_is_said_in_words(tmp_path):
    root = tmp_path / "store"
    root.mkdir()
    (root / "state.sqlite").write_bytes(b"not a database" * 200)
    sb = asc_nb.Sandbox(seed=1, apps=1)
    with asc_nb.connect(sandbox=sb, cache_dir=tmp_path / "cache") as client:
        panel = StorePanel(client, asc_nb.Store(root), reports=REPORTS[:1])
        assert panel.wait(30)
        panel.repair_button.click()
        assert panel.wait(30)
        assert panel.status.level == "error" and panel.status.text.startswith("Repair stopped: ")
        assert "cannot be read" in panel.status.text and "Traceback" not in panel.status.text
        assert "cannot be read" in panel.ledger_view.value
