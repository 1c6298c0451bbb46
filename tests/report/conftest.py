"""A synced store of a sandbox world (two apps, 40 days, three reports) and an offline Chromium page."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest

from asc_nb.client import Client
from asc_nb.errors import MissingDatesWarning
from asc_nb.sandbox import Sandbox
from asc_nb.store import Store

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts"
CHROMIUM = Path(os.environ.get("ASC_NB_CHROMIUM", "/usr/bin/chromium"))
REPORTS = ("App Store Discovery and Engagement Standard", "App Downloads Standard", "App Sessions Standard")


@pytest.fixture(scope="session")
def synced(tmp_path_factory):
    """(store directory, app ids, client) — the client stays open for hand checks against raw fetch rows."""
    root = tmp_path_factory.mktemp("report-world")
    sb = Sandbox(seed=0, apps=2, history_days=40)
    client = Client(sandbox=sb, cache_dir=root / "cache")
    apps = [str(a) for a in client.apps()["id"]]
    store = Store(root / "store")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MissingDatesWarning)
        result = store.sync(client, reports=list(REPORTS), progress=False)
    assert set(result["status"]) == {"ok"}, result
    store.close()
    yield root / "store", apps, client
    client.close()


def chromium_or_skip() -> Path:
    """Debian's chromium; missing is a failure in CI and a skip (with the reason) elsewhere."""
    if CHROMIUM.exists():
        return CHROMIUM
    reason = f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture
def offline_page():
    """``open(path) -> (page, requests)``: the file in headless Chromium with the network cut off.

    The context is offline and every request that is not the file itself or a ``data:`` URI is
    aborted and recorded, so a test can assert the page asked the network for nothing.
    """
    binary = chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(binary), headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                                          "--disable-component-update", "--disable-sync", "--no-first-run"])
        context = browser.new_context(offline=True, viewport={"width": 1200, "height": 900})
        asked: list[str] = []

        def route(r):
            url = r.request.url
            if url.startswith(("file:", "data:")):
                r.continue_()
            else:
                asked.append(url)
                r.abort()

        context.route("**/*", route)

        def open_(path: Path):
            page = context.new_page()
            page.goto(path.resolve().as_uri())
            page.wait_for_load_state("load")
            return page, asked

        try:
            yield open_
        finally:
            browser.close()
