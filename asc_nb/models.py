"""The vocabulary shared by the client and the sandbox.

Both sides import this module and nothing else from each other, so the enums, the
endpoint table and the resource attributes cannot drift apart: adding an endpoint is
one row here, not two implementations. A test checks this table against Apple's
OpenAPI document (``shared/spec``), so the table cannot drift from Apple either.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from typing import Any, Literal

API_HOST = "api.appstoreconnect.apple.com"
API_BASE_URL = f"https://{API_HOST}"
AUDIENCE = "appstoreconnect-v1"
#: Apple rejects tokens whose ``exp - iat`` is longer than this (seconds).
MAX_TOKEN_LIFETIME = 20 * 60
#: ``limit`` Apple assumes when none is sent (observed in Apple's examples).
DEFAULT_PAGE_LIMIT = 50
#: Presigned segment URLs are valid this long after they are generated (seconds).
SEGMENT_URL_LIFETIME = 5 * 60
#: Report instances are deleted this many days after they are generated.
INSTANCE_RETENTION_DAYS = 35
#: A second ONE_TIME_SNAPSHOT for an app is refused within this many days of the last one.
SNAPSHOT_COOLDOWN_DAYS = 31
#: The earliest date Apple keeps history for (a snapshot backfills from here).
HISTORY_START = "2024-01-01"


class _StrEnum(str, Enum):
    """A ``str`` enum whose ``str()`` is its value (``enum.StrEnum`` needs 3.11)."""

    def __str__(self) -> str:
        return self.value

    @classmethod
    def parse(cls, value: object, *, argument: str | None = None):
        """Accept a member or its name in any case; raise ``ValueError`` naming the choices."""
        if isinstance(value, cls):
            return value
        if isinstance(value, str):
            key = value.strip().upper().replace("-", "_").replace(" ", "_")
            if key in cls.__members__:
                return cls.__members__[key]
        choices = ", ".join(m.value for m in cls)
        what = argument or cls.__name__
        raise ValueError(f"{what} must be one of {choices}; got {value!r}")


class AccessType(_StrEnum):
    ONGOING = "ONGOING"
    ONE_TIME_SNAPSHOT = "ONE_TIME_SNAPSHOT"


class Category(_StrEnum):
    APP_USAGE = "APP_USAGE"
    APP_STORE_ENGAGEMENT = "APP_STORE_ENGAGEMENT"
    COMMERCE = "COMMERCE"
    FRAMEWORK_USAGE = "FRAMEWORK_USAGE"
    PERFORMANCE = "PERFORMANCE"


class Granularity(_StrEnum):
    DAILY = "DAILY"
    WEEKLY = "WEEKLY"
    MONTHLY = "MONTHLY"


#: How many days after a ``Date`` Apple may still publish it or correct it, per granularity
#: (daily data complete within ≤5 days; weekly published the Friday after the week; monthly on
#: the 5th of the following month). A fetch lists instances this far past its ``end``.
SETTLE_DAYS: dict[Granularity, int] = {Granularity.DAILY: 5, Granularity.WEEKLY: 14, Granularity.MONTHLY: 36}


def period_start(day: date, g: Granularity) -> date:
    """The ``Date`` Apple gives the period holding ``day``: the day itself, its week's Monday (weeks run
    Monday–Sunday) or its month's 1st. One definition for the data layer, the store, metrics and charts."""
    if g is Granularity.WEEKLY:
        return date.fromordinal(day.toordinal() - day.weekday())
    if g is Granularity.MONTHLY:
        return day.replace(day=1)
    return day


def period_end(day: date, g: Granularity) -> date:
    """The last day of the period holding ``day``."""
    if g is Granularity.WEEKLY:
        return date.fromordinal(period_start(day, g).toordinal() + 6)
    if g is Granularity.MONTHLY:
        following = date.fromordinal(day.replace(day=28).toordinal() + 4).replace(day=1)
        return date.fromordinal(following.toordinal() - 1)
    return day


def expected_dates(first: date, last: date, g: Granularity) -> list[date]:
    """The ``Date`` values a complete report of granularity ``g`` has for [first, last]: every day, or the
    period start of every week or month overlapping the range (``[]`` when ``last`` is before ``first``)."""
    out: list[date] = []
    if last < first:
        return out
    day = period_start(first, g)
    while day <= last:
        out.append(day)
        day = date.fromordinal(period_end(day, g).toordinal() + 1)
    return out


class Role(_StrEnum):
    """App Store Connect user roles that matter to the Analytics Reports API."""

    ADMIN = "ADMIN"
    SALES_AND_REPORTS = "SALES_AND_REPORTS"
    FINANCE = "FINANCE"
    DEVELOPER = "DEVELOPER"


