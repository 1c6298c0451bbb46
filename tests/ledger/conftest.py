"""Ledger fixtures: a clean and a faulted sandbox world (3 apps, 40 days, 3 reports), each synced once.

``FAULTS`` are the acceptance's 20 injected faults, four of each kind, placed by the seed;
``flagged(ledger)`` are the ledger's rows that are neither final nor provisional.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import pytest

import asc_nb
from asc_nb.sandbox import Sandbox

SEED, APPS, HISTORY = 7, 3, 40
REPORTS = ("App Sessions Standard", "App Downloads Standard", "App Store Discovery and Engagement Standard")
FAULTS = "gap=4,empty=4,duplicate=4,restatement=4,expired=4"
OK_STATES = ("final", "provisional")


@dataclass
class World:
    sandbox: Sandbox
    client: asc_nb.Client
    store: asc_nb.Store


def make_world(tmp_path, faults=FAULTS, **kwargs) -> World:
    kwargs.setdefault("seed", SEED)
    kwargs.setdefault("apps", APPS)
    kwargs.setdefault("history_days", HISTORY)
    sb = Sandbox(data_faults=faults, **kwargs)
    client = asc_nb.connect(sandbox=sb, cache_dir=tmp_path / "cache")
    store = asc_nb.Store(tmp_path / "store")
    result = store.sync(client, reports=list(REPORTS), progress=False)
    assert set(result["status"]) == {"ok"}, result
    return World(sb, client, store)


def flagged(ledger: pd.DataFrame) -> pd.DataFrame:
    return ledger[~ledger["state"].isin(OK_STATES)]


def recall(world: World, ledger: pd.DataFrame) -> tuple[list, list]:
    """(faults found, faults missed): found = every Date the fault damages has one of its states."""
    by_key = {(r.app_id, r.report, r.date.date().isoformat()): str(r.state) for r in ledger.itertuples()}
    found, missed = [], []
    for fault in world.sandbox.data_faults:
        ok = all(
            by_key.get((fault.app_id, fault.report, day)) in states
            for day, states in fault.affected().items()
        )
        (found if ok else missed).append(fault)
    return found, missed


def truth(world: World) -> set[tuple[str, str, str]]:
    return {(f.app_id, f.report, day) for f in world.sandbox.data_faults for day in f.affected()}


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> World:
    w = make_world(tmp_path_factory.mktemp("clean"), faults=None)
    yield w
    w.client.close()
    w.store.close()


@pytest.fixture(scope="module")
def faulted(tmp_path_factory) -> World:
    w = make_world(tmp_path_factory.mktemp("faulted"))
    yield w
    w.client.close()
    w.store.close()
