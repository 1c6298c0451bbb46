"""Honest charts of a report: a metric (not a raw column sum), y from zero, provisional days marked.

``chart_data(frame, report, ...)`` is the frame behind every chart the explorer draws, in long
form: ``date``, the breakdown dimension when one is chosen, one column per plotted measure, and
``complete`` (False for dates still inside the report's completeness window, whose numbers Apple
may still revise). It is plain pandas, so a notebook can draw the same chart itself.

Why a metric: App Downloads rows count every kind of download — first-time downloads, redownloads,
auto-updates, manual updates and restores. Summing ``counts`` over every row mixes updates of
existing users into "downloads"; the default measure is first-time downloads + redownloads (the
download types a new or returning user chose), and the picker offers the others by name.

Why no summing of unique counts: a unique count (unique devices, users) of two rows, two days or
two territories cannot be added — one device may sit in both. ``chart_data`` refuses with
:class:`~asc_nb.errors.NonAdditiveMetricError` instead of drawing an over-count.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pandas as pd

from asc_nb.errors import ConfigError, NonAdditiveMetricError
from asc_nb.registry import get as registry_get

#: Apple: most reports are complete after two days; the registry knows the exceptions
DEFAULT_COMPLETE_AFTER_DAYS = 2
#: columns that are never measures or breakdowns
PROVENANCE = ("processing_date", "instance_id", "segment_id", "date")
NOT_MEASURES = ("app_apple_identifier",)
#: measures plotted first when a report has them
PREFERRED = (
    "downloads",
    "counts",
    "sessions",
    "crashes",
    "total_downloads",
    "unique_devices",
    "unique_counts",
)

FIRST_TIME, REDOWNLOAD = "First-time Download", "Redownload"


@dataclass(frozen=True)
class Measure:
    """A plotted quantity: the sum of ``column`` over the rows whose ``where`` dimension has one of the values."""

    key: str
    label: str
    column: str
    where: tuple[str, tuple[str, ...]] | None = None
    additive: bool = True


def _schema(report: str | None) -> Any:
    """The registry's entry for ``report`` (``None`` for a report it does not know: the frame's columns decide)."""
    if not report:
        return None
    try:
        return registry_get(report)
    except Exception:
        return None


def complete_days(report: str | None) -> int:
    """Days after which Apple's numbers for a date are final (registry value; else Apple's general two days)."""
    schema = _schema(report)
    days = getattr(schema, "complete_after_days", None)
    return int(days) if isinstance(days, int) and days >= 0 else DEFAULT_COMPLETE_AFTER_DAYS


def human(column: str, report: str | None = None) -> str:
    """Apple's header text for a column ("first_time_downloads" -> "First Time Downloads" without the registry)."""
    schema = _schema(report)
    if schema is not None:
        try:
            return str(schema.field(column).name)
        except Exception:
            pass
    special = {"processing_date": "Processing Date", "instance_id": "Instance", "segment_id": "Segment"}
    return special.get(column, str(column).replace("_", " ").title())


def _additive(column: str, report: str | None) -> bool:
    schema = _schema(report)
    if schema is not None:
        try:
            flag = schema.field(column).additive
            if flag is not None:
                return bool(flag)
        except Exception:
            pass
    return not str(column).startswith("unique")


def _numeric_columns(frame: pd.DataFrame) -> list[str]:
    return [
        c for c in frame.columns
        if pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
        and c not in NOT_MEASURES and c not in PROVENANCE and not str(c).endswith(("_id", "identifier"))
    ]  # fmt: skip


def measure_columns(frame: pd.DataFrame) -> list[str]:
    """The frame's measure columns (numbers that are not ids or provenance), in the frame's order."""
    return _numeric_columns(frame)


def measure_options(frame: pd.DataFrame, report: str | None = None) -> list[Measure]:
    """The measures a chart of ``frame`` may plot, the default first."""
    found: list[Measure] = []
    if "download_type" in frame.columns and "counts" in frame.columns:
        found += [
            Measure("downloads", "Downloads (first-time + redownloads)", "counts",
                    ("download_type", (FIRST_TIME, REDOWNLOAD))),
            Measure("first_time_downloads", "First-time downloads", "counts", ("download_type", (FIRST_TIME,))),
            Measure("redownloads", "Redownloads", "counts", ("download_type", (REDOWNLOAD,))),
            Measure("updates", "Updates (auto + manual)", "counts",
                    ("download_type", ("Auto-update", "Manual update"))),
            Measure("restores", "Restores", "counts", ("download_type", ("Restore",))),
            Measure("counts", "All download types (incl. updates and restores)", "counts"),
        ]  # fmt: skip
        skip = {"counts"}
    else:
        skip = set()
    for col in _numeric_columns(frame):
        if col not in skip:
            additive = _additive(col, report)
            label = human(col, report) + ("" if additive else " (unique: never summed)")
            found.append(Measure(col, label, col, None, additive))
    rank = {k: i for i, k in enumerate(PREFERRED)}
    head = [m for m in found if m.key in rank]
    head.sort(key=lambda m: rank[m.key])
    return head[:1] + [m for m in found if m is not (head[0] if head else None)]


