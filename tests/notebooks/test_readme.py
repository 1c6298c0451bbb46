"""Every python block of the README runs as written against the embedded default sandbox and returns data."""

from __future__ import annotations

import os
import re
import subprocess
import warnings
from pathlib import Path

import pandas as pd

import asc_nb

REPO = Path(__file__).resolve().parents[2]


def blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(), flags=re.S)


def test_readme_has_python_blocks() -> None:
    assert len(blocks()) >= 3


def test_readme_examples_return_data(tmp_path, monkeypatch) -> None:
    for name in list(os.environ):
        if name.startswith("ASC_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("ASC_NB_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("ASC_NB_PROGRESS", "0")
    monkeypatch.setenv("ASC_NB_STORE", str(tmp_path / "store"))  # never the user's own store
    monkeypatch.chdir(tmp_path)
    ns: dict = {}
    try:
        for (
            code
        ) in blocks():  # as written: nothing is put in front of a block (the raw-HTTP one starts its server)
            with warnings.catch_warnings():
                warnings.simplefilter(
                    "error", asc_nb.MissingDatesWarning
                )  # "returns data": every date has rows
                exec(compile(code, "README.md", "exec"), ns)
    finally:
        server = ns.get("server")
        if isinstance(server, subprocess.Popen):
            server.terminate()
            server.wait(10)
    assert isinstance(ns["apps"], pd.DataFrame) and len(ns["apps"]) > 0
    assert ns["client"].sandbox is not None
    df = ns["df"]
    assert len(df) > 0 and df.attrs["missing_dates"] == []
    assert df["date"].min() == pd.Timestamp("2026-02-08") and df["date"].max() == pd.Timestamp("2026-02-28")
    assert ns["r"].status_code == 200 and ns["info"]["base_url"].startswith("http://127.0.0.1:")
    assert ns["server"].wait(10) is not None  # the block stops the server it started
    assert list((tmp_path / "exports").rglob("*.parquet"))
    # `asc_nb.Store()` in the README wrote into this test's directory, not the user's default store
    assert ns["store"].path == tmp_path / "store" and list(ns["store"].lake.rglob("*.parquet"))
