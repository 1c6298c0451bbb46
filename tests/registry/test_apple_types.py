"""Fields whose type on Apple's page is unusual: the registry follows Apple, says so, and the sandbox's
files parse into exactly that dtype (a wrong kind would fail the typed parse, not pass silently)."""

from __future__ import annotations

import pandas as pd
import pytest

from asc_nb import registry
from asc_nb.client import Client
from asc_nb.sandbox import Sandbox


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    sb = Sandbox(seed=0, history_days=20)
    with Client(sandbox=sb, cache_dir=tmp_path_factory.mktemp("types-cache")) as client:
        app = str(client.apps()["id"].iloc[0])
        req = client.report_requests(app)["id"].iloc[0]
        end = sb.now.date() - pd.Timedelta(days=3)
        start = end - pd.Timedelta(days=4)
        yield {
            name: client.fetch(req, name, "DAILY", start, end, progress=False)
            for name in ("App Install Performance", "Photos Picker")
        }


def test_avg_install_duration_is_an_integer_average_that_may_not_be_summed(served):
    f = registry.get("App Install Performance").field("Avg Install Duration")
    assert (f.kind, f.additive, f.dtype) == ("count", False, "Int64")  # Apple's page: integer
    assert "integer" in registry.get("App Install Performance").notes
    df = served["App Install Performance"]
    assert len(df) and str(df["avg_install_duration"].dtype) == "Int64"
    # an average, not a count of users: it does not follow the row's Counts the way a unique count would
    assert not (df["avg_install_duration"] <= df["counts"]).all()


def test_photos_picker_date_is_read_as_a_date_and_the_registry_says_apple_types_it_text(served):
    r = registry.get("Photos Picker")
    assert r.field("Date").kind == "date"
    assert "text (string)" in r.notes
    df = served["Photos Picker"]
    assert str(df["date"].dtype) == "datetime64[ns]"
