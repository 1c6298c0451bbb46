"""The integrity ledger's acceptance figures: recall on 20 injected faults, false positives, repair, as_of.

In one run (in-process sandbox, 3 apps x 40 days x 3 reports):

* clean   = the world with no data fault, synced; ``Store.health()`` must flag nothing;
* faulted = the same seed with 20 faults (4 of each kind), synced; every fault must be found
            (every Date it damages in a state that describes it) and no other Date flagged;
* repair  = ``repair()``; the sandbox's clock moves 2 days (Apple makes the snapshot); ``repair()``
            again: how many of the Dates the plan called repairable are final (early vintages included: a
            snapshot's vintage is ranked by the day the store first saw it), and what is left and why;
* as_of   = a metric computed before a late restatement, recomputed with ``as_of`` after it: equal bytes?

Times are printed as ratios to the clean sync of the same run (the baseline).

    .venv/bin/python benchmarks/bench_ledger.py [--seed 7] [--faults gap=4,empty=4,...]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter
from pathlib import Path

import pandas as pd

import asc_nb
from asc_nb.sandbox import DataFault, Sandbox
from asc_nb.store.repair import repair

REPORTS = ("App Sessions Standard", "App Downloads Standard", "App Store Discovery and Engagement Standard")
OK = ("final", "provisional")


def synced(root: Path, seed: int, faults: str | None) -> tuple[Sandbox, asc_nb.Client, asc_nb.Store, float]:
    sb = Sandbox(seed=seed, apps=3, history_days=40, data_faults=faults)
    client = asc_nb.connect(sandbox=sb, cache_dir=root / "cache")
    store = asc_nb.Store(root / "store")
    t0 = time.perf_counter()
    store.sync(client, reports=list(REPORTS), progress=False)
    return sb, client, store, time.perf_counter() - t0


def key(r) -> tuple[str, str, str]:  # noqa: ANN001 - a ledger row
    return (str(r.app_id), str(r.report), r.date.date().isoformat())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--faults", default="gap=4,empty=4,duplicate=4,restatement=4,expired=4")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-ledger-"))

    _sb0, c0, clean, base = synced(tmp / "clean", args.seed, None)
    t0 = time.perf_counter()
    ledger0 = clean.health()
    t_ledger = time.perf_counter() - t0
    fp_clean = int((~ledger0["state"].isin(OK)).sum())
    print(f"clean world: {len(ledger0)} app x report x date rows; flagged {fp_clean} (false positives)")
    print(f"  sync {base:.2f} s (baseline 1.00); health() {t_ledger:.3f} s = {t_ledger / base:.3f}x the sync")

    sb, client, store, t_sync = synced(tmp / "faulted", args.seed, args.faults)
    ledger = store.health()
    state = {key(r): str(r.state) for r in ledger.itertuples()}
    faults = sb.data_faults
    found = Counter()
    total = Counter(f.kind for f in faults)
    truth: set[tuple[str, str, str]] = set()
    for f in faults:
        hits = [state.get((f.app_id, f.report, d)) in s for d, s in f.affected().items()]
        truth.update((f.app_id, f.report, d) for d in f.affected())
        found[f.kind] += all(hits)
    flagged = {key(r) for r in ledger.itertuples() if r.state not in OK}
    print(
        f"\nfaulted world: {len(faults)} faults across {len({f.app_id for f in faults})} apps; sync {t_sync:.2f} s "
        f"({t_sync / base:.2f}x baseline)"
    )
    for kind in total:
        print(f"  {kind:<12} found {found[kind]}/{total[kind]}")
    print(
        f"  recall {sum(found.values())}/{len(faults)} = {sum(found.values()) / len(faults):.0%}; "
        f"flagged dates {len(flagged)}, explained by a fault {len(flagged & truth)}, "
        f"unexplained (false positives) {len(flagged - truth)}"
    )
    print("  states:", dict(Counter(state.values())))

    plan = store.repair_plan()
    days = {a: set() for a in plan["action"].unique()}
    for r in plan.itertuples():
        for d in pd.date_range(r.start, r.end) if pd.notna(r.start) else []:
            days[r.action].add((str(r.app_id), str(r.report), d.date().isoformat()))
    repairable = days.get("snapshot", set()) | days.get("resync", set())
    apps = sorted({f.app_id for f in faults})
    published_on = store.reference_day.isoformat()
    window = {"by": ("app_id", "date"), "start": "2026-01-20", "end": published_on, "as_of": published_on}
    published = store.metrics(apps, ["sessions"], **window)
    t0 = time.perf_counter()
    repair(store, client)
    sb.advance(days=2)
    repair(store, client)
    t_repair = time.perf_counter() - t0
    after = {key(r): str(r.state) for r in store.health().itertuples()}
    fixed = sum(after.get(d) == "final" for d in repairable)
    print(
        f"\nrepair: plan {dict(Counter(plan['action']))}; two repair() runs {t_repair:.2f} s "
        f"({t_repair / base:.2f}x baseline)"
    )
    print(f"  repairable dates final afterwards: {fixed}/{len(repairable)}")
    early = plan[(plan["action"] == "snapshot") & plan["reason"].str.contains("early vintage")]
    print(
        f"  of which early vintages (the finalising instance deleted or empty) planned as a snapshot: "
        f"{len(early)} range(s), {sum(len(pd.date_range(r.start, r.end)) for r in early.itertuples())} date(s)"
    )
    left = plan[plan["action"] == "not_repairable"]
    why = Counter(
        "duplicate (Apple does not say which is right: a person compares them)"
        if "does not say which" in r
        else r[:60]
        for r in left["reason"]
    )
    for reason, n in why.items():
        print(f"  not repairable: {n} range(s): {reason}")
    dup_days = days.get("not_repairable", set())
    replaced = sum(after.get(d) == "final" for d in dup_days)
    print(
        f"  not-repairable dates a snapshot merged for other dates replaced (final, the reason names the "
        f"duplicated instances): {replaced}/{len(dup_days)}"
    )
    repaired_faults = Counter()
    for f in faults:
        if all(after.get((f.app_id, f.report, d)) in ("final", "restated") for d in f.affected()):
            repaired_faults[f.kind] += 1
    print(
        "  faults whose every damaged date is final (or, restatements, current) after repair: "
        + ", ".join(f"{k} {repaired_faults[k]}/{total[k]}" for k in total)
    )
    snap_ids = {r[0] for r in store.state.instances() if r[5] == "ONE_TIME_SNAPSHOT"}
    by_snapshot = sum(
        bool(set(store.read(f.report, apps=[f.app_id], start=f.date, end=f.date)["instance_id"]) & snap_ids)
        for f in faults
        if f.kind == "restatement"
    )
    print(
        f"  restatement faults whose date now holds the snapshot's rows (merged after the restatement, so known "
        f"later): {by_snapshot}/{total['restatement']}"
    )
    republished = store.metrics(apps, ["sessions"], **window)
    filled = int(
        store.metrics(apps, ["sessions"], **{**window, "as_of": None})["sessions"].notna().sum()
        - published["sessions"].notna().sum()
    )
    print(
        f"  as_of={published_on} (before the repair) asked again after it: "
        f"{'identical bytes' if published.to_csv().encode() == republished.to_csv().encode() else 'DIFFERENT'}"
        f" ({filled} app x date sessions values the repair filled in are not shown as of then)"
    )

    # as_of: a number published before a late restatement, reproduced after it
    app = next(iter(Sandbox(seed=args.seed, apps=1).world.apps))
    late = DataFault("restatement", app, REPORTS[0], "2026-02-24", at="2026-03-05", percent=150)
    sb2 = Sandbox(seed=args.seed, apps=1, history_days=30, data_faults=[late])
    c2 = asc_nb.connect(sandbox=sb2, cache_dir=tmp / "asof-cache")
    s2 = asc_nb.Store(tmp / "asof")
    s2.sync(c2, reports=[REPORTS[0]], progress=False)
    on = s2.reference_day.isoformat()
    ask = {"by": ("date",), "start": "2026-02-10", "end": "2026-03-01", "as_of": on}
    then = s2.metrics(app, ["sessions"], **ask)
    sb2.advance(days=6)
    s2.sync(c2, reports=[REPORTS[0]], progress=False)
    now = s2.metrics(app, ["sessions"], **{**ask, "as_of": None})
    again = s2.metrics(app, ["sessions"], **ask)
    d = pd.Timestamp("2026-02-24")
    print(
        f"\nas_of: sessions on 2026-02-24 published {int(then.loc[then.date == d, 'sessions'].iloc[0]):,}, "
        f"restated to {int(now.loc[now.date == d, 'sessions'].iloc[0]):,}; as_of={on} afterwards gives "
        f"{'identical bytes' if then.to_csv().encode() == again.to_csv().encode() else 'DIFFERENT bytes'}"
    )
    for c in (c0, client, c2):
        c.close()


if __name__ == "__main__":
    main()
