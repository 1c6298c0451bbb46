"""The ledger's repair plan: what to do about each bad date, within Apple's rules, and doing it.

Why: knowing a day is missing is half the job; the other half is knowing whether anything can
bring it back. Apple deletes instances 35 days after making them and allows one ONE_TIME_SNAPSHOT
per app about every month (docs/store.md; the sandbox models 31 days), so the plan says, per
range of dates, which of these applies:

* ``resync`` -- an instance is listed but not stored (``expiring``): the next sync downloads it;
* ``ensure_ongoing`` -- the app has no working ONGOING request (none known, or it went quiet): make
  or restart one, or nothing new ever arrives;
* ``snapshot`` -- dates with no rows (``missing``/``empty``), or whose stored rows are an early vintage
  because the instance that should finalise them was deleted or empty, that a ONE_TIME_SNAPSHOT holds:
  ask for one (or merge the one already asked for) and sync the range. The store ranks a snapshot's
  vintage by the day it first saw it (``known_on``), so the snapshot's final rows replace an early
  vintage although their processing date is older;
* ``wait`` -- a snapshot would help but Apple's one-a-month rule forbids another until a date;
* ``not_repairable`` -- nothing Apple offers fixes it (and why): a duplicate (Apple does not say
  which instance is right: a person compares them), or a date before the history a snapshot reaches.

:func:`repair` carries the plan out with ``Store.sync`` (the snapshot via ``backfill=True``, only for
the apps that need one, limited to the dates that need it).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import TYPE_CHECKING, Any

import pandas as pd

from asc_nb.errors import ASCError
from asc_nb.models import SNAPSHOT_COOLDOWN_DAYS, AccessType, iso_date
from asc_nb.store.health import NOT_LISTED

if TYPE_CHECKING:
    from asc_nb.protocols import SyncClient
    from asc_nb.store.face import Store

__all__ = ["ACTIONS", "PLAN_COLUMNS", "repair", "repair_plan"]

ACTIONS = ("ensure_ongoing", "resync", "snapshot", "wait", "not_repairable")
PLAN_COLUMNS = ["action", "app_id", "report", "granularity", "start", "end", "reason"]
#: an ONGOING series with nothing newer than this many days before the reference day went quiet
QUIET_DAYS = 3


def _history_start(report: str) -> dt.date | None:
    from asc_nb import registry
    from asc_nb.models import HISTORY_START

    try:
        start = registry.get(report).history_start or HISTORY_START
    except ASCError:
        start = HISTORY_START
    return dt.date.fromisoformat(str(start)[:10])


def _ranges(days: list[dt.date]) -> list[tuple[dt.date, dt.date]]:
    """Consecutive runs of dates (a gap of more than one day starts a new run)."""
    out: list[tuple[dt.date, dt.date]] = []
    for d in sorted(days):
        if out and (d - out[-1][1]).days <= 1:
            out[-1] = (out[-1][0], d)
        else:
            out.append((d, d))
    return out


SeriesKey = tuple[str, str, str]  # (app, report, granularity)


def _last_ongoing(instances: list[tuple[Any, ...]]) -> dict[SeriesKey, dt.date]:
    """Stage 1: the newest ONGOING processing date of each series (to tell a quiet request)."""
    last: dict[SeriesKey, dt.date] = {}
    for _iid, app, report, gran, _req, access, pdate, *_rest in instances:
        if access == AccessType.ONGOING.value:
            key = (app, report, gran)
            p = dt.date.fromisoformat(pdate)
            last[key] = max(last.get(key, p), p)
    return last


def _ongoing_row(
    store: Store, app: str, last_ongoing: dict[SeriesKey, dt.date], ref: dt.date
) -> tuple[dict[str, Any] | None, bool]:
    """An app's ``ensure_ongoing`` row if it has no ONGOING request or it went quiet; and whether it is quiet.

    One ONGOING request serves every report of an app: it is quiet only if no report got anything new."""
    known = store.state.request(app, AccessType.ONGOING.value)
    newest_of_app = max((p for k, p in last_ongoing.items() if k[0] == app), default=None)
    quiet = (
        [k for k in last_ongoing if k[0] == app]
        if (newest_of_app is not None and (ref - newest_of_app).days > QUIET_DAYS)
        else []
    )
    if known is None:
        why = "the store knows no ONGOING request for this app: without one Apple makes no new reports"
        return _row("ensure_ongoing", app, None, None, None, None, why), False
    if quiet:
        newest = max(last_ongoing[k] for k in quiet)
        why = (
            f"the ONGOING request {known[0]} made nothing newer than {newest} (reference day {ref}):"
            " if Apple stopped it for inactivity it must be replaced"
        )
        return _row("ensure_ongoing", app, None, None, None, None, why), True
    return None, False


def _kind(r: Any, quiet_apps: set[str]) -> str:
    """What kind of repair one bad ledger row needs (duplicate, resync, early_vintage, too_old, snapshot).

    A date not listed yet is a resync, unless the app's ONGOING request went quiet: then only a
    snapshot can bring it."""
    day = r.date.date()
    if r.state == "duplicate":
        return "duplicate"
    if r.state == "expiring" or (str(r.reason).startswith(NOT_LISTED) and str(r.app_id) not in quiet_apps):
        return "resync"
    if pd.notna(r.rows):
        return "early_vintage"
    if day < (_history_start(str(r.report)) or day):
        return "too_old"
    return "snapshot"


def _bad_series(ledger: pd.DataFrame, quiet_apps: set[str]) -> dict[tuple[str, str, str, str], list[dt.date]]:
    """Stage 3: the bad dates grouped by (app, report, granularity, kind of repair)."""
    bad = ledger[ledger["state"].isin(["missing", "empty", "expiring", "duplicate"])]
    by_series: dict[tuple[str, str, str, str], list[dt.date]] = defaultdict(list)
    for r in bad.itertuples(index=False):
        by_series[(str(r.app_id), str(r.report), str(r.granularity), _kind(r, quiet_apps))].append(
            r.date.date()
        )
    return by_series


_DUPLICATE_WHY = (
    "Apple published two instances for one processing date and does not say which is "
    "right; the store keeps the one with the greater id (deterministic). Compare them "
    "(store.health evidence) before trusting these days"
)
_RESYNC_WHY = (
    "Apple still holds these dates (an instance is listed but not stored, or the store "
    "has not listed them yet): a sync downloads them before Apple deletes them (35 days "
    "after making them)"
)


def _early_vintage_why(action: str, why: str | None) -> str:
    """Why a snapshot (or a wait) fixes dates whose stored rows are an early vintage."""
    early = "the stored rows are an early vintage and the instance that should carry the final values is gone or empty"
    if action == "snapshot" and why is None:
        return (
            f"{early}: a ONE_TIME_SNAPSHOT (Apple allows one per app about every "
            f"{SNAPSHOT_COOLDOWN_DAYS} days) holds the final values, and the store ranks it by the day "
            "it first sees it, so its rows replace the early ones; ask for one and sync the range"
        )
    return f"{early}; " + str(why).replace("no rows for these dates, and ", "")


def _range_row(
    kind: str,
    key: SeriesKey,
    lo: dt.date,
    hi: dt.date,
    snapshot_state: tuple[str, str | None],
) -> dict[str, Any]:
    """Stage 4: the plan row of one range of dates of one kind (the app's snapshot state decides snapshot/wait)."""
    app, report, gran = key
    if kind == "duplicate":
        return _row("not_repairable", app, report, gran, lo, hi, _DUPLICATE_WHY)
    if kind == "resync":
        return _row("resync", app, report, gran, lo, hi, _RESYNC_WHY)
    if kind == "too_old":
        why = f"before {_history_start(report)}, the oldest date Apple's reports (and so a ONE_TIME_SNAPSHOT) hold"
        return _row("not_repairable", app, report, gran, lo, hi, why)
    action, why = snapshot_state
    if kind == "early_vintage":
        return _row(action, app, report, gran, lo, hi, _early_vintage_why(action, why))
    if action == "snapshot" and why is None:
        why = (
            f"no rows for these dates: a ONE_TIME_SNAPSHOT (Apple allows one per app about every "
            f"{SNAPSHOT_COOLDOWN_DAYS} days) holds them; ask for one and sync the range"
        )
    return _row(action, app, report, gran, lo, hi, str(why))


def repair_plan(store: Store, *, now: Any = None) -> pd.DataFrame:
    """One row per action and range of dates (columns :data:`PLAN_COLUMNS`).

    Stages: the ledger; the newest ONGOING date per series; an ``ensure_ongoing`` row per app without a
    working request; the bad dates grouped by kind; one row per consecutive range of each."""
    ledger = store.health(now=now)
    ref = iso_date(ledger.attrs["reference_day"], "now") if "reference_day" in ledger.attrs else None
    rows: list[dict[str, Any]] = []
    if ref is None or ledger.empty:
        return _frame(rows)
    last_ongoing = _last_ongoing(store.state.instances())
    apps = sorted(set(ledger["app_id"].astype(str)))
    quiet_apps: set[str] = set()
    for app in apps:
        row, quiet = _ongoing_row(store, app, last_ongoing, ref)
        if row is not None:
            rows.append(row)
        if quiet:
            quiet_apps.add(app)
    by_series = _bad_series(ledger, quiet_apps)
    snapshot_state = {app: _snapshot_state(store, app, ref) for app in apps}
    for (app, report, gran, kind), days in sorted(by_series.items()):
        for lo, hi in _ranges(days):
            rows.append(_range_row(kind, (app, report, gran), lo, hi, snapshot_state[app]))
    return _frame(rows)


def _snapshot_state(store: Store, app: str, ref: dt.date) -> tuple[str, str | None]:
    """("snapshot", reason) when one can be asked for or is being merged, else ("wait", reason)."""
    known = store.state.request(app, AccessType.ONE_TIME_SNAPSHOT.value)
    if known is None or not known[1]:
        return "snapshot", None
    request_id, asked, complete = known
    if not complete:
        return "snapshot", (
            f"ONE_TIME_SNAPSHOT {request_id} (asked {asked}) is not merged yet: a repair sync merges "
            "these dates once Apple has made it (1-2 days after asking)"
        )
    next_ok = dt.date.fromisoformat(asked) + dt.timedelta(days=SNAPSHOT_COOLDOWN_DAYS)
    if next_ok > ref:
        return "wait", (
            f"no rows for these dates, and this app's last ONE_TIME_SNAPSHOT ({request_id}) was asked "
            f"on {asked}: Apple allows the next one from about {next_ok}"
        )
    return "snapshot", None


def _row(
    action: str,
    app: str,
    report: str | None,
    gran: str | None,
    lo: dt.date | None,
    hi: dt.date | None,
    reason: str,
) -> dict[str, Any]:
    return {
        "action": action,
        "app_id": app,
        "report": report,
        "granularity": gran,
        "start": None if lo is None else lo.isoformat(),
        "end": None if hi is None else hi.isoformat(),
        "reason": reason,
    }


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=PLAN_COLUMNS)
    for c in ("action", "app_id", "report", "granularity", "reason"):
        frame[c] = frame[c].astype("string")
    for c in ("start", "end"):
        frame[c] = pd.to_datetime(frame[c])
    return frame


