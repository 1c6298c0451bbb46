"""Old import path, kept working: downloads now live in :mod:`asc_nb.data` and the client methods.

``fetch``, ``read_instance`` and ``download_segment`` here call the client's methods of the same
name (``download.fetch(client, request, name, ...)`` is ``client.fetch(request, name, ...)``); the
data layer itself never sees a client.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from .data.engine import API_CONCURRENCY, DEFAULT_WORKERS
from .data.parse import arrow_to_pandas, read_table
from .data.progress import ProgressCallback
from .errors import MissingDatesWarning, ReportNotFoundError
from .models import SETTLE_DAYS

__all__ = [
    "API_CONCURRENCY",
    "DEFAULT_WORKERS",
    "MissingDatesWarning",
    "ProgressCallback",
    "ReportNotFoundError",
    "SETTLE_DAYS",
    "download_segment",
    "fetch",
    "read_instance",
    "read_segment",
]


def read_segment(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Parse a downloaded segment file into a typed DataFrame (see :mod:`asc_nb.data.parse`)."""
    return arrow_to_pandas(read_table(path))


def download_segment(client: Any, segment: Any, **kwargs: Any) -> Path:
    """``client.download_segment(segment, ...)``."""
    return client.download_segment(segment, **kwargs)


def read_instance(client: Any, instance_id: Any, **kwargs: Any) -> pd.DataFrame:
    """``client.read_instance(instance_id, ...)``."""
    return client.read_instance(instance_id, **kwargs)


def fetch(client: Any, *args: Any, **kwargs: Any) -> pd.DataFrame | Path:
    """``client.fetch(request, report_name, granularity, start, end, ...)``."""
    return client.fetch(*args, **kwargs)
