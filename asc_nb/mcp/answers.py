"""The MCP tools' answers over one Store, as JSON-ready dicts, each with its provenance.

Why apart from the server: the answers are plain Python over the public ``Store``, ``metrics``
and ``registry`` APIs (so they read the same numbers a notebook gets), and the MCP layer around
them (:mod:`asc_nb.mcp.server`) only turns an :class:`~asc_nb.errors.ASCError` into a tool error.

Every answer carries ``provenance``: the report(s) and granularities read, the vintages behind the
rows (processing dates and instance ids), the as-of day (``latest`` = the store's reference day),
which dates are still provisional (inside the report's completeness window, Apple may revise them)
and ``code``: Python that reproduces the answer with ``asc_nb``. Nothing here writes the store.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from asc_nb import metrics as M
from asc_nb import registry
from asc_nb.errors import ConfigError, MetricError, QueryError
from asc_nb.mcp.sql import ReadOnlySQL
from asc_nb.models import Granularity, iso_date, period_end, period_start

__all__ = ["Answers", "MAX_ROWS", "jsonable"]

#: the most rows one answer may carry (a model reads it; more is an error that says how to narrow)
MAX_ROWS = 2000
#: the most vintages listed one by one in a provenance block (the count is always given)
MAX_VINTAGES = 200
#: the most characters of JSON one table may take (a few wide rows can be as heavy as many narrow ones)
MAX_CHARS = 2_000_000


def jsonable(value: Any) -> Any:
    """A cell as JSON: dates ISO, missing → null, numpy/decimal → Python numbers."""
    if value is None:
        return None
    if isinstance(value, pd.Timestamp | dt.datetime):
        ts = pd.Timestamp(value)
        if pd.isna(ts):
            return None
        return ts.date().isoformat() if ts == ts.normalize() and ts.tzinfo is None else ts.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, bool | str | int):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else value
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    if hasattr(value, "item"):
        return jsonable(value.item())
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return str(value)


def _table(frame: pd.DataFrame, what: str, max_rows: int = MAX_ROWS) -> dict[str, Any]:
    if len(frame) > max_rows:
        raise MetricError(
            f"the {what} has {len(frame)} rows, more than one answer may carry ({max_rows}): narrow the "
            "dates or the apps, use a coarser granularity, or break down by fewer columns"
        )
    cols = [str(c) for c in frame.columns]
    rows = [[jsonable(v) for v in row] for row in frame.itertuples(index=False, name=None)]
    _check_size(rows, what)
    return {"columns": cols, "rows": rows, "row_count": len(rows)}


def _check_size(rows: list[list[Any]], what: str) -> None:
    size = len(json.dumps(rows, default=str))
    if size > MAX_CHARS:
        raise QueryError(
            f"the {what} would be {size:,} characters of JSON, more than one answer may carry "
            f"({MAX_CHARS:,}): select fewer or shorter columns (e.g. left(text, 100)), or aggregate"
        )


def _list(value: str | Sequence[str] | None) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = [v for v in (t.strip() for t in value.split(",")) if v]
    return [str(v) for v in value]


def _call(func: str, args: list[str], kwargs: dict[str, Any]) -> str:
    parts = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items() if v is not None]
    return f"{func}({', '.join(parts)})"


#: list_apps as a notebook would compute it (one query per view of the store)
_LIST_APPS_CODE = """import pandas as pd
parts = [store.sql(f'select app_id, min(date) as first_date, max(date) as last_date from "{view}" group by app_id')
         .assign(view=view) for view in store.reports()["view"]]
