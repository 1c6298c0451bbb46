"""The sandbox's report catalog: every report a request yields, with its columns.

Names and categories come from ``sandbox/data/report_names.tsv`` (Apple's real API names), so
the sandbox lists what Apple lists. A report's ``number`` is its 1-based row in that file and
never changes (it appears in report ids ``r<number>-<requestId>``): add new names at the end.

Columns are Apple's exact names (shared/spec/FACTS.md §10) for the reports Apple documents:
App Sessions, App Crashes, App Downloads, App Store Discovery and Engagement (Standard has
fewer columns than Detailed) and App Crashes Expanded (the one comma-delimited report, whose
files start with a UTF-8 BOM). Every other report shares one generic column set.

Granularities: every report has DAILY, WEEKLY and MONTHLY, except "App Downloads Standard",
which is DAILY only (FACTS.md §9: "Downloads weekly/monthly only in the detailed report").
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

from asc_nb.models import Category, Granularity

ColumnKind = Literal["date", "string", "integer"]
ALL_GRANULARITIES: tuple[Granularity, ...] = (Granularity.DAILY, Granularity.WEEKLY, Granularity.MONTHLY)


@dataclass(frozen=True)
class Column:
    """One column of a report file: its exact header text and Apple's data type."""

    name: str
    kind: ColumnKind


@dataclass(frozen=True)
class ReportSpec:
    """One report type: what ``/v1/analyticsReportRequests/{id}/reports`` lists, plus its file layout."""

    number: int
    name: str
    category: Category
    columns: tuple[Column, ...]
    delimiter: str = "\t"
    granularities: tuple[Granularity, ...] = ALL_GRANULARITIES
    #: files start with a UTF-8 byte order mark (only App Crashes Expanded)
    bom: bool = False

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def measures(self) -> tuple[str, ...]:
        """The count columns (the values that restatements correct)."""
        return tuple(c.name for c in self.columns if c.kind == "integer" and c.name != "App Apple Identifier")

    @property
    def dimensions(self) -> tuple[str, ...]:
        """Every column except the measures: ``Date`` + these identify a row across restatements."""
        m = set(self.measures)
        return tuple(c.name for c in self.columns if c.name not in m)


def _cols(spec: str) -> tuple[Column, ...]:
    """``"Date:date, App Name, Counts:integer"`` -> columns (kind defaults to string)."""
    out = []
    for item in spec.split(","):
        name, _, kind = item.strip().partition(":")
        out.append(Column(name.strip(), (kind.strip() or "string")))  # type: ignore[arg-type]
    return tuple(out)


_HEAD = "Date:date, App Name, App Apple Identifier:integer"

#: Generic layout for every report Apple does not document column by column.
GENERIC_COLUMNS = _cols(
    f"{_HEAD}, App Version, Device, Platform Version, Territory, Counts:integer, Unique Devices:integer"
)

# Standard / Detailed per FACTS.md §10 ("D" columns only in Detailed), in Apple's order.
_SESSIONS = (
    f"{_HEAD}, App Version, Device, Platform Version, Source Type, Source Info*, Campaign*, Page Type, "
    "Page Title*, App Download Date:date, Territory, Sessions:integer, "
    "Total Session Duration (seconds):integer, Unique Devices:integer"
)
_DOWNLOADS = (
    f"{_HEAD}, Download Type, App Version, Device, Platform Version, Source Type, Source Info*, Campaign*, "
    "Page Type, Page Title*, Pre-Order, Territory, Counts:integer"
)
_DISCOVERY = (
    f"{_HEAD}, Event, Page Type, Page Title*, Source Type, Source Info*, Campaign*, Engagement Type, "
    "Device, Platform Version, Territory, Counts:integer, Unique Counts:integer"
)


def _level(spec: str, detailed: bool) -> tuple[Column, ...]:
    """Drop the ``*``-marked (Detailed-only) columns for the Standard level."""
    items = [s.strip() for s in spec.split(",")]
    keep = [s.replace("*", "") for s in items if detailed or "*" not in s]
    return _cols(", ".join(keep))


#: Report name -> (columns, delimiter, granularities, bom) for the reports with documented columns.
_LAYOUTS: dict[str, tuple[tuple[Column, ...], str, tuple[Granularity, ...], bool]] = {
    "App Sessions Standard": (_level(_SESSIONS, False), "\t", ALL_GRANULARITIES, False),
    "App Sessions Detailed": (_level(_SESSIONS, True), "\t", ALL_GRANULARITIES, False),
    "App Downloads Standard": (_level(_DOWNLOADS, False), "\t", (Granularity.DAILY,), False),
    "App Downloads Detailed": (_level(_DOWNLOADS, True), "\t", ALL_GRANULARITIES, False),
    "App Store Discovery and Engagement Standard": (
        _level(_DISCOVERY, False),
        "\t",
        ALL_GRANULARITIES,
        False,
    ),
    "App Store Discovery and Engagement Detailed": (_level(_DISCOVERY, True), "\t", ALL_GRANULARITIES, False),
    "App Crashes": (
        _cols(f"{_HEAD}, App Version, Device, Platform Version, Crashes:integer, Unique Devices:integer"),
        "\t",
        ALL_GRANULARITIES,
        False,
    ),
    "App Crashes Expanded": (
        _cols(
            f"{_HEAD}, App Version, Device, Platform Version, Crash Reason, Crashes:integer, "
            "Unique Devices:integer"
        ),
        ",",
        ALL_GRANULARITIES,
        True,
    ),
}


@lru_cache(maxsize=1)
def catalog() -> tuple[ReportSpec, ...]:
    """Every report, in the order (and with the numbers) of ``report_names.tsv``."""
    text = (Path(__file__).parent / "data" / "report_names.tsv").read_text("utf-8")
    specs = []
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if lines and lines[0].split("\t")[0] == "name":
        lines = lines[1:]
    for number, line in enumerate(lines, start=1):
        name, category = (s.strip() for s in line.split("\t")[:2])
        columns, delimiter, grans, bom = _LAYOUTS.get(name, (GENERIC_COLUMNS, "\t", ALL_GRANULARITIES, False))
        specs.append(ReportSpec(number, name, Category(category), columns, delimiter, grans, bom))
    return tuple(specs)


@lru_cache(maxsize=1)
def _by_name() -> dict[str, ReportSpec]:
    return {r.name.casefold(): r for r in catalog()}


def find_report(name: str | ReportSpec) -> ReportSpec:
    """The report called ``name`` (case-insensitive, as Apple's values are); ``KeyError`` suggests close names."""
    if isinstance(name, ReportSpec):
        return name
    try:
        return _by_name()[str(name).strip().casefold()]
    except KeyError:
        import difflib

        names = [r.name for r in catalog()]
        close = difflib.get_close_matches(str(name), names, n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        raise KeyError(f"no report named {name!r} among {len(names)} reports{hint}") from None
