"""The store's integrity ledger: for every app x report x granularity x date, can the number be trusted?

Why: Apple's Analytics Reports fail quietly -- a day that never arrives, an instance with no rows,
two instances for one processing date, a number restated weeks later, history deleted before
anyone synced it -- and pipelines stay broken for months because nothing says so. The store
already knows what it listed and stored (``state.sqlite``) and what won each partition (the
vintage in each lake file's footer); this module turns that into one state per date, with the
evidence and a reason in plain words. ``Store.health`` delegates here; docs/ledger.md explains the
states.

How a date's state is decided (``ref`` = the store's reference day, Apple's "today"):

* rows stored, the winning instance has a twin (same request, same processing date): ``duplicate``;
* rows stored from an ONGOING instance processed later than the report's usual final restatement
  (``lag`` = processing date - date; the usual lag is the most common one of the report's older
  dates, 3 days in the sandbox): ``restated``;
* rows stored from an earlier vintage than the usual final one, and the final one is due: the
  instance that should have finalised it was never listed (``missing``), was empty (``empty``) or
  is listed but not stored (``expiring``);
* no rows: the instance placed on the date is listed but not stored -- ``expiring`` while inside
  Apple's 35-day retention, ``missing`` after; it was stored with no rows while the series has rows
  elsewhere -- ``empty``; no instance placed on it -- ``missing``;
* otherwise ``provisional`` inside the report's completeness window (the registry's
  ``complete_after_days``, or until the usual final restatement is due), else ``final``.

A ONE_TIME_SNAPSHOT's rows are final by definition (Apple makes them once, they are never restated).
The lake ranks a snapshot's vintage by the day the store first saw it (``known_on``), so a snapshot
merged after the final ONGOING instance of a date was deleted or empty replaces the early vintage
left behind: the repair plan asks for one for those dates too (:mod:`asc_nb.store.repair`).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from asc_nb.errors import ASCError, ConfigError, ReportNotFoundError
from asc_nb.models import INSTANCE_RETENTION_DAYS, AccessType, Granularity, iso_date
from asc_nb.store.args import bad_argument, names

if TYPE_CHECKING:
    from asc_nb.store.face import Store

__all__ = ["BAD_STATES", "HEALTH_COLUMNS", "STATES", "health", "placed_date", "summary"]

#: every state a ledger row can have, best first
STATES = ("final", "provisional", "restated", "missing", "empty", "duplicate", "expiring")
#: states that make ``python -m asc_nb check`` exit 1
BAD_STATES = frozenset({"missing", "empty", "duplicate", "expiring"})
HEALTH_COLUMNS = [
    "app_id",
    "report",
    "granularity",
    "date",
    "state",
    "reason",
    "instance_ids",
    "processing_dates",
    "rows",
]
#: the words a ``missing`` reason starts with when the store simply has not listed the date yet (a sync fixes it)
NOT_LISTED = "not listed yet"
_DEFAULT_WINDOW = 2


@dataclass(frozen=True)
class Inst:
    """One instance the store listed (a row of ``state.sqlite``'s ``instances``)."""

    id: str
    app_id: str
    report: str
    granularity: str
    request_id: str
    access: str
    pdate: dt.date
    first_seen: dt.date
    stored: bool
    rows: int | None
    error: str | None

    @property
    def born(self) -> dt.date:
        """When Apple made it, as well as the store can tell (ONGOING: no later than its processing date)."""
        return (
            min(self.first_seen, self.pdate) if self.access == AccessType.ONGOING.value else self.first_seen
        )


@dataclass(frozen=True)
class Won:
    """The vintage a lake partition holds: processing date, instance id, rows."""

    pdate: dt.date | None
    instance_id: str
    rows: int


def placed_date(granularity: str, processing_date: dt.date) -> dt.date:
    """The Date an instance brings first: DAILY the day before; WEEKLY the previous Mon-Sun week's Monday
    (published Fridays); MONTHLY the previous month's 1st (published on the 5th) -- Apple's schedule."""
    if granularity == "DAILY":
        return processing_date - dt.timedelta(days=1)
    if granularity == "WEEKLY":
        return processing_date - dt.timedelta(days=processing_date.weekday() + 7)
    return (processing_date.replace(day=1) - dt.timedelta(days=1)).replace(day=1)


def _window(report: str) -> int:
    from asc_nb import registry

    try:
        return int(registry.get(report).complete_after_days)
    except ASCError:
        return _DEFAULT_WINDOW


def _names(value: str | Sequence[str] | None, what: str) -> list[str] | None:
    """A filter's names (``None``: no filter); a bad one is the store's usual ``ConfigError``."""
    if value is None:
        return None
    with bad_argument():
        return names(value, what)


def _read_instances(store: Store) -> list[Inst]:
    try:
        rows = store.state.instances()
    except sqlite3.DatabaseError as err:
        raise ConfigError(
            f"the store at {str(store.path)!r} cannot be read ({err}): its state.sqlite is damaged "
            "or not a store's; point at a store directory made by asc_nb.Store.sync"
        ) from None
    out = []
    for iid, app, report, gran, req, access, pdate, first_seen, stored, n, error in rows:
        out.append(
            Inst(
                iid,
                app,
                report,
                gran,
                req,
                access,
                dt.date.fromisoformat(pdate),
                dt.date.fromisoformat(first_seen[:10]),
                bool(stored),
                n,
                error,
            )
        )
    return out


Current = dict[tuple[str, str], dict[str, dict[dt.date, Won]]]


def _current(store: Store) -> tuple[Current, Current]:
    """(report, granularity) -> app -> date -> the vintage the store holds; and the superseded ones kept.

    Through the store's Destination (``vintages()``), so a Parquet lake and a Delta table read alike."""
    dest = store.destination
    current: Current = {}
    older: Current = {}
    try:
        pairs = list(dest.reports())
        for report, gran in pairs:
            frame = dest.vintages(report, gran)
            cur = current.setdefault((report, gran), {})
            old = older.setdefault((report, gran), {})
            for r in frame.itertuples(index=False):
                p = None if pd.isna(r.processing_date) else pd.Timestamp(r.processing_date).date()
                won = Won(p, "" if pd.isna(r.instance_id) else str(r.instance_id), int(r.rows))
                day = pd.Timestamp(r.date).date()
                target = cur if bool(r.current) else old
                if bool(r.current):
                    target.setdefault(str(r.app_id), {})[day] = won
                else:
                    older_list = target.setdefault(str(r.app_id), {})
                    prev = older_list.get(day)
                    if prev is None or (prev.pdate or dt.date.min) < (p or dt.date.min):
                        older_list[day] = won  # the newest superseded vintage is the evidence kept
    except ASCError:
        raise
    except Exception as err:  # noqa: BLE001 - a damaged lake file, an unreadable table
        raise ConfigError(
            f"the store at {str(store.path)!r} cannot be read ({err}); re-sync it or restore the "
            "damaged files"
        ) from None
    return current, older


def _usual_lag(wins: Iterable[tuple[dt.date, Won, Inst | None]], ref: dt.date, window: int) -> int | None:
    """The most common (processing date - date) of ONGOING winners older than the completeness window."""
    lags = Counter()
    for day, won, inst in wins:
        if won.pdate is None or inst is None or inst.access != AccessType.ONGOING.value:
            continue
        if (ref - day).days > window + 3:
            lags[(won.pdate - day).days] += 1
    return lags.most_common(1)[0][0] if lags else None


@dataclass(frozen=True)
class _Filters:
    """What a ``health`` call asked for, checked once up front (so a typo fails before the store is read)."""

    states: list[str] | None
    apps: list[str] | None
    reports: list[str] | None
    grans: list[str] | None
    lo: dt.date | None
    hi: dt.date | None
    now: dt.date | None


def _wanted_states(states: str | Sequence[str] | None) -> list[str] | None:
    """The asked-for states; an unknown name is a ConfigError listing the real ones (the shared contract)."""
    wanted = _names(states, "states")
    if wanted is not None:
        unknown = [s for s in wanted if s not in STATES]
        if unknown:
            raise ConfigError(
                f"unknown ledger state(s) {', '.join(map(repr, unknown))}; the states are {', '.join(STATES)}"
            )
    return wanted


def _wanted_reports(reports: str | Sequence[str] | None) -> list[str] | None:
    """The asked-for reports by their canonical names, so an alias matches what the store holds."""
    names = _names(reports, "reports")
    if names is None:
        return None
    from asc_nb import registry

    try:
        return [registry.canonical(r) for r in names]
    except ValueError as err:
        raise ConfigError(str(err)) from None


def _wanted_grans(granularity: str | Sequence[str] | None) -> list[str] | None:
    """The asked-for granularities as Apple's names (DAILY, ...), whatever spelling the caller used."""
    if granularity is None:
        return None
    try:
        return [
            Granularity.parse(g, argument="granularity").value
            for g in _names(granularity, "granularity") or []
        ]
    except ValueError as err:
        raise ConfigError(str(err)) from None


def _filters(
    apps: str | Sequence[str] | None,
    reports: str | Sequence[str] | None,
    granularity: str | Sequence[str] | None,
    start: Any,
    end: Any,
    states: str | Sequence[str] | None,
    now: Any,
) -> _Filters:
    """Stage 1 of ``health``: every argument validated (typed errors) before any file is opened."""
    wanted_states = _wanted_states(states)
    app_ids = _names(apps, "apps")
    report_names = _wanted_reports(reports)
    grans = _wanted_grans(granularity)
    try:
        lo = None if start is None else iso_date(start, "start")
        hi = None if end is None else iso_date(end, "end")
        given_now = None if now is None else iso_date(now, "now")
    except ValueError as err:
        raise ConfigError(str(err)) from None
    return _Filters(wanted_states, app_ids, report_names, grans, lo, hi, given_now)


def _reference(store: Store, given_now: dt.date | None) -> dt.date | None:
    """Stage 3: the day the ledger judges from -- the store's reference day, or an earlier ``now``.

    A ``now`` after what the store has seen is refused: days it has not reached cannot be judged."""
    ref = store.reference_day
    if given_now is not None:
        if ref is not None and given_now > ref + dt.timedelta(days=1):
            raise ConfigError(
                f"now={given_now} is after the store's reference day {ref} (the newest processing "
                "date it has seen): the ledger cannot judge days the store has not reached; sync first"
            )
        ref = given_now
    return ref


SeriesKey = tuple[str, str, str]  # (app, report, granularity)


def _series_index(insts: list[Inst], current: Current) -> tuple[dict[SeriesKey, list[Inst]], set[SeriesKey]]:
    """Stage 4: the instances of each series, and every series known from the state or from the lake.

    A series the lake holds but whose instances are gone from ``state.sqlite`` is still judged."""
    series: dict[SeriesKey, list[Inst]] = defaultdict(list)
    for i in insts:
        series[(i.app_id, i.report, i.granularity)].append(i)
    keys = set(series)
    for (report, gran), per_app in current.items():
        keys.update((app, report, gran) for app in per_app)
    return series, keys


def _check_reports(report_names: list[str] | None, keys: set[SeriesKey]) -> None:
    """A report the store does not hold is a ReportNotFoundError with the closest names (not an empty frame)."""
    held = sorted({k[1] for k in keys})
    unknown = [r for r in report_names or [] if r not in held]
    if unknown:
        import difflib

        close = difflib.get_close_matches(unknown[0], held, n=3, cutoff=0.5)
        hint = (
            f"; did you mean {', '.join(map(repr, close))}?"
            if close
            else f" (it holds {', '.join(map(repr, held))})"
        )
        raise ReportNotFoundError(f"the store has no report {unknown[0]!r}{hint}")


def _lag_evidence(
    per_app: dict[str, dict[dt.date, Won]], kept_by_app: dict[str, dict[dt.date, Won]], by_id: dict[str, Inst]
) -> list[tuple[dt.date, Won, Inst | None]]:
    """The winning vintage of every date of a report, with its instance.

    Where a snapshot replaced the ONGOING vintages, the one it replaced is used: a snapshot's lag says
    nothing of when Apple finalises the ONGOING rows."""
    wins = []
    for app, per in per_app.items():
        kept = kept_by_app.get(app, {})
        for d, w in per.items():
            inst = by_id.get(w.instance_id)
            if inst is not None and inst.access == AccessType.ONE_TIME_SNAPSHOT.value and d in kept:
                w = kept[d]
                inst = by_id.get(w.instance_id)
            wins.append((d, w, inst))
    return wins


def _lags(
    keys: set[SeriesKey], current: Current, older: Current, by_id: dict[str, Inst], ref: dt.date
) -> dict[tuple[str, str], int | None]:
    """Stage 5: the usual restatement lag of each (report, granularity), learnt from its DAILY history."""
    lags: dict[tuple[str, str], int | None] = {}
    for report, gran in {(k[1], k[2]) for k in keys}:
        if gran != "DAILY":
            lags[(report, gran)] = None
            continue
        wins = _lag_evidence(current.get((report, gran), {}), older.get((report, gran), {}), by_id)
        lags[(report, gran)] = _usual_lag(wins, ref, _window(report))
    return lags


def _selected(key: SeriesKey, f: _Filters) -> bool:
    """Whether a series is inside the apps/reports/granularity filters (None or empty means all)."""
    app, report, gran = key
    return not (
        (f.apps and app not in f.apps)
        or (f.reports and report not in f.reports)
        or (f.grans and gran not in f.grans)
    )


def _trim(frame: pd.DataFrame, f: _Filters, ref: dt.date) -> pd.DataFrame:
    """Last stage: the date range and states asked for, applied after judging (a state needs its neighbours)."""
    if f.lo is not None:
        frame = frame[frame["date"] >= pd.Timestamp(f.lo)]
    if f.hi is not None:
        frame = frame[frame["date"] <= pd.Timestamp(f.hi)]
    if f.states is not None:
        frame = frame[frame["state"].isin(f.states)]
    frame = frame.reset_index(drop=True)
    frame.attrs["reference_day"] = ref.isoformat()
    return frame


def health(
    store: Store,
    *,
    apps: str | Sequence[str] | None = None,
    reports: str | Sequence[str] | None = None,
    granularity: str | Sequence[str] | None = None,
    start: Any = None,
    end: Any = None,
    states: str | Sequence[str] | None = None,
    now: Any = None,
) -> pd.DataFrame:
    """The ledger: one row per app x report x granularity x date (see the module docstring).

    Stages: validate the filters; read what was listed and what won; fix the reference day; index the
    series; learn each report's usual lag; judge every selected series; trim to the range and states."""
    f = _filters(apps, reports, granularity, start, end, states, now)
    insts = _read_instances(store)
    current, older = _current(store)
    ref = _reference(store, f.now)
    if ref is None:
        return _frame([])
    by_id = {i.id: i for i in insts}
    series, keys = _series_index(insts, current)
    _check_reports(f.reports, keys)
    lags = _lags(keys, current, older, by_id, ref)
    rows: list[dict[str, Any]] = []
    for app, report, gran in sorted(keys):
        if not _selected((app, report, gran), f):
            continue
        rows.extend(
            _series(
                app,
                report,
                gran,
                series.get((app, report, gran), []),
                current.get((report, gran), {}).get(app, {}),
                by_id,
                ref,
                lags[(report, gran)],
                older.get((report, gran), {}).get(app, {}),
            )
        )
    return _trim(_frame(rows), f, ref)


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=HEALTH_COLUMNS)
    for c in ("app_id", "report", "granularity", "reason"):
        frame[c] = frame[c].astype("string")
    frame["date"] = pd.to_datetime(frame["date"])
    frame["state"] = pd.Categorical(frame["state"], categories=list(STATES))
    frame["rows"] = frame["rows"].astype("Int64")
    return frame


