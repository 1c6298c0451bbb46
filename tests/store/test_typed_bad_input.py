"""Bad arguments to the new APIs (Store, metrics) raise a typed ASCError that is still a ValueError."""

from __future__ import annotations

import pytest

import asc_nb


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    with asc_nb.connect(
        sandbox=asc_nb.Sandbox(seed=14, apps=1, history_days=5), cache_dir=tmp_path_factory.mktemp("cache")
    ) as c:
        yield c


CASES = {
    "metrics: bad date": lambda c, s: c.metrics(["1"], ["sessions"], start="2026-02-30"),
    "metrics: bad granularity": lambda c, s: c.metrics(["1"], ["sessions"], granularity="HOURLY"),
    "store.metrics: bad date": lambda c, s: s.metrics(["1"], ["sessions"], end="2026/02/01"),
    "store.sync: bad granularity": lambda c, s: s.sync(c, granularities=("HOURLY",), progress=False),
    "store.sync: no granularity": lambda c, s: s.sync(c, granularities=(), progress=False),
    "store.sync: bad start": lambda c, s: s.sync(c, start="2026/02/01", progress=False),
    "store.sync: empty reports": lambda c, s: s.sync(c, reports=[], progress=False),
    "store.read: bad granularity": lambda c, s: s.read("App Sessions Standard", granularity="HOURLY"),
    "store.read: bad date": lambda c, s: s.read("App Sessions Standard", start="2026-13-01"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_argument_is_a_typed_error(case, client, tmp_path):
    store = asc_nb.Store(tmp_path / "store")
    before = len(client.sandbox.calls)
    with pytest.raises(asc_nb.ASCError) as caught:
        CASES[case](client, store)
    assert isinstance(caught.value, ValueError)  # what callers caught before keeps working
    assert len(client.sandbox.calls) == before  # refused before any API call
    store.close()
