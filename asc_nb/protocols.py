"""What the store, metrics and widgets need of a client, as types (``typing.Protocol``), not ``Any``.

:class:`asc_nb.Client` satisfies every protocol here; a test double or another client (a proxy's, a
recording one) needs only the members of the protocol its consumer takes. Members are read-only
properties so a class with a more specific type (``Client.sandbox: Sandbox | None``) still fits.
This module imports nothing that runs (the ``httpx`` and pandas types are for type checkers only),
so every layer may use it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from asc_nb.models import AccessType, Category, Granularity
from asc_nb.records import App, Instance, Report, ReportRequest, Segment

if TYPE_CHECKING:  # pragma: no cover
    import httpx
    import pandas as pd

__all__ = [
    "Clock",
    "ClientInfo",
    "HTTPSession",
    "MetricsClient",
    "PanelClient",
    "RateLimitInfo",
    "SyncClient",
    "WidgetClient",
]


class Clock(Protocol):
    """Something with a ``now`` (the sandbox: its simulated clock)."""

    @property
    def now(self) -> datetime: ...


class HTTPSession(Protocol):
    """The API session: its ``httpx.Client`` (the store counts responses through its event hooks)."""

    @property
    def client(self) -> httpx.Client: ...


class RateLimitInfo(Protocol):
    """The last ``X-Rate-Limit`` seen: the hourly limit and what remains of it."""

    @property
    def limit(self) -> int | None: ...

    @property
    def remaining(self) -> int | None: ...


@runtime_checkable
class ClientInfo(Protocol):
    """Where a client's data comes from: ``mode`` (``"apple"``, ``"sandbox"``, ``"custom"``), the sandbox
    it talks to (``None`` otherwise), and its download cache."""

    @property
    def mode(self) -> str: ...

    @property
    def sandbox(self) -> Clock | None: ...

    @property
    def cache_dir(self) -> Path: ...


@runtime_checkable
class SyncClient(ClientInfo, Protocol):
    """What ``Store.sync`` calls: listings on the caller's side, the download client for workers in-process."""

    @property
    def http(self) -> HTTPSession: ...

    @property
    def downloads(self) -> httpx.Client: ...

    def iter_apps(self) -> Iterator[App]: ...

    def ensure_ongoing(self, app_id: str, *, restart_stopped: bool = False) -> ReportRequest: ...

    def create_report_request(self, app_id: str, access_type: AccessType | str) -> ReportRequest: ...

    def report_request(self, id: str) -> ReportRequest: ...

    def iter_reports(
        self, request_id: str, category: Category | str | None = None, name: str | list[str] | None = None
    ) -> Iterator[Report]: ...

    def iter_instances(
        self, report_id: str, granularity: Granularity | str | None = None, processing_date: Any = None
    ) -> Iterator[Instance]: ...

    def iter_segments(self, instance_id: str) -> Iterator[Segment]: ...


@runtime_checkable
class MetricsClient(ClientInfo, Protocol):
    """What ``client.metrics`` loads reports with: the app's requests, ``plan_fetch`` and ``fetch`` (and the
    sandbox's clock for its today)."""

    def report_requests(self, app_id: str, access_type: AccessType | str | None = None) -> pd.DataFrame: ...

    def plan_fetch(
        self, request: Any, report: Any, granularity: Any = "DAILY", start: Any = None, end: Any = None
    ) -> Any: ...

    def fetch(
        self,
        plan: Any,
        report: Any = None,
        granularity: Any = "DAILY",
        start: Any = None,
        end: Any = None,
        vintages: bool = False,
        to: Any = None,
        progress: Any = None,
    ) -> pd.DataFrame | Path: ...


@runtime_checkable
class PanelClient(ClientInfo, Protocol):
    """What every widget panel reads of its client besides the calls it makes: the wait announcements
    (``on_wait``), the API session and the last rate limit seen."""

    @property
    def http(self) -> HTTPSession: ...

    @property
    def rate_limit(self) -> RateLimitInfo | None: ...

    def on_wait(self, callback: Callable[[str, float], None]) -> Callable[[], None]: ...


@runtime_checkable
class WidgetClient(PanelClient, MetricsClient, SyncClient, Protocol):
    """Everything the widgets call (the Store panel syncs): listings as DataFrames, request management, planning
    and fetching."""

    @property
    def base_url(self) -> str: ...

    def apps(self) -> pd.DataFrame: ...

    def app(self, id: str) -> App: ...

    def reports(
        self, request_id: str, category: Category | str | None = None, name: str | list[str] | None = None
    ) -> pd.DataFrame: ...

    def delete_report_request(self, id: str) -> None: ...

    def instances(
        self, report_id: str, granularity: Granularity | str | None = None, processing_date: Any = None
    ) -> pd.DataFrame: ...

    def plan_fetch(
        self, request: Any, report: Any, granularity: Any = "DAILY", start: Any = None, end: Any = None
    ) -> Any: ...
