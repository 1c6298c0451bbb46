"""asc-nb: App Store Connect Analytics Reports in JupyterLab, as typed pandas DataFrames.

``asc_nb.connect()`` returns a :class:`Client`: against Apple when credentials are given or
found in ``ASC_*`` environment variables, otherwise against an embedded, deterministic
sandbox (announced once on stderr).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .auth import Credentials, TokenSigner
from .client import Client, FetchPlan
from .connection import SANDBOX_NOTICE as SANDBOX_NOTICE
from .connection import connect
from .data.parse import parse_segment
from .errors import (
    APIError,
    ASCError,
    AuthenticationError,
    BadRequestError,
    ChecksumError,
    ConfigError,
    ConflictError,
    DownloadCancelled,
    ForbiddenError,
    MetricError,
    MissingDatesWarning,
    NetworkError,
    NonAdditiveMetricError,
    NotFoundError,
    ParseIssuesWarning,
    RateLimitError,
    ReportNotFoundError,
    SchemaDriftWarning,
    SegmentFormatError,
    ServerError,
    StoreLockedError,
    UnprocessableError,
    UnsafeURLError,
)
from .http import RateLimit, RetryPolicy
from .models import API_BASE_URL as API_BASE_URL
from .models import AccessType, Category, Granularity, Role
from .records import App, Instance, Report, ReportRequest, Segment
from .registry import describe_report, report_catalog

if TYPE_CHECKING:  # pragma: no cover
    from .sandbox import Sandbox
    from .store import Store

__version__ = "0.1.0"

__all__ = [
    "connect",
    "Client",
    "FetchPlan",
    "Credentials",
    "TokenSigner",
    "Sandbox",
    "Store",
    "AccessType",
    "Category",
    "Granularity",
    "Role",
    "App",
    "ReportRequest",
    "Report",
    "Instance",
    "Segment",
    "RateLimit",
    "RetryPolicy",
    "ASCError",
    "APIError",
    "ConfigError",
    "ChecksumError",
    "NetworkError",
    "UnsafeURLError",
    "BadRequestError",
    "AuthenticationError",
    "ForbiddenError",
    "NotFoundError",
    "ConflictError",
    "UnprocessableError",
    "RateLimitError",
    "ServerError",
    "to_parquet",
    "read_parquet",
    "ReportNotFoundError",
    "SegmentFormatError",
    "DownloadCancelled",
    "NonAdditiveMetricError",
    "StoreLockedError",
    "MissingDatesWarning",
    "SchemaDriftWarning",
    "ParseIssuesWarning",
    "MetricError",
    "metric_catalog",
    "report_catalog",
    "describe_report",
    "parse_segment",
    "report",
    "views",
]


def __getattr__(name: str) -> Any:
    # the sandbox (and widgets) load on first use: importing asc_nb stays light
    if name == "Sandbox":
        from .sandbox import Sandbox

        return Sandbox
    if name == "Store":  # pyarrow.parquet and sqlite load on first use
        from .store import Store

        return Store
    if name in ("to_parquet", "read_parquet"):  # pyarrow.parquet loads on first use
        from .data import export

        return getattr(export, name)
    if name == "metric_catalog":  # the metric table loads the report registry on first use
        from .metrics import metric_catalog

        return metric_catalog
    # submodules on first use, by literal name (the layering test reads these arrows too)
    if name == "widgets":
        return import_module("asc_nb.widgets")
    if name == "sandbox":
        return import_module("asc_nb.sandbox")
    if name == "frames":
        return import_module("asc_nb.frames")
    if name == "data":
        return import_module("asc_nb.data")
    if name == "metrics":
        return import_module("asc_nb.metrics")
    if name == "store":
        return import_module("asc_nb.store")
    if name == "views":
        return import_module("asc_nb.views")
    if name == "report":  # a callable module: asc_nb.report(source, app_ids, out) builds the offline report
        return import_module("asc_nb.report")
    raise AttributeError(f"module 'asc_nb' has no attribute {name!r}")
