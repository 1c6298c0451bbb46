"""``asc_nb.report(source, app_ids, out="report.html")``: the answer, shared as one file that reads anywhere.

Why: a notebook with widgets shows controls without data once its kernel is gone. The report is a
single self-contained HTML page (inline CSS and script, charts as data-URI PNGs, no web fonts, no
CDN) with the KPIs, every view of :mod:`asc_nb.views` (chart, sortable data table, the exact code
that produced its numbers, its notes), the day the data is as of and the provisional dates marked.
``format="pdf"`` prints that page with headless Chromium (``--print-to-pdf``), when it is installed.

Every number goes through ``source.metrics`` (a Store or a Client); one report load per report and
granularity serves every section (:class:`asc_nb.metrics.CachingLoader`), so the same computation
the shown code runs is the one that ran.
"""

from __future__ import annotations

import datetime as dt
import html
import sys
import types
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from asc_nb import metrics as M
from asc_nb import views as V
from asc_nb.errors import ASCError, ConfigError
from asc_nb.store import Store

from .render import fmt, page, table_html

__all__ = ["report", "build", "KPIS", "Report"]

#: the KPI cards, in order (conversion rate and active devices are bounds over a period: marked)
KPIS = (
    "impressions",
    "product_page_views",
    "total_downloads",
    "conversion_rate",
    "sessions",
    "active_devices",
)


class CachedSource:
    """``source.metrics`` through one :class:`~asc_nb.metrics.CachingLoader` over ``window``: each report is
    loaded once for the whole report. ``code_name`` keeps the shown code naming ``store``/``client``."""

    def __init__(self, source: Any, window: tuple[dt.date, dt.date]) -> None:
        self.source = source
        self.code_name = V._core.source_name(source)
        inner: Any = M.StoreLoader(source) if isinstance(source, Store) else M.ClientLoader(source)
        self.loader = M.CachingLoader(inner, window=window)
        self.reference_day = V.reference_day(source)

    def metrics(self, app_ids: Any, metrics: Any, *, as_of: Any = None, **kw: Any) -> pd.DataFrame:
        if as_of is not None:  # what the source knew then: its own metrics, uncached
            return V._core.ask(self.source, app_ids, metrics, as_of=as_of, **kw)
        return M.metrics(self.loader, app_ids, metrics, **kw)


class Report:
    """What :func:`build` made: ``html`` (the page), ``views`` (name -> View or the reason it is missing),
    ``kpis`` (the summary frame), ``as_of``, ``period``."""

    def __init__(
        self,
        html_text: str,
        views: dict[str, Any],
        kpis: pd.DataFrame | None,
        as_of: dt.date,
        period: tuple[dt.date, dt.date],
    ) -> None:
        self.html, self.views, self.kpis, self.as_of, self.period = html_text, views, kpis, as_of, period

    def __repr__(self) -> str:
        ok = [k for k, v in self.views.items() if isinstance(v, V.View)]
        return f"Report({self.period[0]}..{self.period[1]}, as of {self.as_of}, views={ok})"


def _app_names(source: Any, apps: Sequence[str]) -> dict[str, str]:
    names = {a: a for a in apps}
    if callable(getattr(source, "apps", None)):
        try:
            listing = source.apps()
            names.update(
                {
                    str(i): str(n)
                    for i, n in zip(listing["id"], listing["name"], strict=False)
                    if str(i) in names
                }
            )
        except ASCError:
            pass
    return names