def repair(
    store: Store,
    client: SyncClient,
    *,
    plan: pd.DataFrame | None = None,
    progress: Any = False,
    wait: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Carry out ``plan`` (default: ``store.repair_plan()``); returns (the plan, the syncs' result rows).

    ``ensure_ongoing`` rows call ``client.ensure_ongoing(app, restart_stopped=True)``; ``snapshot`` rows
    run one ``Store.sync(backfill=True)`` for just those apps and reports, starting at the oldest date
    to repair (a snapshot Apple has not made yet leaves its rows ``pending``: run the repair again in a
    day or two); ``resync`` rows run one ordinary sync of their apps. ``wait`` and ``not_repairable``
    rows are reported, not acted on.
    """
    plan = store.repair_plan() if plan is None else plan
    results: list[pd.DataFrame] = []
    for r in plan[plan["action"] == "ensure_ongoing"].itertuples(index=False):
        known = store.state.request(str(r.app_id), AccessType.ONGOING.value)
        req = client.ensure_ongoing(str(r.app_id), restart_stopped=True)
        if known is not None and known[0] != req.id:
            store.state.forget_request(known[0])
    for action, backfill in (("snapshot", True), ("resync", False)):
        part = plan[plan["action"] == action]
        if part.empty:
            continue
        start = part["start"].min()
        result = store.sync(
            client,
            apps=sorted(set(part["app_id"].astype(str))),
            reports=sorted(set(part["report"].astype(str))),
            granularities=sorted(set(part["granularity"].astype(str))),
            start=None if pd.isna(start) else start.date(),
            backfill=backfill,
            progress=progress,
            wait=wait,
        )
        results.append(result)
    synced = pd.concat(results, ignore_index=True) if results else pd.DataFrame()
    return plan, synced
