"""Real-browser harness: JupyterLab 4 on a free loopback port, driven by Debian Chromium via Playwright.

One JupyterLab server and one browser serve the whole browser tier (starting them costs most of the time);
each test gets a fresh page. Everything the test starts is stopped by PID at the end.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
ARTIFACTS = REPO / "artifacts"
CHROMIUM = Path(os.environ.get("ASC_NB_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SERVER_START_TIMEOUT = 60.0

#: JupyterLab user settings that keep the page quiet and every cell in the DOM.
LAB_SETTINGS = {
    # no "Would you like to get notified about official Jupyter news?" toast over the notebook
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false"},
    # cells scrolled out of view stay rendered, so assertions can find them
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}

#: True when the current notebook's kernel is usable: the toolbar shows idle too early, the kernel object doesn't.
JS_KERNEL_IDLE = """() => {
  const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  return !!k && k.connectionStatus === 'connected' && k.status === 'idle';
}"""

#: True when every code cell of the current notebook has run (has an execution count) and the kernel is idle.
JS_ALL_RAN = """() => {
  const w = window.jupyterapp.shell.currentWidget;
  const k = w.sessionContext.session && w.sessionContext.session.kernel;
  if (!k || k.connectionStatus !== 'connected' || k.status !== 'idle') return false;
  return w.content.widgets.every(c => c.model.type !== 'code' || c.model.executionCount !== null);
}"""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """Stop the server we started by its PID, then any of its children (kernels run in their own sessions)."""
    import psutil

    if proc.poll() is not None:
        return
    try:
        children = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        children = []
    proc.send_signal(signal.SIGTERM)  # jupyter_server shuts its kernels down on SIGTERM
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
    _gone, alive = psutil.wait_procs(children, timeout=5)
    for child in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    """Debian's chromium; missing is a failure in CI and a skip (with the reason) elsewhere."""
    if CHROMIUM.exists():
        return CHROMIUM
    reason = f"{CHROMIUM} not found: install it with `apt-get install -y chromium` to run the browser tests"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def lab_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A temporary copy of notebooks/ that JupyterLab serves, so tests never write into the repo."""
    root = tmp_path_factory.mktemp("lab-root")
    shutil.copytree(NOTEBOOKS, root, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    return root


@pytest.fixture(scope="session")
def lab_server(
    chromium_path: Path, lab_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """Start JupyterLab (token off, its own HOME and settings) and yield its base URL."""
    home = tmp_path_factory.mktemp("lab-home")
    settings = home / "lab-settings"
    for rel, value in LAB_SETTINGS.items():
        path = settings / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASC_", "JUPYTER", "IPYTHON"))}
    env.update(HOME=str(home), JUPYTERLAB_SETTINGS_DIR=str(settings), PYTHONUNBUFFERED="1")
    port = _free_port()
    log = (home / "jupyterlab.log").open("wb")
    cmd = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root",
        f"--port={port}", "--port-retries=0", "--ServerApp.ip=127.0.0.1",
        "--ServerApp.token=", "--ServerApp.password=", "--ServerApp.disable_check_xsrf=True",
        f"--ServerApp.root_dir={lab_root}", "--LabApp.expose_app_in_browser=True",
    ]  # fmt: skip
    proc = subprocess.Popen(
        cmd, env=env, cwd=lab_root, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"JupyterLab exited ({proc.returncode}):\n{(home / 'jupyterlab.log').read_text()}"
                )
            try:
                with urllib.request.urlopen(f"{url}/api/status", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"JupyterLab not up after {SERVER_START_TIMEOUT}s:\n{(home / 'jupyterlab.log').read_text()}"
                )
            time.sleep(0.2)
        yield url
    finally:
        _stop(proc)
        log.close()


@pytest.fixture(scope="session")
def browser(chromium_path: Path) -> Iterator[object]:
    """One headless Chromium for the session."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(chromium_path), headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


class Lab:
    """Drive JupyterLab in one page: open a notebook, run all cells, wait for the kernel, screenshot."""

    def __init__(self, page, url: str, root: Path) -> None:
        self.page = page
        self.url = url
        self.root = root

    def open(self, path: str, timeout: float = 60_000) -> None:
        """Open ``path`` (relative to the lab root) in a fresh workspace and wait until its kernel is usable."""
        self.page.goto(f"{self.url}/lab/tree/{path}?reset")
        self.page.wait_for_function(
            "p => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
            " return !!w && !!w.context && w.context.path === p && !!w.sessionContext; }",
            arg=path,
            timeout=timeout,
        )
        self.wait_idle(timeout)

    def wait_idle(self, timeout: float = 60_000) -> None:
        self.page.wait_for_function(JS_KERNEL_IDLE, timeout=timeout, polling=100)

    def run_all(self, timeout: float = 90_000) -> None:
        """Run every cell; don't return the command's promise (page.evaluate would await it without a timeout)."""
        self.page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
        self.page.wait_for_function(JS_ALL_RAN, timeout=timeout, polling=100)

    repo = REPO

    @staticmethod
    def screenshot_path(name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        return ARTIFACTS / name

    def screenshot(self, name: str, **kwargs) -> Path:
        """Save a screenshot of the page to artifacts/ (gitignored)."""
        path = self.screenshot_path(name)
        self.page.screenshot(path=str(path), **kwargs)
        return path


@pytest.fixture
def lab(browser, lab_server: str, lab_root: Path, request: pytest.FixtureRequest) -> Iterator[Lab]:
    """A fresh page on the shared JupyterLab; on failure a screenshot lands in artifacts/."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    lab = Lab(page, lab_server, lab_root)
    try:
        yield lab
    finally:
        rep = getattr(request.node, "rep_call", None)
        if rep is not None and rep.failed:
            # a failed screenshot must not hide the real failure
            with contextlib.suppress(Exception):
                lab.screenshot(f"failed-{request.node.name}.png", full_page=True)
        context.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Keep each phase's report on the item so the ``lab`` fixture can screenshot failures."""
    rep = yield
    setattr(item, f"rep_{rep.when}", rep)
    return rep


@pytest.fixture(scope="module")
def module_lab(browser, lab_server: str, lab_root: Path) -> Iterator[Lab]:
    """One page for a whole module (open the notebook once, then click through several tests)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        yield Lab(page, lab_server, lab_root)
    finally:
        context.close()