def _kpi_section(
    src: Any,
    apps: list[str],
    start: dt.date,
    end: dt.date,
    kpis: Sequence[str],
    names: dict[str, str],
    as_of: Any = None,
) -> tuple[str, pd.DataFrame, pd.DataFrame]:
    length = (end - start).days + 1
    prev = start - dt.timedelta(days=length)
    ask = V._calc.expand(list(kpis))
    daily = src.metrics(
        apps, ask, by=("date",), start=prev.isoformat(), end=end.isoformat(), approx=True, as_of=as_of
    )
    summary = M.kpi_summary(daily, list(kpis), start=start.isoformat(), end=end.isoformat())
    cards = []
    for r in summary.itertuples(index=False):
        rec = r._asdict()
        change = rec["change"]
        if change is pd.NA:
            delta = '<div class="delta">no previous period</div>'
        else:
            cls = "up" if change >= 0 else "down"
            delta = f'<div class="delta {cls}">{"▲" if change >= 0 else "▼"} {abs(float(change)):.1%} vs previous</div>'
        bound = f'<div class="bound">{html.escape(rec["bound"])}</div>' if rec["bound"] else ""
        who = (
            f'<div class="name">{html.escape(names.get(str(rec["app_id"]), ""))}</div>'
            if "app_id" in rec
            else ""
        )
        cards.append(
            f'<div class="kpi" data-metric="{html.escape(rec["metric"])}">{who}'
            f'<div class="name">{html.escape(rec["metric"].replace("_", " "))} ({html.escape(rec["unit"])})'
            f'</div><div class="value">{fmt(rec["value"], rec["unit"], rec["bound"])}</div>{delta}{bound}'
            "</div>"
        )
    var = src.code_name
    code = (
        f"import asc_nb\n"
        f"daily = {var}.metrics({V._core.lit(apps)}, {V._core.lit(ask)}, by=('date',),\n"
        f"    start={prev.isoformat()!r}, end={end.isoformat()!r}, approx=True{V._core.as_of_arg(as_of)})\n"
        f"df = asc_nb.metrics.kpi_summary(daily, {V._core.lit(kpis)}, start={start.isoformat()!r}, "
        f"end={end.isoformat()!r})\n"
    )
    body = (
        f'<section id="kpis"><h2>Key metrics</h2><p class="meta">{start} – {end} against {prev} – '
        f"{start - dt.timedelta(days=1)}. ≤ / ≥ mark bounds: unique counts summed over days over-count "
        f'devices.</p><div class="kpis">{"".join(cards)}</div>'
        f"{table_html(summary, fractions=('change',))}"
        f'<details><summary>Code</summary><pre class="code">{html.escape(code)}</pre></details></section>'
    )
    return body, summary, daily


def _apps_without_rows(daily: pd.DataFrame, apps: list[str], kpis: Sequence[str]) -> list[str]:
    """The apps of ``daily`` (a KPI frame) with no value at all: a typo'd id, or an app never synced."""
    values = daily[[k for k in V._calc.expand(list(kpis)) if k in daily.columns]]
    if "app_id" in daily.columns:
        seen = set(daily.loc[values.notna().any(axis=1), "app_id"].astype(str))
        return [a for a in apps if a not in seen]
    return [] if values.notna().any().any() else list(apps)


def _view_section(v: V.View) -> str:
    frame = v.frame
    prov = frame["provisional"].tolist() if "provisional" in frame.columns else None
    units = {c: M.METRICS[c].unit for c in frame.columns if c in M.METRICS}
    fractions = [c for c in ("share", "of_previous", "of_first", "change_pct") if c in frame.columns]
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in ([v.notes_text()] if v.notes_text() else []))
    return (
        f'<section id="{html.escape(v.name)}" class="view"><h2>{html.escape(v.title)}</h2>'
        f'<figure><img alt="{html.escape(v.title)} chart" src="{v.png_data_uri()}"></figure>'
        f'<ul class="notes">{notes}</ul>'
        f"{table_html(frame, units=units, bounds=v.bounds, provisional=prov, fractions=fractions)}"
        f'<p class="meta">The code that produced these numbers (run with <code>{"store" if "store" in v.code else "client"}'
        f"</code> bound, it leaves this table in <code>df</code>):</p>"
        f'<pre class="code">{html.escape(v.code)}</pre></section>'
    )


def _missing_section(name: str, reason: str) -> str:
    return (
        f'<section id="{html.escape(name)}" class="view missing"><h2>{html.escape(name.replace("_", " "))}</h2>'
        f'<p class="meta">Not available: {html.escape(reason)}</p></section>'
    )


