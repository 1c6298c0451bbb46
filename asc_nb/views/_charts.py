"""Chart conventions for every view: counts start at zero, units in the axis labels, provisional marked.

matplotlib (a core dependency) draws off-screen with the Agg canvas: no pyplot state, no display,
the same PNG/SVG in a notebook, a test and the offline report.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from asc_nb import metrics as M

BLUE, GREY, ORANGE, INK = "#3b7dd8", "#9aa4b1", "#e07b39", "#333333"
PALETTE = ("#3b7dd8", "#e07b39", "#3aa776", "#9b59b6", "#c0392b", "#16a5a5", "#7f8c8d", "#d4ac0d")


def unit_label(metric: str, per: str = "") -> str:
    """An axis label with the unit: ``sessions per day (count)``, ``session duration (seconds)``."""
    m = M.METRICS[metric]
    name = metric.replace("_", " ") + (f" {per}" if per else "")
    unit = {"fraction": "%"}.get(m.unit, m.unit)
    return f"{name} (count)" if unit == metric.replace("_", " ") else f"{name} ({unit})"


def style(ax: Any, *, ylabel: str = "", xlabel: str = "", zero: bool = True, title: str = "") -> None:
    """Plain axes: no top/right spines, y from zero for counts, small grey grid."""
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.grid(axis="y", color="#e3e6ea", lw=0.8)
    ax.set_axisbelow(True)
    ax.tick_params(labelsize=8, colors=INK)
    if ylabel:
        ax.set_ylabel(ylabel, fontsize=8, color=INK)
    if xlabel:
        ax.set_xlabel(xlabel, fontsize=8, color=INK)
    if title:
        ax.set_title(title, fontsize=9, color=INK, loc="left")
    if zero:
        lo, hi = ax.get_ylim()
        ax.set_ylim(0, max(hi, 1e-9) if lo >= 0 or hi > 0 else 1)


def percent_axis(ax: Any) -> None:
    from matplotlib.ticker import PercentFormatter

    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))


def thousands(ax: Any, axis: str = "y") -> None:
    from matplotlib.ticker import FuncFormatter

    fmt = FuncFormatter(lambda v, _p: f"{v:,.0f}")
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(fmt)


def legend(ax: Any, **kw: Any) -> None:
    ax.legend(fontsize=7, frameon=False, **kw)


def colours(n: int) -> Sequence[str]:
    return [PALETTE[i % len(PALETTE)] for i in range(n)]
