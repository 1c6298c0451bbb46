"""``MissingDatesWarning`` points at the analyst's line, not at asc-nb's internals.

The old ``download._report_missing`` warned with ``stacklevel=3``, right for ``asc_nb.download.fetch(...)``
but one frame short through ``client.fetch(...)`` — the way everyone calls it — so the notebook shows
``asc_nb/client.py:NNN: MissingDatesWarning`` and the line ``return download.fetch(self, …)``.
Fixed: the warning's stacklevel is the first frame outside asc_nb.
"""

from __future__ import annotations

import warnings

from asc_nb.client import Client
from asc_nb.errors import MissingDatesWarning
from asc_nb.sandbox import Sandbox


def test_missing_dates_warning_is_attributed_to_the_caller(tmp_path) -> None:
    with Client(sandbox=Sandbox(seed=0, history_days=5), cache_dir=tmp_path) as client:
        req = client.report_requests(str(client.apps().id[0])).id[0]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            client.fetch(req, "App Sessions Standard", start="2026-03-01", end="2026-03-10", progress=False)
    missing = [w for w in caught if issubclass(w.category, MissingDatesWarning)]
    assert missing, "a range reaching into the future has missing dates"
    assert missing[0].filename == __file__
