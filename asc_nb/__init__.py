"""asc-nb: App Store Connect Analytics Reports in JupyterLab, as typed pandas DataFrames.

``asc_nb.connect()`` returns a :class:`Client`: against Apple when credentials are given or
found in ``ASC_*`` environment variables, otherwise against an embedded, deterministic
sandbox with a few weeks of history (announced once: an info line in a notebook, else on stderr).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from importlib import import_module
from typing import TYPE_CHECKING, Any

from . import config
from .auth import Credentials, TokenSigner
from .client import Client, FetchPlan
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
from .models import API_BASE_URL, AccessType, Category, Granularity, Role
from .records import App, Instance, Report, ReportRequest, Segment
from .registry import describe_report, report_catalog

if TYPE_CHECKING:  # pragma: no cover
    import httpx

    from .sandbox import Sandbox
    from .store import Store

__version__ = "0.1.0"

__all__ = [
    "connect", "Client", "FetchPlan", "Credentials", "TokenSigner", "Sandbox", "Store",
    "AccessType", "Category", "Granularity", "Role",
    "App", "ReportRequest", "Report", "Instance", "Segment", "RateLimit", "RetryPolicy",
    "ASCError", "APIError", "ConfigError", "ChecksumError", "NetworkError", "UnsafeURLError",
    "BadRequestError", "AuthenticationError", "ForbiddenError", "NotFoundError", "ConflictError",
    "UnprocessableError", "RateLimitError", "ServerError", "to_parquet", "read_parquet",
    "ReportNotFoundError", "SegmentFormatError", "DownloadCancelled", "NonAdditiveMetricError", "StoreLockedError",
    "MissingDatesWarning", "SchemaDriftWarning", "ParseIssuesWarning", "MetricError", "metric_catalog",
    "report_catalog", "describe_report",
]

SANDBOX_NOTICE = (
    "asc_nb: sandbox mode — no App Store Connect credentials found, so this client talks to a simulated "
    "App Store Connect with generated data. Set ASC_KEY_ID, ASC_ISSUER_ID and ASC_PRIVATE_KEY_PATH to use Apple."
)
_announced = False
#: the embedded default sandbox starts with this much history: every app holds an ONGOING request
#: created this many days ago, so ``connect()`` + ``fetch`` of the last weeks returns data at once
DEFAULT_SANDBOX_HISTORY_DAYS = 28


class _Notice:
    """The sandbox notice as a quiet info line in a notebook (fixed text: nbval-stable)."""

    def __repr__(self) -> str:
        return SANDBOX_NOTICE

    def _repr_html_(self) -> str:
        import html

        return ('<div class="asc-nb-notice" style="color: var(--jp-ui-font-color2, #666); '
                'font-size: var(--jp-ui-font-size1, 12px); padding: 2px 0;">'
                f"&#9432; {html.escape(SANDBOX_NOTICE)}</div>")


def _in_kernel() -> bool:
    """Whether this runs in a Jupyter kernel (where stderr shows as a red box)."""
    ipython = sys.modules.get("IPython")
    get = getattr(ipython, "get_ipython", None)
    shell = get() if callable(get) else None
    return shell is not None and getattr(shell, "kernel", None) is not None


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
    if name == "download":
        return import_module("asc_nb.download")
    if name == "frames":
        return import_module("asc_nb.frames")
    if name == "data":
        return import_module("asc_nb.data")
    if name == "metrics":
        return import_module("asc_nb.metrics")
    if name == "store":
        return import_module("asc_nb.store")
    raise AttributeError(f"module 'asc_nb' has no attribute {name!r}")


def _announce_sandbox() -> None:
    """Say once per process that the data is simulated: a quiet info line in a notebook, else on stderr."""
    global _announced
    if not _announced:
        _announced = True
        if _in_kernel():
            from IPython.display import display

            display(_Notice())
        else:
            print(SANDBOX_NOTICE, file=sys.stderr)


def connect(
    credentials: Credentials | None = None,
    *,
    key_id: str | None = None,
    issuer_id: str | None = None,
    private_key: Any = None,
    individual: bool = False,
    sandbox: Sandbox | None = None,
    base_url: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    transport: httpx.BaseTransport | None = None,
    environ: Mapping[str, str] | None = None,
    **client_options: Any,
) -> Client:
    """A :class:`Client` for the first of: explicit credentials (a :class:`Credentials` or
    ``key_id``/``issuer_id``/``private_key``), a given ``sandbox``, ``ASC_*`` environment
    variables, or a fresh embedded :class:`Sandbox` (announced once: an info line in a notebook, else
    on stderr) whose apps each hold an ONGOING request made ``DEFAULT_SANDBOX_HISTORY_DAYS`` ago.

    ``base_url`` (or ``ASC_BASE_URL``) points at another server, e.g. the sandbox CLI on
    127.0.0.1; ``cache_dir`` (or ``ASC_NB_CACHE_DIR``) is where downloads are cached.
    ``transport`` (an ``httpx.BaseTransport``: a recorder, a proxy, a test double) carries every
    request, to the API and to the download host alike. The environment (``environ``, default
    ``os.environ``) is read through :mod:`asc_nb.config` only. Other keyword arguments go to
    :class:`Client` (``timeout``, ``retry``, ``sleep``, ``scope``, ``pacer``).
    """
    env = config.read(environ)
    if base_url is None and sandbox is None:
        base_url = env.base_url or None
    cache_dir = config.cache_dir(cache_dir, environ)
    if credentials is not None and any(v is not None for v in (key_id, issuer_id, private_key)):
        raise ConfigError("Pass either credentials= or key_id/issuer_id/private_key, not both")
    if credentials is None and any(v is not None for v in (key_id, issuer_id, private_key)):
        if private_key is None:
            raise ConfigError("private_key= is required with key_id/issuer_id (PEM text or a path to the .p8 file)")
        credentials = Credentials(key_id, issuer_id, private_key, individual=individual, source="arguments")
    if credentials is None and sandbox is None:
        if env.has_credentials:
            credentials = Credentials.from_env(environ)
        elif base_url is not None:
            raise ConfigError(
                f"ASC_BASE_URL/base_url is {base_url} but no credentials were found: set ASC_KEY_ID, "
                "ASC_ISSUER_ID and ASC_PRIVATE_KEY_PATH (the sandbox CLI writes them with --write-credentials)"
            )
        else:
            from .sandbox import Sandbox

            sandbox = Sandbox(history_days=DEFAULT_SANDBOX_HISTORY_DAYS)
            _announce_sandbox()
    if base_url is None and sandbox is None:
        base_url = API_BASE_URL
    return Client(credentials, sandbox=sandbox, base_url=base_url, cache_dir=cache_dir, transport=transport,
                  **client_options)
