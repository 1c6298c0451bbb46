"""A private key pasted without its PEM lines is never echoed back in an error.

A common slip (CI secret stores, ``.env`` files) is to keep only the base64 body of
``AuthKey_<KEYID>.p8`` — one line, no ``-----BEGIN PRIVATE KEY-----``. ``Credentials`` took such a
string for a file path and said ``Private key file not found: MIGHAgEAMBMG…`` — the whole private
key, in the exception, the traceback and the notebook output. The README and issue 3 promise the
key never appears in an exception.
"""

from __future__ import annotations

import pytest

import asc_nb
from asc_nb import ConfigError, Credentials


@pytest.fixture(scope="module")
def key() -> tuple[str, str, str, str]:
    sb = asc_nb.Sandbox(seed=0)
    pem = sb.private_key_pem
    body = "".join(pem.strip().splitlines()[1:-1])
    return sb.key_id, sb.issuer_id, pem, body


def _assert_hidden(err: BaseException, body: str) -> None:
    text = f"{err} {err!r} {err.__cause__!r} {err.__context__!r}"
    for chunk in (body[:24], body[40:64], body[-24:]):
        assert chunk not in text, text


def test_bare_base64_body_as_argument(key) -> None:
    kid, iss, _pem, body = key
    with pytest.raises(ConfigError) as info:
        Credentials(kid, iss, body)
    _assert_hidden(info.value, body)
    assert "BEGIN PRIVATE KEY" in str(info.value)  # and it says what is missing


def test_bare_base64_body_in_the_environment(key) -> None:
    kid, iss, _pem, body = key
    env = {"ASC_KEY_ID": kid, "ASC_ISSUER_ID": iss, "ASC_PRIVATE_KEY": body}
    with pytest.raises(ConfigError) as info:
        asc_nb.connect(environ=env)
    _assert_hidden(info.value, body)
    assert "ASC_PRIVATE_KEY" in str(info.value)


def test_a_real_missing_path_is_still_named(tmp_path) -> None:
    missing = tmp_path / "AuthKey_ABCDEFGHIJ.p8"
    with pytest.raises(ConfigError, match=r"Private key file not found: .*AuthKey_ABCDEFGHIJ\.p8"):
        Credentials(None, "57246542-96fe-1a63-e053-0824d011072a", str(missing))
