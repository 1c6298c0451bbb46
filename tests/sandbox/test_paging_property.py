"""Paging invariant: for any page size, following links.next yields every item exactly once, in order."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asc_nb.sandbox import Sandbox

from .helpers import Api, first_app


@pytest.fixture(scope="module")
def world() -> Iterator[tuple[Api, dict[str, tuple[str, list[str]]]]]:
    sb = Sandbox(seed=9, history_days=40)
    api = Api(sb)
    req = api.get(f"/v1/apps/{first_app(sb)}/analyticsReportRequests").json()["data"][0]["id"]
    paths = {
        "reports": f"/v1/analyticsReportRequests/{req}/reports",
        "instances": f"/v1/analyticsReports/r3-{req}/instances",
    }
    full = {k: (p, [d["id"] for d in api.all_pages(p, limit=200)]) for k, p in paths.items()}
    yield api, full
    api.close()


@settings(max_examples=15, deadline=None)
@given(limit=st.integers(min_value=1, max_value=200), which=st.sampled_from(["reports", "instances"]))
def test_any_page_size_yields_everything_once(world, limit: int, which: str) -> None:
    api, full = world
    path, ids = full[which]
    assert len(ids) == len(set(ids)) > 0
    first = api.get(path, limit=limit).json()
    assert first["meta"]["paging"] == {"total": len(ids), "limit": limit}
    assert [d["id"] for d in api.all_pages(path, limit=limit)] == ids