def _index_instances(
    insts: list[Inst], gran: str
) -> tuple[dict[dt.date, list[Inst]], dict[dt.date, list[Inst]], dict[tuple[str, dt.date], list[Inst]]]:
    """A series' instances by the date they bring, ONGOING ones by processing date, and by
    (request, processing date) -- the three lookups ``_judge`` needs (placed, finalising, twins)."""
    placed: dict[dt.date, list[Inst]] = defaultdict(list)
    ongoing_at: dict[dt.date, list[Inst]] = defaultdict(list)
    same_pdate: dict[tuple[str, dt.date], list[Inst]] = defaultdict(list)
    for i in insts:
        same_pdate[(i.request_id, i.pdate)].append(i)
        placed[placed_date(gran, i.pdate)].append(i)
        if i.access == AccessType.ONGOING.value:
            ongoing_at[i.pdate].append(i)
    return placed, ongoing_at, same_pdate


def _not_listed_row(
    app: str, report: str, gran: str, day: dt.date, ongoing_at: dict[dt.date, list[Inst]], ref: dt.date
) -> dict[str, Any]:
    """A date after the newest one the store holds that Apple has made final by now: ``missing``."""
    newest = max(ongoing_at, default=None)
    return {
        "app_id": app,
        "report": report,
        "granularity": gran,
        "date": day.isoformat(),
        "state": "missing",
        "instance_ids": [],
        "processing_dates": [],
        "rows": None,
        "reason": f"{NOT_LISTED}: the newest instance the store listed of this report was processed "
        f"{newest or 'never'}, and Apple has made this date final by {ref}; run a sync (if "
        "the ONGOING request stopped, sync --repair replaces it)",
    }


