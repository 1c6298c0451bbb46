"""Scale: sync a generator-backed big world through a dask.distributed LocalCluster and the local executor.

The sandbox (``asc_nb.sandbox.bigworld.BigSandbox``: the world model at a base scale, each instance's rows
tiled ``tiles`` times) runs as a loopback server in a child process. For each size factor (1x, 4x, 16x the
tiles) and each path (``local``: the Store's own executor in this process; ``dask``: a real
``LocalCluster`` of worker processes), a fresh store syncs every app x report, then:

* totals (rows and the sum of one measure per report) are read back by **DuckDB** (``store.sql``),
  **Polars** (``scan_parquet`` / ``scan_delta``) and **Dask** (``read_parquet``) and must be identical,
  between engines and between the two paths;
* the stored rows at factor f must be exactly f x those at 1x (tiling is exact), so the growth column
  below measures cost, not a changing world;
* peak RSS of this (the driver) process: ``ru_maxrss``, monotone over the run, printed after each sync;
* throughput: rows synced (every vintage of every row, what was downloaded and parsed) per second, and
  rows stored (latest vintage, what readers see).

    .venv/bin/python benchmarks/bench_scale.py                 # the full run: 16x >= 50 M rows synced
    .venv/bin/python benchmarks/bench_scale.py --factors 1 --days 4 --tiles 1   # a quick look
"""

from __future__ import annotations

import argparse
import logging
import resource
import shutil
import tempfile
import time
import warnings
from pathlib import Path

from _server import sandbox_server

import asc_nb

