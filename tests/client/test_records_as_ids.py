"""Records are accepted wherever an id is, for the data methods too.

Every listing/lookup method takes a record in place of its id (``client.segments(inst)``,
``client.report_request(req)``), so an analyst naturally writes ``client.read_instance(inst)`` or
``client.fetch(req, ...)``. Those two used to stringify the record — its *repr* — and fail with a
confusing "not a valid id" message, or (fetch) put the repr into ``attrs["request_id"]``.
"""

from __future__ import annotations

import warnings

import pytest

from asc_nb.client import Client
from asc_nb.sandbox import Sandbox

REPORT = "App Sessions Standard"


@pytest.fixture
def setup(tmp_path):
    sb = Sandbox(seed=3, history_days=10)
    client = Client(sandbox=sb, cache_dir=tmp_path / "cache")
    app_id = str(client.apps().id[0])
    req = client.ensure_ongoing(app_id)
    report = client.reports(req.id, name=REPORT).id[0]
    inst = client.instance(client.instances(report, "DAILY").id.iloc[-1])
    yield client, req, inst
    client.close()


def test_read_instance_accepts_an_instance_record(setup) -> None:
    client, _, inst = setup
    by_id = client.read_instance(inst.id, progress=False)
    by_record = client.read_instance(inst, progress=False)
    assert by_record.attrs["instance_id"] == inst.id
    assert by_record.shape == by_id.shape
    assert set(by_record["instance_id"].astype(str)) == {inst.id}


def test_fetch_accepts_a_request_record(setup) -> None:
    client, req, _ = setup
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame = client.fetch(req, REPORT, start="2026-02-27", end="2026-03-01", progress=False)
    assert frame.attrs["request_id"] == req.id
    assert len(frame) > 0


def test_fetch_takes_granularity_positionally_like_download_fetch(setup) -> None:
    """``client.fetch(req, name, granularity, start, end)`` is positional, as the old ``asc_nb.download.fetch`` was."""
    client, req, _ = setup
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame = client.fetch(req.id, REPORT, "DAILY", "2026-02-28", "2026-03-01", progress=False)
    assert frame.attrs["granularity"] == "DAILY"
    assert frame.attrs["start"].isoformat() == "2026-02-28"
