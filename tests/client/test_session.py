"""Session rules that need a misbehaving server (a foreign ``links.next``): httpx.MockTransport plays it."""

from __future__ import annotations

import httpx
import pytest

from asc_nb.auth import Credentials
from asc_nb.errors import APIError, ConfigError, UnsafeURLError
from asc_nb.http import Session
from asc_nb.sandbox import Sandbox


@pytest.fixture(scope="module")
def signer():
    sb = Sandbox(seed=0)
    return Credentials(sb.key_id, sb.issuer_id, sb.private_key_pem).signer()


def server(pages: dict[str, dict]):
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=pages[request.url.path])

    return httpx.MockTransport(handler), seen


def test_foreign_links_next_refused(signer):
    transport, seen = server(
        {
            "/v1/apps": {
                "data": [{"type": "apps", "id": "1"}],
                "links": {"self": "x", "next": "https://evil.example/v1/apps?cursor=2"},
            }
        }
    )
    session = Session("https://api.example.test", signer, transport=transport)
    pages = session.pages("/v1/apps", limit=200)
    assert next(pages)["data"][0]["id"] == "1"
    with pytest.raises(UnsafeURLError, match="another origin"):
        next(pages)
    assert len(seen) == 1 and seen[0].headers["authorization"].startswith("Bearer ")


def test_links_next_scheme_downgrade_refused(signer):
    transport, _ = server(
        {"/v1/apps": {"data": [], "links": {"self": "x", "next": "http://api.example.test/v1/apps?c=2"}}}
    )
    session = Session("https://api.example.test", signer, transport=transport)
    with pytest.raises(UnsafeURLError):
        list(session.pages("/v1/apps"))


def test_relative_links_next_followed_and_loop_detected(signer):
    transport, seen = server(
        {
            "/v1/apps": {"data": [{"id": "1"}], "links": {"self": "x", "next": "/v1/more?cursor=a"}},
            "/v1/more": {"data": [{"id": "2"}], "links": {"self": "x", "next": "/v1/more?cursor=a"}},
        }
    )
    session = Session("https://api.example.test", signer, transport=transport)
    ids = []
    with pytest.raises(APIError, match="PAGING_LOOP"):
        for resource in session.iter_resources("/v1/apps"):
            ids.append(resource["id"])
    assert ids == ["1", "2"]


def test_plain_http_only_to_loopback(signer):
    with pytest.raises(ConfigError, match="plain http"):
        Session("http://api.example.test", signer)
    for url in ("http://127.0.0.1:8080", "http://localhost:1", "http://[::1]:5"):
        Session(url, signer).close()


def test_token_only_to_api_origin(signer):
    transport, seen = server({"/v1/apps": {"data": [], "links": {"self": "x"}}})
    session = Session("https://api.example.test", signer, transport=transport)
    session.get_json("/v1/apps")
    assert "authorization" in seen[-1].headers
    # a different port on the same host is another origin
    with pytest.raises(UnsafeURLError):
        session.request("GET", "https://api.example.test:8443/v1/apps")
    # a direct httpx call through the session's client to another host carries no token either
    session.client.get("https://other.example.test/v1/apps")
    assert "authorization" not in seen[-1].headers
