"""Apple's Analytics Reports, as data: every report's fields, types, additivity and timing.

The facts live in ``reports.json`` next to this module (package data), read once. They come
from Apple's report pages (developer.apple.com/documentation/analytics-reports/…), described
in our own words; each report records its ``source`` page, and ``documented=False`` where Apple
publishes no field list (the entry's ``notes`` say so). ``docs/reports.md`` explains the layout.

Why a registry: a column's type must come from what Apple documents, not from the values of
one file (``1,000`` must not turn a count into text), and a metric must know whether it may be
summed (``Unique Devices`` may not: the same device counts once per row, day and dimension).

This module imports nothing of asc_nb but ``models`` and ``errors`` (layering rule).
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal

import pandas as pd

from asc_nb.errors import ReportNotFoundError
from asc_nb.models import Category, Granularity, snake

__all__ = [
    "DTYPES",
    "Field",
    "FieldKind",
    "ReportSchema",
    "canonical",
    "describe_report",
    "family",
    "get",
    "names",
    "normalize",
    "report_catalog",
    "reports",
]

FieldKind = Literal["date", "dimension", "count", "amount", "identifier"]

#: kind -> the pandas dtype a parsed column of that kind has (never inferred from values).
DTYPES: dict[str, str] = {
    "date": "datetime64[ns]",
    "dimension": "string",
    "count": "Int64",
    "identifier": "Int64",
    "amount": "Float64",
}
_KINDS = frozenset(DTYPES)
_MEASURE_KINDS = frozenset({"count", "amount"})
_ALL_GRANULARITIES = (Granularity.DAILY, Granularity.WEEKLY, Granularity.MONTHLY)


@dataclass(frozen=True)
class Field:
    """One column of a report file, as Apple documents it.

    ``name`` is Apple's header text; ``column`` the snake_case name asc-nb frames use.
    ``additive`` is True when values may be summed across rows, dates and dimensions (counts,
    amounts), False when they may not (unique counts, averages, percentiles), None for
    dimensions, dates and identifiers. ``values`` is Apple's glossary for a dimension, if any.
    """

    name: str
    column: str
    kind: FieldKind
    additive: bool | None
    description: str
    values: tuple[str, ...] = ()

    @property
    def dtype(self) -> str:
        """The pandas dtype of this column: decided by ``kind``, never by the data."""
        return DTYPES[self.kind]

    @property
    def is_measure(self) -> bool:
        return self.kind in _MEASURE_KINDS


@dataclass(frozen=True)
class ReportSchema:
    """One report type: what Apple documents about its file and its publication."""

    name: str
    category: Category
    fields: tuple[Field, ...]
    granularities: tuple[Granularity, ...]
    complete_after_days: int
    history_start: str | None
    privacy: str
    source: str | None
    documented: bool
    #: Apple's page title (Standard and Detailed share one page), e.g. "App Sessions".
    family: str = ""
    #: what else matters: where Apple is silent, what differs from other reports, since when a field exists.
    notes: str = ""

    @property
    def level(self) -> str | None:
        """``"Standard"`` or ``"Detailed"`` for the two content levels of one Apple page, else None.

        A Detailed report has the Standard fields plus the ones that could single people out, and
        stricter privacy, so rolled up over its extra fields it never exceeds its Standard sibling.
        """
        for level in ("Standard", "Detailed"):
            if self.name.endswith(" " + level):
                return level
        return None

    @property
    def columns(self) -> tuple[str, ...]:
        """The snake_case column names, in file order."""
        return tuple(f.column for f in self.fields)

    @property
    def dimensions(self) -> tuple[Field, ...]:
        """Every field that is not a measure (dates, dimensions, identifiers): what identifies a row."""
        return tuple(f for f in self.fields if not f.is_measure)

    @property
    def measures(self) -> tuple[Field, ...]:
        """The count and amount fields."""
        return tuple(f for f in self.fields if f.is_measure)

    def field(self, name_or_column: str) -> Field:
        """A field by Apple's header text or by its snake_case column (case/space-insensitive)."""
        key = normalize(name_or_column)
        for f in self.fields:
            if normalize(f.name) == key or f.column == snake(name_or_column):
                return f
        known = ", ".join(f.name for f in self.fields) or "none (Apple documents no fields for it)"
        raise KeyError(f"{self.name!r} has no field {name_or_column!r}; its fields: {known}")


