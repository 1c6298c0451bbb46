"""Load: the sandbox HTTP server under concurrent clients, a 10,000-instance listing, and a bulk job
against the hourly rate limit in scaled time. Prints what it measured; exits non-zero if a claim fails.

    .venv/bin/python benchmarks/load.py            # all three parts
    .venv/bin/python benchmarks/load.py server     # or one of: server, listing, pacing
    .venv/bin/python benchmarks/load.py --quick    # smaller sizes (a smoke run)

1. server:  16 threads, each its own key and HTTP connection, 500 requests each over real loopback HTTP
            (a mix of every GET endpoint plus segment downloads); every response is compared with the
            answer a single-threaded run got for the same request (status, JSON body / bytes + MD5).
2. listing: one report with exactly 10,000 DAILY instances; ``client.instances`` must use
            ceil(10000/200) = 50 calls (counted in the sandbox's call log). Memory (tracemalloc peak)
            is measured for the DataFrame and for the lazy iterator at 2,000 and 10,000 instances:
            the lazy iterator should need one page, whatever the length of the listing.
3. pacing:  a bulk job of 4,000 API calls against a 3600 calls/hour key, in scaled time (the
            sandbox's rolling hour, the token signer and the client's pacer share one virtual clock
            that the client's injected sleep advances). With the pacer: zero 429s. The control run
            without pacing counts the 429s it meets.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import statistics
import sys
import threading
import time
import tracemalloc
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from asc_nb.auth import Credentials, TokenSigner  # noqa: E402
from asc_nb.client import Client  # noqa: E402
from asc_nb.errors import RateLimitError  # noqa: E402
from asc_nb.http import Pacer  # noqa: E402
from asc_nb.models import AccessType  # noqa: E402
from asc_nb.sandbox import Sandbox  # noqa: E402

REPORT = "App Sessions Standard"
RESULTS: dict[str, Any] = {}


def ok(claim: str, holds: bool) -> bool:
    print(f"  [{'PASS' if holds else 'FAIL'}] {claim}")
    RESULTS.setdefault("claims", []).append({"claim": claim, "holds": holds})
    return holds


# --------------------------------------------------------------------------- 1. server under load


def part_server(threads: int, per_thread: int) -> bool:
    print(f"\n== 1. sandbox HTTP server: {threads} concurrent clients x {per_thread} requests ==")
    sb = Sandbox(seed=41, apps=4, history_days=12)
    keys = [sb.add_key(role="SALES_AND_REPORTS") for _ in range(threads)]
    with sb.serve() as handle:
        # the request mix: every GET endpoint of the lifecycle, plus downloads from the other host
        with Client(sandbox=sb, base_url=handle.base_url, cache_dir="/tmp/asc-nb-load-unused") as c:
            app = str(c.apps()["id"].iloc[0])
            req = str(c.report_requests(app)["id"].iloc[0])
            rep = str(c.reports(req, name=REPORT)["id"].iloc[0])
            insts = c.instances(rep, "DAILY")
            inst = str(insts["id"].iloc[-2])
            segs = c.segments(inst)
            seg = str(segs["id"].iloc[0])
        api = [
            "/v1/apps?limit=200",
            f"/v1/apps/{app}",
            f"/v1/apps/{app}/analyticsReportRequests?limit=200",
            f"/v1/analyticsReportRequests/{req}",
            f"/v1/analyticsReportRequests/{req}/reports?limit=200",
            f"/v1/analyticsReportRequests/{req}/reports?filter%5Bname%5D=App%20Sessions%20Standard",
            f"/v1/analyticsReports/{rep}",
            f"/v1/analyticsReports/{rep}/instances?limit=200",
            f"/v1/analyticsReports/{rep}/instances?filter%5Bgranularity%5D=DAILY&limit=200",
            f"/v1/analyticsReportInstances/{inst}",
            f"/v1/analyticsReportInstances/{inst}/segments",
            f"/v1/analyticsReportSegments/{seg}",
            f"/v1/analyticsReports/{rep}/relationships/instances?limit=200",
            "/v1/apps/0/analyticsReportRequests",  # a 404 is an answer too: it must be the same every time
        ]
        urls = [handle.base_url + p for p in api] + [str(u) for u in segs["url"]]
        signer = TokenSigner(Credentials(keys[0]["key_id"], keys[0]["issuer_id"], keys[0]["private_key_pem"]))

        def answer(client: httpx.Client, url: str, token: str | None) -> tuple[int, str]:
            headers = (
                {"Authorization": f"Bearer {token}"} if token and url.startswith(handle.base_url) else {}
            )
            r = client.get(url, headers=headers)
            if url.startswith(handle.base_url) and r.headers.get("content-type", "").startswith(
                "application/json"
            ):
                doc = r.json()
                for item in doc.get("errors", []) if isinstance(doc, dict) else []:
                    item.pop("id", None)  # a fresh id per error, as Apple's: not part of the answer's content
                return r.status_code, json.dumps(doc, sort_keys=True)
            return r.status_code, hashlib.md5(r.content).hexdigest()

        with httpx.Client(timeout=30) as one:
            expected = {u: answer(one, u, signer.token()) for u in urls}
        calls_before = len(sb.calls)
        results: list[list[tuple[bool, float]]] = [[] for _ in range(threads)]
        barrier = threading.Barrier(threads)

        def run(i: int) -> None:
            k = keys[i]
            token = TokenSigner(Credentials(k["key_id"], k["issuer_id"], k["private_key_pem"])).token()
            with httpx.Client(timeout=60) as client:
                barrier.wait()
                for n in range(per_thread):
                    url = urls[(i + n) % len(urls)]
                    t0 = time.perf_counter()
                    try:
                        got = answer(client, url, token)
                    except httpx.HTTPError as exc:
                        got = (0, repr(exc))
                    results[i].append((got == expected[url], time.perf_counter() - t0))

        t0 = time.perf_counter()
        pool = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        wall = time.perf_counter() - t0
        served = len(sb.calls) - calls_before
    flat = [r for rs in results for r in rs]
    good = sum(1 for r, _ in flat if r)
    lat = sorted(d for _, d in flat)
    p50, p99 = statistics.median(lat), lat[int(0.99 * (len(lat) - 1))]
    RESULTS["server"] = dict(
        threads=threads,
        per_thread=per_thread,
        requests=len(flat),
        correct=good,
        served=served,
        wall_s=round(wall, 2),
        rps=round(len(flat) / wall, 1),
        p50_ms=round(p50 * 1e3, 1),
        p99_ms=round(p99 * 1e3, 1),
        distinct_requests=len(urls),
    )
    print(
        f"  {len(flat)} requests ({len(urls)} distinct: {len(api)} API incl. one 404, "
        f"{len(urls) - len(api)} downloads) in {wall:.1f} s = {len(flat) / wall:.0f} req/s; "
        f"latency p50 {p50 * 1e3:.1f} ms, p99 {p99 * 1e3:.1f} ms"
    )
    a = ok(
        f"all {threads * per_thread} answered correctly ({good} identical to the single-threaded answer)",
        good == threads * per_thread,
    )
    b = ok(
        f"the server saw every request exactly once ({served} calls logged)", served == threads * per_thread
    )
    return a and b


# --------------------------------------------------------------------------- 2. listing 10,000 instances


def _snapshot_world(n_daily: int) -> tuple[Sandbox, str]:
    """A ONE_TIME_SNAPSHOT whose report has exactly ``n_daily`` DAILY instances (history reaches back far enough)."""
    from asc_nb.sandbox.catalog import find_report

    created = date(2026, 3, 2)
    for extra in (0, 1, 2):
        sb = Sandbox(
            seed=42, apps=1, history_start=(created - timedelta(days=n_daily - 1 + extra)).isoformat()
        )
        app = next(iter(sb.world.apps))
        req = sb.world.create_request(app, AccessType.ONE_TIME_SNAPSHOT)
        sb.advance(days=3)  # a snapshot is generated 24-48 h after the request
        daily = [i for i in sb.world.instances_of(req, find_report(REPORT)) if i.granularity.value == "DAILY"]
        if len(daily) == n_daily:
            return sb, req.id
    raise AssertionError(f"could not build a report with {n_daily} DAILY instances")


def _listing_server(conn: Any, n: int) -> None:
    """Child process: the snapshot world on 127.0.0.1 (its CPU and memory never count against the client)."""
    sb, req_id = _snapshot_world(n)
    with sb.serve() as handle:
        conn.send(
            {
                "base_url": handle.base_url,
                "key_id": sb.key_id,
                "issuer_id": sb.issuer_id,
                "pem": sb.private_key_pem,
                "request_id": req_id,
            }
        )
        while conn.recv() != "stop":
            conn.send(len(sb.calls))


def _measure_listing(n: int) -> dict[str, Any]:
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_listing_server, args=(child, n), daemon=True)
    proc.start()
    info = parent.recv()

    def server_calls() -> int:
        parent.send("calls")
        return parent.recv()

    out: dict[str, Any] = {"instances": n}
    try:
        creds = Credentials(info["key_id"], info["issuer_id"], info["pem"])
        with Client(creds, base_url=info["base_url"], cache_dir="/tmp/asc-nb-load-unused") as c:
            rep = str(c.reports(info["request_id"], name=REPORT)["id"].iloc[0])
            # 1. the DataFrame (timed; no tracing)
            before = server_calls()
            t0 = time.perf_counter()
            frame = c.instances(rep, "DAILY")
            out["seconds"] = round(time.perf_counter() - t0, 2)
            out["calls"] = server_calls() - before
            out["rows"] = len(frame)
            out["frame_mb"] = round(frame.memory_usage(deep=True).sum() / 1e6, 2)
            del frame
            # 2. the lazy iterator, counting without keeping anything: traced peak of this process
            before = server_calls()
            tracemalloc.start()
            count = sum(1 for _ in c.iter_instances(rep, "DAILY"))
            out["lazy_peak_mb"] = round(tracemalloc.get_traced_memory()[1] / 1e6, 2)
            tracemalloc.stop()
            out["lazy_calls"], out["lazy_count"] = server_calls() - before, count
            out["pages_retained"] = len(c.last_documents)
            # 3. diagnosis: the same, dropping each page from client.last_documents as it is consumed
            tracemalloc.start()
            for count, _ in enumerate(c.iter_instances(rep, "DAILY"), start=1):
                if count % 200 == 0:
                    c.last_documents.clear()
            out["lazy_cleared_peak_mb"] = round(tracemalloc.get_traced_memory()[1] / 1e6, 2)
            tracemalloc.stop()
    finally:
        parent.send("stop")
        proc.join(10)
    return out


def part_listing(n: int) -> bool:
    print(f"\n== 2. listing {n:,} instances (sandbox in a child process: only the client is measured) ==")
    good = True
    runs = [_measure_listing(size) for size in (n // 5, n)]
    for r in runs:
        size, want = r["instances"], math.ceil(r["instances"] / 200)
        print(
            f"  {size:>6,} instances: DataFrame {r['rows']:,} rows ({r['frame_mb']} MB) in {r['calls']} calls, "
            f"{r['seconds']} s; lazy iterator {r['lazy_count']:,} in {r['lazy_calls']} calls, traced peak "
            f"{r['lazy_peak_mb']} MB with {r['pages_retained']} pages kept in client.last_documents, "
            f"{r['lazy_cleared_peak_mb']} MB when they are dropped"
        )
        good &= ok(
            f"{size:,} instances listed with exactly ceil({size}/200) = {want} calls",
            r["rows"] == r["lazy_count"] == size and r["calls"] == r["lazy_calls"] == want,
        )
    small, big = runs
    growth = big["lazy_peak_mb"] / max(small["lazy_peak_mb"], 1e-9)
    cleared = big["lazy_cleared_peak_mb"] / max(small["lazy_cleared_peak_mb"], 1e-9)
    RESULTS["listing"] = dict(runs=runs, lazy_growth=round(growth, 2), lazy_cleared_growth=round(cleared, 2))
    print(
        f"  x{big['instances'] / small['instances']:.0f} instances: lazy peak x{growth:.1f}; "
        f"with pages dropped x{cleared:.1f}"
    )
    good &= ok(
        f"lazy iteration memory bounded by a page, not the listing (peak x{growth:.1f} for "
        f"x{big['instances'] / small['instances']:.0f} instances)",
        growth < 2.0,
    )
    return good


# --------------------------------------------------------------------------- 3. pacing in scaled time


class ScaledTime:
    """Virtual seconds: the sandbox's rolling hour, the client's token clock and pacer read it;
    the client's injected sleep advances it; each call also costs ``work`` virtual seconds."""

    def __init__(self) -> None:
        self.now = time.time()
        self.slept = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept += seconds
        self.now += seconds


