"""``python -m asc_nb sync --store DIR …``: the store's sync, for cron.

Credentials come from the environment, as for :func:`asc_nb.connect` (``ASC_KEY_ID``,
``ASC_ISSUER_ID``, ``ASC_PRIVATE_KEY_PATH``; ``ASC_BASE_URL`` for another server such as the
sandbox CLI). Exit status: 0 when every part synced or is pending, 1 when any part failed
(one line per failure on stderr), 75 (EX_TEMPFAIL) when another sync holds the store and
``--wait`` was not given, 2 for bad arguments or configuration — including no credentials at
all: the CLI never falls back to the embedded sandbox, whose simulated rows would otherwise land
in a real store when a cron job runs without its ``ASC_*`` variables (to try it offline, point
``ASC_BASE_URL`` and the credentials at ``python -m asc_nb.sandbox --write-credentials DIR``).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from asc_nb.cli._common import jsonable, split

EX_TEMPFAIL = 75


def run(args: argparse.Namespace) -> int:
    """Run one sync; the exit status (see the module docstring)."""
    import asc_nb
    from asc_nb import config
    from asc_nb.errors import ASCError, StoreLockedError
    from asc_nb.store import DEFAULT_REPORTS

    if not config.read().has_credentials:
        print(
            "asc_nb sync: no App Store Connect credentials in the environment: set ASC_KEY_ID, ASC_ISSUER_ID "
            "and ASC_PRIVATE_KEY_PATH (the sync never writes the embedded sandbox's simulated data into a "
            "store; for the sandbox CLI also set ASC_BASE_URL)",
            file=sys.stderr,
        )
        return 2
    try:
        client = asc_nb.connect()
        store = asc_nb.Store(args.store)
        if args.repair:
            return _repair(store, client, args)
        result = store.sync(
            client,
            apps=split(args.apps),
            reports=split(args.reports) or DEFAULT_REPORTS,
            granularities=split(args.granularity) or ("DAILY",),
            start=args.start,
            backfill=args.backfill,
            progress=not args.json and sys.stderr.isatty(),
            wait=args.wait,
        )
    except StoreLockedError as err:
        print(f"asc_nb sync: {err}", file=sys.stderr)
        return EX_TEMPFAIL
    except (ASCError, ValueError, TypeError) as err:
        print(f"asc_nb sync: {err}", file=sys.stderr)
        return 2
    if args.json:
        for record in result.to_dict("records"):
            print(json.dumps({k: jsonable(v) for k, v in record.items()}), flush=True)
    else:
        print(result.to_string(index=False))
    failed = result[result["status"] == "failed"]
    for row in failed.itertuples(index=False):
        print(f"asc_nb sync: {row.app_id} {row.report} {row.granularity}: {row.error}", file=sys.stderr)
    return 1 if len(failed) else 0


def _repair(store: Any, client: Any, args: argparse.Namespace) -> int:
    """``--repair``: the ledger's repair plan (``Store.repair_plan``), the ordinary sync, then the plan again."""
    import pandas as pd

    from asc_nb.store import DEFAULT_REPORTS
    from asc_nb.store.repair import repair

    # the plan first: a snapshot being merged is then merged only from the oldest date to repair (an ordinary
    # sync would follow it through its whole history since 2024), then the ordinary sync, then what it revealed
    plan, synced = repair(store, client, progress=False, wait=args.wait)
    first = store.sync(
        client,
        apps=split(args.apps),
        reports=split(args.reports) or DEFAULT_REPORTS,
        granularities=split(args.granularity) or ("DAILY",),
        start=args.start,
        progress=False,
        wait=args.wait,
    )
    results = [synced, first]
    more = store.repair_plan()
    if more["action"].isin(["resync", "snapshot", "ensure_ongoing"]).any():
        plan2, synced2 = repair(store, client, plan=more, progress=False, wait=args.wait)
        plan = pd.concat([plan, plan2], ignore_index=True)
        results.append(synced2)
    results = [r for r in results if len(r)]
    if args.json:
        for record in plan.to_dict("records"):
            print(json.dumps({"plan": {k: jsonable(v) for k, v in record.items()}}), flush=True)
        for part in results:
            for record in part.to_dict("records"):
                print(json.dumps({k: jsonable(v) for k, v in record.items()}), flush=True)
    else:
        print(plan.to_string(index=False) if len(plan) else "repair: the ledger has nothing to repair")
        for part in results:
            print(part.to_string(index=False))
    failed = sum(int((part["status"] == "failed").sum()) for part in results)
    for part in results:
        for row in part[part["status"] == "failed"].itertuples(index=False):
            print(f"asc_nb sync: {row.app_id} {row.report} {row.granularity}: {row.error}", file=sys.stderr)
    return 1 if failed else 0


def add_parser(sub: Any) -> None:
    """The ``sync`` subcommand's arguments."""
    p = sub.add_parser(
        "sync",
        help="sync a local store (for cron)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Fetch what is new from App Store Connect into a local store (asc_nb.Store), for cron.",
        epilog=(
            "credentials: ASC_KEY_ID, ASC_ISSUER_ID and ASC_PRIVATE_KEY_PATH (or ASC_PRIVATE_KEY), as for\n"
            "  asc_nb.connect(); ASC_BASE_URL for another server. Never the embedded sandbox.\n"
            "exit status: 0 every part synced or is pending; 1 a part failed (one line each on stderr);\n"
            "  2 bad arguments or configuration; 75 another sync holds the store (without --wait)."
        ),
    )
    p.add_argument("--store", required=True, metavar="DIR", help="the store's directory")
    p.add_argument("--apps", metavar="ID,...", help="app ids (default: every app of the team)")
    p.add_argument("--reports", metavar="NAME,...", help="report names (default: the four standard reports)")
    p.add_argument("--granularity", metavar="G,...", help="DAILY, WEEKLY, MONTHLY (default: DAILY)")
    p.add_argument("--start", metavar="YYYY-MM-DD", help="skip data dated before this day")
    p.add_argument(
        "--backfill", action="store_true", help="ask for a ONE_TIME_SNAPSHOT and merge it when ready"
    )
    p.add_argument("--wait", action="store_true", help="queue behind a running sync instead of exiting 75")
    p.add_argument(
        "--repair",
        action="store_true",
        help="also carry out the ledger's repair plan (store.repair_plan(): re-sync, ensure ONGOING, "
        "ONE_TIME_SNAPSHOT for missing ranges), before and after the sync; see docs/ledger.md",
    )
    p.add_argument("--json", action="store_true", help="one JSON object per result row on stdout")
    p.set_defaults(run=run)
