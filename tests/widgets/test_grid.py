"""The explorer's grid: measures come right after the date (no scrolling right to find Counts), the dimensions next,
provenance last; a click on a header's text sorts (itables' default sorts only from the small arrow)."""

from __future__ import annotations

import pytest

from asc_nb.widgets import ReportsExplorer, charts
from asc_nb.widgets.explorer import grid_columns


@pytest.fixture
def explorer(client, app_ids, sandbox) -> ReportsExplorer:
    req = client.create_report_request(app_ids[0], "ONGOING")
    sandbox.advance(days=6)
    ex = ReportsExplorer(client, req.id)
    assert ex.wait(30)
    ex.select_report("App Downloads Standard")
    ex.download.click()
    assert ex.wait(120) and ex.error is None, ex.status.text
    return ex


def test_measures_come_before_dimensions(explorer) -> None:
    frame = explorer.frame
    order = grid_columns(frame)
    assert sorted(order) == sorted(frame.columns)
    assert order[:2] == ["date", "counts"]
    assert order[-3:] == ["processing_date", "instance_id", "segment_id"]
    headers = list(explorer.grid.df.columns)
    assert headers[:2] == [charts.human("date", "App Downloads Standard"), "Counts"]
    assert (
        explorer.frame.columns.tolist() == frame.columns.tolist()
    )  # .frame stays what client.fetch returned


def test_header_text_sorts(explorer) -> None:
    # itables drops the option when it is False, and then a header click anywhere sorts (DataTables' default)
    assert "text_in_header_can_be_selected" not in explorer.grid._dt_args
