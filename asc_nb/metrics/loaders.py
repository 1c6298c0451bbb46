"""Loaders: where a metrics question's report rows come from (a Client, a Store, a memo of either).

Each is a :data:`~asc_nb.metrics.planning.Loader` callable ``load(report, granularity, app_ids,
start, end, columns) -> DataFrame`` and also says which day is its "today" (:meth:`reference_day`)
and, built with ``as_of=D``, answers with what was known when Apple's processing date was D.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Protocol, runtime_checkable

import pandas as pd

from asc_nb.errors import ConfigError, MetricError, MissingDatesWarning
from asc_nb.models import Granularity, period_start
from asc_nb.models import expected_dates as _expected_dates
from asc_nb.protocols import MetricsClient, SyncClient

from .planning import Loader


def _utc_today() -> dt.date:
    return dt.datetime.now(dt.timezone.utc).date()


@runtime_checkable
class DatedLoader(Protocol):
    """A loader that knows its source's "today" (the day provisional rows are counted back from)."""

    def reference_day(self) -> dt.date | None: ...


def check_as_of(as_of: Any, today: dt.date | None) -> dt.date | None:
    """``as_of`` as a date; a day after the source's today is a :class:`ConfigError` (nothing is known of it)."""
    if as_of is None:
        return None
    from asc_nb.models import iso_date

    try:
        day = iso_date(as_of, "as_of")
    except ValueError as err:
        raise ConfigError(str(err)) from None
    if today is not None and day > today:
        raise ConfigError(
            f"as_of={day.isoformat()} is after the source's today ({today.isoformat()}): nothing was "
            f"known then yet; give a processing date up to {today.isoformat()}, or leave as_of out"
        )
    return day


class ClientLoader:
    """A :data:`Loader` over a Client (used duck-typed, never imported: metrics stays below the client).

    Finds each app's report request once (ONGOING preferred, else a ONE_TIME_SNAPSHOT) and fetches
    each report with ``client.fetch`` (latest vintage per date, verified, cached segments reused).
    """

    def __init__(self, client: MetricsClient, *, progress: Any = False, as_of: Any = None) -> None:
        self.client = client
        self.progress = progress
        self._requests: dict[str, str] = {}
        #: only instances with processing_date <= as_of are read (latest vintage among them)
        self.as_of = check_as_of(as_of, self.reference_day())

    def reference_day(self) -> dt.date:
        """The client's today: the sandbox's clock, else today in UTC (Apple's processing dates are UTC days)."""
        sandbox = self.client.sandbox
        return sandbox.now.date() if sandbox is not None else _utc_today()

    def request_id(self, app_id: str) -> str:
        if app_id not in self._requests:
            reqs = self.client.report_requests(app_id)
            chosen = None
            if len(reqs):
                access = reqs["access_type"].astype(str)
                stopped = reqs.get("stopped_due_to_inactivity", pd.Series(False, index=reqs.index))
                stopped = stopped.astype("boolean").fillna(False).astype(bool)
                for mask in (
                    access.eq("ONGOING") & ~stopped,
                    access.eq("ONGOING"),
                    access.eq("ONE_TIME_SNAPSHOT"),
                ):
                    if mask.any():
                        chosen = str(reqs.loc[mask, "id"].iloc[0])
                        break
            if chosen is None:
                raise MetricError(
                    f"App {app_id} has no analytics report request yet: create one with "
                    f"client.ensure_ongoing({app_id!r}) (Apple needs 1-2 days to produce the first "
                    f"reports)"
                )
            self._requests[app_id] = chosen
        return self._requests[app_id]

    def __call__(
        self,
        report: str,
        granularity: str,
        app_ids: Sequence[str],
        start: dt.date | None,
        end: dt.date | None,
        columns: Sequence[str],
    ) -> pd.DataFrame:
        frames = []
        for app in app_ids:
            rid = self.request_id(app)
            if self.as_of is None:
                df = self.client.fetch(rid, report, granularity, start, end, progress=self.progress)
            else:
                plan = self.client.plan_fetch(rid, report, granularity, start, end)
                inst = plan.instances
                known = pd.to_datetime(inst["processing_date"]).dt.date <= self.as_of
                df = self.client.fetch(
                    replace(plan, instances=inst[known.fillna(False).astype(bool)]), progress=self.progress
                )
            frames.append(df)  # every column: a CachingLoader may serve another question from it
        frames = [f for f in frames if len(f.columns)]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(columns))


class CachingLoader:
    """A :data:`Loader` that remembers what it loaded, so several questions share one fetch per report.

    A load is served from memory when an earlier one had the same report, granularity and apps, a
    window covering this one and the columns asked (:func:`compute` trims rows to its own window).
    ``window=(start, end)`` widens every load to that window, so the first question fetches what the
    later ones need. Thread-safe; one instance per batch of questions (a new batch sees new data).
    """

    def __init__(self, inner: Loader, *, window: tuple[dt.date | None, dt.date | None] | None = None) -> None:
        import threading

        self.inner = inner
        self.window = window
        self.loads = 0
        self._frames: dict[
            tuple[str, str, tuple[str, ...]], tuple[dt.date | None, dt.date | None, pd.DataFrame]
        ] = {}
        self._lock = threading.Lock()

    @property
    def as_of(self) -> dt.date | None:
        return getattr(self.inner, "as_of", None)

    def reference_day(self) -> dt.date | None:
        """The wrapped loader's today (None when it does not say)."""
        return self.inner.reference_day() if isinstance(self.inner, DatedLoader) else None

    @staticmethod
    def _covers(lo: dt.date | None, hi: dt.date | None, start: dt.date | None, end: dt.date | None) -> bool:
        return (lo is None or (start is not None and lo <= start)) and (
            hi is None or (end is not None and end <= hi)
        )

    def __call__(
        self,
        report: str,
        granularity: str,
        app_ids: Sequence[str],
        start: dt.date | None,
        end: dt.date | None,
        columns: Sequence[str],
    ) -> pd.DataFrame:
        key = (report, granularity, tuple(app_ids))
        with self._lock:
            hit = self._frames.get(key)
            if (
                hit is not None
                and self._covers(hit[0], hit[1], start, end)
                and set(columns) <= set(hit[2].columns)
            ):
                return hit[2]
            lo, hi = start, end
            if self.window is not None:
                wlo, whi = self.window
                lo = None if lo is None or wlo is None else min(lo, wlo)
                hi = None if hi is None or whi is None else max(hi, whi)
            frame = self.inner(report, granularity, app_ids, lo, hi, columns)
            self.loads += 1
            self._frames[key] = (lo, hi, frame)
            return frame