def normalize(name: str) -> str:
    """The lookup key of a report or field name: case-folded, spaces collapsed and trimmed."""
    return re.sub(r"\s+", " ", str(name)).strip().casefold()


# ---------------------------------------------------------------------------------------------
# loading reports.json


def _resolve_field(
    item: Any, family: dict[str, Any], common: dict[str, Any], glossaries: dict[str, Any], report: str
) -> Field:
    """A field entry: a header name (looked up in the family's, then the common definitions) or an
    object whose keys override the definition of the same name."""
    if isinstance(item, str):
        item = {"name": item}
    name = item["name"]
    spec: dict[str, Any] = {}
    spec.update(common.get(name, {}))
    spec.update(family.get(name, {}))
    spec.update({k: v for k, v in item.items() if k != "name"})
    kind = spec.get("kind")
    if kind not in _KINDS:
        raise ValueError(
            f"reports.json: {report!r} field {name!r} has kind {kind!r}; expected one of {sorted(_KINDS)}"
        )
    if "description" not in spec:
        raise ValueError(f"reports.json: {report!r} field {name!r} has no description")
    if kind in _MEASURE_KINDS:
        additive = spec.get("additive", True)
        if not isinstance(additive, bool):
            raise ValueError(f"reports.json: {report!r} measure {name!r} needs additive true/false")
    else:
        if spec.get("additive") is not None:
            raise ValueError(f"reports.json: {report!r} field {name!r} is a {kind}; additive must be null")
        additive = None
    values = spec.get("values", ())
    if isinstance(values, str):  # "@glossary" -> a shared value list
        values = glossaries[values.removeprefix("@")]
    return Field(
        name=name,
        column=snake(name),
        kind=kind,
        additive=additive,
        description=spec["description"],
        values=tuple(values),
    )


def _build(data: dict[str, Any]) -> tuple[ReportSchema, ...]:
    defaults = data.get("defaults", {})
    common = data.get("common_fields", {})
    families = data.get("family_fields", {})
    glossaries = data.get("glossaries", {})
    out = []
    for entry in data["reports"]:
        name = entry["name"]
        family_name = entry.get("family", "")
        fam = families.get(family_name, {})
        fields = tuple(_resolve_field(i, fam, common, glossaries, name) for i in entry.get("fields", ()))
        documented = bool(entry.get("documented", bool(fields)))
        if documented != bool(fields):
            raise ValueError(f"reports.json: {name!r} documented={documented} but has {len(fields)} fields")
        if not documented and not entry.get("notes"):
            raise ValueError(f"reports.json: {name!r} is undocumented and its notes do not say why")
        columns = [f.column for f in fields]
        if len(set(columns)) != len(columns):
            raise ValueError(f"reports.json: {name!r} has two fields with the same column")
        grans = tuple(
            Granularity.parse(g) for g in entry.get("granularities", defaults.get("granularities", ()))
        )
        out.append(
            ReportSchema(
                name=name,
                category=Category.parse(entry["category"]),
                fields=fields,
                granularities=grans or _ALL_GRANULARITIES,
                complete_after_days=int(
                    entry.get("complete_after_days", defaults.get("complete_after_days", 2))
                ),
                history_start=entry.get("history_start", defaults.get("history_start")),
                privacy=entry.get("privacy", ""),
                source=entry.get("source"),
                documented=documented,
                family=family_name,
                notes=entry.get("notes", ""),
            )
        )
    keys = [normalize(r.name) for r in out]
    if len(set(keys)) != len(keys):
        raise ValueError("reports.json: two reports share a name (ignoring case and spaces)")
    return tuple(out)


@cache
def _load() -> tuple[tuple[ReportSchema, ...], dict[str, ReportSchema]]:
    text = resources.files(__name__).joinpath("reports.json").read_text("utf-8")
    built = _build(json.loads(text))
    return built, {normalize(r.name): r for r in built}


# ---------------------------------------------------------------------------------------------
# public surface


def reports() -> tuple[ReportSchema, ...]:
    """Every report the registry knows, in the order of Apple's report list (report-names.tsv)."""
    return _load()[0]


def names() -> tuple[str, ...]:
    """Every report name, in registry order."""
    return tuple(r.name for r in reports())


def get(name: str) -> ReportSchema:
    """The report called ``name`` (case and surrounding/repeated spaces do not matter).

    Raises :class:`~asc_nb.errors.ReportNotFoundError` naming the closest known names.
    """
    if isinstance(name, ReportSchema):
        return name
    by_key = _load()[1]
    key = normalize(name)
    if key in by_key:
        return by_key[key]
    raise ReportNotFoundError(f"No report named {name!r} in the registry. {_suggest(key)}")


