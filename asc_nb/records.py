"""Frozen records for single resources (``client.app(id)``, ``client.report_request(id)``…).

A record holds the attributes in snake_case with proper types (enums, ``date``, ``int``),
the parent id when the client knows it (``app_id``, ``request_id``, ``report_id``,
``instance_id``), and ``raw``: the JSON:API resource exactly as the server sent it.
``repr`` is one readable line; ``_repr_html_`` a small table for notebooks.

The record classes are generated from the resource field tables in :mod:`asc_nb.models` (one
table per resource: attribute, kind, enum, parent column), as are the listing frames'
schemas in :mod:`asc_nb.frames`; adding an attribute is one row there.
"""

from __future__ import annotations

import dataclasses
import html
from dataclasses import field, fields, replace
from datetime import date
from enum import Enum
from typing import Any, ClassVar, TypeVar

from .models import APPS, INSTANCES, REPORTS, REQUESTS, SEGMENTS, Attribute, Resource
from .redact import redact_url

__all__ = [
    "Record",
    "App",
    "ReportRequest",
    "Report",
    "Instance",
    "Segment",
    "RECORDS",
    "record_from_resource",
]


R = TypeVar("R", bound="Record")


def _show(value: Any) -> str:
    if isinstance(value, Enum):
        return repr(value.value)
    if isinstance(value, date):
        return repr(value.isoformat())
    return repr(value)


class Record:
    """Shared behaviour of the record dataclasses."""

    resource: ClassVar[Resource]

    def _items(self) -> list[tuple[str, Any]]:
        return [(f.name, getattr(self, f.name)) for f in fields(self) if f.repr]  # type: ignore[arg-type]

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={_show(v)}" for k, v in self._items() if v is not None or k == "id")
        return f"{type(self).__name__}({inner})"

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
            f"<td style='text-align:left'>{html.escape('' if v is None else str(v))}</td></tr>"
            for k, v in self._items()
        )
        return f"<table><caption>{type(self).__name__}</caption>{rows}</table>"

    def to_dict(self) -> dict[str, Any]:
        """The fields as plain values (enums as strings), without ``raw``."""
        return {k: (v.value if isinstance(v, Enum) else v) for k, v in self._items()}

    @classmethod
    def from_resource(cls: type[R], resource: dict[str, Any], parent_id: str | None = None) -> R:
        """The record for a JSON:API resource, read through the resource's field table in
        :mod:`asc_nb.models` (``parent_id`` fills the parent column, e.g. ``app_id``)."""
        attributes = resource.get("attributes") or {}
        values = {f.column: _value(f, attributes.get(f.name)) for f in cls.resource.fields}
        if cls.resource.parent is not None:
            values[cls.resource.parent] = parent_id
        return cls(id=str(resource["id"]), raw=resource, **values)  # type: ignore[call-arg]


def _raw_field() -> Any:
    return field(default_factory=dict, compare=False, repr=False, hash=False)


def _enum(cls: type[Enum], value: Any) -> Any:
    if value is None:
        return None
    try:
        return cls(value)
    except ValueError:
        return value  # an unknown value from a newer API: keep it rather than fail


def _date(value: Any) -> date | None:
    if not value:
        return None
    return date.fromisoformat(str(value)[:10])


def _value(attribute: Attribute, value: Any) -> Any:
    """An attribute's JSON value as the record holds it (enum member, ``date``, ``int``)."""
    if value is None:
        return None
    if attribute.kind == "enum" and attribute.enum is not None:
        return _enum(attribute.enum, value)
    if attribute.kind == "date":
        return _date(value)
    if attribute.kind == "integer":
        return int(value)
    return value


_PYTHON_TYPES: dict[str, Any] = {"string": str, "boolean": bool, "integer": int, "date": date}


def _record_class(name: str, resource: Resource, doc: str, namespace: dict[str, Any] | None = None) -> Any:
    """A frozen record dataclass whose fields are ``resource``'s columns, typed from its field table."""
    spec: list[tuple[str, Any, Any]] = [("id", str, dataclasses.field())]
    for f in resource.fields:
        python = f.enum if f.kind == "enum" and f.enum is not None else _PYTHON_TYPES[f.kind]
        spec.append((f.column, python | None, None))
    if resource.parent is not None:
        spec.append((resource.parent, str | None, None))
    spec.append(("raw", dict[str, Any], _raw_field()))
    body = {"__doc__": doc, "__module__": __name__, "resource": resource, **(namespace or {})}
    cls = dataclasses.make_dataclass(name, spec, bases=(Record,), namespace=body, frozen=True, repr=False)
    cls.__annotations__["resource"] = ClassVar[Resource]
    return cls


def _segment_repr(self: Any) -> str:  # the presigned URL is long and short-lived: show its host only
    host = (self.url or "").split("/")[2] if self.url and "://" in self.url else self.url
    return (
        f"Segment(id={self.id!r}, checksum={self.checksum!r}, size_in_bytes={self.size_in_bytes!r}, "
        f"url=<{host}…>, instance_id={self.instance_id!r})"
    )


def _segment_repr_html(self: Any) -> str:  # as in __repr__: the presigned query string is a credential
    shown = redact_url(self.url) if self.url else self.url
    return Record._repr_html_(replace(self, url=shown))


App = _record_class("App", APPS, "An app: id, name, bundle_id, sku, primary_locale.")
ReportRequest = _record_class(
    "ReportRequest", REQUESTS, "A report request: id, access_type, stopped_due_to_inactivity, app_id."
)
Report = _record_class("Report", REPORTS, "A report of a request: id, name, category, request_id.")
Instance = _record_class(
    "Instance", INSTANCES, "One generated instance: id, granularity, processing_date, report_id."
)
Segment = _record_class(
    "Segment",
    SEGMENTS,
    "One file of an instance: id, checksum, size_in_bytes, url, instance_id.",
    {"__repr__": _segment_repr, "_repr_html_": _segment_repr_html},
)


#: resource type -> record class
RECORDS: dict[str, type[Record]] = {
    cls.resource.type: cls for cls in (App, ReportRequest, Report, Instance, Segment)
}


def record_from_resource(resource: dict[str, Any], parent_id: str | None = None) -> Record:
    """The record for a JSON:API resource, picked by its ``type``."""
    return RECORDS[resource["type"]].from_resource(resource, parent_id)
