"""The sandbox's report catalog: every report a request yields, with its file layout.

Names and categories come from ``sandbox/data/report_names.tsv`` (Apple's real API names), so
the sandbox lists what Apple lists. A report's ``number`` is its 1-based row in that file and
never changes (it appears in report ids ``r<number>-<requestId>``): add new names at the end.

Fields, their kinds, value glossaries and the granularities Apple produces come from the report
registry (``asc_nb.registry``, the same data the parser types frames with), so a file the
sandbox serves has exactly the header Apple documents. Reports the registry marks
``documented=False`` (Apple publishes no field list for them) get :data:`GENERIC_COLUMNS`, a
clearly labelled stand-in layout (Date, app, App Version, Device, Platform Version, Territory,
Counts, Unique Devices) that is *ours*, not Apple's — unless the registry itself gives fields.

App Crashes Expanded is the one comma-delimited report whose files start with a UTF-8 BOM (a
quirk seen in real files, kept on purpose). While the registry package is absent (it lands on
its own branch), the four reports FACTS.md §10 documents keep their hand-written layouts.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from asc_nb.models import Category, Granularity

#: date | dimension (text) | count (integer) | amount (decimal) | identifier (integer id)
ColumnKind = Literal["date", "dimension", "count", "amount", "identifier"]
ALL_GRANULARITIES: tuple[Granularity, ...] = (Granularity.DAILY, Granularity.WEEKLY, Granularity.MONTHLY)
#: Columns every layout starts with; the data generator fills them, not the world model.
FIXED = ("Date", "App Name", "App Apple Identifier")


@dataclass(frozen=True)
class Column:
    """One column of a report file: its exact header text, kind, additivity and glossary."""

    name: str
    kind: ColumnKind
    #: True: counts/amounts (sum over rows and days); False: unique counts; None: not a measure
    additive: bool | None = None
    #: Apple's documented values (empty: Apple lists none)
    values: tuple[str, ...] = ()

    @property
    def is_measure(self) -> bool:
        return self.kind in ("count", "amount")


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
    #: False: Apple documents no fields; the columns are the generic stand-in
    documented: bool = True

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def measures(self) -> tuple[str, ...]:
        """The count and amount columns (the values that restatements correct)."""
        return tuple(c.name for c in self.columns if c.is_measure)

    @property
    def dimensions(self) -> tuple[str, ...]:
        """Every column except the measures: ``Date`` + these identify a row across restatements."""
        m = set(self.measures)
        return tuple(c.name for c in self.columns if c.name not in m)

    @property
    def family(self) -> str:
        """The name without its `` Standard``/`` Detailed`` level: both levels share one world."""
        for suffix in (" Standard", " Detailed"):
            if self.name.endswith(suffix):
                return self.name[: -len(suffix)]
        return self.name

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


def _cols(spec: str) -> tuple[Column, ...]:
    """``"Date:date, App Name, Counts:count"`` -> columns (kind defaults to dimension)."""
    out = []
    for item in spec.split(","):
        name, _, kind = item.strip().partition(":")
        kind = kind.strip() or "dimension"
        additive = {"count": True, "amount": True, "unique": False}.get(kind)
        out.append(Column(name.strip(), "count" if kind == "unique" else kind, additive))  # type: ignore[arg-type]
    return tuple(out)


_HEAD = "Date:date, App Name, App Apple Identifier:identifier"

#: Stand-in layout (ours, not Apple's) for every report Apple documents no fields for.
GENERIC_COLUMNS = _cols(
    f"{_HEAD}, App Version, Device, Platform Version, Territory, Counts:count, Unique Devices:unique"
)

# Fallback layouts (FACTS.md §10; "*" columns only in Detailed), used only without the registry.
_SESSIONS = (
    f"{_HEAD}, App Version, Device, Platform Version, Source Type, Source Info*, Campaign*, Page Type, "
    "Page Title*, App Download Date:date, Territory, Sessions:count, "
    "Total Session Duration (seconds):count, Unique Devices:unique"
)
_DOWNLOADS = (
    f"{_HEAD}, Download Type, App Version, Device, Platform Version, Source Type, Source Info*, Campaign*, "
    "Page Type, Page Title*, Pre-Order, Territory, Counts:count"
)
_DISCOVERY = (
    f"{_HEAD}, Event, Page Type, Page Title*, Source Type, Source Info*, Campaign*, Engagement Type, "
    "Device, Platform Version, Territory, Counts:count, Unique Counts:unique"
)


def _level(spec: str, detailed: bool) -> tuple[Column, ...]:
    items = [s.strip() for s in spec.split(",")]
    return _cols(", ".join(s.replace("*", "") for s in items if detailed or "*" not in s))


_FALLBACK: dict[str, tuple[tuple[Column, ...], tuple[Granularity, ...]]] = {
    "App Sessions Standard": (_level(_SESSIONS, False), ALL_GRANULARITIES),
    "App Sessions Detailed": (_level(_SESSIONS, True), ALL_GRANULARITIES),
    "App Downloads Standard": (_level(_DOWNLOADS, False), (Granularity.DAILY,)),
    "App Downloads Detailed": (_level(_DOWNLOADS, True), ALL_GRANULARITIES),
    "App Store Discovery and Engagement Standard": (_level(_DISCOVERY, False), ALL_GRANULARITIES),
    "App Store Discovery and Engagement Detailed": (_level(_DISCOVERY, True), ALL_GRANULARITIES),
    "App Crashes": (
        _cols(f"{_HEAD}, App Version, Device, Platform Version, Crashes:count, Unique Devices:unique"),
        ALL_GRANULARITIES,
    ),
    "App Crashes Expanded": (
        _cols(
            f"{_HEAD}, App Version, Device, Platform Version, Crash Reason, Crashes:count, "
            "Unique Devices:unique"
        ),
        ALL_GRANULARITIES,
    ),
}
#: The one report whose files are comma-delimited and start with a BOM.
COMMA_BOM_REPORT = "App Crashes Expanded"


def _registry() -> Any | None:
    try:
        from asc_nb import registry
    except ImportError:  # the registry branch is not merged yet
        return None
    return registry


def _from_registry(schema: Any) -> tuple[tuple[Column, ...], tuple[Granularity, ...], bool]:
    documented = bool(getattr(schema, "documented", True))
    fields = tuple(schema.fields)
    grans = tuple(Granularity.parse(g) for g in schema.granularities) or ALL_GRANULARITIES
    if not fields:
        return GENERIC_COLUMNS, grans, documented
    cols = tuple(
        Column(f.name, f.kind, f.additive if f.kind in ("count", "amount") else None, tuple(f.values or ()))
        for f in fields
    )
    return cols, grans, documented


def _layout(name: str) -> tuple[tuple[Column, ...], tuple[Granularity, ...], bool]:
    reg = _registry()
    if reg is not None:
        return _from_registry(reg.get(name))
    cols, grans = _FALLBACK.get(name, (GENERIC_COLUMNS, ALL_GRANULARITIES))
    return cols, grans, name in _FALLBACK


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
        columns, grans, documented = _layout(name)
        comma = name == COMMA_BOM_REPORT
        specs.append(
            ReportSpec(
                number, name, Category(category), columns, "," if comma else "\t", grans, comma, documented
            )
        )
    return tuple(specs)


@lru_cache(maxsize=1)
def _by_name() -> dict[str, ReportSpec]:
    return {r.name.casefold(): r for r in catalog()}


def find_report(name: str | ReportSpec) -> ReportSpec:
    """The report called ``name`` (case-insensitive, as Apple's values are); ``KeyError`` suggests close names."""
    if isinstance(name, ReportSpec):
        return name
    try:
        return _by_name()[" ".join(str(name).split()).casefold()]
    except KeyError:
        import difflib

        names = [r.name for r in catalog()]
        close = difflib.get_close_matches(str(name), names, n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        raise KeyError(f"no report named {name!r} among {len(names)} reports{hint}") from None
