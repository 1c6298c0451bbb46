"""A year of daily history for 3 apps × 4 reports: Store backfill vs client.fetch per report, then the no-op.

The sandbox runs as a loopback HTTP server in a child process (``latency`` seconds added to
every request). Each app gets a ONE_TIME_SNAPSHOT covering ``--days`` days; then, in one run:

* store   = ``Store.sync(client, reports=4, backfill=True)`` after the snapshot is ready: every
            instance of both requests listed, downloaded, parsed and committed to the lake
            (fresh download cache);
* fetch   = ``client.fetch(snapshot_request, report)`` for each app × report, frames only
            (fresh download cache): the same snapshot data, nothing kept on disk;
* no-op   = the same ``Store.sync`` again vs the same 12 fetches again (warm caches): API calls
            and time.

    .venv/bin/python benchmarks/bench_store.py [--days 365] [--latency 0.01]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
import warnings
from datetime import date, timedelta
from pathlib import Path

import httpx
from _server import sandbox_server

import asc_nb
from asc_nb.errors import MissingDatesWarning

REPORTS = (
    "App Sessions Standard",
    "App Downloads Standard",
    "App Store Discovery and Engagement Standard",
    "App Store Installation and Deletion Standard",
)
START = "2026-03-02T09:00:00Z"


def api_calls(server, since: int) -> tuple[int, int]:
    calls = server.calls()[since:]
    return sum(1 for c in calls if c[1] == "api"), sum(1 for c in calls if c[1] == "download")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--apps", type=int, default=3)
    ap.add_argument("--latency", type=float, default=0.01)
    # Apple's budget is 3600 calls an hour: a year for 12 app × report pairs needs ~4,400 segment
    # listings per pass (store and fetch alike), so the pacer would wait an hour. Lifted here.
    ap.add_argument("--rate-limit", type=int, default=1_000_000)
    args = ap.parse_args()
    warnings.simplefilter("ignore", MissingDatesWarning)
    history_start = (date(2026, 3, 2) - timedelta(days=args.days)).isoformat()
    tmp = Path(tempfile.mkdtemp(prefix="asc-bench-store-"))
    try:
        with sandbox_server(
            seed=21,
            apps=args.apps,
            history_start=history_start,
            latency=args.latency,
            start=START,
            rate_limit=args.rate_limit,
        ) as server:
            with server.client(cache_dir=tmp / "cache-store") as c:
                store = asc_nb.Store(tmp / "store")
                first = store.sync(
                    c, reports=REPORTS, backfill=True, progress=False
                )  # asks; snapshot pending
                assert set(first["status"]) == {"pending"}, first
                httpx.post(server.info["base_url"] + "/_sandbox/advance", json={"days": 2}).raise_for_status()
                n0 = len(server.calls())
                t0 = time.perf_counter()
                result = store.sync(c, reports=REPORTS, progress=False)
                t_store = time.perf_counter() - t0
                store_api, store_dl = api_calls(server, n0)
                assert set(result["status"]) == {"ok"}, result[result["status"] != "ok"]
                apps = sorted(result["app_id"].unique())
                snapshots = {a: c.report_requests(a, "ONE_TIME_SNAPSHOT")["id"][0] for a in apps}

                n0 = len(server.calls())
                t0 = time.perf_counter()
                noop = store.sync(c, reports=REPORTS, progress=False)
                assert noop["downloads"].sum() == 0
                t_noop = time.perf_counter() - t0
                noop_api, noop_dl = api_calls(server, n0)

            def fetch_all(cache: Path) -> tuple[float, int, int, int]:
                with server.client(cache_dir=cache) as fc:
                    n = len(server.calls())
                    t = time.perf_counter()
                    rows = 0
                    for a in apps:
                        for r in REPORTS:
                            rows += len(fc.fetch(snapshots[a], r, progress=False))
                    elapsed = time.perf_counter() - t
                api, dl = api_calls(server, n)
                return elapsed, api, dl, rows

            t_fetch, fetch_api, fetch_dl, fetch_rows = fetch_all(tmp / "cache-fetch")
            t_refetch, refetch_api, refetch_dl, _ = fetch_all(tmp / "cache-fetch")

        lake_bytes = sum(p.stat().st_size for p in store.lake.rglob("*.parquet"))
        files = sum(1 for _ in store.lake.rglob("*.parquet"))
        print(
            f"world: {len(apps)} apps × {len(REPORTS)} reports, {args.days} days of DAILY snapshot history, "
            f"latency {args.latency * 1000:.0f} ms"
        )
        print(
            f"store backfill   {t_store:7.1f} s  {store_api:6d} API calls  {store_dl:6d} downloads  "
            f"{int(result['rows'].sum()):9,d} rows  ({result['new_instances'].sum()} instances, {files} files, "
            f"{lake_bytes / 1e6:.1f} MB lake)"
        )
        print(
            f"12 × fetch       {t_fetch:7.1f} s  {fetch_api:6d} API calls  {fetch_dl:6d} downloads  "
            f"{fetch_rows:9,d} rows  (snapshot only; frames in memory)"
        )
        print(f"store / fetch    time {t_store / t_fetch:5.2f}×   API calls {store_api / fetch_api:5.2f}×")
        print(
            f"no-op re-sync    {t_noop:7.2f} s  {noop_api:6d} API calls  {noop_dl:6d} downloads  "
            f"(≤ {len(apps) * len(REPORTS)} allowed: apps × reports × granularities)"
        )
        print(
            f"12 × re-fetch    {t_refetch:7.2f} s  {refetch_api:6d} API calls  {refetch_dl:6d} downloads  (warm cache)"
        )
        print(f"no-op / re-fetch time {t_noop / t_refetch:6.3f}×   API calls {noop_api / refetch_api:6.4f}×")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
