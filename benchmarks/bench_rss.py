"""Peak RSS of ``fetch(..., to=path)`` on a report of >= 1 GB uncompressed.

The sandbox (loopback HTTP, child process) generates a large "App Sessions Detailed" report;
this process runs only the client, so its peak RSS (``ru_maxrss``) is the client's. The
uncompressed size is measured afterwards by inflating every downloaded segment (streaming),
and the Parquet output is checked with DuckDB.

    .venv/bin/python benchmarks/bench_rss.py [--scale 400] [--segment-rows 50000]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
import warnings
from pathlib import Path

from _server import sandbox_server
from isal import igzip

from asc_nb.errors import MissingDatesWarning

REPORT = "App Sessions Detailed"


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def inflated_size(path: Path) -> int:
    total = 0
    with igzip.open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            total += len(chunk)
    return total


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=400)
    ap.add_argument("--segment-rows", type=int, default=50_000)
    ap.add_argument("--history-days", type=int, default=34)
    args = ap.parse_args()
    warnings.simplefilter("ignore", MissingDatesWarning)
    tmp = Path(tempfile.mkdtemp(prefix="asc-rss-"))
    try:
        options = dict(
            nodelay=True,
            seed=2,
            apps=1,
            history_days=args.history_days,
            data_scale=args.scale,
            segment_rows=args.segment_rows,
        )
        with sandbox_server(**options) as server, server.client(cache_dir=tmp / "cache") as c:
            req = c.ensure_ongoing(c.apps().id[0])
            base = peak_mb()
            t = time.perf_counter()
            out = c.fetch(req.id, REPORT, to=tmp / "parquet", progress=False)
            elapsed = time.perf_counter() - t
            peak = peak_mb()
        files = [p for p in (tmp / "cache").rglob("*.gz") if ".partial" not in p.parts]
        gz = sum(p.stat().st_size for p in files)
        raw = sum(inflated_size(p) for p in files)
        import duckdb

        con = duckdb.connect()
        con.execute("SET memory_limit='1GB'")
        rows, dates = con.execute(
            f"select count(*), count(distinct date) from read_parquet('{out}/**/*.parquet', hive_partitioning=true)"
        ).fetchone()
        pq = sum(p.stat().st_size for p in Path(out).rglob("*.parquet"))
        print(
            f"report: {REPORT}, {len(files)} segments, {gz / 1e6:.0f} MB gzip, {raw / 1e9:.2f} GB uncompressed"
        )
        print(
            f"fetch(to=path): {elapsed:.1f} s; Parquet: {rows:,} rows (latest vintage), {dates} dates, "
            f"{pq / 1e6:.0f} MB"
        )
        print(f"peak RSS before fetch: {base:.0f} MB; peak RSS after fetch: {peak:.0f} MB  (target < 500 MB)")
        if raw < 1e9:
            print("WARNING: less than 1 GB uncompressed; raise --scale")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
