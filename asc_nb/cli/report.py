"""``python -m asc_nb report --store DIR --app ID --out report.html``: the offline report of a store.

Reads the store only (no credentials, no API call): KPIs, funnel, period comparison, territories,
session cohorts (and apps side by side with several ``--app``), as one self-contained HTML file, or
a PDF with ``--format pdf`` (printed by headless Chromium). Exit status: 0 written, 2 bad arguments,
a missing store or an app it does not hold.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any


def run(args: argparse.Namespace) -> int:
    """Write the report; the exit status (see the module docstring)."""
    import asc_nb
    from asc_nb.errors import ASCError

    store_dir = Path(args.store).expanduser()
    if not (store_dir / "lake").is_dir():
        print(
            f"asc_nb report: {store_dir} holds no store (no lake/ folder): sync one first with "
            f"python -m asc_nb sync --store {store_dir}",
            file=sys.stderr,
        )
        return 2
    apps = [a.strip() for item in args.app for a in item.split(",") if a.strip()]
    out = Path(args.out)
    fmt = args.format or ("pdf" if out.suffix.lower() == ".pdf" else "html")
    t0 = time.perf_counter()
    try:
        store = asc_nb.Store(store_dir)
        try:
            rep = asc_nb.report(
                store,
                apps,
                out,
                format=fmt,
                start=args.start,
                end=args.end,
                days=args.days,
                as_of=args.as_of,
                title=args.title,
            )
        finally:
            store.close()
    except ASCError as err:
        print(f"asc_nb report: {err}", file=sys.stderr)
        return 2
    missing = [name for name, v in rep.views.items() if isinstance(v, str)]
    print(
        f"wrote {out} ({fmt}, {out.stat().st_size:,} bytes) for {', '.join(apps)}, {rep.period[0]} – "
        f"{rep.period[1]}, data as of {rep.as_of}, in {time.perf_counter() - t0:.1f} s"
        + (f"; not available: {', '.join(missing)}" if missing else "")
    )
    return 0


def add_parser(sub: Any) -> None:
    """The ``report`` subcommand's arguments."""
    p = sub.add_parser(
        "report",
        help="write an offline HTML (or PDF) report of a store",
        description="One self-contained HTML file (or PDF) of an app's App Analytics from a store.",
    )
    p.add_argument("--store", required=True, metavar="DIR", help="the store's directory")
    p.add_argument("--app", required=True, action="append", metavar="ID", help="app id (repeat for several)")
    p.add_argument("--out", required=True, metavar="FILE", help="where to write the report")
    p.add_argument(
        "--format", choices=("html", "pdf"), help="html (default) or pdf (default for a .pdf --out)"
    )
    p.add_argument("--start", metavar="YYYY-MM-DD", help="first day (default: --days before --end)")
    p.add_argument(
        "--end", metavar="YYYY-MM-DD", help="last day (default: the day before the store's reference day)"
    )
    p.add_argument("--days", type=int, default=28, help="length of the period when --start is not given (28)")
    p.add_argument("--as-of", metavar="YYYY-MM-DD", help="mark provisional dates as seen from this day")
    p.add_argument("--title", help="the report's heading")
    p.set_defaults(run=run)
