"""The MCP server: the tools of :class:`~asc_nb.mcp.answers.Answers` over stdio, with the official ``mcp`` SDK.

Why this shape: every tool is a thin, typed signature (the client shows its schema to the model)
around one ``Answers`` method, behind :func:`_guarded`, which turns any failure into a tool error
(``is_error`` with a message that says what to fix) so the server never dies on bad input; only a
crash of our own shows its exception type. The process drops the App Store Connect credential
variables from its environment at start: it never calls Apple, so nothing can echo a key.
"""

# no `from __future__ import annotations`: the SDK reads the tools' annotations, which name local types

import functools
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from asc_nb.config import CREDENTIAL_VARS
from asc_nb.errors import ASCError, ConfigError

__all__ = ["INSTRUCTIONS", "build_server", "open_store", "serve_stdio"]

INSTRUCTIONS = """\
Read-only answers from an asc-nb Store: a local history of Apple's App Store Connect Analytics Reports \
(latest vintage per app × report × date). Start with list_apps, list_reports and list_metrics; ask numbers with \
metrics (App Analytics metrics such as impressions, total_downloads, first_time_downloads, sessions, \
active_devices, conversion_rate; by=['date','territory',...]); use sql for anything else (DuckDB SELECT over \
the views list_reports names). Every answer has a provenance block: the reports and vintages read, the as-of \
day, provisional dates (Apple may still revise them) and Python code that reproduces it with asc_nb. Unique \
counts (active_devices, *_unique, paying_users) are never summed: such a request is refused unless approx=true, \
which returns a marked upper bound. Nothing can be created, deleted or written through this server."""


def open_store(path: str | os.PathLike[str]) -> Any:
    """The Store at ``path``, which must already exist (the server never makes or fills one)."""
    from asc_nb.store import Store

    root = Path(path).expanduser()
    if not (root / "lake").is_dir():
        raise ConfigError(
            f"no asc-nb store at {str(root)!r} (no lake/ folder): give the directory a sync wrote, "
            "e.g. python -m asc_nb sync --store DIR"
        )
    return Store(root)


