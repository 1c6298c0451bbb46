"""Simulated and real rows never share a store (a sandbox tried with Store() must not seed the real one)."""

from __future__ import annotations

import pytest

import asc_nb

from .conftest import small_world


def _api_client(sb, tmp_path):
    """A client in "apple" mode (Apple's base URL), its requests carried to the sandbox by a transport."""
    c = asc_nb.connect(
        key_id=sb.key_id,
        issuer_id=sb.issuer_id,
        private_key=sb.private_key_pem,
        transport=sb.transport(),
        cache_dir=tmp_path / "api-cache",
    )
    assert c.mode == "apple"
    return c


def test_a_sandbox_client_never_syncs_into_a_store_of_real_data_and_back(tmp_path):
    sb = small_world(apps=1, history_days=4)
    real = asc_nb.Store(tmp_path / "real")
    with _api_client(sb, tmp_path) as api, asc_nb.connect(sandbox=sb, cache_dir=tmp_path / "c") as simulated:
        assert set(real.sync(api, reports=["App Sessions Standard"], progress=False)["status"]) == {"ok"}
        before = len(sb.calls)
        with pytest.raises(asc_nb.ConfigError, match="simulated sandbox's"):
            real.sync(simulated, reports=["App Sessions Standard"], progress=False)
        assert len(sb.calls) == before  # refused before any call
        play = asc_nb.Store(tmp_path / "play")
        play.sync(simulated, reports=["App Sessions Standard"], progress=False)
        with pytest.raises(asc_nb.ConfigError, match="App Store Connect's"):
            play.sync(api, reports=["App Sessions Standard"], progress=False)
        # the same kind of source keeps syncing
        assert set(play.sync(simulated, reports=["App Sessions Standard"], progress=False)["status"]) <= {
            "ok"
        }
        real.close()
        play.close()
