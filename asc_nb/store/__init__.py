"""``asc_nb.Store``: history that outlives Apple's 35-day retention, in a local Parquet lake.

The package, by job: :mod:`~asc_nb.store.face` (``Store``: sync, read, SQL, coverage),
:mod:`~asc_nb.store.sync` (the sync engine), :mod:`~asc_nb.store.coverage`,
:mod:`~asc_nb.store.worker` (the job a worker runs), :mod:`~asc_nb.store.destination` (where rows
live; the Parquet lake is :mod:`asc_nb.data.lake`), :mod:`~asc_nb.store.state` (what was
fetched), :mod:`~asc_nb.store.lock` (one sync at a time). This module only re-exports.
"""

from __future__ import annotations

from asc_nb.store.coverage import AT_RISK_DAYS, CoverageFrame
from asc_nb.store.face import Store, view_name
from asc_nb.store.sync import DEFAULT_REPORTS, SYNC_COLUMNS

__all__ = ["AT_RISK_DAYS", "DEFAULT_REPORTS", "SYNC_COLUMNS", "CoverageFrame", "Store", "view_name"]
