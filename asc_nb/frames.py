"""Records → DataFrames with one fixed schema per resource.

Every listing has the same columns and dtypes every time, even when empty, so code written
against today's output (joins, ``df.query``, a widget's table) still works on a quiet day:
``id`` first, attributes in snake_case, then the parent's id. Strings use one explicit
string dtype, dates ``datetime64[ns]``, sizes ``Int64``, enums a ``Categorical`` holding
*all* the enum's values (so ``value_counts()`` shows zeros and concatenations keep the dtype).
The schemas are derived from the resource field tables in :mod:`asc_nb.models`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from .models import Resource
from .records import RECORDS, App, Instance, Record, Report, ReportRequest, Segment

__all__ = ["STRING", "SCHEMAS", "schema", "empty", "to_frame"]

#: the string dtype of every text column (explicit storage: identical with or without pyarrow)
STRING = pd.StringDtype("python")
DATE = "datetime64[ns]"


def _cat(enum: type) -> pd.CategoricalDtype:
    return pd.CategoricalDtype([m.value for m in enum], ordered=False)


_DTYPES: dict[str, Any] = {"string": STRING, "boolean": "boolean", "integer": "Int64", "date": DATE}


def _schema_of(resource: Resource) -> dict[str, Any]:
    """The ordered ``{column: dtype}`` of a resource, derived from its field table in :mod:`asc_nb.models`."""
    cols: dict[str, Any] = {"id": STRING}
    for f in resource.fields:
        cols[f.column] = _cat(f.enum) if f.kind == "enum" and f.enum is not None else _DTYPES[f.kind]
    if resource.parent is not None:
        cols[resource.parent] = STRING
    return cols


#: record class -> ordered {column: dtype}
SCHEMAS: dict[type[Record], dict[str, Any]] = {cls: _schema_of(cls.resource) for cls in RECORDS.values()}

_BY_NAME: dict[str, type[Record]] = {}
for _cls in SCHEMAS:
    _BY_NAME[_cls.__name__.lower()] = _cls
    _BY_NAME[_cls.resource.type] = _cls
_BY_NAME.update(
    {
        "apps": App,
        "report_requests": ReportRequest,
        "requests": ReportRequest,
        "reports": Report,
        "instances": Instance,
        "segments": Segment,
    }
)


def _record_class(kind: type[Record] | str) -> type[Record]:
    if isinstance(kind, type) and kind in SCHEMAS:
        return kind
    try:
        return _BY_NAME[str(kind)]
    except KeyError:
        raise KeyError(
            f"no frame schema for {kind!r}; known: {', '.join(c.__name__ for c in SCHEMAS)}"
        ) from None


def schema(kind: type[Record] | str) -> dict[str, Any]:
    """The ordered ``{column: dtype}`` of a resource's frame (by record class or resource name)."""
    return dict(SCHEMAS[_record_class(kind)])


def empty(kind: type[Record] | str) -> pd.DataFrame:
    """A zero-row frame with the resource's exact columns and dtypes."""
    return to_frame(kind, [])


def to_frame(kind: type[Record] | str, records: Iterable[Record]) -> pd.DataFrame:
    """Build the typed frame for ``records`` (all of class ``kind``)."""
    cls = _record_class(kind)
    cols = SCHEMAS[cls]
    rows = [r.to_dict() for r in records]
    data: dict[str, Any] = {}
    for name, dtype in cols.items():
        values = [row.get(name) for row in rows]
        if dtype == DATE:
            data[name] = pd.Series(pd.to_datetime(pd.Series(values, dtype=object)), dtype=DATE)
        elif isinstance(dtype, pd.CategoricalDtype):
            # values outside the enum (a newer API) become NaN rather than breaking the dtype
            allowed = set(dtype.categories)
            values = [v if v in allowed else None for v in values]
            data[name] = pd.Series(pd.Categorical(values, dtype=dtype))
        else:
            data[name] = pd.Series(values, dtype=object).astype(dtype)
    frame = pd.DataFrame(data, columns=list(cols))
    frame.index = pd.RangeIndex(len(frame))
    return frame
