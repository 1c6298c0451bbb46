"""The leeway the sandbox allows in tokens — each one a deliberate, documented choice (docs/sandbox.md).

Both fronts. The wall clock is injected and fixed, so the skew boundaries are exact.
"""

from __future__ import annotations

from typing import Any

import pytest

from asc_nb.models import MAX_TOKEN_LIFETIME
from asc_nb.sandbox import Sandbox
from asc_nb.sandbox.auth import CLOCK_SKEW

from .conftest import Front
from .helpers import demo_key, sign

NOW = 1_800_000_000


@pytest.fixture
def sb() -> Sandbox:
    return Sandbox(seed=0, wall_clock=lambda: float(NOW))


def _status(front: Front, token: str) -> tuple[int, str]:
    r = front.api.http.get("/v1/apps", headers={"Authorization": f"Bearer {token}"})
    detail = r.json()["errors"][0]["detail"] if r.status_code != 200 else ""
    if r.status_code == 401:
        assert r.json()["errors"][0]["code"] == "NOT_AUTHORIZED"
    return r.status_code, detail


def test_skew_is_sixty_seconds_each_way(front: Front) -> None:
    key = demo_key(front.sb)
    assert CLOCK_SKEW == 60
    # iat ahead of the server's clock (the signer's clock runs fast)
    assert _status(front, sign(key, now=NOW + 60))[0] == 200
    status, detail = _status(front, sign(key, now=NOW + 61))
    assert status == 401 and "issued in the future" in detail
    # exp behind the server's clock (the token just expired, or the signer's clock runs slow)
    assert _status(front, sign(key, now=NOW - 600 - 60, lifetime=600))[0] == 200
    status, detail = _status(front, sign(key, now=NOW - 600 - 61, lifetime=600))
    assert status == 401 and "expired" in detail


def test_lifetime_ceiling_has_no_leeway(front: Front) -> None:
    key = demo_key(front.sb)
    assert _status(front, sign(key, now=NOW, lifetime=MAX_TOKEN_LIFETIME))[0] == 200
    status, detail = _status(front, sign(key, now=NOW, lifetime=MAX_TOKEN_LIFETIME + 1))
    assert status == 401 and "20 minutes" in detail


@pytest.mark.parametrize(
    "claims, reason",
    [
        ({"aud": ["appstoreconnect-v1"]}, "aud must be the string"),
        ({"aud": ["appstoreconnect-v1", "other"]}, "aud must be the string"),
        ({"sub": "user"}, "sub = 'user' is for individual keys"),
        ({"iat": float(NOW), "exp": float(NOW + 600)}, "integers"),
        ({"iat": True}, "integers"),
    ],
    ids=["aud-list", "aud-list-2", "team-key-with-sub", "float-times", "bool-iat"],
)
def test_shapes_apple_never_documents_are_refused(front: Front, claims: dict[str, Any], reason: str) -> None:
    token = sign(demo_key(front.sb), now=NOW, **claims)
    status, detail = _status(front, token)
    assert status == 401 and reason in detail, detail


def test_individual_key_with_iss_is_refused(front: Front) -> None:
    key = front.sb.add_key(role="ADMIN", individual=True)
    assert _status(front, sign(key, now=NOW))[0] == 200
    status, detail = _status(front, sign(key, now=NOW, iss=front.sb.issuer_id))
    assert status == 401 and "individual keys do not use iss" in detail


def test_the_clients_own_tokens_fit_the_rules(front: Front) -> None:
    """asc-nb's signer (backdated iat, string aud, iss xor sub) is accepted at the server's now."""
    from asc_nb.auth import Credentials, TokenSigner

    for key in (demo_key(front.sb), front.sb.add_key(role="ADMIN", individual=True)):
        creds = Credentials(
            key["key_id"], key["issuer_id"], key["private_key_pem"], individual=bool(key.get("individual"))
        )
        token = TokenSigner(creds, clock=lambda: float(NOW)).token()
        assert _status(front, token)[0] == 200