apps = (pd.concat(parts).groupby("app_id")
        .agg(first_date=("first_date", "min"), last_date=("last_date", "max"), views=("view", list)).reset_index())"""


class Answers:
    """The tools of the MCP server, answered from one store (read-only)."""

    def __init__(
        self, store: Any, *, max_rows: int = MAX_ROWS, sql_max_rows: int = 1000, sql_timeout: float = 10.0
    ) -> None:
        self.store = store
        self.max_rows = int(max_rows)
        self.sql_engine = ReadOnlySQL(store, max_rows=sql_max_rows, timeout=sql_timeout)

    def close(self) -> None:
        self.sql_engine.close()

    # ------------------------------------------------------------------ helpers

    @property
    def _open(self) -> str:
        return f"import asc_nb\nstore = asc_nb.Store({str(Path(self.store.path))!r})\n"

    def _reference(self) -> str | None:
        ref = self.store.reference_day
        return None if ref is None else ref.isoformat()

    @staticmethod
    def _as_of(as_of: str | None) -> str | None:
        """``None`` for the latest (null, "" or "latest"), else the ISO day (the Store refuses a future one)."""
        if as_of is None or str(as_of).strip().lower() in ("", "latest"):
            return None
        try:
            return iso_date(as_of, "as_of").isoformat()
        except ValueError as err:
            raise ConfigError(str(err)) from None

    def _provenance(
        self,
        *,
        reports: list[dict[str, Any]],
        code: str,
        as_of: str | None,
        provisional: list[str] | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        out: dict[str, Any] = {
            "store": str(self.store.path),
            "reports": reports,
            "as_of": as_of or "latest",
            "reference_day": self._reference(),
        }
        if provisional is not None:
            out["provisional_dates"] = provisional
        out.update(extra)
        out["code"] = self._open + code
        return out

    # ------------------------------------------------------------------ catalog

    def list_apps(self) -> dict[str, Any]:
        """Every app the lake holds rows for: id, name (from the rows, when the report has it), reports, dates."""
        views = self.sql_engine.views()
        con = self.sql_engine.connection()
        per: dict[str, dict[str, Any]] = {}
        used = []
        for view in views:
            cols = {r[0] for r in con.execute(f'describe "{view}"').fetchall()}
            if "app_id" not in cols:
                continue
            name = "any_value(app_name)" if "app_name" in cols else "null"
            rows = con.execute(
                f'select app_id, {name}, min(date), max(date) from "{view}" group by app_id'
            ).fetchall()
            used.append(view)
            for app_id, app_name, lo, hi in rows:
                entry = per.setdefault(
                    str(app_id),
                    {"app_id": str(app_id), "name": None, "views": [], "first_date": None, "last_date": None},
                )
                entry["name"] = entry["name"] or (None if app_name is None else str(app_name))
                entry["views"].append(view)
                lo, hi = jsonable(lo), jsonable(hi)
                entry["first_date"] = min(filter(None, (entry["first_date"], lo)), default=None)
                entry["last_date"] = max(filter(None, (entry["last_date"], hi)), default=None)
        apps = [per[k] for k in sorted(per)]
        reports = [{"view": v} for v in used]
        return {
            "apps": apps,
            "provenance": self._provenance(reports=reports, as_of=None, code=_LIST_APPS_CODE),
        }

    def list_reports(self, catalog: bool = False) -> dict[str, Any]:
        """What the store holds (report, granularity, DuckDB view, dates); ``catalog`` adds every report Apple has."""
        held = self.store.reports()
        out: dict[str, Any] = {"stored": _table(held, "report list")}
        code = "df = store.reports()"
        if catalog:
            out["catalog"] = _table(registry.report_catalog(), "report catalog")
            code += "\ncatalog = asc_nb.report_catalog()"
        out["provenance"] = self._provenance(
            reports=[
                {"report": r.report, "granularity": r.granularity, "view": r.view}
                for r in held.itertuples(index=False)
            ],
            as_of=None,
            code=code,
        )
        return out

    def describe_report(self, name: str) -> dict[str, Any]:
        """A report's fields (column, dtype, additive, description), its views in the store and its metrics."""
        schema = registry.get(name)  # ReportNotFoundError names the closest reports
        fields = registry.describe_report(schema.name)
        held = self.store.reports()
        mine = held[held["report"] == schema.name]
        cat = M.metric_catalog()
        used = cat[cat["reports"].str.split(", ").map(lambda rs: schema.name in rs)]
        return {
            "report": schema.name,
            "category": str(schema.category),
            "granularities": [str(g) for g in schema.granularities],
            "complete_after_days": schema.complete_after_days,
            "fields": _table(pd.DataFrame(fields), "field list"),
            "stored": _table(mine, "stored list"),
            "metrics": [str(m) for m in used["name"]],
            "provenance": self._provenance(
                reports=[
                    {"report": schema.name, "granularity": g, "view": v}
                    for g, v in zip(mine["granularity"], mine["view"], strict=True)
                ],
                as_of=None,
                code=f"fields = asc_nb.describe_report({schema.name!r})\nheld = store.reports()",
            ),
        }

    def list_metrics(self) -> dict[str, Any]:
        """Every metric: its report(s), definition, expression, additive?, unit, Apple's page."""
        return {
            "metrics": _table(M.metric_catalog(), "metric catalog"),
            "note": "additive=false: a unique count or ratio — never summed across rows or days; metrics() "
            "refuses a coarser grain unless approx=true (then an upper bound, marked)",
            "provenance": self._provenance(reports=[], as_of=None, code="catalog = asc_nb.metric_catalog()"),
        }

    # ------------------------------------------------------------------ numbers

    def metrics(
        self,
        app_ids: str | Sequence[str],
        metrics: str | Sequence[str],
        *,
        start: str | None = None,
        end: str | None = None,
        by: str | Sequence[str] | None = ("date",),
        as_of: str | None = None,
        granularity: str = "DAILY",
        filters: dict[str, Any] | None = None,
        approx: bool = False,
    ) -> dict[str, Any]:
        """``store.metrics(...)`` with its provenance (reports, vintages, as-of, provisional dates, code)."""
        apps = _list(app_ids) or []
        names = _list(metrics) or []
        by_t = tuple(_list(by) or ())
        day = self._as_of(as_of)
        kwargs: dict[str, Any] = {"by": by_t, "start": start, "end": end}
        if str(granularity).upper() != "DAILY":
            kwargs["granularity"] = granularity
        if filters:
            kwargs["filters"] = {str(k): _list(v) for k, v in filters.items()}
        if approx:
            kwargs["approx"] = True
        if day is not None:
            kwargs["as_of"] = day
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            frame = self.store.metrics(apps, names, **kwargs)
        notes = [str(w.message) for w in caught]
        plan: M.MetricPlan = frame.attrs["plan"]
        reports = [self._vintages(f, plan, day) for f in plan.fetches]
        provisional = self._provisional(frame, plan, reports, day)
        for entry in reports:
            entry.pop("_dates", None)
        code = "df = " + _call("store.metrics", [], {"app_ids": apps, "metrics": names, **kwargs})
        return {
            "result": _table(frame, "answer", self.max_rows),
            "granularity": frame.attrs.get("granularity"),
            "approximate": jsonable(dict(frame.attrs.get("approximate", {}))),
            "sources": jsonable(dict(frame.attrs.get("sources", {}))),
            "warnings": notes,
            "provenance": self._provenance(reports=reports, as_of=day, provisional=provisional, code=code),
        }

    def _vintages(self, f: M.Fetch, plan: M.MetricPlan, as_of: str | None) -> dict[str, Any]:
        """The instances whose rows the answer read: per vintage its processing date, instance id and dates."""
        lo, hi = plan.start, plan.end
        if lo is not None:
            lo = period_start(lo, f.granularity)
        if f.rollup:
            lo = None if lo is None else period_start(lo, plan.granularity)
            hi = None if hi is None else period_end(hi, plan.granularity)
        kwargs: dict[str, Any] = {
            "granularity": f.granularity.value,
            "apps": list(plan.app_ids),
            "start": lo,
            "end": hi,
        }
        if as_of is not None:
            kwargs["as_of"] = as_of
        rows = self.store.read(f.report, **kwargs)
        entry: dict[str, Any] = {
            "report": f.report,
            "granularity": f.granularity.value,
            "metrics": list(f.metrics),
            "rows_read": len(rows),
        }
        entry["_dates"] = sorted(set(pd.to_datetime(rows["date"]).dt.date)) if len(rows) else []
        if rows.empty or "processing_date" not in rows:
            entry.update(instances=0, processing_dates=[], vintages=[])
            return entry
        g = rows.groupby(["processing_date", "instance_id"], dropna=False)
        summary = (
            g.agg(
                first_date=("date", "min"),
                last_date=("date", "max"),
                rows=("date", "size"),
                apps=("app_id", "nunique"),
            )
            .reset_index()
            .sort_values(["processing_date", "instance_id"])
        )
        vintages = [{k: jsonable(v) for k, v in rec.items()} for rec in summary.to_dict("records")]
        entry["instances"] = len(vintages)
        entry["processing_dates"] = sorted({v["processing_date"] for v in vintages if v["processing_date"]})
        entry["vintages"] = vintages[:MAX_VINTAGES]
        if len(vintages) > MAX_VINTAGES:
            entry["vintages_omitted"] = len(vintages) - MAX_VINTAGES
        return entry

    def _provisional(
        self, frame: pd.DataFrame, plan: M.MetricPlan, read: list[dict[str, Any]], as_of: str | None
    ) -> list[str]:
        """Dates behind the answer still inside a report's completeness window (Apple may revise them).

        The metrics layer's own ``provisional`` column wins when the frame has one; otherwise a date is
        provisional when its period ends later than ``complete_after_days`` (registry) before the as-of day
        (or the store's reference day) — counted over every date read, so a total without ``date`` in
        ``by`` still says which of its days may change."""
        if "provisional" in frame.columns and "date" in frame.columns:
            marked = frame.loc[frame["provisional"].fillna(False).astype(bool), "date"]
            return sorted({jsonable(d) for d in marked})
        ref = dt.date.fromisoformat(as_of) if as_of else self.store.reference_day
        if ref is None:
            return []
        out: set[str] = set()
        for entry in read:
            days = registry.get(entry["report"]).complete_after_days
            last_final = ref - dt.timedelta(days=days)
            g = Granularity.parse(entry["granularity"])
            for d in entry.pop("_dates"):
                if period_end(d, g) > last_final:
                    out.add(d.isoformat())
        return sorted(out)

    def health(
        self,
        *,
        apps: Sequence[str] | str | None = None,
        reports: Sequence[str] | str | None = None,
        granularity: str | None = None,
        start: str | None = None,
        end: str | None = None,
        states: Sequence[str] | str | None = None,
    ) -> dict[str, Any]:
        """``store.health(...)``: per app × report × date its state (final, provisional, missing, …) and why."""
        kwargs = {
            "apps": _list(apps),
            "reports": _list(reports),
            "granularity": granularity,
            "start": start,
            "end": end,
            "states": _list(states),
        }
        kwargs = {k: v for k, v in kwargs.items() if v is not None}
        frame = self.store.health(**kwargs)
        counts = (
            frame["state"].astype("string").value_counts().sort_index()
            if len(frame)
            else pd.Series(dtype=int)
        )
        held = sorted(
            {
                (str(r), str(g))
                for r, g in zip(frame.get("report", []), frame.get("granularity", []), strict=True)
            }
        )
        return {
            "result": _table(frame, "health table", self.max_rows),
            "states": {str(k): int(v) for k, v in counts.items()},
            "provenance": self._provenance(
                reports=[{"report": r, "granularity": g} for r, g in held],
                as_of=None,
                code="df = " + _call("store.health", [], kwargs),
            ),
        }

    def sql(self, query: str, max_rows: int | None = None) -> dict[str, Any]:
        """One read-only SELECT over the store's views (see :mod:`asc_nb.mcp.sql`)."""
        columns, types, raw = self.sql_engine.run(query, max_rows=max_rows)
        rows = [[jsonable(v) for v in r] for r in raw]
        _check_size(rows, "result")
        text = query.strip()
        used = [v for v in self.sql_engine.views() if v in text]
        return {
            "result": {"columns": columns, "types": types, "rows": rows, "row_count": len(rows)},
            "provenance": self._provenance(
                reports=[{"view": v} for v in used],
                as_of=None,
                note="the views hold each date's latest vintage (its processing_date and instance_id columns "
                "say which)",
                code=f"df = store.sql({text!r})",
            ),
        }