def dimensions(frame: pd.DataFrame, report: str | None = None) -> list[str]:
    """Columns a chart can break down by (text columns that vary; not provenance or the app's name)."""
    schema = _schema(report)
    names = [getattr(f, "column", None) for f in getattr(schema, "dimensions", ()) or ()] if schema else []
    cols = [c for c in names if c in frame.columns] or [
        c for c in frame.columns
        if (pd.api.types.is_string_dtype(frame[c]) or isinstance(frame[c].dtype, pd.CategoricalDtype))
        and c not in PROVENANCE
    ]  # fmt: skip
    return [c for c in cols if c != "app_name" and frame[c].nunique(dropna=True) > 1]


def _period_start(dates: pd.Series, period: str | None) -> pd.Series:
    if period is None or period == "DAILY":
        return dates
    if period == "WEEKLY":
        return dates - pd.to_timedelta(dates.dt.day_of_week, unit="D")
    if period == "MONTHLY":
        return dates.dt.to_period("M").dt.to_timestamp()
    raise ConfigError(f"period must be None, 'WEEKLY' or 'MONTHLY'; got {period!r}")


def _period_end(start: pd.Timestamp, granularity: str) -> pd.Timestamp:
    if granularity == "WEEKLY":
        return start + pd.Timedelta(days=6)
    if granularity == "MONTHLY":
        return start + pd.offsets.MonthEnd(0)
    return start


def _chosen(
    frame: pd.DataFrame,
    report: str | None,
    measures: list[str] | tuple[str, ...] | str | None,
    breakdown: str | None,
    top: int,
) -> list[Measure]:
    """Stage 1: the measures asked for (the report's default when none), arguments checked."""
    available = {m.key: m for m in measure_options(frame, report)}
    if measures is None:
        chosen = list(available)[:1]
    else:
        chosen = [measures] if isinstance(measures, str) else list(measures)
    unknown = [k for k in chosen if k not in available]
    if unknown or not chosen:
        raise ConfigError(
            f"Unknown measure(s) {unknown or chosen} for {report or 'this frame'}; "
            f"choose from {sorted(available)}"
        )
    _check_breakdown(frame, report, breakdown, top)
    return [available[k] for k in chosen]


def _check_breakdown(frame: pd.DataFrame, report: str | None, breakdown: str | None, top: int) -> None:
    if breakdown is not None and breakdown not in frame.columns:
        raise ConfigError(f"Cannot break down by {breakdown!r}: choose one of {dimensions(frame, report)}")
    if not isinstance(top, int) or top < 1:
        raise ConfigError(f"top must be a whole number >= 1; got {top!r}")


def _empty(keys: list[str], picked: list[Measure]) -> pd.DataFrame:
    """The typed, empty frame of a chart of no rows."""
    out = pd.DataFrame({k: pd.Series(dtype="datetime64[ns]" if k == "date" else "string") for k in keys})
    for m in picked:
        out[m.key] = pd.Series(dtype="Int64")
    out["complete"] = pd.Series(dtype="bool")
    return out


def _measure_values(frame: pd.DataFrame, m: Measure) -> pd.Series:
    """One measure per row: the column where the row matches the measure's filter, else 0."""
    vals = frame[m.column]
    if m.where is not None:
        dim, allowed = m.where
        # by value, ignoring case, as asc_nb.metrics does: Apple's glossaries spell these two ways
        # ("First-time Download" / "First-time download"), and a miss would silently plot zero
        wanted = {v.casefold() for v in allowed}
        vals = vals.where(frame[dim].astype("string").str.casefold().isin(wanted).fillna(False), 0)
    return vals.astype("Int64") if pd.api.types.is_integer_dtype(vals) else vals


