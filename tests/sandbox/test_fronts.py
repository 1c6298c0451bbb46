"""The three fronts share one router: in-process transport == loopback HTTP, byte for byte."""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
from concurrent.futures import ThreadPoolExecutor

import httpx

from asc_nb.sandbox import Sandbox

from .helpers import Api, create_doc, demo_key, first_app, sign

KEEP_HEADERS = ("content-type", "location", "x-rate-limit", "retry-after", "content-encoding")


def _script(api: Api, dl: httpx.Client, advance) -> list[tuple]:
    """A scripted lifecycle; returns every answer with the hosts' origins replaced by placeholders."""
    sb = api.sb
    api_origin = str(api.http.base_url).rstrip("/")
    out: list[tuple] = []
    dl_origin = [sb.download_origin_for(api_origin)]

    def record(r: httpx.Response) -> httpx.Response:
        text = r.content.decode("utf-8", "replace").replace(api_origin, "{API}")
        for o in dl_origin:
            text = text.replace(o, "{DL}")
        headers = {k: r.headers[k].replace(api_origin, "{API}") for k in KEEP_HEADERS if k in r.headers}
        out.append((r.request.method, r.status_code, headers, text))
        return r

    app = record(api.get("/v1/apps")).json()["data"][0]["id"]
    record(api.get(f"/v1/apps/{app}"))
    req = record(api.create(app)).json()["data"]["id"]
    record(api.create(app))
    record(api.post("/v1/analyticsReportRequests", content=b"{", content_type="application/json"))
    record(api.get(f"/v1/apps/{app}/analyticsReportRequests", include="reports", **{"limit[reports]": "5"}))
    advance(days=3)
    page = record(api.get(f"/v1/analyticsReportRequests/{req}/reports", limit=40)).json()
    record(api.get_url(page["links"]["next"]))
    record(api.get(f"/v1/analyticsReportRequests/{req}/reports", **{"filter[category]": "GAMES"}))
    insts = record(api.get(f"/v1/analyticsReports/r10-{req}/instances")).json()["data"]
    record(api.get(f"/v1/analyticsReportInstances/{insts[0]['id']}"))
    segs = record(api.get(f"/v1/analyticsReportInstances/{insts[0]['id']}/segments")).json()["data"]
    url = segs[0]["attributes"]["url"]
    assert url.startswith(dl_origin[0] + "/reports/")
    record(api.get(f"/v1/analyticsReportSegments/{segs[0]['id']}"))
    body = dl.get(url)
    out.append(
        (
            "DOWNLOAD",
            body.status_code,
            hashlib.md5(body.content).hexdigest(),
            "content-encoding" in body.headers,
        )
    )
    out.append(("AUTH-DOWNLOAD", dl.get(url, headers={"Authorization": "Bearer x"}).status_code))
    snap = record(api.create(app, "ONE_TIME_SNAPSHOT")).json()["data"]["id"]
    record(api.delete(f"/v1/analyticsReportRequests/{snap}"))
    record(api.get(f"/v1/analyticsReportRequests/{snap}"))
    record(api.http.get("/v1/apps"))  # 401
    advance(days=40)
    record(api.get(f"/v1/analyticsReportRequests/{req}"))
    out.append(("EXPIRED", dl.get(url).status_code))
    out.append(("NOW", sb.now.isoformat()))
    return out


def test_inprocess_and_loopback_give_identical_results() -> None:
    a = Sandbox(seed=5)
    api_a, dl_a = Api(a), httpx.Client(transport=a.transport())
    try:
        inproc = _script(api_a, dl_a, a.advance)
    finally:
        api_a.close()
        dl_a.close()

    b = Sandbox(seed=5)
    with b.serve() as srv, httpx.Client(timeout=10) as dl_b:
        api_b = Api(b, base_url=srv.base_url)

        def advance(days: float = 0) -> None:
            r = httpx.post(f"{srv.base_url}/_sandbox/advance", json={"days": days})
            assert r.status_code == 200

        try:
            loop = _script(api_b, dl_b, advance)
        finally:
            api_b.close()
    assert len(inproc) == len(loop) > 20
    for x, y in zip(inproc, loop, strict=True):
        assert x == y


def test_loopback_serves_16_concurrent_clients() -> None:
    sb = Sandbox(history_days=3, apps=4)
    key = demo_key(sb)
    with sb.serve() as srv:

        def worker(i: int) -> tuple[int, int, bool]:
            with httpx.Client(
                base_url=srv.base_url, timeout=20, headers={"Authorization": f"Bearer {sign(key)}"}
            ) as c:
                apps = c.get("/v1/apps").json()["data"]
                app = apps[i % len(apps)]["id"]
                req = c.get(f"/v1/apps/{app}/analyticsReportRequests").json()["data"][0]["id"]
                inst = c.get(f"/v1/analyticsReports/r{1 + i % 12}-{req}/instances").json()["data"][-1]["id"]
                seg = c.get(f"/v1/analyticsReportInstances/{inst}/segments").json()["data"][0]["attributes"]
            with httpx.Client(timeout=20) as d:
                body = d.get(seg["url"]).content
            return len(apps), i, hashlib.md5(body).hexdigest() == seg["checksum"]

        with ThreadPoolExecutor(16) as pool:
            results = list(pool.map(worker, range(16)))
    assert all(ok and n == 4 for n, _, ok in results)


def test_serve_closes_its_sockets() -> None:
    sb = Sandbox()
    with sb.serve() as srv:
        base = srv.base_url
        assert httpx.get(f"{base}/_sandbox/now").json() == {"now": "2026-03-02T09:00:00Z"}
    try:
        httpx.get(f"{base}/_sandbox/now", timeout=2)
    except httpx.TransportError:
        pass
    else:  # pragma: no cover
        raise AssertionError("server still answering after the block")


def test_async_transport() -> None:
    sb = Sandbox(history_days=2)
    token = sign(demo_key(sb))

    async def main() -> list[int]:
        async with httpx.AsyncClient(
            transport=sb.async_transport(),
            base_url=sb.api_base_url,
            headers={"Authorization": f"Bearer {token}"},
        ) as c:
            app = first_app(sb)
            rs = await asyncio.gather(
                *(c.get(f"/v1/apps/{app}/analyticsReportRequests") for _ in range(8)),
                c.post("/v1/analyticsReportRequests", json=create_doc(app, "ONE_TIME_SNAPSHOT")),
            )
            return [r.status_code for r in rs]

    # a thread of its own: a session-wide Playwright (browser tier) keeps a loop running in this one
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        assert pool.submit(asyncio.run, main()).result(timeout=60) == [200] * 8 + [201]


def test_control_path_validates(sb: Sandbox) -> None:
    with httpx.Client(transport=sb.transport(), base_url=sb.api_base_url) as c:
        assert c.post("/_sandbox/advance", json={"hours": 6}).json() == {"now": "2026-03-02T15:00:00Z"}
        assert c.post("/_sandbox/advance", json={"days": -1}).status_code == 400
        assert c.post("/_sandbox/advance", json={"weeks": 1}).status_code == 400
        assert c.post("/_sandbox/advance", content=b"nope").status_code == 400
    assert sb.now.isoformat() == "2026-03-02T15:00:00+00:00"