def _with_replaced(
    state: str,
    reason: str,
    evidence: list[tuple[str, str]],
    before: Won | None,
    won: Won | None,
    by_id: dict[str, Inst],
    same_pdate: dict[tuple[str, dt.date], list[Inst]],
) -> str:
    """The reason (and ``evidence``, in place) completed with the superseded vintage kept in history:
    a snapshot that replaced a duplicated instance, or the vintage a restatement replaced."""
    replaced = None if before is None else by_id.get(before.instance_id)
    won_inst = None if won is None else by_id.get(won.instance_id)
    if (
        state == "final"
        and replaced is not None
        and won_inst is not None
        and won_inst.access == AccessType.ONE_TIME_SNAPSHOT.value
    ):
        twins = [i for i in same_pdate.get((replaced.request_id, replaced.pdate), []) if i.id != replaced.id]
        if twins:  # the snapshot, known later, replaced both: said, so a person can still compare them
            evidence.extend(_ev([replaced, *twins]))
            reason += (
                f"; it replaced the rows of a duplicated instance (processed {replaced.pdate}: "
                f"{', '.join(i.id for i in [replaced, *twins])}), kept in history"
            )
    if state == "restated" and before is not None and before.pdate is not None:
        processed = replaced.pdate if replaced is not None else before.pdate  # Apple's, not the rank
        evidence.append((before.instance_id, processed.isoformat()))
        reason += f"; the replaced vintage (processed {processed}, {before.rows} rows) is kept for as_of"
    return reason