def _rows(
    frame: pd.DataFrame, picked: list[Measure], breakdown: str | None, period: str | None
) -> pd.DataFrame:
    """Stage 2: one row per input row: the (period's) date, the breakdown value, each measure."""
    when = "date" if "date" in frame.columns else "Date"
    base = pd.DataFrame({"date": _period_start(pd.to_datetime(frame[when]), period)})
    if breakdown:
        base[breakdown] = frame[breakdown].astype("string").fillna("(none)")
    for m in picked:
        base[m.key] = _measure_values(frame, m)
    return base


def _refuse_summed_uniques(
    base: pd.DataFrame,
    frame: pd.DataFrame,
    report: str | None,
    picked: list[Measure],
    keys: list[str],
    breakdown: str | None,
    period: str | None,
    granularity: str,
) -> None:
    """Stage 3: a unique count is never added up (over days into a period, or over rows of one date)."""
    for m in (m for m in picked if not m.additive):
        if period not in (None, "DAILY", granularity):
            raise NonAdditiveMetricError(
                f"{m.label} is a unique count: summing days into weeks or months would count a device once a day. "
                f"Download the {period} instances instead, whose unique counts Apple computed for the period."
            )
        rows = base.groupby(keys, dropna=False).size()
        if (rows > 1).any():
            others = ", ".join(c for c in dimensions(frame, report) if c != breakdown) or "dimension value"
            raise NonAdditiveMetricError(
                f"{m.label} is a unique count: a date has {int(rows.max())} rows (one per {others}) "
                "and adding them would count a device in several rows more than once. Choose an additive measure."
            )


def _top_values(base: pd.DataFrame, breakdown: str, first: str, top: int) -> list[str]:
    """Stage 4: the ``top`` breakdown values by the first measure's total; the others become "Other" in place."""
    totals = base.groupby(breakdown)[first].sum().sort_values(ascending=False, kind="stable")
    keep = list(totals.index[:top])
    if len(totals) > top:
        base[breakdown] = base[breakdown].where(base[breakdown].isin(keep), "Other")
    return keep


def _aggregate(
    base: pd.DataFrame, keys: list[str], picked: list[Measure], breakdown: str | None, keep: list[str]
) -> pd.DataFrame:
    """Stage 5: the sum per date (and breakdown value), in a fixed order: by date, then top values, then Other."""
    out = base.groupby(keys, dropna=False, sort=True)[[m.key for m in picked]].sum(min_count=1).reset_index()
    if breakdown:
        order = {v: i for i, v in enumerate(keep + ["Other"])}
        out = out.sort_values(
            ["date", breakdown], key=lambda s: s.map(order) if s.name == breakdown else s, kind="stable"
        ).reset_index(drop=True)
        out[breakdown] = out[breakdown].astype("string")
    return out


def _mark_complete(
    out: pd.DataFrame,
    report: str | None,
    period: str | None,
    granularity: str,
    complete_after_days: int | None,
    today: date | str | None,
) -> pd.DataFrame:
    """Stage 6: ``complete`` is False for a date (or period end) inside the report's completeness window."""
    days = complete_after_days if complete_after_days is not None else complete_days(report)
    today_ts = pd.Timestamp(today if today is not None else date.today()).normalize()
    grain = period if period in ("WEEKLY", "MONTHLY") else granularity
    last_final = today_ts - pd.Timedelta(days=days)
    out["complete"] = [bool(_period_end(d, grain) <= last_final) for d in out["date"]]
    return out


def chart_data(
    frame: pd.DataFrame,
    report: str | None = None,
    *,
    measures: list[str] | tuple[str, ...] | str | None = None,
    breakdown: str | None = None,
    top: int = 5,
    period: str | None = None,
    granularity: str = "DAILY",
    complete_after_days: int | None = None,
    today: date | str | None = None,
) -> pd.DataFrame:
    """The long-form frame behind a chart: ``date``, [``breakdown``], one column per measure, ``complete``.

    ``measures``: keys from :func:`measure_options` (default: the report's default measure). ``breakdown``:
    one dimension; its ``top`` values by the first measure's total keep their name, the rest become
    "Other". ``period``: "WEEKLY"/"MONTHLY" re-aggregates the dates (additive measures only).
    ``complete`` is False for a date (or a week/month ending) less than ``complete_after_days``
    (default: the registry's value, else 2) before ``today`` (default: the real date).

    Stages, each a function of its own: choose the measures, one row per input row, refuse summed
    unique counts, keep the top breakdown values, sum per date, mark the provisional dates.
    """
    picked = _chosen(frame, report, measures, breakdown, top)
    keys = ["date"] + ([breakdown] if breakdown else [])
    if frame.empty:
        return _empty(keys, picked)
    base = _rows(frame, picked, breakdown, period)
    _refuse_summed_uniques(base, frame, report, picked, keys, breakdown, period, granularity)
    keep = _top_values(base, breakdown, picked[0].key, top) if breakdown else []
    out = _aggregate(base, keys, picked, breakdown, keep)
    return _mark_complete(out, report, period, granularity, complete_after_days, today)


