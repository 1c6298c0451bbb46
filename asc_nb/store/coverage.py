"""Coverage: which dates a store holds, which it lacks, and which are at risk of Apple's 35-day deletion.

An estimate where Apple is silent: Apple does not publish when an instance was made, so an
instance is dated by when the store first saw it (for ONGOING: its processing date, if earlier),
and a daily instance processed on P is placed on P − 1.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import pandas as pd

from asc_nb.data.vintage import expected_dates
from asc_nb.models import AccessType

__all__ = ["AT_RISK_DAYS", "CoverageFrame", "coverage"]

#: an instance not stored this long after it was first seen is within a week of Apple's 35-day deletion
AT_RISK_DAYS = 28


def coverage(
    stored: dict[tuple[str, str], dict[str, int]], instances: Iterable[tuple[Any, ...]], ref: dt.date | None
) -> CoverageFrame:
    """report × granularity × date: ``stored``, ``missing`` or ``at_risk`` (see :meth:`asc_nb.Store.coverage`).

    ``stored``: the destination's (report, granularity) -> {day: apps}; ``instances``: the state's
    instance rows; ``ref``: Apple's "today".
    """
    risky: dict[tuple[str, str], set[str]] = {}
    for _iid, _app, report, gran, _req, access, pdate, first_seen, is_stored, _rows, _e in instances:
        if is_stored:
            continue
        p = dt.date.fromisoformat(pdate)
        seen = dt.date.fromisoformat(first_seen)
        born = min(seen, p) if access == AccessType.ONGOING.value else seen
        if ref is not None and (ref - born).days > AT_RISK_DAYS:
            day = p - dt.timedelta(days=1) if gran == "DAILY" else p
            risky.setdefault((report, gran), set()).add(day.isoformat())
    rows = []
    for key in sorted(set(stored) | set(risky)):
        have, risk = stored.get(key, {}), risky.get(key, set())
        every = sorted(set(have) | risk)
        if not every:
            continue
        for d in expected_dates(every[0], every[-1], key[1]):
            day = d.isoformat()
            status = "stored" if day in have else "at_risk" if day in risk else "missing"
            rows.append((key[0], key[1], day, status, have.get(day, 0)))
    frame = CoverageFrame(rows, columns=["report", "granularity", "date", "status", "apps"])
    frame["date"] = pd.to_datetime(frame["date"])
    frame["status"] = pd.Categorical(frame["status"], categories=["stored", "missing", "at_risk"])
    frame["apps"] = frame["apps"].astype("int64")
    return frame


class CoverageFrame(pd.DataFrame):
    """``store.coverage()``: a DataFrame whose notebook view is a per-report summary, at-risk in red."""

    @property
    def _constructor(self) -> type[pd.DataFrame]:
        return pd.DataFrame

    def summary(self) -> pd.DataFrame:
        """One row per report × granularity: first and last date, and how many dates are in each state."""
        if self.empty:
            return pd.DataFrame(
                columns=["report", "granularity", "first_date", "last_date", "stored", "missing", "at_risk"]
            )
        plain = pd.DataFrame(self)
        counts = pd.crosstab([plain["report"], plain["granularity"]], plain["status"]).reindex(
            columns=["stored", "missing", "at_risk"], fill_value=0
        )
        span = plain.groupby(["report", "granularity"])["date"].agg(first_date="min", last_date="max")
        return span.join(counts).reset_index()

    def _repr_html_(self) -> str:  # type: ignore[override]
        import html

        s = self.summary()
        if s.empty:
            return "<p><b>Store coverage</b>: nothing stored yet (run <code>store.sync(client)</code>).</p>"
        lines = [
            "<table><thead><tr><th>report</th><th>granularity</th><th>from</th><th>to</th><th>stored</th>"
            "<th>missing</th><th>at risk</th></tr></thead><tbody>"
        ]
        for r in s.itertuples(index=False):
            risk = (
                f'<td style="background:#f8d7da;color:#842029"><b>{r.at_risk}</b></td>'
                if r.at_risk
                else "<td>0</td>"
            )
            lines.append(
                f"<tr><td>{html.escape(r.report)}</td><td>{r.granularity}</td>"
                f"<td>{r.first_date:%Y-%m-%d}</td><td>{r.last_date:%Y-%m-%d}</td>"
                f"<td>{r.stored}</td><td>{r.missing}</td>{risk}</tr>"
            )
        lines.append("</tbody></table>")
        total = int(s["at_risk"].sum())
        note = (
            f"<p>{total} date(s) at risk: seen over {AT_RISK_DAYS} days ago and not stored — sync soon, "
            "Apple deletes instances 35 days after making them.</p>"
            if total
            else ""
        )
        return f"<p><b>Store coverage</b> ({len(self)} report-dates)</p>" + "".join(lines) + note
