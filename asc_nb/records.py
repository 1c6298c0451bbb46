"""Frozen records for single resources (``client.app(id)``, ``client.report_request(id)``…).

A record holds the attributes in snake_case with proper types (enums, ``date``, ``int``),
the parent id when the client knows it (``app_id``, ``request_id``, ``report_id``,
``instance_id``), and ``raw``: the JSON:API resource exactly as the server sent it.
``repr`` is one readable line; ``_repr_html_`` a small table for notebooks.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field, fields, replace
from datetime import date
from enum import Enum
from typing import Any, ClassVar

from .models import APPS, INSTANCES, REPORTS, REQUESTS, SEGMENTS, AccessType, Category, Granularity, Resource
from .redact import redact_url

__all__ = ["Record", "App", "ReportRequest", "Report", "Instance", "Segment", "RECORDS", "record_from_resource"]


def _show(value: Any) -> str:
    if isinstance(value, Enum):
        return repr(value.value)
    if isinstance(value, date):
        return repr(value.isoformat())
    return repr(value)


class Record:
    """Shared behaviour of the record dataclasses."""

    resource: ClassVar[Resource]
    #: the relationship-id field filled from the parent of a listing (``app_id``…), if any
    parent_field: ClassVar[str | None] = None

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
    def from_resource(cls, resource: dict[str, Any], parent_id: str | None = None) -> Record:
        raise NotImplementedError


def _raw_field() -> Any:
    return field(default_factory=dict, compare=False, repr=False, hash=False)


def _attrs(resource: dict[str, Any]) -> dict[str, Any]:
    return resource.get("attributes") or {}


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


@dataclass(frozen=True, repr=False)
class App(Record):
    id: str
    name: str | None = None
    bundle_id: str | None = None
    sku: str | None = None
    primary_locale: str | None = None
    raw: dict[str, Any] = _raw_field()

    resource: ClassVar[Resource] = APPS

    @classmethod
    def from_resource(cls, resource: dict[str, Any], parent_id: str | None = None) -> App:
        a = _attrs(resource)
        return cls(str(resource["id"]), a.get("name"), a.get("bundleId"), a.get("sku"), a.get("primaryLocale"),
                   raw=resource)


@dataclass(frozen=True, repr=False)
class ReportRequest(Record):
    id: str
    access_type: AccessType | None = None
    stopped_due_to_inactivity: bool | None = None
    app_id: str | None = None
    raw: dict[str, Any] = _raw_field()

    resource: ClassVar[Resource] = REQUESTS
    parent_field: ClassVar[str | None] = "app_id"

    @classmethod
    def from_resource(cls, resource: dict[str, Any], parent_id: str | None = None) -> ReportRequest:
        a = _attrs(resource)
        return cls(str(resource["id"]), _enum(AccessType, a.get("accessType")), a.get("stoppedDueToInactivity"),
                   parent_id, raw=resource)


@dataclass(frozen=True, repr=False)
class Report(Record):
    id: str
    name: str | None = None
    category: Category | None = None
    request_id: str | None = None
    raw: dict[str, Any] = _raw_field()

    resource: ClassVar[Resource] = REPORTS
    parent_field: ClassVar[str | None] = "request_id"

    @classmethod
    def from_resource(cls, resource: dict[str, Any], parent_id: str | None = None) -> Report:
        a = _attrs(resource)
        return cls(str(resource["id"]), a.get("name"), _enum(Category, a.get("category")), parent_id, raw=resource)


@dataclass(frozen=True, repr=False)
class Instance(Record):
    id: str
    granularity: Granularity | None = None
    processing_date: date | None = None
    report_id: str | None = None
    raw: dict[str, Any] = _raw_field()

    resource: ClassVar[Resource] = INSTANCES
    parent_field: ClassVar[str | None] = "report_id"

    @classmethod
    def from_resource(cls, resource: dict[str, Any], parent_id: str | None = None) -> Instance:
        a = _attrs(resource)
        return cls(str(resource["id"]), _enum(Granularity, a.get("granularity")), _date(a.get("processingDate")),
                   parent_id, raw=resource)


@dataclass(frozen=True, repr=False)
class Segment(Record):
    id: str
    checksum: str | None = None
    size_in_bytes: int | None = None
    url: str | None = None
    instance_id: str | None = None
    raw: dict[str, Any] = _raw_field()

    resource: ClassVar[Resource] = SEGMENTS
    parent_field: ClassVar[str | None] = "instance_id"

    @classmethod
    def from_resource(cls, resource: dict[str, Any], parent_id: str | None = None) -> Segment:
        a = _attrs(resource)
        size = a.get("sizeInBytes")
        return cls(str(resource["id"]), a.get("checksum"), int(size) if size is not None else None, a.get("url"),
                   parent_id, raw=resource)

    def __repr__(self) -> str:  # the presigned URL is long and short-lived: show its host only
        host = (self.url or "").split("/")[2] if self.url and "://" in self.url else self.url
        return (f"Segment(id={self.id!r}, checksum={self.checksum!r}, size_in_bytes={self.size_in_bytes!r}, "
                f"url=<{host}…>, instance_id={self.instance_id!r})")

    def _repr_html_(self) -> str:  # as in __repr__: the presigned query string is a credential, never shown
        shown = redact_url(self.url) if self.url else self.url
        return Record._repr_html_(replace(self, url=shown))


#: resource type -> record class
RECORDS: dict[str, type[Record]] = {
    cls.resource.type: cls for cls in (App, ReportRequest, Report, Instance, Segment)
}


def record_from_resource(resource: dict[str, Any], parent_id: str | None = None) -> Record:
    """The record for a JSON:API resource, picked by its ``type``."""
    return RECORDS[resource["type"]].from_resource(resource, parent_id)