def _guarded(lock: threading.Lock) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Tool-call wrapper: one call at a time, every failure a ``ToolError`` (the SDK's tool error)."""
    from mcp.server.mcpserver.exceptions import ToolError

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def tool(*args: Any, **kwargs: Any) -> Any:
            with lock:
                try:
                    return fn(*args, **kwargs)
                except ASCError as err:
                    raise ToolError(f"{type(err).__name__}: {err}") from None
                except (ValueError, TypeError, LookupError) as err:
                    raise ToolError(f"bad argument ({type(err).__name__}): {err}") from None
                except Exception as err:  # a bug of ours: still an answer, never a dead server
                    logging.getLogger("asc_nb.mcp").error(
                        "tool %s failed: %s", fn.__name__, type(err).__name__
                    )
                    raise ToolError(
                        f"internal error ({type(err).__name__}) in {fn.__name__}: {err}"
                    ) from None

        return tool

    return wrap


def build_server(store: Any, *, max_rows: int = 1000, sql_timeout: float = 10.0) -> Any:
    """An ``MCPServer`` whose read-only tools answer from ``store``."""
    return _build(store, max_rows=max_rows, sql_timeout=sql_timeout)[0]


def _build(store: Any, *, max_rows: int, sql_timeout: float) -> tuple[Any, Any]:
    from mcp.server.mcpserver import MCPServer
    from mcp.types import ToolAnnotations
    from pydantic import Field

    from asc_nb.mcp.answers import Answers

    answers = Answers(store, max_rows=max_rows, sql_max_rows=max_rows, sql_timeout=sql_timeout)
    server = MCPServer("asc-nb", instructions=INSTRUCTIONS, log_level="WARNING")
    guard = _guarded(threading.Lock())
    read_only = ToolAnnotations(
        read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
    )

    def add(fn: Callable[..., Any]) -> None:
        server.add_tool(guard(fn), name=fn.__name__, description=fn.__doc__, annotations=read_only)

    Ids = Annotated[list[str], Field(description="app ids (Apple ids as strings; list_apps names them)")]
    Day = Annotated[str | None, Field(description="a date YYYY-MM-DD (the report's own Date), or null")]

    def list_apps() -> dict[str, Any]:
        """The apps the store holds rows for: app_id, name, the views holding them, first and last date."""
        return answers.list_apps()

    def list_reports(
        catalog: Annotated[
            bool, Field(description="also list every report Apple offers (not only what the store holds)")
        ] = False,
    ) -> dict[str, Any]:
        """The reports the store holds: report, granularity, DuckDB view name (for sql), dates, first/last date."""
        return answers.list_reports(catalog)

    def describe_report(
        name: Annotated[str, Field(description="report name, e.g. 'App Downloads Standard'")],
    ) -> dict[str, Any]:
        """A report's fields (column, dtype, additive or not, Apple's description), its views and its metrics."""
        return answers.describe_report(name)

    def list_metrics() -> dict[str, Any]:
        """Every App Analytics metric: report(s), definition, expression, additive?, unit and Apple's page."""
        return answers.list_metrics()

    def metrics(
        app_ids: Ids,
        metrics: Annotated[
            list[str], Field(description="metric names from list_metrics, e.g. ['total_downloads']")
        ],
        start: Day = None,
        end: Day = None,
        by: Annotated[
            list[str],
            Field(
                description="breakdown: 'date' and/or report columns such as 'territory', "
                "'device', 'source_type'; [] for one total"
            ),
        ] = ["date"],  # noqa: B006
        as_of: Annotated[
            str | None,
            Field(
                description="YYYY-MM-DD: the answer as the store knew it when Apple's "
                "processing date was this day (null: the latest)"
            ),
        ] = None,
        granularity: Annotated[str, Field(description="DAILY, WEEKLY or MONTHLY")] = "DAILY",
        filters: Annotated[
            dict[str, list[str]] | None,
            Field(description="column -> accepted values, e.g. {'territory': ['US']}"),
        ] = None,
        approx: Annotated[
            bool, Field(description="sum unique counts anyway, as a marked upper bound")
        ] = False,
    ) -> dict[str, Any]:
        """App Analytics metrics from the store, exactly as store.metrics computes them, with provenance.

        Unique counts are exact only at their report's own grain; a coarser request is refused (the error says
        which grain is exact) unless approx=true."""
        return answers.metrics(
            app_ids,
            metrics,
            start=start,
            end=end,
            by=by,
            as_of=as_of,
            granularity=granularity,
            filters=filters,
            approx=approx,
        )

    def health(
        apps: Annotated[list[str] | None, Field(description="app ids (null: all)")] = None,
        reports: Annotated[list[str] | None, Field(description="report names (null: all)")] = None,
        granularity: Annotated[str | None, Field(description="DAILY, WEEKLY or MONTHLY (null: all)")] = None,
        start: Day = None,
        end: Day = None,
        states: Annotated[
            list[str] | None,
            Field(
                description="only these states: final, provisional, missing, empty, duplicate, restated, expiring"
            ),
        ] = None,
    ) -> dict[str, Any]:
        """The store's ledger: per app × report × date its state (final, provisional, missing, …) and the reason."""
        return answers.health(
            apps=apps, reports=reports, granularity=granularity, start=start, end=end, states=states
        )

    def sql(
        query: Annotated[
            str, Field(description="one DuckDB SELECT over the store's views (list_reports names them)")
        ],
        max_rows: Annotated[
            int | None, Field(description="at most this many rows (capped by the server)")
        ] = None,
    ) -> dict[str, Any]:
        """Read-only SQL over the lake: one SELECT, only the store's views (no files, no writes), row and time limits."""
        return answers.sql(query, max_rows)

    for fn in (list_apps, list_reports, describe_report, list_metrics, metrics, health, sql):
        add(fn)
    return server, answers


def _drop_credentials() -> None:
    """The server never talks to Apple: remove the key variables so no code path can read (or print) them."""
    for name in CREDENTIAL_VARS:
        os.environ.pop(name, None)


def serve_stdio(path: str | os.PathLike[str], *, max_rows: int = 1000, sql_timeout: float = 10.0) -> None:
    """Serve the store at ``path`` over stdin/stdout until the client closes the connection."""
    _drop_credentials()
    store = open_store(path)
    server, answers = _build(store, max_rows=max_rows, sql_timeout=sql_timeout)
    try:
        server.run("stdio")
    finally:
        answers.close()
        store.close()
