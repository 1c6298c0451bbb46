"""Injected faults behave the same in-process and over real loopback HTTP."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from asc_nb.sandbox import Sandbox

from .helpers import Api, first_app


@dataclass
class Front:
    sb: Sandbox
    api: Api
    dl: httpx.Client


@pytest.fixture(params=["inprocess", "loopback"])
def front(request: pytest.FixtureRequest) -> Iterator[Front]:
    sb = Sandbox(history_days=3)
    if request.param == "inprocess":
        api = Api(sb)
        dl = httpx.Client(transport=sb.transport(), timeout=10)
        yield Front(sb, api, dl)
    else:
        with sb.serve() as srv:
            api = Api(sb, base_url=srv.base_url)
            dl = httpx.Client(timeout=10)
            yield Front(sb, api, dl)
    api.close()
    dl.close()


def _segment(f: Front) -> dict:
    req = f.api.get(f"/v1/apps/{first_app(f.sb)}/analyticsReportRequests").json()["data"][0]["id"]
    inst = f.api.get(f"/v1/analyticsReports/r10-{req}/instances").json()["data"][-1]["id"]
    return f.api.get(f"/v1/analyticsReportInstances/{inst}/segments").json()["data"][0]


def test_rate_limit_burst_with_and_without_retry_after(front: Front) -> None:
    front.sb.faults.add("rate_limit", path=r"^/v1/apps$", count=2, retry_after=7)
    first, second, third = (front.api.get("/v1/apps") for _ in range(3))
    assert first.status_code == second.status_code == 429
    assert first.headers["Retry-After"] == "7" and "X-Rate-Limit" in first.headers
    assert first.json()["errors"][0]["code"] == "RATE_LIMIT_EXCEEDED"
    assert third.status_code == 200
    front.sb.faults.add("429", path="/v1/apps")
    r = front.api.get("/v1/apps")
    assert r.status_code == 429 and "Retry-After" not in r.headers


def test_server_error_on_chosen_method_only(front: Front) -> None:
    front.sb.faults.add("server_error", path="analyticsReportRequests", method="POST", status=500)
    assert front.api.get("/v1/apps").status_code == 200
    r = front.api.create(first_app(front.sb))
    assert r.status_code == 500 and r.json()["errors"][0]["status"] == "500"
    front.sb.faults.add("5xx", path="/v1/apps")
    assert front.api.get("/v1/apps").status_code == 503


def test_reset_drops_the_connection(front: Front) -> None:
    front.sb.faults.add("reset", path="/v1/apps")
    with pytest.raises(httpx.TransportError):
        front.api.get("/v1/apps")
    assert front.api.get("/v1/apps").status_code == 200


def test_truncated_api_body(front: Front) -> None:
    front.sb.faults.add("truncate", path="/v1/apps", keep=10)
    with pytest.raises(httpx.TransportError):
        front.api.http.get("/v1/apps", headers=front.api.auth())
    assert front.api.get("/v1/apps").status_code == 200


def test_slow_response(front: Front) -> None:
    front.sb.faults.add("slow", path="/v1/apps", seconds=0.3)
    t = time.perf_counter()
    assert front.api.get("/v1/apps").status_code == 200
    assert time.perf_counter() - t >= 0.3


def test_download_faults(front: Front) -> None:
    seg = _segment(front)
    url, checksum, size = (seg["attributes"][k] for k in ("url", "checksum", "sizeInBytes"))
    faults = front.sb.faults
    faults.add("corrupt", host="download")
    body = front.dl.get(url).content
    assert len(body) == size and hashlib.md5(body).hexdigest() != checksum
    faults.add("size_mismatch", host="download", extra=5)
    assert len(front.dl.get(url).content) == size + 5
    faults.add("expired", host="download")
    r = front.dl.get(url)
    assert r.status_code == 403 and b"Request has expired" in r.content
    faults.add("truncate", host="download")
    with pytest.raises(httpx.TransportError):
        front.dl.get(url)
    faults.add("reset", host="download")
    with pytest.raises(httpx.TransportError):
        front.dl.get(url)
    faults.add("server_error", host="download", retry_after=2)
    r = front.dl.get(url)
    assert r.status_code == 503 and r.headers["Retry-After"] == "2" and b"SlowDown" in r.content
    body = front.dl.get(url).content  # all consumed: clean again
    assert hashlib.md5(body).hexdigest() == checksum


def test_fault_api_validates_and_clears(sb: Sandbox, api: Api) -> None:
    with pytest.raises(ValueError):
        sb.faults.add("meteor")
    with pytest.raises(ValueError):
        sb.faults.add("slow", host="elsewhere")
    sb.faults.add("server_error", path="/v1/apps", count=None)
    assert [api.get("/v1/apps").status_code for _ in range(3)] == [503, 503, 503]
    sb.faults.clear()
    assert api.get("/v1/apps").status_code == 200


def test_calls_are_recorded(sb: Sandbox, api: Api) -> None:
    api.get("/v1/apps", limit=2)
    assert sb.calls[-1] == ("GET", "api", "/v1/apps?limit=2")


def test_latency_applies_to_every_call(make_api) -> None:
    sb = Sandbox(latency=0.05)
    api = make_api(sb)
    t = time.perf_counter()
    for _ in range(3):
        api.get("/v1/apps")
    assert time.perf_counter() - t >= 0.15


def test_control_path_neither_consumes_faults_nor_counts(sb: Sandbox, api: Api) -> None:
    sb.faults.add("server_error")
    with httpx.Client(transport=sb.transport(), base_url=sb.api_base_url) as c:
        assert c.post("/_sandbox/advance", json={"hours": 1}).status_code == 200
    assert sb.calls == []
    assert api.get("/v1/apps").status_code == 503
