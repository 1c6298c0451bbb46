"""``fetch``'s ``start``/``end`` are ISO dates, as its own error message and ``client.instances`` say.

The old ``download._day`` handed text to ``pd.Timestamp``, which guesses: ``"03/01/2026"`` becomes 1 March
(a European analyst meant 3 January), ``end="2026-02"`` becomes 1 February (meant: through
February), ``"today"`` is the wall clock (not the sandbox's). Each silently fetches other days than
meant; ``client.instances(processing_date=...)`` refuses the same strings. Fixed: both now use ``asc_nb.models.iso_date``.
"""

from __future__ import annotations

import pytest

from asc_nb.client import Client
from asc_nb.sandbox import Sandbox


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    with Client(sandbox=Sandbox(seed=0, history_days=5), cache_dir=tmp_path_factory.mktemp("c")) as c:
        yield c


@pytest.mark.parametrize("text", ["03/01/2026", "2026-02", "2026", "today"])
def test_client_instances_refuses_non_iso(client, text: str) -> None:
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        client.instances("r1-x", processing_date=text)


@pytest.mark.parametrize("text", ["03/01/2026", "2026-02", "2026", "today"])
def test_fetch_refuses_non_iso(client, text: str) -> None:
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        client.fetch("any-request", "App Sessions Standard", start=text, progress=False)