def _series(
    app: str,
    report: str,
    gran: str,
    insts: list[Inst],
    wins: dict[dt.date, Won],
    by_id: dict[str, Inst],
    ref: dt.date,
    lag: int | None,
    older: dict[dt.date, Won] | None = None,
) -> list[dict[str, Any]]:
    """The ledger rows of one app x report x granularity.

    Stages: index the instances; the span of dates to judge; per date, ``missing`` past the last one
    held, else ``_judge`` and the superseded vintage it replaced."""
    from asc_nb.models import expected_dates

    window = _window(report)
    placed, ongoing_at, same_pdate = _index_instances(insts, gran)
    days = set(wins) | set(placed)
    if not days:
        return []
    has_rows = any(w.rows for w in wins.values()) or any(i.rows for i in insts)
    g = Granularity.parse(gran)
    # what the store knew of this series when it last listed something new: later dates are not judged
    # against instances it has not had the chance to list (a sync of other reports moves `ref` on)
    sref = min(ref, max((i.first_seen for i in insts), default=ref))
    last = max(days)
    stale_until = ref - dt.timedelta(days=window + 1)
    if gran == "DAILY" and stale_until > last:
        days.add(stale_until)  # nothing after `last` although Apple has made those days final by now
    out = []
    for day in expected_dates(min(days), max(days), g):
        if day > last:
            out.append(_not_listed_row(app, report, gran, day, ongoing_at, ref))
            continue
        won = wins.get(day)
        state, reason, evidence = _judge(
            day, won, placed.get(day, []), ongoing_at, by_id, sref, lag, window, has_rows, gran, same_pdate
        )
        reason = _with_replaced(state, reason, evidence, (older or {}).get(day), won, by_id, same_pdate)
        out.append(
            {
                "app_id": app,
                "report": report,
                "granularity": gran,
                "date": day.isoformat(),
                "state": state,
                "reason": reason,
                "instance_ids": [i for i, _ in evidence],
                "processing_dates": [p for _, p in evidence],
                "rows": None if won is None else won.rows,
            }
        )
    return out