def build(
    source: Any,
    app_ids: str | Iterable[str],
    *,
    start: Any = None,
    end: Any = None,
    days: int = 28,
    kpis: Sequence[str] = KPIS,
    as_of: Any = None,
    generated: dt.datetime | None = None,
    title: str | None = None,
) -> Report:
    """Compute every section and render the page (nothing written). A section whose data the source lacks
    (a report never synced) says so in its place instead of failing the whole report."""
    apps = [app_ids] if isinstance(app_ids, str) else [str(a) for a in app_ids]
    if not apps:
        raise ConfigError("report needs at least one app id")
    ref = V.reference_day(source, as_of)
    last = V._core.day(end, "end") if end is not None else ref - dt.timedelta(days=1)
    first = V._core.day(start, "start") if start is not None else last - dt.timedelta(days=days - 1)
    if last < first:
        raise ConfigError(f"end ({last}) is before start ({first})")
    length = (last - first).days + 1
    src = CachedSource(source, (first - dt.timedelta(days=length), last))
    names = _app_names(source, apps)
    generated = generated or dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    who = ", ".join(f"{names[a]} ({a})" if names[a] != a else a for a in apps)
    head = (
        f"<header><h1>{html.escape(title or 'App Analytics report')}</h1>"
        f'<div class="meta">{html.escape(who)} · {first} – {last} ({length} days)</div>'
        f'<div class="meta" id="as-of">Data as of {ref} (Apple\'s processing date the source last saw); generated '
        f"{generated:%Y-%m-%d %H:%M} UTC. Each report is final only some days after a date (the registry's "
        f'completeness window): <span class="legend"><span class="provisional">tinted rows</span> and hollow '
        f"points are provisional — Apple may still revise them.</span></div></header>"
    )
    sections = [head]
    made: dict[str, Any] = {}
    summary = None
    jobs: list[tuple[str, Any]] = [
        ("funnel", lambda: V.funnel(src, apps, start=first, end=last, approx=True, as_of=as_of)),
        (
            "compare_periods",
            lambda: V.compare_periods(
                src,
                apps,
                ["impressions", "total_downloads", "sessions", "conversion_rate"],
                start=max(first, last - dt.timedelta(days=6)),
                end=last,
                approx=True,
                as_of=as_of,
            ),
        ),
        (
            "territories",
            lambda: V.territories(src, apps, "total_downloads", start=first, end=last, as_of=as_of),
        ),
        ("session_cohorts", lambda: V.session_cohorts(src, apps, start=first, end=last, as_of=as_of)),
    ]
    if len(apps) > 1:
        jobs.append(
            (
                "compare_apps",
                lambda: V.compare_apps(
                    src,
                    apps,
                    ["impressions", "total_downloads", "sessions"],
                    start=first,
                    end=last,
                    as_of=as_of,
                    names=names,
                ),
            )
        )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            kpi_html, summary, daily = _kpi_section(src, apps, first, last, kpis, names, as_of)
            sections.append(kpi_html)
        except ASCError as exc:
            sections.append(_missing_section("kpis", str(exc)))
        else:
            empty = _apps_without_rows(daily, apps, kpis)
            if empty:
                raise ConfigError(
                    f"the source has no rows for app(s) {', '.join(empty)} in "
                    f"{first - dt.timedelta(days=length)}..{last}: check the id, or sync it first "
                    f"(store.sync(client, apps=[...]))"
                )
        for name, job in jobs:
            try:
                v = job()
            except ASCError as exc:
                made[name] = str(exc)
                sections.append(_missing_section(name, str(exc)))
                continue
            made[name] = v
            sections.append(_view_section(v))
    gaps = sorted({str(w.message) for w in caught})
    if gaps:
        items = "".join(f"<li>{html.escape(g)}</li>" for g in gaps)
        sections.append(
            f'<section id="warnings"><h2>Gaps in the data</h2><ul class="notes">{items}</ul></section>'
        )
    text = page(f"{title or 'App Analytics report'} — {who}", sections)
    return Report(text, made, summary, ref, (first, last))


def _write(path: Path, data: bytes) -> None:
    """All at once: a temporary file beside ``path`` renamed into place (no half-written report)."""
    import os
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def report(
    source: Any,
    app_ids: str | Iterable[str],
    out: str | Path | None = None,
    *,
    format: str = "html",
    start: Any = None,
    end: Any = None,
    days: int = 28,
    kpis: Sequence[str] = KPIS,
    as_of: Any = None,
    title: str | None = None,
    chromium: str | None = None,
) -> Report:
    """Build the report of ``app_ids`` over [start, end] (default: the ``days`` days before the source's
    reference day) and, with ``out``, write it as ``format`` ``"html"`` or ``"pdf"``. Returns the :class:`Report`."""
    fmt_ = format.lower()
    if fmt_ not in ("html", "pdf"):
        raise ConfigError(f"format must be 'html' or 'pdf'; got {format!r}")
    rep = build(source, app_ids, start=start, end=end, days=days, kpis=kpis, as_of=as_of, title=title)
    if out is not None:
        target = Path(out).expanduser()
        if fmt_ == "html":
            _write(target, rep.html.encode("utf-8"))
        else:
            from .pdf import html_to_pdf

            _write(target, html_to_pdf(rep.html, chromium=chromium))
    return rep


class _CallableModule(types.ModuleType):
    """``asc_nb.report(...)`` works whether ``asc_nb.report`` names this package or its function."""

    def __call__(self, *args: Any, **kwargs: Any) -> Report:
        return report(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