def _bulk(calls: int, limit: int, paced: bool, work: float) -> dict[str, Any]:
    t = ScaledTime()
    sb = Sandbox(seed=43, apps=2, history_days=8, rate_limit=limit, wall_clock=t.clock)
    kw: dict[str, Any] = {} if paced else {"pacer": Pacer(clock=t.clock, max_wait=0)}
    statuses: list[int] = []
    done = 0
    error = None
    real0 = time.perf_counter()
    with Client(sandbox=sb, cache_dir="/tmp/asc-nb-load-unused", sleep=t.sleep, clock=t.clock, **kw) as c:
        c.http.client.event_hooks["response"].append(lambda r: statuses.append(r.status_code))
        start = t.now
        app = str(c.apps()["id"].iloc[0])
        req = str(c.report_requests(app)["id"].iloc[0])
        rep = str(c.reports(req, name=REPORT)["id"].iloc[0])
        insts = [str(i) for i in c.instances(rep, "DAILY")["id"]]
        done = 4
        try:
            while done < calls:  # the bulk job: re-list each instance's segments (fresh URLs), round robin
                t.now += work
                c.segments(insts[done % len(insts)])
                done += 1
        except RateLimitError as exc:
            error = f"RateLimitError after {done} calls: {str(exc)[:90]}"
        pacer = c.http.pacer
        return dict(
            paced=paced,
            calls_done=done,
            http_requests=len(statuses),
            http_429=statuses.count(429),
            virtual_hours=round((t.now - start) / 3600, 2),
            pacer_waited_s=round(pacer.waited),
            slept_s=round(t.slept),
            error=error,
            real_s=round(time.perf_counter() - real0, 1),
        )


