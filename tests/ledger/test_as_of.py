"""as_of: a number published before a late restatement is reproduced byte for byte afterwards."""

from __future__ import annotations

import pandas as pd
import pytest

import asc_nb
from asc_nb.errors import ConfigError
from asc_nb.sandbox import DataFault, Sandbox

REPORT = "App Sessions Standard"


def _bytes(frame: pd.DataFrame, *, attrs: bool = True) -> bytes:
    kept = {k: v for k, v in frame.attrs.items() if attrs or k != "as_of"}
    return frame.to_csv(index=False).encode() + repr(sorted(kept.items())).encode()


def test_metric_reproduced_after_a_late_restatement(tmp_path):
    app = next(iter(Sandbox(seed=9, apps=1).world.apps))
    fault = DataFault("restatement", app, REPORT, "2026-02-24", at="2026-03-05", percent=150)
    sb = Sandbox(seed=9, apps=1, history_days=30, data_faults=[fault])
    client = asc_nb.connect(sandbox=sb, cache_dir=tmp_path / "cache")
    store = asc_nb.Store(tmp_path / "store")
    store.sync(client, reports=[REPORT], progress=False)
    published_on = store.reference_day.isoformat()
    ask = {"by": ("date",), "start": "2026-02-10", "end": "2026-03-01"}
    published = store.metrics(app, ["sessions", "session_duration"], **ask)
    stamped = store.metrics(app, ["sessions", "session_duration"], **ask, as_of=published_on)
    rows_then = store.read(REPORT, start="2026-02-10")
    assert "provisional" in published.columns and published["provisional"].any()

    sb.advance(days=6)  # Apple restates 2026-02-24 on 2026-03-05, and the provisional days become final
    store.sync(client, reports=[REPORT], progress=False)
    now = store.metrics(app, ["sessions", "session_duration"], **ask)
    day = pd.Timestamp("2026-02-24")
    before = published.loc[published["date"] == day, "sessions"].iloc[0]
    after = now.loc[now["date"] == day, "sessions"].iloc[0]
    assert after == pytest.approx(before * 1.5, rel=0.02)  # the number did change
    assert list(store.health(states="restated")["date"]) == [day]

    again = store.metrics(app, ["sessions", "session_duration"], **ask, as_of=published_on)
    pd.testing.assert_frame_equal(again, published)
    assert _bytes(again, attrs=False) == _bytes(
        published, attrs=False
    )  # only attrs["as_of"] says it was asked
    assert _bytes(again) == _bytes(stamped)
    assert _bytes(store.read(REPORT, start="2026-02-10", as_of=published_on), attrs=False) == _bytes(
        rows_then, attrs=False
    )


def test_as_of_in_the_future_is_a_config_error(clean):
    app = (
        clean.sandbox.data_faults
        and clean.sandbox.data_faults[0].app_id
        or next(iter(clean.sandbox.world.apps))
    )
    with pytest.raises(ConfigError):
        clean.store.metrics(app, ["sessions"], as_of="2031-01-01")
    with pytest.raises(ConfigError):
        clean.store.health(now="2031-01-01")