def _ev(insts: Iterable[Inst]) -> list[tuple[str, str]]:
    return [(i.id, i.pdate.isoformat()) for i in insts]


def _judge(
    day: dt.date,
    won: Won | None,
    placed: list[Inst],
    ongoing_at: dict[dt.date, list[Inst]],
    by_id: dict[str, Inst],
    ref: dt.date,
    lag: int | None,
    window: int,
    has_rows: bool,
    gran: str,
    insts: dict[tuple[str, dt.date], list[Inst]],
) -> tuple[str, str, list[tuple[str, str]]]:
    """(state, reason, [(instance id, processing date)]) of one date.

    Two stages: a date with stored rows is judged by the vintage that won it; a date without rows by the
    instances placed on it."""
    in_window = (ref - day).days <= window
    if won is not None:
        return _judge_stored(day, won, ongoing_at, by_id, ref, lag, window, in_window, insts)
    return _judge_unstored(placed, ref, in_window, has_rows)


def _judge_stored(
    day: dt.date,
    won: Won,
    ongoing_at: dict[dt.date, list[Inst]],
    by_id: dict[str, Inst],
    ref: dt.date,
    lag: int | None,
    window: int,
    in_window: bool,
    insts: dict[tuple[str, dt.date], list[Inst]],
) -> tuple[str, str, list[tuple[str, str]]]:
    """A date with rows: duplicate first (nothing else can be trusted), then the lag, then window/final."""
    inst = by_id.get(won.instance_id)
    # Apple's processing date (a snapshot's vintage is ranked by when it became known, not by it)
    pdate = inst.pdate.isoformat() if inst is not None else won.pdate.isoformat() if won.pdate else "?"
    evidence = [(won.instance_id, pdate)]
    verdict = _duplicate(inst, pdate, insts, evidence)
    if verdict is not None:
        return verdict
    snapshot = inst is not None and inst.access == AccessType.ONE_TIME_SNAPSHOT.value
    if lag is not None and won.pdate is not None and not snapshot:
        verdict = _by_lag(day, won.pdate, pdate, ongoing_at, ref, lag, in_window, evidence)
        if verdict is not None:
            return verdict
    if in_window:
        return (
            "provisional",
            f"inside the report's completeness window ({window} days); Apple may still restate it",
            evidence,
        )
    if snapshot:
        known = won.pdate.isoformat() if won.pdate else "?"
        return (
            "final",
            (
                f"{won.rows} rows from a ONE_TIME_SNAPSHOT (instance processed {pdate}, first seen "
                f"{known}: it replaced every vintage known before)"
            ),
            evidence,
        )
    return "final", f"{won.rows} rows from the ONGOING request (instance processed {pdate})", evidence


