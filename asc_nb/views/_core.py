"""What every view shares: the :class:`View` result, the as-of day, provisional dates, code literals.

A view is a question answered through ``source.metrics(...)`` (a Client or a Store: anything with
that method) plus a little pandas: the tidy ``frame``, a matplotlib chart drawn from that frame only,
and ``code`` — Python that, run with ``client``/``store`` bound, leaves ``df`` equal to ``frame``.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from asc_nb import metrics as M
from asc_nb import registry
from asc_nb.errors import MetricError
from asc_nb.models import iso_date

__all__ = [
    "View",
    "reference_day",
    "complete_after",
    "provisional_mask",
    "source_name",
    "day",
    "ask",
    "as_of_arg",
]


def day(value: Any, what: str) -> dt.date:
    """A date argument (ISO text, date, Timestamp) as a ``date``; a typed error says what was wrong."""
    if value is None:
        raise MetricError(f"{what} is required")
    try:
        return iso_date(value, what)
    except ValueError as err:
        raise MetricError(str(err)) from None


def reference_day(source: Any, as_of: Any = None) -> dt.date:
    """Apple's "today" for this source: ``as_of`` when given, a store's reference day (its newest
    processing date), the sandbox's simulated clock, else the real UTC date."""
    if as_of is not None:
        return day(as_of, "as_of")
    ref = getattr(source, "reference_day", None)
    if isinstance(ref, dt.date):
        return ref
    sandbox = getattr(source, "sandbox", None)
    now = getattr(sandbox, "now", None) if sandbox is not None else None
    if isinstance(now, dt.datetime):
        return now.date()
    return dt.datetime.now(dt.timezone.utc).date()


def complete_after(metrics: Iterable[str]) -> int:
    """Days after which every report behind ``metrics`` is final (the registry's ``complete_after_days``)."""
    days = 0
    for name in metrics:
        for report in M.METRICS[name].reports:
            days = max(days, int(getattr(registry.get(report), "complete_after_days", 2)))
    return days


def provisional_mask(frame: pd.DataFrame, metrics: Iterable[str], ref: dt.date) -> pd.Series:
    """True for the rows whose ``date`` is still inside the completeness window seen from ``ref``.

    A ``provisional`` column the metrics layer already added is respected (either says provisional);
    otherwise a date ``d`` is provisional when ``d > ref - complete_after_days``.
    """
    if "date" not in frame.columns or frame.empty:
        return pd.Series(False, index=frame.index, dtype=bool)
    last_final = pd.Timestamp(ref - dt.timedelta(days=complete_after(metrics)))
    mine = pd.to_datetime(frame["date"]) > last_final
    if "provisional" in frame.columns:
        mine = mine | frame["provisional"].astype("boolean").fillna(False).astype(bool)
    return mine.astype(bool)


def ask(source: Any, app_ids: Any, metrics: Any, *, as_of: Any = None, **kw: Any) -> pd.DataFrame:
    """``source.metrics(...)``, passing ``as_of`` on when given: what Apple had published by that day
    (``client.metrics`` and ``store.metrics`` both take it)."""
    if as_of is not None:
        kw["as_of"] = day(as_of, "as_of").isoformat()
    return source.metrics(app_ids, metrics, **kw)


def as_of_arg(as_of: Any) -> str:
    """The ``, as_of='…'`` of a view's shown code (empty without one)."""
    return "" if as_of is None else f", as_of={day(as_of, 'as_of').isoformat()!r}"


def source_name(source: Any) -> str:
    """The variable the shown code uses: ``store`` for a Store, else ``client`` (a wrapper says via ``code_name``)."""
    named = getattr(source, "code_name", None)
    if isinstance(named, str):
        return named
    return "store" if type(source).__name__.lower().endswith("store") else "client"


def lit(values: Sequence[Any]) -> str:
    return "[" + ", ".join(repr(str(v)) for v in values) + "]"


def strip(frame: pd.DataFrame, keep: Sequence[str] = ()) -> pd.DataFrame:
    """Only the columns a view uses (the metrics layer may add more, e.g. ``provisional``)."""
    return frame[[c for c in keep if c in frame.columns]]


@dataclass
class View:
    """One answer: ``frame`` (tidy), ``chart()`` (a matplotlib Figure), ``code``, ``notes``, ``as_of``.

    ``bounds`` names the columns (or metric values) that are bounds rather than exact numbers;
    ``provisional`` is how many of the frame's dates Apple may still revise.
    """

    name: str
    title: str
    frame: pd.DataFrame
    code: str
    draw: Callable[[Any, pd.DataFrame], None] = field(repr=False)
    notes: list[str] = field(default_factory=list)
    as_of: dt.date | None = None
    provisional: int = 0
    bounds: dict[str, str] = field(default_factory=dict)
    size: tuple[float, float] = (7.5, 3.4)

    def chart(self) -> Any:
        """A new matplotlib Figure of this view (drawn off-screen: no pyplot state is touched)."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        fig = Figure(figsize=self.size, dpi=100)
        FigureCanvasAgg(fig)
        self.draw(fig, self.frame)
        fig.tight_layout()
        return fig

    def png(self, dpi: int = 100) -> bytes:
        """The chart as PNG bytes (deterministic for the same data and matplotlib)."""
        buf = io.BytesIO()
        self.chart().savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
        return buf.getvalue()

    def svg(self) -> str:
        """The chart as SVG text (fonts as paths: it reads anywhere)."""
        import matplotlib

        buf = io.StringIO()
        with matplotlib.rc_context({"svg.fonttype": "path", "svg.hashsalt": "asc-nb"}):
            self.chart().savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
        return buf.getvalue()

    def png_data_uri(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.png()).decode("ascii")

    def notes_text(self) -> str:
        marks = []
        if self.as_of is not None:
            marks.append(f"as of {self.as_of.isoformat()}")
        if self.provisional:
            marks.append(f"{self.provisional} provisional date(s): Apple may still revise them")
        return "; ".join(marks + list(self.notes))

    def _repr_html_(self) -> str:
        """A static rendering (title, chart, table, notes) that reads without a kernel."""
        table = self.frame.to_html(index=False, border=0, na_rep="—", escape=True, max_rows=40)
        notes = html.escape(self.notes_text())
        return (
            f'<div class="asc-nb-view" data-view="{html.escape(self.name)}">'
            f"<h4>{html.escape(self.title)}</h4>"
            f'<img alt="{html.escape(self.title)}" src="{self.png_data_uri()}">'
            f"<p>{notes}</p>{table}</div>"
        )

    def __repr__(self) -> str:
        return f"View({self.name!r}, {len(self.frame)} rows, as_of={self.as_of})"