#: chart text and axes: dark on the chart's own white background, so it reads in light and dark themes alike
INK = "#262626"
PAPER = "#ffffff"
BAND_LABEL = "provisional (Apple may still revise)"


def _series(data: pd.DataFrame, labels: dict[str, str]) -> list[tuple[str, pd.Series]]:
    """The lines to draw: one per breakdown value (first measure), else one per measure."""
    value_cols = [
        c for c in data.columns if c not in ("date", "complete") and pd.api.types.is_numeric_dtype(data[c])
    ]
    group_cols = [c for c in data.columns if c not in value_cols and c not in ("date", "complete")]
    if group_cols:
        return [
            (str(name), part.set_index("date")[value_cols[0]])
            for name, part in data.groupby(group_cols[0], sort=False)
        ]
    return [(labels.get(value, value), data.set_index("date")[value]) for value in value_cols]


def plot_chart(data: pd.DataFrame, *, title: str = "", labels: dict[str, str] | None = None) -> Any:
    """The explorer's chart of ``chart_data`` output as a matplotlib ``Figure`` (the panel draws exactly this).

    Final dates solid; provisional dates (``complete`` False) dashed on a grey band labelled as such;
    y from zero; thousands separators; ``labels`` maps a measure key to its legend text. ``None`` when
    there is nothing to draw. In a notebook the returned figure shows itself as the cell's output.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    if data is None or data.empty:
        return None
    fig = _figure_class()(figsize=(7.5, 2.8), dpi=100, facecolor=PAPER)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_facecolor(PAPER)
    complete = data.groupby("date")["complete"].all()
    first_provisional = complete[~complete].index.min() if (~complete).any() else None
    for i, (name, s) in enumerate(_series(data, labels or {})):
        s = s.sort_index().astype("float64")
        colour = f"C{i}"
        final = s[complete.reindex(s.index).fillna(False).to_numpy()]
        ax.plot(final.index, final.to_numpy(), color=colour, marker="o", ms=3, label=name)
        if first_provisional is not None:
            # the provisional stretch, joined to the last final point, dashed
            tail = s[s.index >= (final.index.max() if len(final) else first_provisional)]
            ax.plot(tail.index, tail.to_numpy(), color=colour, marker="o", ms=3, linestyle="--", alpha=0.6)
    if first_provisional is not None:
        ax.axvspan(
            first_provisional - pd.Timedelta(hours=12),
            data["date"].max() + pd.Timedelta(hours=12),
            color="#7f7f7f",
            alpha=0.15,
            label=BAND_LABEL,
        )
    ax.set_ylim(bottom=0)
    ax.set_title(title, color=INK, fontsize=10)
    ax.tick_params(colors=INK, labelsize=8)
    ax.yaxis.set_major_formatter(_thousands())
    for spine in ax.spines.values():
        spine.set_color(INK)
    legend = ax.legend(fontsize=7, frameon=False, loc="lower left")
    for text in legend.get_texts():
        text.set_color(INK)
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig


_FIGURE: list[type] = []


def _figure_class() -> type:
    """A matplotlib ``Figure`` that shows itself in a notebook (a plain one, without pyplot, shows only its repr)."""
    if not _FIGURE:
        from matplotlib.figure import Figure

        class ChartFigure(Figure):
            def _repr_png_(self) -> bytes:
                return figure_png(self)

        _FIGURE.append(ChartFigure)
    return _FIGURE[0]


def figure_png(fig: Any) -> bytes:
    """A figure as PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", facecolor=fig.get_facecolor())
    return buf.getvalue()


def plot_png(data: pd.DataFrame, *, title: str = "", labels: dict[str, str] | None = None) -> bytes | None:
    """:func:`plot_chart` as PNG bytes (``None`` without matplotlib or without rows)."""
    try:
        fig = plot_chart(data, title=title, labels=labels)
    except ImportError:
        return None
    return None if fig is None else figure_png(fig)


def _thousands() -> Any:
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda x, _pos: f"{x:,.0f}")


def provisional_from(today: date, days: int) -> date:
    """The first date whose numbers are still provisional."""
    return today - timedelta(days=days - 1) if days > 0 else today + timedelta(days=1)
