"""The client protocols (asc_nb.protocols) are what the store, metrics and widgets take; the Client fits them all."""

from __future__ import annotations

import asc_nb
from asc_nb.protocols import ClientInfo, MetricsClient, PanelClient, SyncClient


def test_the_client_satisfies_every_protocol(tmp_path):
    with asc_nb.connect(sandbox=asc_nb.Sandbox(seed=1, apps=1), cache_dir=tmp_path) as client:
        for proto in (ClientInfo, SyncClient, MetricsClient, PanelClient):
            assert isinstance(client, proto), proto.__name__
        assert client.mode == "sandbox" and client.sandbox.now is not None


def test_a_client_lacking_a_member_does_not_fit(tmp_path):
    class Half:  # enough for ClientInfo, not for a sync
        mode = "custom"
        sandbox = None
        cache_dir = tmp_path

    assert isinstance(Half(), ClientInfo)
    assert not isinstance(Half(), SyncClient) and not isinstance(Half(), PanelClient)