def _duplicate(
    inst: Inst | None,
    pdate: str,
    insts: dict[tuple[str, dt.date], list[Inst]],
    evidence: list[tuple[str, str]],
) -> tuple[str, str, list[tuple[str, str]]] | None:
    """``duplicate`` when the winner has a twin (same request, same processing date), else None.

    Apple does not say which twin is right, so the day cannot be trusted whatever its age."""
    if inst is None:
        return None
    twins = [i for i in insts.get((inst.request_id, inst.pdate), []) if i.id != inst.id]
    if not twins:
        return None
    ids = ", ".join(t.id for t in twins)
    return (
        "duplicate",
        f"Apple published {len(twins) + 1} instances for processing date {pdate} ({inst.id}, {ids}); "
        f"the store kept {inst.id} (the tie goes to the greater id) but Apple does not say which is "
        "right: compare them before trusting this day",
        evidence + _ev(twins),
    )


def _by_lag(
    day: dt.date,
    won_pdate: dt.date,
    pdate: str,
    ongoing_at: dict[dt.date, list[Inst]],
    ref: dt.date,
    lag: int,
    in_window: bool,
    evidence: list[tuple[str, str]],
) -> tuple[str, str, list[tuple[str, str]]] | None:
    """An ONGOING winner against the report's usual lag: ``restated`` when later than it, an early
    vintage's verdict when earlier; None when it is the usual final one (or a late one still in window)."""
    got = (won_pdate - day).days
    if got > lag and not in_window:
        return (
            "restated",
            f"restated late: the rows come from the instance processed on {pdate}, {got} days after the "
            f"date (this report's rows are normally final after {lag}); numbers published before "
            f"{pdate} differ (use as_of= to reproduce them)",
            evidence,
        )
    if got < lag:
        return _early_vintage(day + dt.timedelta(days=lag), pdate, ongoing_at, ref, in_window, evidence)
    return None