#: Roles allowed to create and delete report requests; the others may only read.
WRITE_ROLES = frozenset({Role.ADMIN})
READ_ROLES = frozenset({Role.ADMIN, Role.SALES_AND_REPORTS, Role.FINANCE})


# --------------------------------------------------------------------------- resources


FieldKind = Literal["string", "boolean", "integer", "date", "enum"]


@dataclass(frozen=True)
class Attribute:
    """One attribute of a resource: Apple's name, its kind, and its enum when restricted to one.

    Records (``asc_nb.records``) and listing frames (``asc_nb.frames``) are derived from these:
    the column is ``snake(name)``; the kind decides the Python value and the pandas dtype.
    """

    name: str
    kind: FieldKind = "string"
    enum: type[_StrEnum] | None = None

    @property
    def column(self) -> str:
        return snake(self.name)


@dataclass(frozen=True)
class Resource:
    """One JSON:API resource type: its attribute table and to-many relationships, in Apple's order.

    ``parent`` is the column a listing fills with its parent's id (``app_id`` for an app's
    requests …); a resource read on its own gets it only when the client remembers the parent.
    """

    type: str
    fields: tuple[Attribute, ...]
    relationships: tuple[str, ...] = ()
    parent: str | None = None

    @property
    def attributes(self) -> tuple[str, ...]:
        """Apple's attribute names, in order."""
        return tuple(f.name for f in self.fields)

    @property
    def enums(self) -> dict[str, type[_StrEnum]]:
        """attribute -> enum class, for attributes restricted to an enum."""
        return {f.name: f.enum for f in self.fields if f.enum is not None}

    @property
    def columns(self) -> tuple[str, ...]:
        """A record's fields and a listing frame's columns: ``id``, the attributes, then the parent id."""
        return ("id", *(f.column for f in self.fields), *((self.parent,) if self.parent else ()))

    def sparse_fields(self) -> dict[str, str]:
        """The ``fields[type]`` query parameter asking for exactly the attributes in this table."""
        return {f"fields[{self.type}]": ",".join(self.attributes)}


APPS = Resource(
    "apps",
    (Attribute("name"), Attribute("bundleId"), Attribute("sku"), Attribute("primaryLocale")),
    ("analyticsReportRequests",),
)
REQUESTS = Resource(
    "analyticsReportRequests",
    (Attribute("accessType", "enum", AccessType), Attribute("stoppedDueToInactivity", "boolean")),
    ("reports",),
    parent="app_id",
)
REPORTS = Resource(
    "analyticsReports",
    (Attribute("name"), Attribute("category", "enum", Category)),
    ("instances",),
    parent="request_id",
)
INSTANCES = Resource(
    "analyticsReportInstances",
    (Attribute("granularity", "enum", Granularity), Attribute("processingDate", "date")),
    ("segments",),
    parent="report_id",
)
SEGMENTS = Resource(
    "analyticsReportSegments",
    (Attribute("checksum"), Attribute("sizeInBytes", "integer"), Attribute("url")),
    parent="instance_id",
)

RESOURCES: dict[str, Resource] = {r.type: r for r in (APPS, REQUESTS, REPORTS, INSTANCES, SEGMENTS)}

#: Every ``fields[apps]`` value Apple accepts (attributes and relationships, 4.4.1 + 4.5.1).
APP_FIELDS = (
    "accessibilityUrl name bundleId sku primaryLocale isOrEverWasMadeForKids subscriptionStatusUrl "
    "subscriptionStatusUrlVersion subscriptionStatusUrlForSandbox subscriptionStatusUrlVersionForSandbox "
    "contentRightsDeclaration streamlinedPurchasingEnabled accessibilityDeclarations appEncryptionDeclarations "
    "ciProduct betaTesters betaGroups appStoreVersions appTags preReleaseVersions betaAppLocalizations builds "
    "betaLicenseAgreement betaAppReviewDetail appInfos appClips appPricePoints endUserLicenseAgreement "
    "appPriceSchedule appAvailabilityV2 inAppPurchases subscriptionGroups gameCenterEnabledVersions "
    "perfPowerMetrics appCustomProductPages inAppPurchasesV2 promotedPurchases appEvents reviewSubmissions "
    "subscriptionGracePeriod customerReviews customerReviewSummarizations gameCenterDetail appStoreVersionExperimentsV2 "
    "alternativeDistributionKey analyticsReportRequests marketplaceSearchDetail backgroundAssets betaFeedbackScreenshotSubmissions "
    "betaFeedbackCrashSubmissions searchKeywords webhooks androidToIosAppMappingDetails appStoreIcon buildUploads "
    "performanceOverviews assetLibrary"
).split()


