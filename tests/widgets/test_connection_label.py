"""The dashboard says what the data is: simulated, Apple's, or another server's."""

from __future__ import annotations

from asc_nb import Client, Credentials
from asc_nb.sandbox import Sandbox
from asc_nb.widgets.dashboard import connection_label


def test_connection_label_names_the_source(tmp_path) -> None:
    sb = Sandbox(seed=0)
    creds = Credentials(sb.key_id, sb.issuer_id, sb.private_key_pem)
    with (
        Client(sandbox=sb, cache_dir=tmp_path) as simulated,
        Client(creds, cache_dir=tmp_path) as apple,
        Client(creds, base_url="http://127.0.0.1:8765", cache_dir=tmp_path) as other,
    ):
        assert connection_label(simulated) == "sandbox (simulated data)"
        assert connection_label(apple) == "App Store Connect"
        assert connection_label(other) == "http://127.0.0.1:8765 (not Apple's API host)"
