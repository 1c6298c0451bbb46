"""Security fixtures: one sandbox world served on 127.0.0.1 and clients over it.

``sandbox.calls`` (every request the router saw) is the witness for "rejected before any
network call": a case that must fail offline asserts the log did not grow.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from asc_nb.client import Client
from asc_nb.sandbox import Sandbox

REPORT = "App Sessions Standard"


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@dataclass
class Ctx:
    sandbox: Sandbox
    base_url: str
    download_base_url: str
    client: Client
    app_id: str
    request_id: str
    report_id: str
    instance_id: str
    segment: Any  # a row of client.segments(...)
    tmp: Path


@pytest.fixture(scope="session")
def served() -> Iterator[tuple[Sandbox, Any]]:
    sb = Sandbox(seed=21, apps=3, history_days=10)
    with sb.serve() as handle:
        yield sb, handle


@pytest.fixture(scope="session")
def ctx(served, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ctx]:
    sb, handle = served
    tmp = tmp_path_factory.mktemp("security")
    with Client(sandbox=sb, base_url=handle.base_url, cache_dir=tmp / "cache", sleep=Sleeps()) as c:
        app_id = str(c.apps()["id"].iloc[0])
        request_id = str(c.report_requests(app_id)["id"].iloc[0])
        report_id = str(c.reports(request_id, name=REPORT)["id"].iloc[0])
        instance_id = str(c.instances(report_id, "DAILY")["id"].iloc[-2])
        segment = c.segments(instance_id).iloc[0]
        yield Ctx(
            sb,
            handle.base_url,
            handle.download_base_url,
            c,
            app_id,
            request_id,
            report_id,
            instance_id,
            segment,
            tmp,
        )
