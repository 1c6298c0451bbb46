"""What the explorer says while and after it downloads: progress that does not claim more than it knows, a final
line that stays put after Cancel, no "Downloading…" once the bar is full, why empty instances were read, and an
Export that answers beside its button."""

from __future__ import annotations

import datetime
import re
import threading
import time

import pytest

from asc_nb.widgets import ReportsExplorer
from asc_nb.widgets.explorer import _Meter

REPORT = "App Sessions Standard"


@pytest.fixture
def request_id(client, app_ids, sandbox) -> str:
    req = client.create_report_request(app_ids[0], "ONGOING")
    sandbox.advance(days=8)
    return req.id


@pytest.fixture
def explorer(client, request_id) -> ReportsExplorer:
    ex = ReportsExplorer(client, request_id)
    assert ex.wait(30) and ex.error is None, ex.status.text
    ex.select_report(REPORT)
    return ex


def recorder(ex: ReportsExplorer) -> list[tuple[float, int, str, str]]:
    """Every change of the progress bar, its text or the status line, as (time, bar, text, status)."""
    seen: list[tuple[float, int, str, str]] = []
    lock = threading.Lock()

    def note(_change=None) -> None:
        with lock:
            seen.append((time.monotonic(), ex.progress.value, ex.progress_text.value, ex.status.text))

    ex.progress.observe(note, names="value")
    ex.progress_text.observe(note, names="value")
    ex.status.observe(note, names="text")
    return seen


def test_no_downloading_line_once_the_bar_is_full(explorer) -> None:
    seen = recorder(explorer)
    explorer.download.click()
    assert explorer.wait(120) and explorer.error is None, explorer.status.text
    full = [s for s in seen if s[1] == 100]
    assert full and explorer.progress.value == 100
    for _t, _bar, _text, status in full:
        assert not status.startswith("Downloading"), status
    assert explorer.status.text.startswith(f"Downloaded {REPORT}")


def test_cancel_freezes_the_numbers_and_says_what_was_done(explorer, sandbox) -> None:
    explorer.start.value = datetime.date(2026, 2, 20)
    sandbox.faults.add("slow", host="download", count=None, seconds=0.4)
    seen = recorder(explorer)
    explorer.download.click()
    deadline = time.monotonic() + 20
    while not re.search(r"\d+ of \d+", explorer.progress_text.value) and time.monotonic() < deadline:
        time.sleep(0.02)
    explorer.cancel.click()
    clicked = time.monotonic()  # the click has set the cancel event when it returns
    assert explorer.wait(30)
    final = explorer.progress_text.value
    assert "Cancelled after" in final and "table was not built" in final, final
    assert "%" not in final  # no percentage of a total that was never known in full
    time.sleep(1.5)  # transfers that were still closing report nothing more
    assert explorer.progress_text.value == final
    after = [s for s in seen if s[0] > clicked]
    moving = [s for s in after if re.search(r"\d+% ·", s[2])]
    assert not moving, moving  # after the click the bar's text never moved again


def test_the_total_is_a_floor_until_every_instance_is_listed() -> None:
    meter = _Meter(instances=4)
    # two instances listed (3 segments each), then one segment done: 1 of 6+, estimated against ~12 segments
    meter.update(0, 3, 0)
    meter.update(0, 6, 0)
    pct, text = meter.update(1, 6, 1000)
    assert "1 of 6+ segments" in text and "2 of 4 instances listed" in text and text.startswith("about ")
    assert pct == 8  # 1 of an estimated 12, not 1 of 6 (16 %)
    assert not meter.all_in()
    meter.update(1, 9, 1000)
    meter.update(1, 12, 1000)
    pct, text = meter.update(2, 12, 2000)
    assert "2 of 12 segments" in text and "+" not in text and "listed" not in text
    assert "Cancelled after 2 of 12 segments" in meter.cancelled()


def test_instances_without_rows_for_the_dates_say_why_they_were_read(explorer) -> None:
    explorer.download.click()
    assert explorer.wait(120) and explorer.error is None, explorer.status.text
    table = explorer.instances_table.value
    empty = table.count("<td>no rows for the chosen dates</td>")
    assert empty >= 1, table  # here the first instances carry earlier dates, the last ones later dates
    assert f"{empty} instance(s) held no rows for the chosen dates" in table
    assert "does not say which dates an instance holds" in table and "5 days after the end date" in table


def test_export_answers_beside_its_button_with_path_and_rows(explorer, tmp_path) -> None:
    explorer.download.click()
    assert explorer.wait(120) and explorer.error is None
    target = tmp_path / "out" / "sessions.csv"
    explorer.export_path.value = str(target)
    explorer.export_button.click()
    note = explorer.export_note.value
    rows = len(explorer.frame)
    assert f"Exported {rows:,} rows to {target.resolve()}" in note and "asc-nb-ok" in note
    assert len(target.read_text().splitlines()) == rows + 1
    assert explorer.export_note in explorer.tools.children[0].children  # in the Export row itself
    explorer.export_path.value = str(tmp_path / "out.xlsx")
    explorer.export_button.click()
    assert "Export failed" in explorer.export_note.value and ".csv or .parquet" in explorer.export_note.value
