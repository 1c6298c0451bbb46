"""The store, its CLI and the new panels keep secrets out too: the token and the key never reach the store's files,
the sync result, the CLI's output or the Store/Overview widget state, and presigned signatures stay redacted."""

from __future__ import annotations

import json
import os

import asc_nb
from asc_nb.__main__ import main
from asc_nb.client import Client
from asc_nb.sandbox import Sandbox
from asc_nb.widgets import Overview, StorePanel

from .conftest import REPORT, Sleeps
from .test_leaks import SIGNATURE, Tokens, _all_widgets, find, key_lines


def test_store_cli_and_panels_hold_no_secret(tmp_path, monkeypatch, capsys) -> None:
    sb = Sandbox(seed=31, apps=1, history_days=10)
    with sb.serve() as handle:
        tokens = Tokens()
        c = Client(sandbox=sb, base_url=handle.base_url, cache_dir=tmp_path / "cache", sleep=Sleeps())
        tokens.watch(c)
        app = str(c.apps()["id"][0])
        sb.faults.add("expired", host="download", count=50)  # failures whose messages end up in the store
        store = asc_nb.Store(tmp_path / "store")
        result = store.sync(c, reports=[REPORT], progress=False)
        assert (result["status"] == "failed").any() and result["error"].str.contains("instance").any()
        sb.faults.clear()
        store.sync(c, reports=[REPORT], progress=False)
        panel = StorePanel(c, store, reports=(REPORT,))
        overview = Overview(store, app, kpis=("sessions",))
        assert panel.wait(60) and overview.wait(60)

        for name in list(os.environ):
            if name.startswith("ASC_"):
                monkeypatch.delenv(name)
        monkeypatch.setenv("ASC_KEY_ID", sb.key_id)
        monkeypatch.setenv("ASC_ISSUER_ID", sb.issuer_id)
        monkeypatch.setenv("ASC_PRIVATE_KEY", sb.private_key_pem)
        monkeypatch.setenv("ASC_BASE_URL", handle.base_url)
        monkeypatch.setenv("ASC_NB_CACHE_DIR", str(tmp_path / "cli-cache"))
        sb.faults.add("expired", host="download", count=50)
        code = main(["sync", "--store", str(tmp_path / "cli-store"), "--reports", REPORT, "--json"])
        cli = capsys.readouterr()
        c.close()

    assert code == 0 or "failed" in cli.out
    secrets = tokens.secrets(c) | key_lines(sb.private_key_pem)
    assert len(secrets) > 3
    files = [
        p for root in (tmp_path / "store", tmp_path / "cli-store") for p in root.rglob("*") if p.is_file()
    ]
    assert any(p.suffix == ".parquet" for p in files)
    texts = {
        "store files": "\n".join(p.read_bytes().decode("latin-1") for p in files),
        "sync result": result.to_string() + json.dumps(result.astype(str).to_dict("records")),
        "issues": store.issues().to_string(),
        "repr": repr(store) + repr(overview) + repr(panel),
        "cli": cli.out + cli.err,
        "widgets": json.dumps(
            [w.get_state() for w in _all_widgets(panel) + _all_widgets(overview)], default=repr
        ),
    }
    for where, text in texts.items():
        assert find(secrets, text) == [], where
        assert "Bearer " not in text, where
        assert not SIGNATURE.search(text), where
    store.close()
