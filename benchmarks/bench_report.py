"""The offline report of one app for 90 days, from a store: how long ``asc_nb.report`` takes.

A store is filled once from the in-process sandbox (ONE_TIME_SNAPSHOT backfill + ONGOING, the three
reports the views read); then, in one process:

* baseline = reading those three reports' 90 days (+ the previous 90 for the KPIs) from the lake
             with ``store.read`` — the I/O the report cannot avoid;
* views    = the KPIs and the four views' numbers (``asc_nb.views`` through one cached loader);
* report   = ``asc_nb.report(store, app, out, days=90)``: numbers, charts (PNG), tables, the file.

    .venv/bin/python benchmarks/bench_report.py [--days 90] [--runs 3]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
import warnings
from datetime import date, timedelta
from pathlib import Path

import asc_nb
from asc_nb.errors import MissingDatesWarning

REPORTS = ("App Store Discovery and Engagement Standard", "App Downloads Standard", "App Sessions Standard")
NOW = date(2026, 3, 2)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    warnings.simplefilter("ignore", MissingDatesWarning)
    tmp = Path(tempfile.mkdtemp(prefix="asc-bench-report-"))
    try:
        history = (NOW - timedelta(days=2 * args.days + 10)).isoformat()
        sb = asc_nb.Sandbox(
            seed=21,
            apps=1,
            history_days=30,
            history_start=history,
            start=f"{NOW}T09:00:00Z",
            rate_limit=1_000_000,
        )
        t0 = time.perf_counter()
        with asc_nb.connect(sandbox=sb, cache_dir=tmp / "cache") as client:
            app = str(client.apps()["id"].iloc[0])
            store = asc_nb.Store(tmp / "store")
            store.sync(client, reports=REPORTS, backfill=True, progress=False)
            sb.advance(days=2)
            store.sync(client, reports=REPORTS, progress=False)
        fill = time.perf_counter() - t0
        end = store.reference_day - timedelta(days=1)
        start = end - timedelta(days=args.days - 1)
        prev = start - timedelta(days=args.days)
        rows = sum(len(store.read(r, apps=[app], start=prev, end=end)) for r in REPORTS)

        def best(fn) -> float:
            times = []
            for _ in range(args.runs):
                t = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t)
            return min(times)

        t_read = best(lambda: [store.read(r, apps=[app], start=prev, end=end) for r in REPORTS])
        from asc_nb.report import CachedSource, _kpi_section

        def numbers() -> None:
            src = CachedSource(store, (prev, end))
            _kpi_section(src, [app], start, end, asc_nb.report.KPIS, {app: app})
            asc_nb.views.funnel(src, app, start=start, end=end, approx=True)
            asc_nb.views.compare_periods(
                src,
                app,
                ["impressions", "total_downloads", "sessions", "conversion_rate"],
                start=end - timedelta(days=6),
                end=end,
                approx=True,
            )
            asc_nb.views.territories(src, app, "total_downloads", start=start, end=end)
            asc_nb.views.session_cohorts(src, app, start=start, end=end)

        t_views = best(numbers)
        out = tmp / "report.html"
        t_report = best(lambda: asc_nb.report(store, app, out, start=start, end=end))
        store.close()
        print(
            f"world: 1 app, {len(REPORTS)} reports, {args.days} days ({start} – {end}) + the previous {args.days} "
            f"for the KPIs: {rows:,} lake rows (store filled in {fill:.1f} s, not timed below)"
        )
        print(f"baseline store.read of those rows   {t_read:6.2f} s")
        print(f"views' numbers (KPIs + 4 views)     {t_views:6.2f} s   {t_views / t_read:5.1f}× baseline")
        print(
            f"asc_nb.report -> {out.stat().st_size / 1e6:.1f} MB HTML     {t_report:6.2f} s   "
            f"{t_report / t_read:5.1f}× baseline   (best of {args.runs}; target < 10 s)"
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
