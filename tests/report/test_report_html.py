"""The report of a store: written by the CLI, self-contained, its numbers those of the views and of the raw rows,
and — opened in headless Chromium with the network cut off — every chart drawn and every table shown."""

from __future__ import annotations

import io
import re
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

import asc_nb
from asc_nb import views
from asc_nb.errors import MissingDatesWarning
from asc_nb.store import Store

from .conftest import ARTIFACTS, REPO


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "asc_nb", "report", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )


@pytest.fixture(scope="module")
def written(synced, tmp_path_factory):
    store_dir, apps, _client = synced
    out = tmp_path_factory.mktemp("report") / "report.html"
    done = cli(
        "--store", str(store_dir), "--app", apps[0], "--app", apps[1], "--out", str(out), "--days", "21"
    )
    assert done.returncode == 0, done.stderr
    assert f"wrote {out}" in done.stdout and "data as of 2026-03-02" in done.stdout
    return out


def test_the_file_needs_no_network(written):
    text = written.read_text()
    assert "<link" not in text and "@import" not in text and "@font-face" not in text
    # no src/href/url() leaving the page: only data: URIs and in-page anchors
    refs = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)""", text) + re.findall(r"url\(([^)]+)\)", text)
    assert refs and all(r.startswith(("data:", "#")) for r in refs), [
        r for r in refs if not r.startswith("data:")
    ]
    assert "<script src" not in text


def test_sections_numbers_code_and_marks(written, synced):
    store_dir, apps, _client = synced
    text = written.read_text()
    for section in ("kpis", "funnel", "compare_periods", "territories", "session_cohorts", "compare_apps"):
        assert f'id="{section}"' in text, section
    assert "Not available" not in text
    assert "Data as of 2026-03-02" in text and "provisional" in text
    assert "class=provisional" in text  # cohort rows inside the completeness window are tinted
    store = Store(store_dir)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MissingDatesWarning)
            v = views.funnel(store, apps, start="2026-02-09", end="2026-03-01", approx=True)
    finally:
        store.close()
    for value in v.frame["value"]:
        assert f">{int(value):,}<" in text  # the funnel table's numbers, as the view computes them
    assert "asc_nb.views.funnel(store, " in text  # the code shown names the store it ran on
    assert "≥ " in text and "lower bound" in text  # Apple's conversion rate only as a marked bound


def test_kpi_card_equals_the_raw_rows(written, synced):
    _store_dir, apps, client = synced
    req = client.report_requests(apps[0])["id"].iloc[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MissingDatesWarning)
        raw = client.fetch(req, "App Downloads Standard", "DAILY", "2026-02-09", "2026-03-01", progress=False)
    kind = raw["download_type"].astype("string").str.casefold()
    total = int(raw.loc[kind.isin(["first-time download", "redownload"]), "counts"].sum())
    text = written.read_text()
    card = re.search(r'data-metric="total_downloads">.*?<div class="value">([^<]+)</div>', text, re.S)
    values = re.findall(r'data-metric="total_downloads">.*?<div class="value">([^<]+)</div>', text, re.S)
    assert card and f"{total:,}" in values


@pytest.mark.browser
def test_offline_chromium_shows_every_chart_and_table(written, chromium):
    from PIL import Image

    def check(page, asked):
        assert asked == []  # nothing went to the network
        images = page.evaluate(
            "Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.naturalHeight])"
        )
        assert len(images) == 5 and all(ok and w > 100 and h > 100 for ok, w, h in images), images
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
        for i, fig in enumerate(page.query_selector_all("figure img")):
            fig.scroll_into_view_if_needed()
            shot = np.asarray(Image.open(io.BytesIO(fig.screenshot())).convert("L"), dtype=float)
            assert shot.std() > 10, f"chart {i} looks blank"  # a drawn chart, not an empty box
            assert (shot < 128).mean() > 0.005, f"chart {i} has no ink"
        tables = page.query_selector_all("table.sortable")
        assert len(tables) == 6
        for t in tables:
            box = t.bounding_box()
            assert box and box["height"] > 40 and box["width"] > 100
            assert len(t.query_selector_all("tbody tr")) >= 2
        assert page.locator(".kpi").count() >= 10 and page.locator("#as-of").is_visible()

    chromium(written, check)


@pytest.mark.browser
def test_tables_sort_by_value_without_a_library(written, chromium):
    def check(page, _asked):
        table = page.locator("#territories table.sortable")
        column = table.locator("tbody tr td:nth-child(3)")  # total_downloads
        header = table.locator("th", has_text="total_downloads")

        def values():
            return [
                float(v) for v in column.evaluate_all("cells => cells.map(c => c.getAttribute('data-v'))")
            ]

        before = values()
        assert before == sorted(before, reverse=True)
        header.click()
        assert values() == sorted(before)
        header.click()
        assert values() == sorted(before, reverse=True)
        table.locator("th", has_text="territory").click()
        names = table.locator("tbody tr td:nth-child(2)").all_inner_texts()
        assert names == sorted(names, key=str.casefold) or names == sorted(names)

    chromium(written, check)


def test_pdf_by_chromium(synced, tmp_path):
    from .conftest import chromium_or_skip

    chromium_or_skip()
    store_dir, apps, _client = synced
    out = tmp_path / "report.pdf"
    done = cli("--store", str(store_dir), "--app", apps[0], "--out", str(out), "--days", "14")
    assert done.returncode == 0, done.stderr
    data = out.read_bytes()
    assert data.startswith(b"%PDF") and len(data) > 20_000 and data.count(b"/Type /Page") >= 2


def test_a_report_the_store_lacks_is_said_in_its_place(synced, tmp_path):
    store_dir, apps, _client = synced
    sessions_only = tmp_path / "store"
    import shutil

    shutil.copytree(store_dir, sessions_only)
    for d in (sessions_only / "lake").glob("report=App Downloads*"):
        shutil.rmtree(d)
    store = Store(sessions_only)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MissingDatesWarning)
            rep = asc_nb.report(store, apps[0], tmp_path / "r.html", days=14)
    finally:
        store.close()
    assert isinstance(rep.views["session_cohorts"], views.View)
    assert isinstance(rep.views["funnel"], str) and "App Downloads" in rep.views["funnel"]
    assert "Not available" in (tmp_path / "r.html").read_text()


def test_cli_refuses_what_is_not_a_store(tmp_path):
    done = cli("--store", str(tmp_path / "nothing"), "--app", "1", "--out", str(tmp_path / "r.html"))
    assert done.returncode == 2 and "holds no store" in done.stderr
    assert not (tmp_path / "r.html").exists()


def test_report_is_callable_from_the_package_and_refuses_bad_format(synced):
    store_dir, apps, _client = synced
    assert callable(asc_nb.report)
    with pytest.raises(asc_nb.ConfigError):
        asc_nb.report(Store(store_dir), apps[0], "x.docx", format="docx")
    assert pd.api.types.is_list_like(asc_nb.report.KPIS)


def test_an_app_the_store_does_not_hold_is_an_error_not_an_empty_report(synced, tmp_path):
    store_dir, apps, _client = synced
    done = cli("--store", str(store_dir), "--app", apps[0], "--app", "999", "--out", str(tmp_path / "r.html"))
    assert done.returncode == 2 and "no rows for app(s) 999" in done.stderr
    assert not (tmp_path / "r.html").exists()