# ----------------------------------------------------------------------------- a Store as a loader


class StoreLoader:
    """A :data:`Loader` over a Store (duck-typed: ``read``/``sync``), optionally filling gaps from a client.

    With ``client``, a (report, granularity, apps, window) whose dates the store lacks is synced
    once (``attempted`` remembers it), then read from the lake; an identical later question is
    answered from the lake alone, with no API call. Without ``client`` the store is only read.
    """

    def __init__(
        self,
        store: Any,
        *,
        client: SyncClient | None = None,
        attempted: set[tuple[Any, ...]] | None = None,
        progress: Any = False,
        as_of: Any = None,
    ) -> None:
        self.store = store
        self.client = client
        self.attempted = attempted if attempted is not None else set()
        self.progress = progress
        #: read what the store knew when Apple's processing date was as_of (``store.read(as_of=)``)
        self.as_of = check_as_of(as_of, self.reference_day())

    def reference_day(self) -> dt.date | None:
        """The store's today: the newest processing date it has seen (``store.reference_day()``)."""
        day = self.store.reference_day
        return day() if callable(day) else day

    def _read(
        self,
        report: str,
        granularity: str,
        app_ids: Sequence[str],
        start: dt.date | None,
        end: dt.date | None,
    ) -> pd.DataFrame:
        from asc_nb.errors import ReportNotFoundError

        kw = {} if self.as_of is None else {"as_of": self.as_of.isoformat()}
        try:
            return self.store.read(
                report, granularity=granularity, apps=list(app_ids), start=start, end=end, **kw
            )
        except ReportNotFoundError:
            if self.client is None:
                raise
            return pd.DataFrame(
                {"app_id": pd.Series(dtype="string"), "date": pd.Series(dtype="datetime64[ns]")}
            )

    def __call__(
        self,
        report: str,
        granularity: str,
        app_ids: Sequence[str],
        start: dt.date | None,
        end: dt.date | None,
        columns: Sequence[str],
    ) -> pd.DataFrame:
        g = Granularity.parse(granularity)
        lo = (
            None if start is None else period_start(start, g)
        )  # weekly/monthly rows are dated at the period start
        df = self._read(report, g.value, app_ids, lo, end)
        if self.client is not None and self.as_of is None and lo is not None and end is not None:
            want = set(_expected_dates(lo, end, g))
            have = pd.to_datetime(df["date"]).dt.date if len(df) else pd.Series([], dtype="object")
            apps_col = df["app_id"].astype("string") if "app_id" in df else pd.Series([], dtype="string")
            missing = [a for a in app_ids if not want <= set(have[apps_col == a])]
            key = (report, g.value, tuple(missing), lo, end)
            if missing and key not in self.attempted:
                self.attempted.add(key)
                self.store.sync(
                    self.client,
                    apps=missing,
                    reports=[report],
                    granularities=[g.value],
                    start=lo,
                    progress=self.progress,
                )
                df = self._read(report, g.value, app_ids, lo, end)
        if lo is not None and end is not None:
            self._warn_gaps(df, report, g, app_ids, lo, end)
        return df

    def _warn_gaps(
        self, df: pd.DataFrame, report: str, g: Granularity, app_ids: Sequence[str], lo: dt.date, end: dt.date
    ) -> None:
        """Say which dates the lake lacks, as ``client.fetch`` does: a partial answer must not look whole."""
        have = pd.to_datetime(df["date"]).dt.date if len(df) else pd.Series([], dtype="object")
        apps_col = df["app_id"].astype("string") if "app_id" in df else pd.Series([], dtype="string")
        want = _expected_dates(lo, end, g)
        stored = {a: set(have[apps_col == a]) for a in app_ids}  # one set per app, not one per expected date
        gaps = {a: [d for d in want if d not in stored[a]] for a in app_ids}
        gaps = {a: days for a, days in gaps.items() if days}
        if not gaps:
            return
        days = sorted({d for v in gaps.values() for d in v})
        shown = ", ".join(d.isoformat() for d in days[:10]) + (" …" if len(days) > 10 else "")
        how = (
            "store.sync(client, reports=[...], granularities=[...]) first, or pass client= to store.metrics"
            if self.client is None
            else "Apple has not published them, privacy dropped them, or they are older "
            "than the 35-day instance retention and were never synced"
        )
        warnings.warn(
            MissingDatesWarning(
                f"{report} {g.value}: the store has no rows for {len(days)} date(s) of app(s) "
                f"{', '.join(sorted(gaps))} in {lo}..{end}: {shown} ({how})"
            ),
            stacklevel=2,
        )