# --------------------------------------------------------------------------- endpoints

Kind = Literal["collection", "instance", "linkages", "create", "delete"]


@dataclass(frozen=True)
class Endpoint:
    """One operation of the API, as the spec declares it.

    ``filters`` maps a ``filter[...]`` name to its allowed values (``None`` = free text,
    comma-separated lists allowed). ``fields`` maps a resource type to the values its
    ``fields[type]`` accepts. ``max_limit`` is the largest ``limit`` (``None`` = no paging).
    """

    name: str
    method: Literal["GET", "POST", "DELETE"]
    path: str
    kind: Kind
    resource: str | None
    filters: dict[str, tuple[str, ...] | None] = field(default_factory=dict)
    fields: dict[str, tuple[str, ...]] = field(default_factory=dict)
    include: tuple[str, ...] = ()
    max_limit: int | None = None
    #: ``limit[relationship]`` parameters and their maxima
    include_limits: dict[str, int] = field(default_factory=dict)
    sort: tuple[str, ...] = ()
    #: ``exists[relationship]`` parameters (boolean)
    exists: tuple[str, ...] = ()
    #: roles allowed to call it
    roles: frozenset[Role] = READ_ROLES

    @property
    def pattern(self) -> re.Pattern[str]:
        return re.compile("^" + self.path.replace("{id}", "(?P<id>[^/]+)") + "$")

    def url(self, id: str | None = None) -> str:
        """The path with ``{id}`` filled in."""
        return self.path.replace("{id}", str(id)) if id is not None else self.path

    @property
    def query_parameters(self) -> frozenset[str]:
        """Every query parameter name this endpoint accepts (``cursor`` included when it pages)."""
        names = {f"filter[{k}]" for k in self.filters} | {f"fields[{k}]" for k in self.fields}
        if self.include:
            names.add("include")
        if self.max_limit is not None:
            names |= {"limit", "cursor"}
        names |= {f"limit[{k}]" for k in self.include_limits}
        if self.sort:
            names.add("sort")
        names |= {f"exists[{k}]" for k in self.exists}
        return frozenset(names)


def _f(*resources: Resource) -> dict[str, tuple[str, ...]]:
    return {r.type: r.attributes + r.relationships for r in resources}


#: The query parameters Apple's spec declares for /v1/apps and /v1/apps/{id} (~57, mostly about
#: resources asc-nb never reads), extracted from the spec by tools/spec_parameters.py.
SPEC_PARAMETERS: dict[str, Any] = json.loads(
    (Path(__file__).with_name("spec_parameters.json")).read_text(encoding="utf-8")
)["operations"]


