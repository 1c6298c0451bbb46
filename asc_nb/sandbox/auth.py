"""API keys of the simulated team and verification of the ES256 tokens signed with them.

The sandbox checks tokens the way App Store Connect documents them (FACTS.md section 7), so a
client that signs a token the sandbox accepts signs one Apple accepts: ES256 with a registered
``kid``, ``aud`` = ``appstoreconnect-v1``, ``iss`` (team key) or ``sub`` = ``user`` (individual key),
integer ``iat``/``exp`` and a lifetime ``exp - iat`` of at most 20 minutes.

Where Apple is silent the sandbox chooses, on purpose and tested (docs/sandbox.md):

* clock skew: ``iat`` may be up to :data:`CLOCK_SKEW` seconds in the future and ``exp`` up to
  :data:`CLOCK_SKEW` seconds in the past (signer and server clocks never agree exactly);
* ``aud`` must be the *string* Apple shows; a JSON array holding it (which RFC 7519 allows and
  PyJWT accepts) is refused, since Apple never documents that form;
* a team key's token carries ``iss`` and no ``sub``; an individual key's carries ``sub`` = ``user``
  and no ``iss`` ("Individual keys don't use the Issuer ID key") — mixing them is refused.
"""

from __future__ import annotations

import secrets
import string
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from asc_nb.models import AUDIENCE, MAX_TOKEN_LIFETIME, Role

#: Seconds of clock difference tolerated between the token signer and the sandbox.
CLOCK_SKEW = 60


@dataclass
class ApiKey:
    """A registered key: only the public half is needed to verify; the private PEM is for the demo."""

    key_id: str
    issuer_id: str | None
    role: Role
    individual: bool
    public_key: ec.EllipticCurvePublicKey
    private_key_pem: str = field(repr=False)

    def as_dict(self) -> dict[str, object]:
        return {
            "key_id": self.key_id,
            "issuer_id": self.issuer_id,
            "private_key_pem": self.private_key_pem,
            "role": self.role.value,
            "individual": self.individual,
        }


class AuthError(Exception):
    """The token is missing, malformed, unsigned by a known key, expired or too long-lived."""


def make_key(key_id: str, issuer_id: str | None, role: Role, individual: bool) -> ApiKey:
    """A fresh EC P-256 key pair (made at run time: no key material is ever committed)."""
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return ApiKey(key_id, None if individual else issuer_id, role, individual, private.public_key(), pem)


def new_key_id(existing: set[str], rng_name: str | None = None) -> str:
    """A 10-character upper-case key id like Apple's (``2X9R4HXF34``); deterministic when named."""
    alphabet = string.ascii_uppercase + string.digits
    if rng_name is not None:
        digest = uuid.uuid5(uuid.NAMESPACE_URL, rng_name).int
        kid = ""
        for _ in range(10):
            digest, r = divmod(digest, len(alphabet))
            kid += alphabet[r]
        if kid not in existing:
            return kid
    while True:
        kid = "".join(secrets.choice(alphabet) for _ in range(10))
        if kid not in existing:
            return kid


class KeyRing:
    """The registered keys, by key id."""

    def __init__(self, wall_clock: Callable[[], float]) -> None:
        self.keys: dict[str, ApiKey] = {}
        self.wall_clock = wall_clock

    def add(self, key: ApiKey) -> ApiKey:
        self.keys[key.key_id] = key
        return key

    def verify(
        self, authorization: str | None, method: str | None = None, path: str = "", query: str = ""
    ) -> ApiKey:
        """Return the key that signed the bearer token, or raise :class:`AuthError` saying why.

        With ``method`` given, a token carrying a ``scope`` claim must list this request.
        """
        if not authorization:
            raise AuthError("no Authorization header")
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError("the Authorization header is not 'Bearer <token>'")
        token = token.strip()
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise AuthError(f"malformed token: {exc}") from None
        if header.get("alg") != "ES256":
            raise AuthError("tokens must be signed with ES256")
        key = self.keys.get(str(header.get("kid")))
        if key is None:
            raise AuthError("unknown key id (kid)")
        try:
            claims = jwt.decode(
                token,
                key.public_key,
                algorithms=["ES256"],
                audience=AUDIENCE,
                options={
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                    "require": ["exp", "iat", "aud"],
                },
            )
        except jwt.PyJWTError as exc:
            raise AuthError(f"invalid token: {exc}") from None
        if not isinstance(claims["aud"], str):
            raise AuthError(f"aud must be the string '{AUDIENCE}', not a list")
        if key.individual:
            if claims.get("sub") != "user":
                raise AuthError("individual keys need sub = 'user'")
            if "iss" in claims:
                raise AuthError("individual keys do not use iss; send sub = 'user' only")
        else:
            if claims.get("iss") != key.issuer_id:
                raise AuthError("iss does not match the key's issuer id")
            if "sub" in claims:
                raise AuthError("team keys are identified by iss; sub = 'user' is for individual keys")
        iat, exp = claims["iat"], claims["exp"]
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (iat, exp)):
            raise AuthError("iat and exp must be integers (UNIX seconds)")
        if exp - iat > MAX_TOKEN_LIFETIME:
            raise AuthError("token lifetime exp - iat exceeds 20 minutes")
        if exp <= iat:
            raise AuthError("exp must be after iat")
        now = self.wall_clock()
        if iat > now + CLOCK_SKEW:
            raise AuthError("token issued in the future (iat)")
        if exp < now - CLOCK_SKEW:
            raise AuthError("token expired")
        scope = claims.get("scope")
        if scope is not None and method is not None:
            if not isinstance(scope, list) or not all(isinstance(s, str) for s in scope):
                raise AuthError("scope must be an array of strings")
            if not any(scope_allows(entry, method, path, query) for entry in scope):
                raise AuthError("the token's scope does not include this request")
        return key


#: Query parameters App Store Connect ignores when matching a scoped token (TOK).
_SCOPE_IGNORED = {"limit", "cursor", "sort"}


def scope_allows(entry: str, method: str, path: str, query: str) -> bool:
    """``"GET /v1/apps?filter[platform]=IOS"`` allows this request? (GET only; query order ignored)."""
    verb, _, target = entry.strip().partition(" ")
    if verb.upper() != "GET" or method.upper() != "GET":
        return False
    target_path, _, target_query = target.strip().partition("?")

    def params(q: str) -> set[tuple[str, str]]:
        return {(k, v) for k, v in parse_qsl(q, keep_blank_values=True) if k not in _SCOPE_IGNORED}

    return target_path == path and params(target_query) == params(query)
