"""Where a Store keeps its rows: the ``Destination`` protocol, and finding one by its format name.

A destination commits one partition (report, granularity, date, app) of one vintage atomically,
latest vintage winning and superseded vintages kept; it says what it holds (``stored``,
``reports``, ``vintages``) and reads a report back, optionally ``as_of`` a processing date.
The Store, its sync engine and the worker job (``run_job``, possibly in another process) talk
to it only through this protocol, so a new destination is one module:

* ``asc_nb/store/<format>.py`` that calls :func:`register_destination` at import (the
  ``delta`` format is found this way on first use), or
* any code that calls :func:`register_destination` before ``Store(path, format=...)``.

A worker rebuilds the destination from its picklable :meth:`Destination.spec` with
:func:`open_destination`.

A :data:`Vintage` is ``(known_on ISO 'YYYY-MM-DD', instance_id)`` and compares as a tuple. ``known_on``
is its rank, the day its rows became known: Apple's processing date for an ONGOING instance, the
day the store first saw the instance for a ONE_TIME_SNAPSHOT (whose instances carry old processing
dates because they hold history). A destination never needs to know which: it ranks, keeps and
reads ``as_of`` by ``vintage[0]``, records it where the protocol says ``processing_date`` (the
footer, ``vintages()``'s ``processing_date`` column, ``WriteResult.replaced``), and stores the rows'
own ``processing_date`` column (Apple's) unchanged. ``Store.vintages`` shows both.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import pandas as pd
import pyarrow as pa

from asc_nb.data.lake import ParquetLake, Vintage, WriteResult
from asc_nb.errors import ConfigError

__all__ = ["Destination", "Vintage", "WriteResult", "formats", "open_destination", "register_destination"]


@runtime_checkable
class Destination(Protocol):
    """A store's rows (see the module docstring; the Parquet lake is :class:`asc_nb.data.lake.ParquetLake`)."""

    format: str
    root: Path

    def spec(self) -> dict[str, str]:
        """Picklable ``{"format": ..., "root": ...}``; :func:`open_destination` rebuilds the destination."""
        ...

    def write_partition(
        self, report: str, granularity: str, day: str, app_id: str, table: pa.Table, vintage: Vintage
    ) -> WriteResult:
        """Commit one partition atomically; the greatest vintage (rank, then id) wins, a superseded one is kept."""
        ...

    def stored(self) -> dict[tuple[str, str], dict[str, int]]:
        """(report, granularity) -> {day: number of apps stored}."""
        ...

    def read(
        self,
        report: str,
        granularity: str,
        *,
        apps: Sequence[str] | None = None,
        start: str | None = None,
        end: str | None = None,
        as_of: str | None = None,
    ) -> pa.Table:
        """Current rows (or, with ``as_of``, per (app, date) the newest vintage whose rank is on or before it)."""
        ...

    def vintages(self, report: str, granularity: str) -> pd.DataFrame:
        """Every vintage seen: app_id, date, processing_date (the vintage's rank), instance_id, rows, current."""
        ...

    def reports(self) -> list[tuple[str, str]]:
        """(report, granularity) pairs held."""
        ...

    def duckdb_source(self, report: str, granularity: str) -> str:
        """A DuckDB table expression of the current rows."""
        ...


Factory = Callable[[dict[str, str]], Destination]
_FACTORIES: dict[str, Factory] = {"parquet": lambda spec: ParquetLake(spec["root"])}
#: formats that need an optional extra, and the pip spelling that installs it
_EXTRAS = {"delta": 'pip install "asc-nb[delta]"'}


def register_destination(format: str, factory: Factory) -> None:
    """Make ``Store(path, format=format)`` build its destination with ``factory(spec)``."""
    _FACTORIES[format] = factory


def formats() -> list[str]:
    """The formats known now (others may be found as modules on first use)."""
    return sorted(_FACTORIES)


def open_destination(spec: dict[str, str]) -> Destination:
    """The destination a spec names (``{"format": "parquet", "root": "/path/store"}``)."""
    fmt = str(spec.get("format") or "parquet")
    if fmt not in _FACTORIES and re.fullmatch(r"[a-z][a-z0-9_]*", fmt):
        try:
            importlib.import_module(f"asc_nb.store.{fmt}")  # registers itself
        except ImportError as err:
            extra = _EXTRAS.get(fmt)
            if extra is not None:
                raise ConfigError(f"format={fmt!r} needs the {fmt} extra ({extra}): {err}") from None
    factory = _FACTORIES.get(fmt)
    if factory is None:
        hint = f" ({_EXTRAS[fmt]})" if fmt in _EXTRAS else ""
        raise ConfigError(f"unknown store format {fmt!r}{hint}: use one of {', '.join(formats())}")
    return factory({**spec, "format": fmt})
