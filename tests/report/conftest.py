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


class Chromium:
    """Headless Chromium on a thread of its own, so it never meets another Playwright of this process.

    Playwright's sync API allows one instance per thread; the browser tier (tests/browser) keeps one open
    on the main thread for the whole session. ``chromium(url_or_path, fn, offline=True)`` opens the page
    in a fresh context — offline, with every request that is not the file itself or a ``data:`` URI
    aborted and recorded — and returns ``fn(page, asked)``, run on that thread (its assertion errors
    are raised here).
    """

    def __init__(self, binary: Path) -> None:
        import queue
        import threading

        self.binary = binary
        self.jobs: queue.Queue = queue.Queue()
        self.thread = threading.Thread(target=self._serve, name="report-chromium", daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=str(self.binary),
                headless=True,
                args=[
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--no-first-run",
                ],
            )
            try:
                while (job := self.jobs.get()) is not None:
                    self._one(browser, *job)
            finally:
                browser.close()

    @staticmethod
    def _one(browser, target, fn, offline, box) -> None:
        context = browser.new_context(offline=offline, viewport={"width": 1200, "height": 900})
        asked: list[str] = []

        def route(r):
            url = r.request.url
            if not offline or url.startswith(("file:", "data:")):
                r.continue_()
            else:
                asked.append(url)
                r.abort()

        try:
            context.route("**/*", route)
            page = context.new_page()
            page.set_default_timeout(60_000)
            if isinstance(target, Path):
                page.goto(target.resolve().as_uri())
                page.wait_for_load_state("load")
            box["result"] = fn(page, asked)
        except BaseException as exc:  # handed to the test's thread
            box["error"] = exc
        finally:
            context.close()
            box["done"].set()

    def __call__(self, target, fn, *, offline: bool = True, timeout: float = 300):
        import threading

        box: dict = {"done": threading.Event()}
        self.jobs.put((target, fn, offline, box))
        assert box["done"].wait(timeout), "Chromium did not finish"
        if "error" in box:
            raise box["error"]
        return box.get("result")

    def close(self) -> None:
        self.jobs.put(None)
        self.thread.join(30)


@pytest.fixture(scope="session")
def chromium():
    """One headless Chromium for the report tests (see :class:`Chromium`)."""
    runner = Chromium(chromium_or_skip())
    try:
        yield runner
    finally:
        runner.close()
