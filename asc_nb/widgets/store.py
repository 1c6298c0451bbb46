"""The Store tab: what the local store holds (a coverage heat-map, at-risk dates highlighted) and a Sync button;
then the integrity ledger (``store.health()``: one coloured cell per date, the reason on hover, the dates
that need attention listed) and a Repair button (``store.repair_plan()`` carried out).

Sync and Repair run on the panel's worker thread (the notebook stays usable); ``panel.wait()``
joins them. ``.frame`` is ``store.coverage()``; ``.ledger`` the ledger, ``.plan`` the last plan.
"""

from __future__ import annotations

import contextlib
import html

import ipywidgets as w
import pandas as pd

from asc_nb.protocols import WidgetClient
from asc_nb.store import DEFAULT_REPORTS, Store

from ._common import Panel, Status, describe_error, fit_text, frame_html, heading

__all__ = ["StorePanel", "coverage_heatmap", "ledger_html"]

#: status -> cell colour (JupyterLab theme variables: follows light and dark themes)
_COLOURS = {
    "stored": "var(--jp-success-color1)",
    "missing": "var(--jp-layout-color3)",
    "at_risk": "var(--jp-error-color1)",
}
_MAX_DAYS = 400


def coverage_heatmap(coverage: pd.DataFrame) -> str:
    """report × date as a strip of cells per report and granularity: stored, missing, **at risk**.

    Each cell's tooltip names the date and its state; at-risk cells carry the ``asc-nb-at-risk``
    class (and the theme's error colour) so they stand out and tests can find them.
    """
    if coverage is None or coverage.empty:
        return '<div style="color: var(--jp-ui-font-color2);">Nothing stored yet: press Sync.</div>'
    rows = []
    for (report, gran), part in coverage.groupby(["report", "granularity"], sort=True, observed=True):
        part = part.sort_values("date").tail(_MAX_DAYS)
        cells = []
        for day, status in zip(part["date"], part["status"].astype(str), strict=True):
            cls = " asc-nb-at-risk" if status == "at_risk" else ""
            cells.append(
                f'<span class="asc-nb-cell{cls}" title="{day:%Y-%m-%d}: {status.replace("_", " ")}" '
                f'style="display:inline-block;width:5px;height:14px;margin-right:1px;'
                f'background:{_COLOURS.get(status, "transparent")}"></span>'
            )
        first, last = part["date"].min(), part["date"].max()
        risk = int((part["status"] == "at_risk").sum())
        note = f' <b style="color:var(--jp-error-color1)">{risk} at risk</b>' if risk else ""
        rows.append(
            f'<tr><td style="white-space:nowrap;padding-right:8px">{html.escape(str(report))} '
            f'<span style="color:var(--jp-ui-font-color2)">{html.escape(str(gran).lower())}</span></td>'
            f'<td style="white-space:nowrap">{"".join(cells)}</td>'
            f'<td style="white-space:nowrap;padding-left:8px;color:var(--jp-ui-font-color2)">'
            f"{first:%Y-%m-%d} → {last:%Y-%m-%d}{note}</td></tr>"
        )
    legend = " ".join(
        f'<span style="display:inline-block;width:10px;height:10px;background:{c}"></span> {s.replace("_", " ")}'
        for s, c in _COLOURS.items()
    )
    return (
        f'<div class="asc-nb-heatmap" style="overflow-x:auto"><table>{"".join(rows)}</table>'
        f'<div style="color:var(--jp-ui-font-color2);font-size:var(--jp-ui-font-size0)">{legend}</div></div>'
    )


#: ledger state -> cell colour (theme variables; the bad states in the theme's warning/error colours)
STATE_COLOURS = {
    "final": "var(--jp-success-color1)",
    "provisional": "var(--jp-info-color2)",
    "restated": "var(--jp-brand-color2)",
    "missing": "var(--jp-error-color1)",
    "empty": "var(--jp-warn-color0)",
    "duplicate": "var(--jp-warn-color1)",
    "expiring": "var(--jp-error-color2)",
}
_NEEDS_ATTENTION = ("missing", "empty", "duplicate", "expiring", "restated")