def part_pacing(calls: int, limit: int) -> bool:
    print(f"\n== 3. bulk job: {calls:,} API calls against {limit:,} calls/hour, scaled time ==")
    paced = _bulk(calls, limit, True, work=0.25)
    print(
        f"  paced:   {paced['calls_done']:,} calls, {paced['http_429']} x 429, "
        f"{paced['virtual_hours']} virtual h (pacer waited {paced['pacer_waited_s']:,} s), "
        f"{paced['real_s']} s real"
    )
    control = _bulk(calls, limit, False, work=0.25)
    print(
        f"  control: pacing off: {control['calls_done']:,} calls done, {control['http_429']} x 429; "
        f"{control['error'] or 'finished'}"
    )
    RESULTS["pacing"] = dict(limit=limit, paced=paced, control=control)
    a = ok(
        f"paced job finished all {calls:,} calls with zero 429s",
        paced["calls_done"] == calls and paced["http_429"] == 0 and paced["error"] is None,
    )
    b = ok("the control (pacing off) meets 429s, so the claim above can fail", control["http_429"] > 0)
    return a and b


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("parts", nargs="*", help="server, listing, pacing (default: all three)")
    ap.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run, not the figures)")
    ap.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = ap.parse_args()
    args.parts = args.parts or ["server", "listing", "pacing"]
    if set(args.parts) - {"server", "listing", "pacing"}:
        ap.error(f"unknown part(s): {sorted(set(args.parts) - {'server', 'listing', 'pacing'})}")
    q = args.quick
    good = True
    if "server" in args.parts:
        good &= part_server(16 if not q else 4, 500 if not q else 50)
    if "listing" in args.parts:
        good &= part_listing(10_000 if not q else 2_400)
    if "pacing" in args.parts:
        good &= part_pacing(4_000 if not q else 500, 3600 if not q else 400)
    if args.json:
        Path(args.json).write_text(json.dumps(RESULTS, indent=2, default=str))
    print("\nall claims hold" if good else "\nSOME CLAIMS FAIL (see above)")
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
