"""Issue 12: case and surrounding spaces of a report name do not matter — in fetch, and in the store."""

from __future__ import annotations

import warnings

import asc_nb


def test_fetch_and_store_take_a_report_name_in_any_case(tmp_path):
    client = asc_nb.connect(
        sandbox=asc_nb.Sandbox(seed=14, apps=1, history_days=8), cache_dir=tmp_path / "cache"
    )
    app = str(client.apps()["id"][0])
    req = client.ensure_ongoing(app)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", asc_nb.MissingDatesWarning)
        exact = client.fetch(req.id, "App Sessions Standard", progress=False)
        loose = client.fetch(req.id, "  app sessions STANDARD ", progress=False)
    assert len(exact) > 0 and loose.attrs["report"] == "App Sessions Standard"
    assert loose.equals(exact)

    store = asc_nb.Store(tmp_path / "store")
    result = store.sync(client, reports=[" app sessions standard", "App Sessions Standard"], progress=False)
    assert result["report"].tolist() == ["App Sessions Standard"] and result["status"].tolist() == ["ok"]
    assert [p.name for p in store.lake.iterdir()] == ["report=App Sessions Standard"]
    assert len(store.read("app sessions standard ")) == len(store.read("App Sessions Standard")) > 0
    client.close()