def ledger_html(ledger: pd.DataFrame, *, max_days: int = _MAX_DAYS, max_rows: int = 40) -> str:
    """The ledger as one strip of coloured cells per app × report × granularity (hover: date, state, reason),
    then a table of the dates that need attention, each state coloured and its reason on hover.

    Cells carry ``asc-nb-state asc-nb-state-<state>`` classes (tests and a browser find them by state).
    """
    if ledger is None or ledger.empty:
        return '<div class="asc-nb-ledger" style="color: var(--jp-ui-font-color2);">No ledger yet: sync first.</div>'
    rows = []
    for (app, report, gran), part in ledger.groupby(
        ["app_id", "report", "granularity"], sort=True, observed=True
    ):
        part = part.sort_values("date").tail(max_days)
        cells = "".join(
            f'<span class="asc-nb-state asc-nb-state-{st}" title="{html.escape(f"{d:%Y-%m-%d}: {st} — {why}")}" '
            f'style="display:inline-block;width:6px;height:14px;margin-right:1px;background:{STATE_COLOURS[st]}">'
            "</span>"
            for d, st, why in zip(
                part["date"], part["state"].astype(str), part["reason"].astype(str), strict=True
            )
        )
        bad = part["state"].astype(str).isin(_NEEDS_ATTENTION[:-1]).sum()
        note = f' <b style="color:var(--jp-error-color1)">{bad} to fix</b>' if bad else ""
        rows.append(
            f'<tr><td style="white-space:nowrap;padding-right:8px">{html.escape(str(app))} · '
            f'{html.escape(str(report))} <span style="color:var(--jp-ui-font-color2)">'
            f'{html.escape(str(gran).lower())}</span></td><td style="white-space:nowrap">{cells}</td>'
            f'<td style="white-space:nowrap;padding-left:8px">{note}</td></tr>'
        )
    legend = " ".join(
        f'<span class="asc-nb-legend" style="display:inline-block;width:10px;height:10px;background:{c}"></span> {s}'
        for s, c in STATE_COLOURS.items()
    )
    worth = ledger[ledger["state"].astype(str).isin(_NEEDS_ATTENTION)].sort_values(
        ["app_id", "report", "date"]
    )
    table = ""
    if len(worth):
        lines = []
        for r in worth.head(max_rows).itertuples(index=False):
            st = str(r.state)
            lines.append(
                f"<tr><td>{r.date:%Y-%m-%d}</td><td>{html.escape(str(r.app_id))}</td>"
                f"<td>{html.escape(str(r.report))}</td>"
                f'<td class="asc-nb-state asc-nb-state-{st}" title="{html.escape(str(r.reason))}" '
                f'style="background:{STATE_COLOURS[st]};color:var(--jp-ui-inverse-font-color0);padding:0 6px">'
                f"{st}</td><td>{html.escape(str(r.reason)[:90])}{'…' if len(str(r.reason)) > 90 else ''}</td></tr>"
            )
        more = (
            f'<div style="color:var(--jp-ui-font-color2)">… {len(worth) - max_rows} more</div>'
            if len(worth) > max_rows
            else ""
        )
        table = (
            '<table class="asc-nb-ledger-table"><thead><tr><th>date</th><th>app</th><th>report</th>'
            f"<th>state</th><th>why</th></tr></thead><tbody>{''.join(lines)}</tbody></table>{more}"
        )
    counts = ledger["state"].astype(str).value_counts()
    head = ", ".join(f"{int(counts[s])} {s}" for s in STATE_COLOURS if s in counts)
    return (
        f'<div class="asc-nb-ledger jp-RenderedHTMLCommon" style="overflow-x:auto;padding:0">'
        f"<div><b>Ledger</b> (reference day {html.escape(str(ledger.attrs.get('reference_day', '?')))}): "
        f"{head}</div><table>{''.join(rows)}</table>"
        f'<div style="color:var(--jp-ui-font-color2);font-size:var(--jp-ui-font-size0)">{legend}</div>'
        f"{table}</div>"
    )


