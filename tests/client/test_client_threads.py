"""The client is shared by ``fetch``'s worker threads: its bookkeeping must be thread-safe.

``Client._parents`` (child id -> parent id, bounded at ``MAX_REMEMBERED_PARENTS``) is written by
every listing. ``fetch`` lists segments from several threads at once, and once the map is full each
insert evicts the oldest entry with ``del d[next(iter(d))]`` — unsynchronised, two threads race:
``RuntimeError: dictionary changed size during iteration`` or ``KeyError``, which killed a long
bulk job (more than 20,000 ids seen in one kernel session) in the middle of its downloads.
"""

from __future__ import annotations

import sys
import threading

import pytest

import asc_nb.client as client_module
from asc_nb.client import Client
from asc_nb.sandbox import Sandbox


@pytest.fixture
def fast_switching():
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # make thread interleavings frequent, as under real load
    yield
    sys.setswitchinterval(old)


def test_concurrent_listings_with_a_full_parent_map(monkeypatch, fast_switching, tmp_path) -> None:
    monkeypatch.setattr(client_module, "MAX_REMEMBERED_PARENTS", 3)
    sb = Sandbox(seed=4, history_days=30)
    with Client(sandbox=sb, cache_dir=tmp_path) as client:
        req = client.ensure_ongoing(str(client.apps().id[0]))
        report_ids = list(client.reports(req.id).id[:8])
        errors: list[BaseException] = []

        def work(report_id: str) -> None:
            try:
                for _ in range(15):
                    for _inst in client.iter_instances(report_id):
                        pass
            except BaseException as exc:  # noqa: BLE001 - the test reports whatever a thread hit
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(r,)) for r in report_ids]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert len(client._parents) <= 3
