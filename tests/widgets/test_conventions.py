"""The widgets conventions every panel follows (asc_nb.widgets._common.Panel): worker, busy, wait, frame/code/export."""

from __future__ import annotations

import threading
import time

import ipywidgets as w
import pandas as pd
import pytest

import asc_nb
from asc_nb.widgets._common import Panel


class AppsPanel(Panel):
    """The smallest real panel: a button that lists the apps on the worker thread."""

    def __init__(self, client) -> None:
        self.go = w.Button(description="List apps", icon="list")
        self.threads: list[str] = []
        super().__init__([self.go], client=client)
        self.busy_controls = [self.go]
        self.go.on_click(lambda _b: self.run(self.list_apps))

    def list_apps(self) -> None:
        self.threads.append(threading.current_thread().name)
        self.frame = self.client.apps()

    def _code(self) -> str:
        return "df = client.apps()"


@pytest.fixture
def slow_client(tmp_path):
    sb = asc_nb.Sandbox(seed=0)
    with asc_nb.connect(sandbox=sb, cache_dir=tmp_path / "c") as c:
        yield sb, c


def test_click_returns_at_once_and_the_call_runs_off_the_kernel_thread(slow_client) -> None:
    sb, client = slow_client
    panel = AppsPanel(client)
    assert (
        panel.frame is None and panel.code == "" and panel.show_code.disabled and panel.export_button.disabled
    )
    sb.faults.add("slow", path="/v1/apps", seconds=1.0)
    t0 = time.monotonic()
    panel.go.click()
    assert time.monotonic() - t0 < 0.5, "click() blocked the kernel"
    assert panel.busy and panel.go.disabled
    assert panel.wait(10)
    assert not panel.busy and not panel.go.disabled
    assert panel.threads and panel.threads[0] != threading.current_thread().name
    assert len(panel.frame) == 3 and not panel.show_code.disabled


def test_wait_with_timeout_says_whether_idle(slow_client) -> None:
    sb, client = slow_client
    panel = AppsPanel(client)
    sb.faults.add("slow", path="/v1/apps", seconds=1.0)
    panel.go.click()
    assert panel.wait(0.05) is False and panel.busy
    assert panel.wait() is True


def test_code_round_trip_and_export(slow_client, tmp_path) -> None:
    _sb, client = slow_client
    panel = AppsPanel(client)
    panel.go.click()
    panel.wait()
    ns: dict = {"client": client}
    exec(panel.code, ns)
    pd.testing.assert_frame_equal(ns["df"], panel.frame)
    panel.show_code.click()
    assert "df = client.apps()" in panel.code_view.value and panel.show_code.description == "Hide code"
    csv = panel.export(tmp_path / "out" / "apps.csv")
    assert pd.read_csv(csv, dtype=str)["id"].tolist() == panel.frame["id"].tolist()
    pq = panel.export(tmp_path / "apps.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(pq), panel.frame, check_dtype=False)
    with pytest.raises(asc_nb.ConfigError, match=".csv or .parquet"):
        panel.export(tmp_path / "apps.xlsx")
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["apps.parquet"]  # no temporary left
    panel.export_path.value = str(tmp_path / "clicked.csv")
    panel.export_button.click()
    assert panel.status.level == "ok" and "Exported 3 rows" in panel.status.text
    assert (tmp_path / "clicked.csv").exists()


def test_errors_land_in_the_status_line(slow_client) -> None:
    sb, client = slow_client
    panel = AppsPanel(client)
    sb.faults.add("server_error", path="/v1/apps", count=None)
    panel.go.click()
    panel.wait()
    assert isinstance(panel.error, asc_nb.ServerError) and panel.status.level == "error"
    assert not panel.busy and not panel.go.disabled


def test_retry_after_shows_a_countdown_while_the_call_waits(slow_client) -> None:
    sb, client = slow_client
    panel = AppsPanel(client)
    seen: list[str] = []
    panel.observe(lambda ch: seen.append(ch["new"]), names="waiting")
    sb.faults.add("rate_limit", path="/v1/apps", retry_after=2)
    panel.go.click()
    deadline = time.monotonic() + 1.5
    while not panel.waiting and time.monotonic() < deadline:
        time.sleep(0.02)
    assert panel.waiting.startswith("Waiting 2 s") and "Retry-After" in panel.waiting
    assert panel.status.level == "busy" and panel.status.text == panel.waiting and panel.go.disabled
    panel.wait(10)
    assert panel.waiting == "" and len(panel.frame) == 3
    assert any(s.startswith("Waiting 1 s") for s in seen)  # it counted down
