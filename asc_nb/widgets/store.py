"""The Store tab: what the local store holds (a coverage heat-map, at-risk dates highlighted) and a Sync button.

The sync runs on the panel's worker thread (the notebook stays usable), reporting through a
progress bar; ``panel.wait()`` joins it. ``.frame`` is ``store.coverage()``; ``.code`` says so.
"""

from __future__ import annotations

import html

import ipywidgets as w
import pandas as pd

from asc_nb.protocols import WidgetClient
from asc_nb.store import DEFAULT_REPORTS, Store

from ._common import Panel, Status, frame_html, heading

__all__ = ["StorePanel", "coverage_heatmap"]

#: status -> cell colour (JupyterLab theme variables: follows light and dark themes)
_COLOURS = {"stored": "var(--jp-success-color1)", "missing": "var(--jp-layout-color3)",
            "at_risk": "var(--jp-error-color1)"}
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
    return (f'<div class="asc-nb-heatmap" style="overflow-x:auto"><table>{"".join(rows)}</table>'
            f'<div style="color:var(--jp-ui-font-color2);font-size:var(--jp-ui-font-size0)">{legend}</div></div>')


class StorePanel(Panel):
    """Coverage of a :class:`~asc_nb.Store` and a Sync button that never blocks the notebook.

    Handles: ``.reports`` (comma-separated names), ``.backfill``, ``.sync_button``, ``.refresh_button``,
    ``.progress`` (instances done / planned), ``.heatmap``, ``.result`` (the last sync's DataFrame),
    ``.frame`` (``store.coverage()``).
    """

    def __init__(self, client: WidgetClient, store: Store | None = None, *, reports: tuple[str, ...] = DEFAULT_REPORTS,
                 load: bool = True) -> None:
        self.store = store if store is not None else Store()
        self.status = Status()
        self.reports = w.Text(value=", ".join(reports), description="Reports", layout=w.Layout(width="640px"))
        self.backfill = w.Checkbox(value=False, description="Backfill (ONE_TIME_SNAPSHOT)", indent=False)
        self.sync_button = w.Button(description="Sync", icon="refresh", button_style="primary",
                                    tooltip="Fetch what is new into the store (runs in the background)")
        self.refresh_button = w.Button(description="Refresh", icon="eye", tooltip="Re-read the store's coverage")
        self.progress = w.IntProgress(value=0, min=0, max=1, description="Sync", layout=w.Layout(width="420px"))
        self.progress.layout.visibility = "hidden"
        self.heatmap = w.HTML()
        self.table = w.HTML()
        self.result: pd.DataFrame | None = None
        super().__init__(
            [heading("Local store"), w.HBox([self.reports]), w.HBox([self.sync_button, self.backfill,
                                                                     self.refresh_button, self.progress]),
             self.status, self.heatmap, self.table],
            client=client,
        )
        self.children = (*self.children, self.tools)  # the Show code / Export row exists once Panel built it
        self.busy_controls = [self.sync_button, self.refresh_button, self.reports, self.backfill]
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
        text = (f"Synced: {int(result['new_instances'].sum()):,} new instance(s), {int(result['rows'].sum()):,} rows, "
                f"{int(result['api_calls'].sum()):,} API call(s).")
        if pending:  # why, in the store's own words (a snapshot not made yet, or a new request's first reports)
            why = sorted({str(e) for e in result.loc[result["status"] == "pending", "error"].dropna()})
            text += f" {pending} part(s) pending:" + "".join(f"\n{w}" for w in why[:5])
        notes = sorted({str(e) for e in result.loc[result["status"] == "ok", "error"].dropna()})
        text += "".join(f"\n{n}" for n in notes[:5])  # what the sync recovered from (a request deleted meanwhile)
        if len(failed):
            text += "\n" + "\n".join(f"{r.app_id} {r.report}: {r.error}" for r in failed.itertuples())
        self.progress.value = self.progress.max
        self._refresh()
        self.status.show("error" if len(failed) else "ok", text)

    def _refresh(self) -> None:
        coverage = self.store.coverage()
        self.heatmap.value = coverage_heatmap(coverage)
        summary = coverage.summary() if hasattr(coverage, "summary") else coverage
        self.table.value = frame_html(summary, empty="The store is empty.")
        self.frame = pd.DataFrame(coverage)

    def _code(self) -> str:
        return "df = store.coverage()"

    def default_export_name(self) -> str:
        return "store-coverage.csv"
