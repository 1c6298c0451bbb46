"""PDF by printing the report page with headless Chromium (``--print-to-pdf``).

Why Chromium and not a Python PDF library: the page is already laid out by a browser engine, and
the project's browser tests use the same binary; WeasyPrint would need Pango/Cairo system libraries
and renders CSS differently. Offline: the page has nothing to fetch, and Chromium is started with
networking features off.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from asc_nb.errors import ConfigError

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium(explicit: str | None = None) -> str:
    """The Chromium binary: ``explicit``, else the first of :data:`CANDIDATES` on ``PATH``."""
    for name in (explicit,) if explicit else CANDIDATES:
        found = shutil.which(name) if name else None
        if found:
            return found
    raise ConfigError(
        "format='pdf' needs Chromium (Debian: apt-get install chromium) or chromium='/path/to/it'; "
        "the HTML report needs nothing"
    )


def html_to_pdf(page: str, *, chromium: str | None = None, timeout: float = 120) -> bytes:
    """The PDF bytes of ``page`` (an HTML document), printed by headless Chromium."""
    binary = find_chromium(chromium)
    with tempfile.TemporaryDirectory(prefix="asc-nb-pdf-") as tmp:
        src, out = Path(tmp) / "report.html", Path(tmp) / "report.pdf"
        src.write_text(page, encoding="utf-8")
        cmd = [
            binary,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--no-pdf-header-footer",
            f"--user-data-dir={Path(tmp) / 'profile'}",
            f"--print-to-pdf={out}",
            src.as_uri(),
        ]
        done = subprocess.run(
            cmd, capture_output=True, timeout=timeout, env={"HOME": tmp, "PATH": "/usr/bin:/bin"}
        )
        if not out.exists() or out.stat().st_size == 0:
            tail = done.stderr.decode("utf-8", "replace")[-400:]
            raise ConfigError(f"Chromium did not print the PDF (exit {done.returncode}): {tail}")
        return out.read_bytes()
