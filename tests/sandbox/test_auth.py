"""ES256 token verification and roles: what Apple accepts, the sandbox accepts, and nothing else."""

from __future__ import annotations

import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from asc_nb.sandbox import Sandbox

from .helpers import Api, create_doc, demo_key, first_app, sign


def _get(api: Api, token: str | None):
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    return api.http.get("/v1/apps", headers=headers)


def _assert_401(r) -> None:
    assert r.status_code == 401, r.text
    err = r.json()["errors"][0]
    assert err["code"] == "NOT_AUTHORIZED" and err["status"] == "401"
    assert r.headers["X-Rate-Limit"].startswith("user-hour-lim:3600;")


def test_valid_team_token_is_accepted(api: Api, sb: Sandbox) -> None:
    assert _get(api, sign(demo_key(sb))).status_code == 200


def test_missing_or_non_bearer_header_is_401(api: Api, sb: Sandbox) -> None:
    _assert_401(_get(api, None))
    r = api.http.get("/v1/apps", headers={"Authorization": "Basic abc"})
    _assert_401(r)
    _assert_401(_get(api, "not.a.jwt"))


@pytest.mark.parametrize(
    "change",
    [
        {"aud": "appstoreconnect-v2"},
        {"iss": "00000000-0000-0000-0000-000000000000"},
        {"iss": None},
        {"lifetime": 20 * 60 + 1},
        {"now": time.time() - 3600},  # expired an hour ago
        {"now": time.time() + 3600},  # issued in the future
        {"headers": {"kid": "UNKNOWNKID"}},
        {"pem": "other"},  # signed by another key
        {"exp": None},
        {"iat": None},
    ],
    ids=["aud", "iss", "no-iss", "lifetime", "expired", "future-iat", "kid", "signature", "no-exp", "no-iat"],
)
def test_bad_tokens_are_401(api: Api, sb: Sandbox, change: dict) -> None:
    kwargs = dict(change)
    if kwargs.get("pem") == "other":
        kwargs["pem"] = (
            ec.generate_private_key(ec.SECP256R1())
            .private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            .decode()
        )
    _assert_401(_get(api, sign(demo_key(sb), **kwargs)))


def test_exactly_twenty_minutes_and_small_skew_are_fine(api: Api, sb: Sandbox) -> None:
    assert _get(api, sign(demo_key(sb), lifetime=20 * 60)).status_code == 200
    assert _get(api, sign(demo_key(sb), now=time.time() + 30)).status_code == 200


def test_hs256_is_rejected(api: Api, sb: Sandbox) -> None:
    import jwt

    now = int(time.time())
    token = jwt.encode(
        {"iss": sb.issuer_id, "iat": now, "exp": now + 600, "aud": "appstoreconnect-v1"},
        "secret-secret-secret-secret-secret!",
        algorithm="HS256",
        headers={"kid": sb.key_id},
    )
    _assert_401(_get(api, token))


def test_wall_clock_is_injectable() -> None:
    fake = [1_000_000.0]
    sb = Sandbox(wall_clock=lambda: fake[0])
    api = Api(sb)
    try:
        token = sign(demo_key(sb), now=fake[0])
        assert _get(api, token).status_code == 200
        fake[0] += 601 + 120
        _assert_401(_get(api, token))
    finally:
        api.close()


def test_individual_key_needs_sub_user(sb: Sandbox, make_api) -> None:
    key = sb.add_key(role="ADMIN", individual=True)
    assert key["issuer_id"] is None
    api = make_api(sb, key)
    assert _get(api, sign(key)).status_code == 200
    _assert_401(_get(api, sign(key, sub="someone")))
    _assert_401(_get(api, sign(key, sub=None)))


@pytest.mark.parametrize("role", ["SALES_AND_REPORTS", "FINANCE"])
def test_read_roles_may_read_but_not_write(sb: Sandbox, make_api, role: str) -> None:
    admin = make_api(sb)
    req_id = admin.create(first_app(sb)).json()["data"]["id"]
    reader = make_api(sb, sb.add_key(role=role))
    assert reader.get("/v1/apps").status_code == 200
    assert reader.get(f"/v1/analyticsReportRequests/{req_id}").status_code == 200
    r = reader.post("/v1/analyticsReportRequests", create_doc(first_app(sb), "ONE_TIME_SNAPSHOT"))
    assert r.status_code == 403 and r.json()["errors"][0]["code"] == "FORBIDDEN_ERROR"
    r = reader.delete(f"/v1/analyticsReportRequests/{req_id}")
    assert r.status_code == 403
    assert req_id in sb.world.requests


def test_developer_role_may_not_read(sb: Sandbox, make_api) -> None:
    dev = make_api(sb, sb.add_key(role="DEVELOPER"))
    r = dev.get("/v1/apps")
    assert r.status_code == 403
    assert r.json()["errors"][0]["detail"] == "The API key in use does not allow this request"


def test_keys_are_made_at_run_time(sb: Sandbox) -> None:
    other = Sandbox(seed=0)
    assert other.key_id == sb.key_id  # deterministic id for notebooks ...
    assert other.private_key_pem != sb.private_key_pem  # ... but fresh key material every run
    assert sb.private_key_pem.startswith("-----BEGIN PRIVATE KEY-----")


def test_scoped_tokens_only_reach_their_scope(api: Api, sb: Sandbox) -> None:
    token = sign(demo_key(sb), scope=["GET /v1/apps?filter[name]=X"])
    ok = api.http.get(
        "/v1/apps", params={"filter[name]": "X", "limit": "5"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert ok.status_code == 200
    _assert_401(api.http.get("/v1/apps", headers={"Authorization": f"Bearer {token}"}))
    _assert_401(_get(api, sign(demo_key(sb), scope="GET /v1/apps")))


def test_an_id_never_listed_in_this_run_is_still_found(make_api) -> None:
    first = Sandbox(history_days=2)
    a = make_api(first)
    req = a.get(f"/v1/apps/{first_app(first)}/analyticsReportRequests").json()["data"][0]["id"]
    inst = a.get(f"/v1/analyticsReports/r5-{req}/instances").json()["data"][0]["id"]
    again = Sandbox(history_days=2)  # same seed, nothing listed yet
    assert make_api(again).get(f"/v1/analyticsReportInstances/{inst}").status_code == 200
