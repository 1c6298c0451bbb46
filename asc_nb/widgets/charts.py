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
PREFERRED = ("downloads", "counts", "sessions", "crashes", "total_downloads", "unique_devices", "unique_counts")

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
    """
    available = {m.key: m for m in measure_options(frame, report)}
    if measures is None:
        chosen = list(available)[:1]
    else:
        chosen = [measures] if isinstance(measures, str) else list(measures)
    unknown = [k for k in chosen if k not in available]
    if unknown or not chosen:
        raise ConfigError(f"Unknown measure(s) {unknown or chosen} for {report or 'this frame'}; "
                          f"choose from {sorted(available)}")
    picked = [available[k] for k in chosen]
    if breakdown is not None and breakdown not in frame.columns:
        raise ConfigError(f"Cannot break down by {breakdown!r}: choose one of {dimensions(frame, report)}")
    if not isinstance(top, int) or top < 1:
        raise ConfigError(f"top must be a whole number >= 1; got {top!r}")
    when = "date" if "date" in frame.columns else "Date"
    keys = ["date"] + ([breakdown] if breakdown else [])
    if frame.empty:
        out = pd.DataFrame({k: pd.Series(dtype="datetime64[ns]" if k == "date" else "string") for k in keys})
        for m in picked:
            out[m.key] = pd.Series(dtype="Int64")
        out["complete"] = pd.Series(dtype="bool")
        return out

    base = pd.DataFrame({"date": _period_start(pd.to_datetime(frame[when]), period)})
    if breakdown:
        values = frame[breakdown].astype("string").fillna("(none)")
        base[breakdown] = values
    for m in picked:
        vals = frame[m.column]
        if m.where is not None:
            dim, allowed = m.where
            # by value, ignoring case, as asc_nb.metrics does: Apple's glossaries spell these two ways
            # ("First-time Download" / "First-time download"), and a miss would silently plot zero
            wanted = {v.casefold() for v in allowed}
            vals = vals.where(frame[dim].astype("string").str.casefold().isin(wanted).fillna(False), 0)
        base[m.key] = vals.astype("Int64") if pd.api.types.is_integer_dtype(vals) else vals

    for m in picked:
        if m.additive:
            continue
        if period not in (None, "DAILY", granularity):
            raise NonAdditiveMetricError(
                f"{m.label} is a unique count: summing days into weeks or months would count a device once a day. "
                f"Download the {period} instances instead, whose unique counts Apple computed for the period."
            )
        rows = base.groupby(keys, dropna=False).size()
        if (rows > 1).any():
            raise NonAdditiveMetricError(
                f"{m.label} is a unique count: a date has {int(rows.max())} rows (one per "
                f"{', '.join(c for c in dimensions(frame, report) if c != breakdown) or 'dimension value'}) "
                "and adding them would count a device in several rows more than once. Choose an additive measure."
            )

    if breakdown:
        first = picked[0].key
        totals = base.groupby(breakdown)[first].sum().sort_values(ascending=False, kind="stable")
        keep = list(totals.index[:top])
        if len(totals) > top:
            base[breakdown] = base[breakdown].where(base[breakdown].isin(keep), "Other")
    out = base.groupby(keys, dropna=False, sort=True)[[m.key for m in picked]].sum(min_count=1).reset_index()
    if breakdown:  # a fixed order: top values by total, then Other
        order = {v: i for i, v in enumerate(keep + ["Other"])}
        out = out.sort_values(["date", breakdown], key=lambda s: s.map(order) if s.name == breakdown else s,
                              kind="stable").reset_index(drop=True)
        out[breakdown] = out[breakdown].astype("string")

    days = complete_after_days if complete_after_days is not None else complete_days(report)
    today_ts = pd.Timestamp(today if today is not None else date.today()).normalize()
    grain = period if period in ("WEEKLY", "MONTHLY") else granularity
    last_final = today_ts - pd.Timedelta(days=days)
    out["complete"] = [bool(_period_end(d, grain) <= last_final) for d in out["date"]]
    return out


def plot_png(data: pd.DataFrame, *, title: str = "", labels: dict[str, str] | None = None) -> bytes | None:
    """Draw ``chart_data`` output: y from zero, provisional dates dashed and shaded; transparent PNG."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return None
    if data is None or data.empty:
        return None
    value_cols = [c for c in data.columns if c not in ("date", "complete") and pd.api.types.is_numeric_dtype(data[c])]
    group_cols = [c for c in data.columns if c not in value_cols and c not in ("date", "complete")]
    labels = labels or {}
    ink = "#8a8a8a"
    fig = Figure(figsize=(7.5, 2.8), dpi=100)
    fig.patch.set_alpha(0)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_facecolor("none")
    series: list[tuple[str, pd.Series]] = []
    if group_cols:
        value = value_cols[0]
        for name, part in data.groupby(group_cols[0], sort=False):
            series.append((str(name), part.set_index("date")[value]))
    else:
        for value in value_cols:
            series.append((labels.get(value, value), data.set_index("date")[value]))
    complete = data.groupby("date")["complete"].all()
    first_provisional = complete[~complete].index.min() if (~complete).any() else None
    for i, (name, s) in enumerate(series):
        s = s.sort_index().astype("float64")
        colour = f"C{i}"
        final = s[complete.reindex(s.index).fillna(False).to_numpy()]
        ax.plot(final.index, final.to_numpy(), color=colour, marker="o", ms=3, label=name)
        if first_provisional is not None:
            # the provisional stretch, joined to the last final point, dashed
            tail = s[s.index >= (final.index.max() if len(final) else first_provisional)]
            ax.plot(tail.index, tail.to_numpy(), color=colour, marker="o", ms=3, linestyle="--", alpha=0.6)
    if first_provisional is not None:
        ax.axvspan(first_provisional - pd.Timedelta(hours=12), data["date"].max() + pd.Timedelta(hours=12),
                   color=ink, alpha=0.12, label="provisional (Apple may still revise)")
    ax.set_ylim(bottom=0)
    ax.set_title(title, color=ink, fontsize=10)
    ax.tick_params(colors=ink, labelsize=8)
    ax.yaxis.set_major_formatter(_thousands())
    for spine in ax.spines.values():
        spine.set_color(ink)
    legend = ax.legend(fontsize=7, frameon=False, loc="lower left")
    for text in legend.get_texts():
        text.set_color(ink)
    fig.autofmt_xdate()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", transparent=True)
    return buf.getvalue()


def _thousands() -> Any:
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda x, _pos: f"{x:,.0f}")


def provisional_from(today: date, days: int) -> date:
    """The first date whose numbers are still provisional."""
    return today - timedelta(days=days - 1) if days > 0 else today + timedelta(days=1)
