"""A request deleted between syncs (by the user or by Apple) is recovered from, said in plain words — through the
library, the CLI and the Store panel — and never fails every report for one stale id."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import asc_nb
from asc_nb.models import AccessType

from .conftest import REPORTS, run_sync, small_world

SNAPSHOT, ONGOING = AccessType.ONE_TIME_SNAPSHOT.value, AccessType.ONGOING.value


def plain(result: pd.DataFrame) -> None:
    """No row failed and no raw exception text reached the result."""
    assert not (result["status"] == "failed").any(), result[["app_id", "report", "status", "error"]]
    text = " ".join(result["error"].dropna())
    for raw in ("NotFoundError", "404", "NOT_FOUND", "analyticsReport"):
        assert raw not in text, text


def world():
    return small_world(history_days=6, history_start="2026-02-01", inactivity_days=1000)


@pytest.mark.parametrize("ready", [False, True], ids=["snapshot-pending", "snapshot-made"])
def test_snapshot_deleted_after_an_earlier_backfill(store, tmp_path, ready):
    sb = world()
    client = asc_nb.connect(sandbox=sb, cache_dir=tmp_path / "cache")
    store.sync(client, reports=REPORTS, backfill=True, progress=False)  # an earlier run (another kernel)
    if ready:
        sb.advance(days=2)
    app_id = next(iter(sb.world.apps))
    gone = store.state.request(app_id, SNAPSHOT)[0]
    client.delete_report_request(gone)

    result = store.sync(
        client, reports=REPORTS, progress=False
    )  # no backfill flag: the snapshot is remembered
    plain(result)
    mine = result[result["app_id"] == app_id]
    assert mine["error"].str.contains(f"ONE_TIME_SNAPSHOT request {gone} no longer exists").all()
    assert mine["error"].str.contains("used the ONGOING request").all()
    assert mine["error"].str.contains("backfill=True").all()
    assert store.state.request(app_id, SNAPSHOT) is None  # forgotten
    if ready:  # the ONGOING rows of the same sync were stored all the same
        assert (mine["new_instances"] > 0).all()
    assert len(store.read(REPORTS[0], apps=[app_id])) > 0
    others = result[result["app_id"] != app_id]
    assert not others["error"].fillna("").str.contains("no longer exists").any()

    again = store.sync(client, reports=REPORTS, progress=False)  # recovered: nothing more to say
    plain(again)
    assert not again["error"].fillna("").str.contains("no longer exists").any()


def test_snapshot_deleted_with_backfill_asks_for_a_new_one_when_apple_allows(store, tmp_path):
    sb = world()
    client = asc_nb.connect(sandbox=sb, cache_dir=tmp_path / "cache")
    store.sync(client, reports=REPORTS, backfill=True, progress=False)
    app_id = next(iter(sb.world.apps))
    gone = store.state.request(app_id, SNAPSHOT)[0]
    client.delete_report_request(gone)
    refused = store.sync(client, reports=REPORTS, backfill=True, progress=False)
    plain(refused)  # Apple allows one snapshot per app about every 31 days: said, not failed
    mine = refused[refused["app_id"] == app_id]
    assert mine["error"].str.contains(f"{gone} no longer exists").all()
    assert mine["error"].str.contains("Apple refused a new ONE_TIME_SNAPSHOT").all()
    assert store.state.request(app_id, SNAPSHOT) is None

    sb.advance(days=32)
    asked = store.sync(client, reports=REPORTS, backfill=True, progress=False)
    assert not (asked["status"] == "failed").any(), asked
    new = store.state.request(app_id, SNAPSHOT)[0]
    assert new != gone


def test_ongoing_deleted_between_syncs_is_found_again(store, tmp_path):
    sb = world()
    client = asc_nb.connect(sandbox=sb, cache_dir=tmp_path / "cache")
    store.sync(client, reports=REPORTS, progress=False)
    app_id = next(iter(sb.world.apps))
    gone = store.state.request(app_id, ONGOING)[0]
    client.delete_report_request(gone)
    result = store.sync(client, reports=REPORTS, progress=False)
    plain(result)
    new = store.state.request(app_id, ONGOING)[0]
    assert new != gone
    mine = result[result["app_id"] == app_id]
    assert mine["error"].str.contains(f"ONGOING request {gone} no longer exists").all()
    assert mine["error"].str.contains(f"now uses ONGOING request {new}").all()
    assert set(result.loc[result["app_id"] != app_id, "status"]) == {"ok"}
    sb.advance(days=2)  # Apple starts the new request's reports
    later = store.sync(client, reports=REPORTS, progress=False)
    plain(later)
    assert (
        set(later["status"]) == {"ok"} and (later.loc[later["app_id"] == app_id, "new_instances"] > 0).all()
    )


def test_request_deleted_during_the_sync_leaves_plain_words(store, tmp_path):
    """Instances listed, then their request deleted before their segments are listed: a note per instance."""
    sb = world()
    client = asc_nb.connect(sandbox=sb, cache_dir=tmp_path / "cache")
    app_id = next(iter(sb.world.apps))
    req = client.ensure_ongoing(app_id)
    deleted = []

    def delete_once(response):  # after the first instance listing of that request's reports
        if not deleted and "/instances" in response.request.url.path:
            deleted.append(True)
            sb.world.delete_request(req.id)

    client.http.client.event_hooks["response"].append(delete_once)
    result = store.sync(client, apps=[app_id], reports=REPORTS[:1], progress=False)
    plain(result)
    assert deleted and result["error"].str.contains("no longer exists at Apple").all()


def test_cli_sync_after_a_deleted_snapshot(sandbox_cli, tmp_path):
    store_dir, cache = tmp_path / "store", tmp_path / "cache"
    code, _, err = run_sync(sandbox_cli, store_dir, cache, "--backfill")
    assert code == 0, err
    client = asc_nb.connect(
        key_id=sandbox_cli["ASC_KEY_ID"],
        issuer_id=sandbox_cli["ASC_ISSUER_ID"],
        private_key=sandbox_cli["ASC_PRIVATE_KEY_PATH"],
        base_url=sandbox_cli["ASC_BASE_URL"],
        cache_dir=cache,
    )
    with client:
        store = asc_nb.Store(store_dir)
        app_id = store.state.get_meta("apps").split(",")[0]
        gone = store.state.request(app_id, SNAPSHOT)[0]
        store.close()
        client.delete_report_request(gone)
    code, out, err = run_sync(sandbox_cli, store_dir, cache, "--json")
    assert code == 0, err
    rows = pd.DataFrame([json.loads(line) for line in out.splitlines()])
    plain(rows)
    assert rows.loc[rows["app_id"] == app_id, "error"].str.contains(f"{gone} no longer exists").all()
    assert "NotFoundError" not in err


def test_store_panel_says_what_happened(tmp_path):
    from asc_nb.widgets import StorePanel

    sb = world()
    with asc_nb.connect(sandbox=sb, cache_dir=tmp_path / "cache") as client:
        store = asc_nb.Store(tmp_path / "store")
        panel = StorePanel(client, store, reports=REPORTS, load=False)
        panel.backfill.value = True
        panel.sync()
        assert panel.wait(60) and panel.status.level == "ok", panel.status.text
        app_id = next(iter(sb.world.apps))
        gone = store.state.request(app_id, SNAPSHOT)[0]
        client.delete_report_request(gone)
        panel.backfill.value = False
        panel.sync()
        assert panel.wait(60)
        assert panel.status.level == "ok", panel.status.text
        assert f"ONE_TIME_SNAPSHOT request {gone} no longer exists" in panel.status.text
        assert "NotFoundError" not in panel.status.text and "404" not in panel.status.text
        store.close()