REPORTS = ("App Sessions Detailed", "App Downloads Detailed", "App Store Discovery and Engagement Detailed")
#: one additive measure per report, summed by every engine
MEASURE = {
    "App Sessions Detailed": "sessions",
    "App Downloads Detailed": "counts",
    "App Store Discovery and Engagement Detailed": "counts",
}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def totals(store: asc_nb.Store, cluster_client) -> dict[str, dict[str, tuple[int, int]]]:
    """engine -> report -> (rows, sum of the report's measure), read three ways."""
    import dask.dataframe as dd
    import polars as pl

    out: dict[str, dict[str, tuple[int, int]]] = {"duckdb": {}, "polars": {}, "dask": {}}
    dest = store.destination
    for report in REPORTS:
        m = MEASURE[report]
        view = asc_nb.store.view_name(report, "DAILY")
        got = store.sql(f"select count(*) n, sum({m}) s from {view}")
        out["duckdb"][report] = (int(got["n"][0]), int(got["s"][0]))
        if dest.format == "delta":
            path = str(dest.table_path(report, "DAILY"))
            lazy = pl.scan_delta(path)
            files = dest.files(report, "DAILY")
        else:
            glob = dest.glob(report, "DAILY")
            lazy = pl.scan_parquet(glob, hive_partitioning=True)
            files = str(dest.report_dir(report, "DAILY"))
        pol = lazy.select(pl.len().alias("n"), pl.col(m).sum().alias("s")).collect()
        out["polars"][report] = (int(pol["n"][0]), int(pol["s"][0]))
        frame = dd.read_parquet(files, engine="pyarrow", columns=[m], dataset={"partitioning": "hive"})
        n, s = (
            dd.compute(frame[m].size, frame[m].sum())
            if cluster_client is None
            else cluster_client.compute([frame[m].size, frame[m].sum()], sync=True)
        )
        out["dask"][report] = (int(n), int(s))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--apps", type=int, default=2)
    ap.add_argument("--days", type=int, default=24, help="history days of each app's ONGOING request")
    ap.add_argument("--base-scale", type=float, default=20, help="the world model's data_scale")
    ap.add_argument("--tiles", type=int, default=4, help="tiles at 1x (factor f uses f x tiles)")
    ap.add_argument("--factors", default="1,4,16")
    ap.add_argument("--paths", default="local,dask")
    ap.add_argument("--workers", type=int, default=2, help="Dask worker processes")
    ap.add_argument("--format", default="parquet", choices=["parquet", "delta"])
    ap.add_argument("--segment-rows", type=int, default=50_000)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    logging.getLogger("distributed").setLevel(logging.ERROR)
    factors = [int(f) for f in args.factors.split(",")]
    paths = args.paths.split(",")
    tmp = Path(tempfile.mkdtemp(prefix="asc-bench-scale-"))
    cluster = dask_client = None
    print(
        f"world: {args.apps} apps x {len(REPORTS)} Detailed reports, {args.days} days of DAILY history, "
        f"base data_scale {args.base_scale:g}, {args.tiles} tiles at 1x; format {args.format}; "
        f"dask: LocalCluster({args.workers} worker processes x 1 thread)"
    )
    print(f"driver peak RSS at start: {peak_rss_mb():.0f} MB")
    results: list[dict] = []
    try:
        if "dask" in paths:
            import distributed

            cluster = distributed.LocalCluster(
                n_workers=args.workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
            dask_client = distributed.Client(cluster)
        for f in factors:
            tiles = f * args.tiles
            with sandbox_server(
                nodelay=True,
                seed=7,
                apps=args.apps,
                history_days=args.days,
                data_scale=args.base_scale,
                segment_rows=args.segment_rows,
                tiles=tiles,
            ) as server:
                for path in paths:
                    root = tmp / f"{path}-{f}"
                    store = asc_nb.Store(root / "store", format=args.format)
                    with server.client(cache_dir=root / "cache") as client:
                        t = time.perf_counter()
                        res = store.sync(
                            client,
                            reports=list(REPORTS),
                            progress=False,
                            executor=dask_client if path == "dask" else None,
                        )
                        elapsed = time.perf_counter() - t
                    rss_sync = peak_rss_mb()
                    assert set(res["status"]) == {"ok"}, res[res["status"] != "ok"]
                    read = totals(store, dask_client if path == "dask" else None)
                    engines = {e: read[e] for e in read}
                    assert engines["duckdb"] == engines["polars"] == engines["dask"], engines
                    stored = sum(n for n, _ in read["duckdb"].values())
                    synced = int(res["rows"].sum())
                    row = {
                        "factor": f,
                        "path": path,
                        "seconds": elapsed,
                        "synced": synced,
                        "stored": stored,
                        "totals": read["duckdb"],
                        "rss": rss_sync,
                        "rss_read": peak_rss_mb(),
                        "downloads": int(res["downloads"].sum()),
                    }
                    results.append(row)
                    print(
                        f"  {f:>2}x {path:5s}: {elapsed:7.1f} s  synced {synced:>12,} rows ({synced / elapsed:>9,.0f}"
                        f" rows/s)  stored {stored:>11,}  {row['downloads']:>5} segments  "
                        f"driver peak RSS {row['rss']:6.0f} MB after the sync, {row['rss_read']:6.0f} MB after the reads; "
                        "DuckDB = Polars = Dask: yes",
                        flush=True,
                    )
                    store.close()
                    shutil.rmtree(root, ignore_errors=True)
        # the same totals on both paths; exact growth
        base = {r["path"]: r for r in results if r["factor"] == factors[0]}
        for r in results:
            assert r["totals"] == next(x["totals"] for x in results if x["factor"] == r["factor"]), (
                "paths differ"
            )
            b = base[r["path"]]
            k = r["factor"] // factors[0]
            assert r["stored"] == k * b["stored"], (r["stored"], b["stored"], k)
        print("same totals on every path: yes; stored rows grow exactly with the factor: yes")
        print(
            "\n| factor | path | rows synced | rows stored | seconds | rows/s synced | cost vs 1x | driver peak RSS |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for r in results:
            b = base[r["path"]]
            print(
                f"| {r['factor']}x | {r['path']} | {r['synced']:,} | {r['stored']:,} | {r['seconds']:.1f} | "
                f"{r['synced'] / r['seconds']:,.0f} | {r['seconds'] / b['seconds']:.2f}x | {r['rss']:.0f} MB |"
            )
        for f in factors:
            both = {r["path"]: r for r in results if r["factor"] == f}
            if len(both) == 2:
                print(f"{f}x: dask / local time = {both['dask']['seconds'] / both['local']['seconds']:.2f}x")
        print(f"driver peak RSS over the run: {peak_rss_mb():.0f} MB (target < 2048 MB)")
    finally:
        if dask_client is not None:
            dask_client.close()
            cluster.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