def _spec_row(operation: str) -> dict[str, Any]:
    """Endpoint keyword arguments for ``operation`` ("GET /v1/apps"), read from SPEC_PARAMETERS."""
    kw: dict[str, Any] = {"filters": {}, "fields": {}, "include_limits": {}}
    exists: list[str] = []
    for name, p in SPEC_PARAMETERS[operation].items():
        head, _, inner = name.partition("[")
        inner = inner[:-1]
        enum = tuple(p["enum"]) if "enum" in p else None
        if head == "filter":
            kw["filters"][inner] = enum
        elif head == "fields":
            kw["fields"][inner] = enum
        elif head == "exists":
            exists.append(inner)
        elif head == "limit" and inner:
            kw["include_limits"][inner] = p["maximum"]
        elif name == "limit":
            kw["max_limit"] = p["maximum"]
        elif name in ("include", "sort"):
            kw[name] = enum
        else:  # pragma: no cover - a new kind of parameter needs a decision here
            raise ValueError(f"{operation}: unexpected parameter {name}")
    kw["fields"]["apps"] = tuple(APP_FIELDS)  # the spec's 4.4.1 values + the two 4.5.1 additions
    kw["exists"] = tuple(exists)
    return kw


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("apps", "GET", "/v1/apps", "collection", "apps", **_spec_row("GET /v1/apps")),
    Endpoint("app", "GET", "/v1/apps/{id}", "instance", "apps", **_spec_row("GET /v1/apps/{id}")),
    Endpoint(
        "app_report_requests",
        "GET",
        "/v1/apps/{id}/analyticsReportRequests",
        "collection",
        "analyticsReportRequests",
        filters={"accessType": tuple(AccessType)},
        fields=_f(REQUESTS, REPORTS),
        include=("reports",),
        max_limit=200,
        include_limits={"reports": 50},
    ),
    Endpoint(
        "app_report_request_linkages",
        "GET",
        "/v1/apps/{id}/relationships/analyticsReportRequests",
        "linkages",
        "analyticsReportRequests",
        max_limit=200,
    ),
    Endpoint(
        "create_report_request",
        "POST",
        "/v1/analyticsReportRequests",
        "create",
        "analyticsReportRequests",
        roles=frozenset(WRITE_ROLES),
    ),
    Endpoint(
        "report_request",
        "GET",
        "/v1/analyticsReportRequests/{id}",
        "instance",
        "analyticsReportRequests",
        fields=_f(REQUESTS, REPORTS),
        include=("reports",),
        include_limits={"reports": 50},
    ),
    Endpoint(
        "delete_report_request",
        "DELETE",
        "/v1/analyticsReportRequests/{id}",
        "delete",
        "analyticsReportRequests",
        roles=frozenset(WRITE_ROLES),
    ),
    Endpoint(
        "request_reports",
        "GET",
        "/v1/analyticsReportRequests/{id}/reports",
        "collection",
        "analyticsReports",
        filters={"name": None, "category": tuple(Category)},
        fields=_f(REPORTS),
        max_limit=200,
    ),
    Endpoint(
        "request_report_linkages",
        "GET",
        "/v1/analyticsReportRequests/{id}/relationships/reports",
        "linkages",
        "analyticsReports",
        max_limit=200,
    ),
    Endpoint(
        "report", "GET", "/v1/analyticsReports/{id}", "instance", "analyticsReports", fields=_f(REPORTS)
    ),
    Endpoint(
        "report_instances",
        "GET",
        "/v1/analyticsReports/{id}/instances",
        "collection",
        "analyticsReportInstances",
        filters={"granularity": tuple(Granularity), "processingDate": None},
        fields=_f(INSTANCES),
        max_limit=200,
    ),
    Endpoint(
        "report_instance_linkages",
        "GET",
        "/v1/analyticsReports/{id}/relationships/instances",
        "linkages",
        "analyticsReportInstances",
        max_limit=200,
    ),
    Endpoint(
        "instance",
        "GET",
        "/v1/analyticsReportInstances/{id}",
        "instance",
        "analyticsReportInstances",
        fields=_f(INSTANCES),
    ),
    Endpoint(
        "instance_segments",
        "GET",
        "/v1/analyticsReportInstances/{id}/segments",
        "collection",
        "analyticsReportSegments",
        fields=_f(SEGMENTS),
        max_limit=200,
    ),
    Endpoint(
        "instance_segment_linkages",
        "GET",
        "/v1/analyticsReportInstances/{id}/relationships/segments",
        "linkages",
        "analyticsReportSegments",
        max_limit=200,
    ),
    Endpoint(
        "segment",
        "GET",
        "/v1/analyticsReportSegments/{id}",
        "instance",
        "analyticsReportSegments",
        fields=_f(SEGMENTS),
    ),
)

ENDPOINTS_BY_NAME: dict[str, Endpoint] = {e.name: e for e in ENDPOINTS}


def endpoint(name: str) -> Endpoint:
    """The endpoint called ``name`` (a ``KeyError`` lists the known names)."""
    try:
        return ENDPOINTS_BY_NAME[name]
    except KeyError:
        raise KeyError(f"no endpoint {name!r}; known: {', '.join(ENDPOINTS_BY_NAME)}") from None


def match(method: str, path: str) -> tuple[Endpoint, str | None] | None:
    """Find the endpoint for ``method`` + ``path``; return it and the ``{id}`` (or ``None``)."""
    for ep in ENDPOINTS:
        if ep.method == method.upper():
            m = ep.pattern.match(path)
            if m:
                return ep, m.groupdict().get("id")
    return None


# --------------------------------------------------------------------------- records


def snake(name: str) -> str:
    """``stoppedDueToInactivity`` -> ``stopped_due_to_inactivity``; ``App Apple Identifier`` -> ``app_apple_identifier``."""
    s = re.sub(r"[^0-9A-Za-z]+", "_", name.strip())
    s = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", s)
    return re.sub(r"_+", "_", s).strip("_").lower()


def iso_date(value: object, what: str) -> date:
    """A date argument: a ``date``/``datetime``/``Timestamp`` or strictly ``'YYYY-MM-DD'`` text.

    Strict on purpose: ``'03/01/2026'`` is 1 March to some and 3 January to others, and
    ``'2026-02'`` could mean the 1st or the whole month; guessing would fetch other days.
    """
    if isinstance(value, datetime):  # pd.Timestamp is a datetime
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        text = value.strip()
        if len(text) == 10:
            try:
                return date.fromisoformat(text)
            except ValueError:
                pass
        raise ValueError(f"{what} must be an ISO date 'YYYY-MM-DD', got {value!r}")
    raise TypeError(f"{what} must be a date or 'YYYY-MM-DD' string, got {type(value).__name__}")
