"""The sandbox's report catalog: every report a request yields, with its file layout.

Names and categories come from ``sandbox/data/report_names.tsv`` (Apple's real API names), so
the sandbox lists what Apple lists. A report's ``number`` is its 1-based row in that file and
never changes (it appears in report ids ``r<number>-<requestId>``): add new names at the end.

Fields, their kinds, value glossaries and the granularities Apple produces come from the report
registry (``asc_nb.registry``, the same data the parser types frames with), so a file the
sandbox serves has exactly the header Apple documents. Reports the registry marks
``documented=False`` (Apple publishes no field list for them) get :data:`GENERIC_COLUMNS`, a
clearly labelled stand-in layout (Date, app, App Version, Device, Platform Version, Territory,
Counts, Unique Devices) that is *ours*, not Apple's (docs/sandbox-data.md).

Every report's files are tab-delimited without a byte-order mark, as Apple documents ("compressed,
tab-delimited text files"); App Crashes Expanded too — Apple's page for it says nothing of another
delimiter or a BOM, and no real file seen here showed one (an earlier sandbox served it comma-delimited
with a BOM, which broke a third-party client's first header).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

from asc_nb import registry
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
    #: files start with a UTF-8 byte order mark (no report does: Apple documents none)
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


def _layout(name: str) -> tuple[tuple[Column, ...], tuple[Granularity, ...], bool]:
    """(columns, granularities, documented) of a report, from the registry."""
    schema = registry.get(name)
    grans = tuple(Granularity.parse(g) for g in schema.granularities) or ALL_GRANULARITIES
    if not schema.documented or not schema.fields:
        return GENERIC_COLUMNS, grans, False
    cols = tuple(
        Column(f.name, f.kind, f.additive if f.kind in ("count", "amount") else None, tuple(f.values or ()))
        for f in schema.fields
    )
    return cols, grans, True


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
        specs.append(ReportSpec(number, name, Category(category), columns, "\t", grans, False, documented))
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