def canonical(name: str) -> str:
    """Apple's spelling of a report name the registry knows (``" app sessions standard"`` -> ``"App Sessions
    Standard"``), else ``name`` trimmed: the API filters names exactly, so every name is put through this first."""
    try:
        return get(name).name
    except ReportNotFoundError:
        return str(name).strip()


def _suggest(key: str) -> str:
    by_key = _load()[1]
    close = difflib.get_close_matches(key, list(by_key), n=5, cutoff=0.6)
    words = [w for w in key.split() if len(w) > 2]
    if words:
        close += [k for k in by_key if k not in close and all(w in k for w in words)]
    close = close[:5]
    if not close:
        return "asc_nb.report_catalog() lists every report."
    return "Did you mean: " + "; ".join(repr(by_key[k].name) for k in close) + "?"


def family(name: str) -> tuple[ReportSchema, ...]:
    """The reports documented on the same Apple page as ``name`` (e.g. its Standard and Detailed levels)."""
    r = get(name)
    if not r.family:
        return (r,)
    return tuple(x for x in reports() if x.family == r.family)


def report_catalog() -> pd.DataFrame:
    """One row per report: name, category, fields (how many Apple documents; 0 = none),
    granularities (comma-separated) and complete_after_days."""
    rows = [
        {
            "name": r.name,
            "category": r.category.value,
            "fields": len(r.fields),
            "granularities": ", ".join(g.value for g in r.granularities),
            "complete_after_days": r.complete_after_days,
        }
        for r in reports()
    ]
    df = pd.DataFrame(rows, columns=["name", "category", "fields", "granularities", "complete_after_days"])
    df = df.astype(
        {
            "name": "string",
            "category": "string",
            "fields": "int64",
            "granularities": "string",
            "complete_after_days": "int64",
        }
    )
    df.attrs["caption"] = (
        f"{len(df)} Analytics Reports; fields = number of columns Apple documents "
        "(0: Apple documents none). asc_nb.describe_report(name) shows one report's fields."
    )
    return df


def _caption(r: ReportSchema) -> str:
    grans = ", ".join(g.value for g in r.granularities)
    head = (
        f"{r.name} — {r.category.value}; granularities: {grans}; complete after "
        f"{r.complete_after_days} days; history from {r.history_start or 'not stated'}"
    )
    if not r.documented:
        head += f". Apple documents no fields: {r.notes}"
    if r.source:
        head += f". Source: {r.source}"
    return head


def describe_report(name: str, *, values: bool = False) -> pd.DataFrame:
    """The fields of one report in file order: field (Apple's header), column (frame name),
    dtype, additive (True/False for measures, <NA> otherwise) and description.

    ``values=True`` adds Apple's glossary for each dimension. The caption (report, granularities,
    completeness, source) shows above the table in a notebook and is in ``df.attrs["caption"]``.
    """
    r = get(name)
    cols = ["field", "column", "dtype", "additive", "description"] + (["values"] if values else [])
    rows = []
    for f in r.fields:
        row: dict[str, Any] = {
            "field": f.name,
            "column": f.column,
            "dtype": f.dtype,
            "additive": f.additive,
            "description": f.description,
        }
        if values:
            row["values"] = ", ".join(f.values)
        rows.append(row)
    typed = pd.DataFrame(rows, columns=cols).astype(
        {c: "string" for c in cols if c != "additive"} | {"additive": "boolean"}
    )
    df = _Described(typed)
    df.attrs["report"] = r.name
    df.attrs["caption"] = _caption(r)
    return df


class _Described(pd.DataFrame):
    """A plain DataFrame that shows its ``attrs['caption']`` above the table in notebooks and repr.

    Anything derived from it (``df[...]``, ``df.merge``…) is a plain ``pandas.DataFrame`` again.
    """

    @property
    def _constructor(self):  # type: ignore[override]
        return pd.DataFrame

    def _repr_html_(self) -> str | None:
        import html

        body = super()._repr_html_()
        cap = self.attrs.get("caption")
        if not cap or body is None:
            return body
        return f"<p><b>{html.escape(cap)}</b></p>\n{body}"

    def __repr__(self) -> str:
        cap = self.attrs.get("caption")
        body = super().__repr__()
        return f"{cap}\n{body}" if cap else body
