"""Credentials and the ES256 signer: validation, env vars, secrecy, claims, caching."""

from __future__ import annotations

import base64
import pickle

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from asc_nb.auth import Credentials, TokenSigner
from asc_nb.errors import ASCError, ConfigError

KEY_ID = "2X9R4HXF34"
ISSUER = "57246542-96fe-1a63-e053-0824d011072a"


def pem(key) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@pytest.fixture(scope="module")
def ec_key():
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def key_pem(ec_key) -> str:
    return pem(ec_key)


@pytest.fixture
def key_file(tmp_path, key_pem):
    path = tmp_path / f"AuthKey_{KEY_ID}.p8"
    path.write_text(key_pem)
    return path


def secret_body(key_pem: str) -> str:
    return "".join(key_pem.strip().splitlines()[1:-1])[:40]


def test_pem_text_and_path_give_equal_credentials(key_pem, key_file):
    a = Credentials(KEY_ID, ISSUER, key_pem)
    b = Credentials(KEY_ID, ISSUER, key_file)
    c = Credentials(KEY_ID, ISSUER, str(key_file))
    assert a == b == c
    assert not a.individual
    assert "file" in b.source


def test_key_id_taken_from_file_name(key_file):
    creds = Credentials(None, ISSUER, key_file)
    assert creds.key_id == KEY_ID


def test_individual_key(key_pem):
    creds = Credentials(KEY_ID, None, key_pem, individual=True)
    assert creds.individual and creds.issuer_id is None
    claims = TokenSigner(creds).claims()
    assert claims["sub"] == "user" and "iss" not in claims


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"key_id": "abc"}, "Malformed key id"),
        ({"key_id": "2x9r4hxf34"}, "Malformed key id"),
        ({"issuer_id": "not-a-uuid"}, "Malformed issuer id"),
        ({"issuer_id": None}, "Missing issuer id"),
        ({"key_id": None}, "Missing key id"),
    ],
)
def test_bad_ids_say_what_to_fix(key_pem, kwargs, fragment):
    args = {"key_id": KEY_ID, "issuer_id": ISSUER, "private_key": key_pem, **kwargs}
    with pytest.raises(ConfigError, match=fragment):
        Credentials(**args)


def test_unreadable_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        Credentials(KEY_ID, ISSUER, tmp_path / "AuthKey_NOPE.p8")
    with pytest.raises(ConfigError, match="directory"):
        Credentials(KEY_ID, ISSUER, tmp_path)


def test_not_pem(tmp_path):
    p = tmp_path / "k.p8"
    p.write_text("hello")
    with pytest.raises(ConfigError, match="not PEM"):
        Credentials(KEY_ID, ISSUER, p)
    with pytest.raises(ConfigError, match="not PEM"):
        Credentials(KEY_ID, ISSUER, b"garbage bytes")


