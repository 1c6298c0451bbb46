"""One self-contained HTML page: inline CSS, an inline table sorter, charts as data-URI PNGs, no fonts to fetch.

Nothing in the page refers to the network (no CDN, no web font, no external image): it reads the
same from a mail attachment, a file share or a browser with networking off. Tables are sortable by
clicking a header (a 30-line script below; numbers sort by the raw value kept in ``data-v``).
"""

from __future__ import annotations

import datetime as dt
import html
import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["page", "table_html", "fmt"]

CSS = """
:root { --ink: #1f2328; --muted: #59636e; --line: #d8dee4; --bg2: #f6f8fa; --accent: #3b7dd8; --warn: #9a6700; }
* { box-sizing: border-box; }
body { font-family: -apple-system, BlinkMacSystemFont, "Segoe UI", Helvetica, Arial, sans-serif; color: var(--ink);
       margin: 0 auto; max-width: 1100px; padding: 24px; line-height: 1.45; font-size: 14px; }
h1 { font-size: 24px; margin: 0 0 4px; } h2 { font-size: 18px; margin: 32px 0 6px; border-bottom: 1px solid var(--line); }
.meta { color: var(--muted); font-size: 13px; }
.kpis { display: flex; flex-wrap: wrap; gap: 10px; margin: 14px 0; }
.kpi { border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; min-width: 150px; }
.kpi .name { color: var(--muted); font-size: 12px; } .kpi .value { font-size: 22px; font-weight: 600; }
.kpi .delta { font-size: 12px; } .up { color: #1a7f37; } .down { color: #cf222e; }
.bound { color: var(--warn); font-size: 11px; }
figure { margin: 8px 0; } figure img { max-width: 100%; height: auto; border: 1px solid var(--line); }
table.sortable { border-collapse: collapse; font-size: 12px; margin: 6px 0; }
table.sortable th, table.sortable td { border-bottom: 1px solid var(--line); padding: 3px 8px; text-align: right;
       white-space: nowrap; }
table.sortable th { background: var(--bg2); cursor: pointer; user-select: none; position: sticky; top: 0; }
table.sortable th.text, table.sortable td.text { text-align: left; }
table.sortable th[aria-sort=ascending]::after { content: " \\25B2"; }
table.sortable th[aria-sort=descending]::after { content: " \\25BC"; }
tr.provisional td { background: #fff8c5; }
.scroll { max-height: 420px; overflow: auto; display: inline-block; max-width: 100%; }
pre.code { background: var(--bg2); padding: 8px 10px; overflow-x: auto; font-size: 12px; border-radius: 6px; }
.notes li { color: var(--muted); }
.legend { font-size: 12px; color: var(--muted); }
.legend span.provisional { background: #fff8c5; padding: 0 4px; }
@media print { .scroll { max-height: none; overflow: visible; } h2 { break-after: avoid; } figure { break-inside: avoid; } }
"""

#: the table sorter: click a header to sort by it, again to reverse; numbers by data-v, text by its letters
SORTER = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("th").forEach(function (th, col) {
    th.addEventListener("click", function () {
      var asc = th.getAttribute("aria-sort") !== "ascending";
      table.querySelectorAll("th").forEach(function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", asc ? "ascending" : "descending");
      var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
      function key(row) {
        var cell = row.cells[col], v = cell.getAttribute("data-v");
        return v === null ? cell.textContent : (v === "" ? NaN : parseFloat(v));
      }
      rows.sort(function (a, b) {
        var x = key(a), y = key(b), r;
        if (typeof x === "number" && typeof y === "number") {
          if (isNaN(x)) return 1; if (isNaN(y)) return -1; r = x - y;
        } else { r = String(x).localeCompare(String(y)); }
        return asc ? r : -r;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
"""


def fmt(value: Any, unit: str = "", bound: str = "") -> str:
    """A value as a person reads it: thousands separators, % for fractions, ≤/≥ for bounds, — for missing."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return "—"
    sign = {"upper bound": "≤ ", "lower bound": "≥ ", "bound": "≈ "}.get(bound or "", "")
    if isinstance(value, pd.Timestamp | dt.date):
        return pd.Timestamp(value).date().isoformat()
    if isinstance(value, bool):
        return "yes" if value else ""
    if isinstance(value, bool | np.bool_):
        return "yes" if value else ""
    if unit == "fraction" and isinstance(value, numbers.Real):
        return f"{sign}{float(value):.1%}"
    if isinstance(value, numbers.Integral) or (
        isinstance(value, numbers.Real) and float(value).is_integer() and unit != "USD"
    ):
        return f"{sign}{int(value):,}"
    if isinstance(value, numbers.Real):
        value = float(value)
        return f"{sign}{value:,.2f}" if abs(value) >= 1 or unit == "USD" else f"{sign}{value:.3f}"
    return html.escape(str(value))


def _raw(value: Any) -> str | None:
    """The sort key kept in ``data-v`` for numbers and dates (``None`` for text)."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, pd.Timestamp | dt.date):
        return str(pd.Timestamp(value).value // 10**9)
    if isinstance(value, bool | np.bool_):
        return "1" if value else "0"
    if isinstance(value, numbers.Real):
        return repr(float(value))
    return None


def table_html(
    frame: pd.DataFrame,
    *,
    units: dict[str, str] | None = None,
    bounds: dict[str, str] | None = None,
    provisional: Sequence[bool] | None = None,
    fractions: Sequence[str] = (),
    max_rows: int = 2000,
) -> str:
    """A sortable table of every row (up to ``max_rows``; the caption says when cut); provisional rows tinted.

    ``units`` and ``bounds`` map column -> unit / bound for formatting; a frame with ``unit`` and
    ``bound`` columns formats each row's value columns by them.
    """
    units, bounds = dict(units or {}), dict(bounds or {})
    shown = frame.head(max_rows)
    cols = [c for c in shown.columns]
    head = "".join(
        f'<th class="{"num" if pd.api.types.is_numeric_dtype(shown[c]) else "text"}">{html.escape(str(c))}</th>'
        for c in cols
    )
    body = []
    values = ("current", "previous", "change", "value")
    for i, row in enumerate(shown.itertuples(index=False)):
        rec = dict(zip(cols, row, strict=True))
        row_unit = str(rec.get("unit") or "")
        row_bound = str(rec.get("bound") or "")
        cells = []
        for c in cols:
            v = rec[c]
            unit = "fraction" if c in fractions else units.get(c, row_unit if c in values else "")
            bound = bounds.get(c, row_bound if c in values else "")
            if c == "change" and row_unit == "fraction":
                text = "—" if v is pd.NA else f"{float(v) * 100:+.1f} pts"
            else:
                text = fmt(v, unit, bound)
            raw = _raw(v)
            attr = "" if raw is None else f' data-v="{raw}"'
            cls = "text" if raw is None else "num"
            cells.append(f'<td class="{cls}"{attr}>{text}</td>')
        prov = provisional is not None and bool(list(provisional)[i])
        body.append(f"<tr{' class=provisional' if prov else ''}>{''.join(cells)}</tr>")
    cut = (
        f'<caption class="meta">first {max_rows:,} of {len(frame):,} rows (the CSV export has all)</caption>'
        if len(frame) > max_rows
        else ""
    )
    return (
        f'<div class="scroll"><table class="sortable">{cut}<thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def page(title: str, sections: Sequence[str]) -> str:
    """The whole document around ``sections`` (already HTML)."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>"
        + "\n".join(sections)
        + f"<script>{SORTER}</script></body></html>\n"
    )