def _plain(exc: BaseException, store: Store) -> str:
    """An error in words: a damaged store file says which store and what to do."""
    import sqlite3

    if isinstance(exc, sqlite3.DatabaseError):
        return (
            f"the store at {store.path} cannot be read ({exc}): its state.sqlite is damaged or not a store's; "
            "point the panel at a store directory made by a sync"
        )
    return describe_error(exc)


class StorePanel(Panel):
    """Coverage of a :class:`~asc_nb.Store` and a Sync button that never blocks the notebook.

    Handles: ``.reports`` (comma-separated names), ``.backfill``, ``.sync_button``, ``.refresh_button``,
    ``.progress`` (instances done / planned), ``.heatmap``, ``.result`` (the last sync's DataFrame),
    ``.frame`` (``store.coverage()``).
    """

    def __init__(
        self,
        client: WidgetClient,
        store: Store | None = None,
        *,
        reports: tuple[str, ...] = DEFAULT_REPORTS,
        load: bool = True,
    ) -> None:
        self.store = store if store is not None else Store()
        self.status = Status()
        self.reports = fit_text(w.Textarea(value=", ".join(reports), description="Reports"))  # never cut off
        self.backfill = w.Checkbox(value=False, description="Backfill (ONE_TIME_SNAPSHOT)", indent=False)
        self.sync_button = w.Button(
            description="Sync",
            icon="refresh",
            button_style="primary",
            tooltip="Fetch what is new into the store (runs in the background)",
        )
        self.refresh_button = w.Button(
            description="Refresh", icon="eye", tooltip="Re-read the store's coverage"
        )
        self.progress = w.IntProgress(
            value=0, min=0, max=1, description="Sync", layout=w.Layout(width="420px")
        )
        self.progress.layout.visibility = "hidden"
        self.heatmap = w.HTML()
        self.table = w.HTML()
        self.repair_button = w.Button(
            description="Repair",
            icon="wrench",
            tooltip="Carry out the ledger's repair plan: re-sync, ensure ONGOING, "
            "ONE_TIME_SNAPSHOT for missing days (runs in the background)",
        )
        self.ledger_view = w.HTML()
        self.plan_view = w.HTML()
        self.result: pd.DataFrame | None = None
        self.ledger: pd.DataFrame | None = None
        self.plan: pd.DataFrame | None = None
        super().__init__(
            [
                heading("Local store"),
                w.HBox([self.reports]),
                w.HBox([self.sync_button, self.backfill, self.refresh_button, self.progress]),
                self.status,
                self.heatmap,
                self.table,
                heading("Integrity ledger"),
                w.HBox([self.repair_button]),
                self.ledger_view,
                self.plan_view,
            ],
            client=client,
        )
        self.children = (*self.children, self.tools)  # the Show code / Export row exists once Panel built it
        self.busy_controls = [
            self.sync_button,
            self.refresh_button,
            self.reports,
            self.backfill,
            self.repair_button,
        ]
        self.repair_button.add_class("asc-nb-repair")
        self.ledger_view.add_class("asc-nb-ledger-view")
        self.status.add_class("asc-nb-store-status")
        self.repair_button.on_click(lambda _b: self.repair())
        self.sync_button.on_click(lambda _b: self.sync())
        self.refresh_button.on_click(lambda _b: self.run(self._refresh))
        self.status.show("info", f"Store at {self.store.path}")
        if load:
            self.run(self._refresh)

    def _names(self) -> list[str]:
        return [n.strip() for n in self.reports.value.split(",") if n.strip()]

    def sync(self) -> None:
        """Start a sync on the worker thread and return at once (``wait()`` joins it)."""
        self.progress.value, self.progress.max = 0, 1
        self.progress.layout.visibility = "visible"
        self.status.show("busy", "Syncing…")
        self.run(self._sync, self._names(), self.backfill.value)

    def _on_progress(self, done: int, total: int) -> None:
        self.progress.max = max(total, 1)
        self.progress.value = done

    def _sync(self, names: list[str], backfill: bool) -> None:
        result = self.store.sync(self.client, reports=names, backfill=backfill, progress=self._on_progress)
        self.result = result
        failed = result[result["status"] == "failed"]
        pending = int((result["status"] == "pending").sum())
        text = (
            f"Synced: {int(result['new_instances'].sum()):,} new instance(s), {int(result['rows'].sum()):,} rows, "
            f"{int(result['api_calls'].sum()):,} API call(s)."
        )
        if (
            pending
        ):  # why, in the store's own words (a snapshot not made yet, or a new request's first reports)
            why = sorted({str(e) for e in result.loc[result["status"] == "pending", "error"].dropna()})
            text += f" {pending} part(s) pending:" + "".join(f"\n{w}" for w in why[:5])
        notes = sorted({str(e) for e in result.loc[result["status"] == "ok", "error"].dropna()})
        text += "".join(
            f"\n{n}" for n in notes[:5]
        )  # what the sync recovered from (a request deleted meanwhile)
        if len(failed):
            text += "\n" + "\n".join(f"{r.app_id} {r.report}: {r.error}" for r in failed.itertuples())
        self.progress.value = self.progress.max
        self._refresh()
        self.status.show("error" if len(failed) else "ok", text)

    def repair(self) -> None:
        """Carry out ``store.repair_plan()`` on the worker thread and return at once (``wait()`` joins it)."""
        self.status.show("busy", "Repairing…")
        self.run(self._repair)

    def _repair(self) -> None:
        from asc_nb.store.repair import repair

        try:
            plan, synced = repair(self.store, self.client)
        except Exception as exc:  # said in words in the status line, never a traceback
            self.error = exc
            with contextlib.suppress(Exception):
                self._refresh()
            self.status.show("error", f"Repair stopped: {_plain(exc, self.store)}")
            return
        self.plan = plan
        self._refresh()
        acted = plan[plan["action"].isin(["resync", "snapshot", "ensure_ongoing"])]
        left = plan[plan["action"].isin(["wait", "not_repairable"])]
        pending = 0 if synced.empty else int((synced["status"] == "pending").sum())
        failed = synced[synced["status"] == "failed"] if len(synced) else synced
        if plan.empty:
            text = "Nothing to repair: every date is final, provisional or restated."
        else:
            text = f"Repair: {len(acted)} action(s) carried out"
            if pending:
                text += (
                    f"; {pending} part(s) pending (a ONE_TIME_SNAPSHOT Apple makes in 1-2 days: press Repair "
                    "again then)"
                )
            if len(left):
                text += f"; {len(left)} range(s) cannot be repaired now:"
                text += "".join(
                    f"\n{r.app_id} {r.report or ''} {'' if pd.isna(r.start) else f'{r.start:%Y-%m-%d}'}: "
                    f"{r.reason}"
                    for r in left.head(5).itertuples(index=False)
                )
        if len(failed):
            text += "\n" + "\n".join(f"{r.app_id} {r.report}: {r.error}" for r in failed.itertuples())
        self.status.show("error" if len(failed) else "warn" if len(left) or pending else "ok", text)

    def _refresh(self) -> None:
        try:
            self.ledger = self.store.health()
            self.ledger_view.value = ledger_html(self.ledger)
        except Exception as exc:  # an unreadable store: say so, keep the rest of the tab working
            self.ledger = None
            self.ledger_view.value = (
                f'<div class="asc-nb-ledger" style="color:var(--jp-error-color1)">'
                f"{html.escape(_plain(exc, self.store))}</div>"
            )
        self.plan_view.value = (
            "" if self.plan is None or self.plan.empty else frame_html(self.plan, empty="", max_rows=15)
        )
        try:
            coverage = self.store.coverage()
        except Exception as exc:  # noqa: BLE001 - the same unreadable store: in words, not a traceback
            self.heatmap.value = ""
            self.table.value = ""
            self.frame = None
            self.status.show("error", _plain(exc, self.store))
            return
        self.heatmap.value = coverage_heatmap(coverage)
        summary = coverage.summary() if hasattr(coverage, "summary") else coverage
        self.table.value = frame_html(summary, empty="The store is empty.")
        self.frame = pd.DataFrame(coverage)

    def _code(self) -> str:
        return "df = store.coverage()"

    def default_export_name(self) -> str:
        return "store-coverage.csv"
