"""The catalog tools over stdio answer exactly what the Store, the registry and the metric catalog say in-process."""

from __future__ import annotations

import pandas as pd
from mcp_harness import REPORTS, ROOT, Server, table

import asc_nb

TOOLS = {"list_apps", "list_reports", "describe_report", "list_metrics", "metrics", "health", "sql"}


def test_the_tools_are_listed_and_all_read_only(mcp_server) -> None:
    listed = mcp_server.run(lambda c: c.list_tools()).tools
    assert {t.name for t in listed} == TOOLS
    for t in listed:
        assert t.annotations.read_only_hint is True and t.annotations.destructive_hint is False, t.name
        assert t.description and len(t.description) > 30, t.name
    schema = {t.name: t.input_schema for t in listed}["metrics"]
    assert {"app_ids", "metrics", "start", "end", "by", "as_of"} <= set(schema["properties"])
    assert set(schema["required"]) == {"app_ids", "metrics"}
    # nothing that could create or delete a request, or write
    assert not {
        n for n in (t.name for t in listed) if any(w in n for w in ("create", "delete", "sync", "write"))
    }


def test_list_apps_names_every_app_of_the_store(mcp_server, world) -> None:
    got = mcp_server.ok("list_apps")
    assert [a["app_id"] for a in got["apps"]] == world.apps
    names = world.store.read("App Downloads Standard")[["app_id", "app_name"]].drop_duplicates()
    by_id = dict(zip(names["app_id"].astype(str), names["app_name"].astype(str), strict=True))
    for app in got["apps"]:
        assert app["name"] == by_id[app["app_id"]]
        assert len(app["views"]) == len(REPORTS)
        stored = world.store.read("App Sessions Standard", apps=[app["app_id"]])["date"]
        assert app["first_date"] <= stored.min().date().isoformat()
        assert app["last_date"] >= stored.max().date().isoformat()
    assert got["provenance"]["code"].startswith("import asc_nb\nstore = asc_nb.Store(")
    scope: dict = {}
    exec(got["provenance"]["code"], scope)  # noqa: S102 - the printed code is under test
    again = scope["apps"]
    assert list(again["app_id"]) == [a["app_id"] for a in got["apps"]]
    assert [d.date().isoformat() for d in again["first_date"]] == [a["first_date"] for a in got["apps"]]
    assert [d.date().isoformat() for d in again["last_date"]] == [a["last_date"] for a in got["apps"]]
    assert [sorted(v) for v in again["views"]] == [sorted(a["views"]) for a in got["apps"]]


def test_list_reports_is_store_reports(mcp_server, world) -> None:
    got = mcp_server.ok("list_reports")
    held = table(got["stored"])
    want = world.store.reports()
    assert [r["report"] for r in held.records] == list(want["report"]) == sorted(REPORTS)
    assert [r["view"] for r in held.records] == list(want["view"])
    assert [r["last_date"] for r in held.records] == [d.date().isoformat() for d in want["last_date"]]
    assert "catalog" not in got
    everything = mcp_server.ok("list_reports", {"catalog": True})
    assert len(everything["catalog"]["rows"]) == len(asc_nb.report_catalog())


def test_describe_report_is_the_registry(mcp_server) -> None:
    got = mcp_server.ok("describe_report", {"name": "app downloads standard"})  # names ignore case
    assert got["report"] == "App Downloads Standard" and got["category"] == str(
        asc_nb.registry.get(got["report"]).category
    )
    fields = table(got["fields"])
    want = asc_nb.describe_report("App Downloads Standard")
    assert [r["column"] for r in fields.records] == list(want["column"])
    assert [r["additive"] for r in fields.records] == [
        None if pd.isna(x) else bool(x) for x in want["additive"]
    ]
    assert {"first_time_downloads", "redownloads", "total_downloads"} <= set(got["metrics"])
    assert [r["view"] for r in table(got["stored"]).records] == ["app_downloads_standard_daily"]
    assert "asc_nb.describe_report('App Downloads Standard')" in got["provenance"]["code"]


def test_an_unknown_report_is_a_tool_error_naming_close_ones(mcp_server) -> None:
    text = mcp_server.error("describe_report", {"name": "App Downlods Standrd"})
    assert "ReportNotFoundError" in text and "App Downloads Standard" in text


def test_list_metrics_is_the_metric_catalog(mcp_server) -> None:
    got = table(mcp_server.ok("list_metrics")["metrics"])
    want = asc_nb.metric_catalog()
    assert [r["name"] for r in got.records] == list(want["name"])
    additive = {r["name"]: r["additive"] for r in got.records}
    assert additive["active_devices"] is False and additive["first_time_downloads"] is True
    assert pd.Series([r["reports"] for r in got.records]).str.len().min() > 0


def test_a_long_lived_server_sees_what_a_sync_adds_beside_it(tmp_path) -> None:
    # the client keeps the server for days while cron syncs the store: a new report must show up without a restart
    sb = asc_nb.Sandbox(seed=3, apps=1, history_days=6)
    client = asc_nb.connect(sandbox=sb, cache_dir=tmp_path / "cache")
    store = asc_nb.Store(tmp_path / "store")
    store.sync(client, reports=["App Sessions Standard"], progress=False)
    server = Server(
        ["-m", "asc_nb", "mcp", "--store", str(store.path)],
        {"PYTHONPATH": str(ROOT), "HOME": str(tmp_path)},
        tmp_path / "stderr.txt",
    )
    try:
        assert [r["view"] for r in table(server.ok("list_reports")["stored"]).records] == [
            "app_sessions_standard_daily"
        ]
        assert (
            "app_downloads_standard_daily"
            not in server.error("sql", {"query": "select count(*) from app_downloads_standard_daily"}).split(
                "views:"
            )[-1]
        )
        store.sync(client, reports=["App Downloads Standard"], progress=False)
        views = [r["view"] for r in table(server.ok("list_reports")["stored"]).records]
        assert views == ["app_downloads_standard_daily", "app_sessions_standard_daily"]
        n = server.ok("sql", {"query": "select count(*) as n from app_downloads_standard_daily"})["result"][
            "rows"
        ]
        assert n == [[len(store.read("App Downloads Standard"))]]
        assert {len(a["views"]) for a in server.ok("list_apps")["apps"]} == {2}
    finally:
        server.close()
        client.close()
        store.close()
