"""``python -m asc_nb check --store DIR [--json] [--alert ...]``: the store's integrity ledger, for cron.

Prints one line per app × report × granularity with how many dates are in each state
(``Store.health``), then every date that needs attention with its reason. Exit status: 0 when every
date is final, provisional or restated; 1 when any is missing, empty, duplicate or expiring (or,
with ``--alert``, when a finalized day is an anomaly); 2 for bad arguments or a store that cannot
be read. ``--json`` prints one JSON object instead. Reads only the store: no credentials, no API call.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from asc_nb.cli._common import jsonable, split


def _records(frame: Any) -> list[dict[str, Any]]:
    return [{k: jsonable(v) for k, v in r.items()} for r in frame.astype(object).to_dict("records")]


def open_store(path: str) -> Any:
    """The store at ``path``, refusing to make one (a typo must not look like an empty, healthy store)."""
    import asc_nb
    from asc_nb.errors import ConfigError

    p = Path(path)
    if not p.is_dir() or not (p / "state.sqlite").is_file():
        raise ConfigError(
            f"no store at {path!r}: a store directory holds state.sqlite and lake/ (made by "
            "python -m asc_nb sync --store DIR)"
        )
    return asc_nb.Store(p)


def run(args: argparse.Namespace) -> int:
    """Print the ledger's summary (and alerts); the exit status (see the module docstring)."""
    from asc_nb.errors import ASCError
    from asc_nb.store.health import BAD_STATES, STATES, summary

    try:
        store = open_store(args.store)
        ledger = store.health(
            apps=split(args.apps), reports=split(args.reports), start=args.start, end=args.end, now=args.now
        )
        found = None
        if args.alert:
            from asc_nb.alerts import alerts

            found = alerts(
                store,
                metrics=split(args.metrics),
                apps=split(args.apps),
                threshold=args.threshold,
                baseline_days=args.baseline_days,
                recent_days=args.recent_days,
            )
    except (ASCError, ValueError) as err:
        print(f"asc_nb check: {err}", file=sys.stderr)
        return 2
    counts = {s: int((ledger["state"] == s).sum()) for s in STATES}
    bad = ledger[ledger["state"].isin(sorted(BAD_STATES))]
    worth = ledger[ledger["state"].isin(sorted(BAD_STATES | {"restated"}))]
    status = 1 if len(bad) or (found is not None and len(found)) else 0
    if args.json:
        out: dict[str, Any] = {
            "store": str(store.path),
            "reference_day": ledger.attrs.get("reference_day"),
            "ok": status == 0,
            "counts": counts,
            "summary": _records(summary(ledger)),
            "dates": _records(worth),
        }
        if found is not None:
            out["alerts"] = _records(found)
            out["alerts_skipped"] = found.attrs.get("skipped", [])
        print(json.dumps(out), flush=True)
        return status
    ref = ledger.attrs.get("reference_day")
    if ledger.empty:
        print(f"store {store.path}: nothing synced yet (run python -m asc_nb sync --store DIR)")
        return 0
    print(
        f"store {store.path} — reference day {ref}: " + ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    )
    print(summary(ledger).to_string(index=False))
    for r in worth.itertuples(index=False):
        print(f"{r.state:<9} {r.app_id} {r.report} {r.granularity} {r.date:%Y-%m-%d}: {r.reason}")
    if found is not None:
        for note in found.attrs.get("skipped", []):
            print(f"alert skipped: {note}")
        for r in found.itertuples(index=False):
            print(f"ALERT {r.kind:<5} {r.reason}")
        if found.empty:
            print(
                f"alerts: no finalized day beyond ±{args.threshold:.0%} of its {args.baseline_days}-day baseline"
            )
    return status


def add_parser(sub: Any) -> None:
    """The ``check`` subcommand's arguments."""
    p = sub.add_parser(
        "check",
        help="the store's integrity ledger and alerts (for cron)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Is every stored date final? Gaps, empty and duplicate instances, late restatements, "
        "instances about to expire; with --alert, drops and spikes on finalized days.",
        epilog=(
            "exit status: 0 all final/provisional/restated (and no alert); 1 something is missing, empty,\n"
            "  duplicate or expiring, or an alert fired; 2 bad arguments or an unreadable store.\n"
            "to fix what can be fixed: python -m asc_nb sync --store DIR --repair"
        ),
    )
    p.add_argument("--store", required=True, metavar="DIR", help="the store's directory")
    p.add_argument("--apps", metavar="ID,...", help="only these apps")
    p.add_argument("--reports", metavar="NAME,...", help="only these reports")
    p.add_argument("--start", metavar="YYYY-MM-DD", help="only dates from this day")
    p.add_argument("--end", metavar="YYYY-MM-DD", help="only dates up to this day")
    p.add_argument(
        "--now", metavar="YYYY-MM-DD", help="judge as of this day (default: the store's reference day)"
    )
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.add_argument("--alert", action="store_true", help="also look for drops/spikes on finalized days")
    p.add_argument(
        "--metrics", metavar="NAME,...", help="metrics to watch (default: the store's additive ones)"
    )
    p.add_argument(
        "--threshold", type=float, default=0.5, help="alert beyond this fraction of the baseline (0.5)"
    )
    p.add_argument(
        "--baseline-days", type=int, default=14, help="finalized days in the trailing baseline (14)"
    )
    p.add_argument("--recent-days", type=int, default=7, help="newest finalized days to judge (7)")
    p.set_defaults(run=run)