def _early_vintage(
    due_date: dt.date,
    pdate: str,
    ongoing_at: dict[dt.date, list[Inst]],
    ref: dt.date,
    in_window: bool,
    evidence: list[tuple[str, str]],
) -> tuple[str, str, list[tuple[str, str]]] | None:
    """The stored rows are an early vintage: provisional until the final one is due, then why it is not
    here (never listed, empty, or listed but not stored); None when the final one was stored."""
    if due_date > ref or in_window:
        return (
            "provisional",
            f"inside the completeness window: the stored rows are an early vintage "
            f"(processed {pdate}); Apple restates them until about {due_date}",
            evidence,
        )
    final = ongoing_at.get(due_date, [])
    fe = _ev(final)
    if not final:
        return (
            "missing",
            f"not final: the stored rows are an early vintage (processed {pdate}) and the instance "
            f"processed on {due_date}, which should carry the final values, was never listed (Apple "
            "skipped or deleted it)",
            evidence,
        )
    if any(i.stored and not i.rows for i in final) and all(i.stored and not i.rows for i in final):
        return (
            "empty",
            f"not final: the instance processed on {due_date} that should carry the final values "
            f"has no rows; the stored rows are an early vintage (processed {pdate})",
            evidence + fe,
        )
    unstored = [i for i in final if not i.stored]
    if unstored:
        return _unstored(
            unstored, ref, INSTANCE_RETENTION_DAYS, evidence + fe, "the final values of this date"
        )
    return None


def _judge_unstored(
    placed: list[Inst], ref: dt.date, in_window: bool, has_rows: bool
) -> tuple[str, str, list[tuple[str, str]]]:
    """A date without rows, judged by the instances placed on it (listed-not-stored, stored-empty, none)."""
    evidence = _ev(placed)
    unstored = [i for i in placed if not i.stored]
    if unstored:
        return _unstored(unstored, ref, INSTANCE_RETENTION_DAYS, evidence, "this date")
    if placed and all(i.stored and not i.rows for i in placed):
        if has_rows:
            return (
                "empty",
                f"the instance processed on {placed[0].pdate} that brings this date has no rows, "
                "though this report has rows on other days",
                evidence,
            )
        return (
            "final",
            "Apple published no rows for this report (privacy: fewer than 5 users or devices)",
            evidence,
        )
    if in_window:
        return "provisional", "not published yet (inside the completeness window)", evidence
    return (
        "missing",
        "no instance the store listed holds this date: Apple skipped it, or deleted it before a "
        "sync stored it",
        evidence,
    )


def _unstored(
    unstored: list[Inst], ref: dt.date, retention: int, evidence: list[tuple[str, str]], what: str
) -> tuple[str, str, list[tuple[str, str]]]:
    first = min(unstored, key=lambda i: i.born)
    gone = first.born + dt.timedelta(days=retention)
    why = f" (last error: {first.error})" if first.error else ""
    if gone > ref:
        return (
            "expiring",
            f"instance {first.id} (processed {first.pdate}) holding {what} is listed but not stored"
            f"{why}; Apple deletes it around {gone}: sync now",
            evidence,
        )
    return (
        "missing",
        f"instance {first.id} (processed {first.pdate}) holding {what} was never stored{why} and "
        f"Apple deleted it around {gone}",
        evidence,
    )


def summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Counts per app x report x granularity and state (the ``check`` command's table)."""
    if frame.empty:
        return pd.DataFrame(columns=["app_id", "report", "granularity", "first_date", "last_date", *STATES])
    plain = pd.DataFrame(frame)
    counts = pd.crosstab(
        [plain["app_id"], plain["report"], plain["granularity"]], plain["state"].astype(str)
    ).reindex(columns=list(STATES), fill_value=0)
    span = plain.groupby(["app_id", "report", "granularity"])["date"].agg(first_date="min", last_date="max")
    return span.join(counts).reset_index()