def test_truncated_pem(key_pem):
    with pytest.raises(ConfigError, match="cannot be parsed") as info:
        Credentials(KEY_ID, ISSUER, key_pem[: len(key_pem) // 2] + "\n-----END PRIVATE KEY-----\n")
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_rsa_and_wrong_curve_rejected():
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(ConfigError, match="not an EC P-256 key"):
        Credentials(KEY_ID, ISSUER, pem(rsa_key))
    p384 = ec.generate_private_key(ec.SECP384R1())
    with pytest.raises(ConfigError, match="P-256"):
        Credentials(KEY_ID, ISSUER, pem(p384))


def test_key_never_printed(key_pem):
    creds = Credentials(KEY_ID, ISSUER, key_pem)
    body = secret_body(key_pem)
    for text in (repr(creds), str(creds), f"{creds}", repr([creds])):
        assert body not in text and "BEGIN" not in text
        assert "<hidden>" in text
    with pytest.raises(TypeError):
        pickle.dumps(creds)


def test_errors_are_one_family():
    assert issubclass(ConfigError, ASCError) and issubclass(ConfigError, ValueError)


# ------------------------------------------------------------------ environment


def env_base(**extra):
    return {"ASC_KEY_ID": KEY_ID, "ASC_ISSUER_ID": ISSUER, **extra}


def test_env_path(key_file):
    creds = Credentials.from_env(env_base(ASC_PRIVATE_KEY_PATH=str(key_file)))
    assert creds.source.startswith("ASC_PRIVATE_KEY_PATH=")


def test_env_literal_backslash_n(key_pem):
    one_line = key_pem.replace("\n", "\\n")
    creds = Credentials.from_env(env_base(ASC_PRIVATE_KEY=one_line))
    assert creds.source == "ASC_PRIVATE_KEY"
    assert creds.public_key_pem() == Credentials(KEY_ID, ISSUER, key_pem).public_key_pem()


def test_env_b64(key_pem):
    creds = Credentials.from_env(env_base(ASC_PRIVATE_KEY_B64=base64.b64encode(key_pem.encode()).decode()))
    assert creds.source == "ASC_PRIVATE_KEY_B64"


def test_env_individual(key_pem):
    env = {"ASC_KEY_ID": KEY_ID, "ASC_KEY_TYPE": "individual", "ASC_PRIVATE_KEY": key_pem}
    assert Credentials.from_env(env).individual


@pytest.mark.parametrize("drop", ["ASC_KEY_ID", "ASC_ISSUER_ID", "ASC_PRIVATE_KEY"])
def test_env_missing_variable_named(key_pem, drop):
    env = env_base(ASC_PRIVATE_KEY=key_pem)
    del env[drop]
    with pytest.raises(ConfigError, match=drop):
        Credentials.from_env(env)


def test_env_two_key_sources(key_pem, key_file):
    with pytest.raises(ConfigError, match="only one"):
        Credentials.from_env(env_base(ASC_PRIVATE_KEY=key_pem, ASC_PRIVATE_KEY_PATH=str(key_file)))


def test_env_error_names_variable_and_hides_key(key_pem):
    bad = key_pem[:200]
    with pytest.raises(ConfigError) as info:
        Credentials.from_env(env_base(ASC_PRIVATE_KEY=bad))
    assert "ASC_PRIVATE_KEY" in str(info.value)
    assert secret_body(key_pem) not in str(info.value)


def test_env_present():
    assert not Credentials.env_present({})
    assert Credentials.env_present({"ASC_KEY_ID": "X"})


# ------------------------------------------------------------------ tokens


def test_token_header_and_claims(ec_key, key_pem):
    now = 1_800_000_000.0
    signer = TokenSigner(Credentials(KEY_ID, ISSUER, key_pem), clock=lambda: now)
    token = signer.token()
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "ES256", "kid": KEY_ID, "typ": "JWT"}
    claims = jwt.decode(
        token,
        ec_key.public_key(),
        algorithms=["ES256"],
        audience="appstoreconnect-v1",
        options={"verify_exp": False, "verify_iat": False},
    )
    assert claims["iss"] == ISSUER
    assert claims["iat"] < now  # backdated for clock skew
    assert now - claims["iat"] <= 60
    assert claims["exp"] - claims["iat"] <= 15 * 60  # well under 20 minutes
    assert claims["exp"] > now + 5 * 60
    assert "scope" not in claims


def test_token_cached_until_near_expiry(key_pem):
    t = [1_800_000_000.0]
    signer = TokenSigner(Credentials(KEY_ID, ISSUER, key_pem), clock=lambda: t[0])
    first = signer.token()
    t[0] += 5 * 60
    assert signer.token() == first and signer.signed == 1
    t[0] = signer.expires_at - 30  # inside the refresh margin
    assert signer.token() != first and signer.signed == 2
    assert signer.refresh() and signer.signed == 3


def test_scope(ec_key, key_pem):
    signer = TokenSigner(Credentials(KEY_ID, ISSUER, key_pem), scope=["GET /v1/apps"])
    claims = jwt.decode(
        signer.token(), ec_key.public_key(), algorithms=["ES256"], audience="appstoreconnect-v1"
    )
    assert claims["scope"] == ["GET /v1/apps"]
    with pytest.raises(ConfigError):
        TokenSigner(Credentials(KEY_ID, ISSUER, key_pem), scope="GET /v1/apps")


def test_lifetime_over_20_minutes_refused(key_pem):
    with pytest.raises(ConfigError, match="maximum"):
        TokenSigner(Credentials(KEY_ID, ISSUER, key_pem), lifetime=21 * 60)
