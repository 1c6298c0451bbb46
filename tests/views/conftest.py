"""One sandbox world for the view tests: two apps, 40 days of ONGOING history, fixed seed and clock."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

from asc_nb.client import Client
from asc_nb.errors import MissingDatesWarning
from asc_nb.sandbox import Sandbox

START, END = "2026-02-16", "2026-02-27"


@pytest.fixture(scope="session")
def world(tmp_path_factory):
    sb = Sandbox(seed=0, apps=2, history_days=40)
    client = Client(sandbox=sb, cache_dir=tmp_path_factory.mktemp("views-cache"))
    apps = [str(a) for a in client.apps()["id"]]
    yield sb, client, apps
    client.close()


@pytest.fixture(scope="session")
def raw(world):
    """``raw(app, report, start, end)``: the report's rows from ``client.fetch`` (latest vintage), memoised."""
    _sb, client, _apps = world
    seen: dict[tuple, pd.DataFrame] = {}

    def get(app: str, report: str, start: str = START, end: str = END) -> pd.DataFrame:
        key = (app, report, start, end)
        if key not in seen:
            req = client.report_requests(app)["id"].iloc[0]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", MissingDatesWarning)
                seen[key] = client.fetch(req, report, "DAILY", start, end, progress=False)
        return seen[key]

    return get


def where(df: pd.DataFrame, **cols) -> pd.DataFrame:
    """Rows whose columns hold one of the values (case-insensitive, as Apple's values are)."""
    for col, values in cols.items():
        values = [values] if isinstance(values, str) else values
        df = df[df[col].astype("string").str.casefold().isin([v.casefold() for v in values]).fillna(False)]
    return df
