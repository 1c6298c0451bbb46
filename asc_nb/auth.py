"""Credentials and ES256 tokens for the App Store Connect API.

A :class:`Credentials` holds a key id, an issuer id (team keys; ``None`` for individual keys)
and the EC P-256 private key from ``AuthKey_<KEYID>.p8``. It validates everything up front
so a typo fails here with a message that says what to fix, not later as a bare 401.
The key is kept as a parsed key object and never appears in ``repr``, ``str`` or errors.

:class:`TokenSigner` makes the bearer tokens Apple expects (``alg`` ES256, ``kid``, ``typ``
JWT; ``aud`` ``appstoreconnect-v1``; lifetime well under Apple's 20-minute ceiling) and
reuses one until shortly before it expires, as Apple recommends.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from . import config
from .errors import ConfigError
from .models import AUDIENCE, MAX_TOKEN_LIFETIME

__all__ = ["Credentials", "TokenSigner", "ENV_VARS"]

#: Apple key ids are 10 upper-case letters/digits (e.g. ``2X9R4HXF34``).
KEY_ID_RE = re.compile(r"^[A-Z0-9]{10}$")
#: Issuer ids are UUIDs.
ISSUER_ID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_KEY_FILE_RE = re.compile(r"^AuthKey_([A-Za-z0-9]+)\.p8$")
#: One line of base64 (a PKCS#8 P-256 key body is 184 characters): key material, not a path.
_BASE64_BODY_RE = re.compile(r"^[A-Za-z0-9+/]{40,}={0,2}$")

ENV_VARS = config.CREDENTIAL_VARS
_WHERE = "App Store Connect → Users and Access → Integrations → App Store Connect API"


class Credentials:
    """An API key: ``key_id``, ``issuer_id`` (``None`` = individual key) and the private key.

    ``private_key`` is PEM text (str or bytes) or a path to ``AuthKey_<KEYID>.p8``; when it
    is such a path, ``key_id`` may be omitted and is taken from the file name.
    ``source`` says where the key came from (e.g. ``"ASC_PRIVATE_KEY_PATH=/keys/AuthKey_X.p8"``).
    """

    __slots__ = ("key_id", "issuer_id", "source", "_key")

    def __init__(
        self,
        key_id: str | None,
        issuer_id: str | None,
        private_key: str | bytes | os.PathLike[str],
        *,
        individual: bool = False,
        source: str | None = None,
    ) -> None:
        key, key_source, file_key_id = _load_private_key(private_key)
        if key_id is None or str(key_id).strip() == "":
            if file_key_id is None:
                raise ConfigError(f"Missing key id: pass key_id= (the 10-character Key ID shown in {_WHERE})")
            key_id = file_key_id
        key_id = str(key_id).strip()
        if not KEY_ID_RE.match(key_id):
            raise ConfigError(
                f"Malformed key id {key_id!r}: expected 10 upper-case letters or digits like '2X9R4HXF34' "
                f"(the Key ID column in {_WHERE})"
            )
        if individual:
            if issuer_id:
                raise ConfigError(
                    "An individual key has no issuer id: pass issuer_id=None with individual=True"
                )
            issuer_id = None
        else:
            if issuer_id is None or str(issuer_id).strip() == "":
                raise ConfigError(
                    f"Missing issuer id: pass issuer_id= (the Issuer ID UUID shown above the key list in {_WHERE}),"
                    " or individual=True for an individual key"
                )
            issuer_id = str(issuer_id).strip()
            if not ISSUER_ID_RE.match(issuer_id):
                raise ConfigError(
                    f"Malformed issuer id {issuer_id!r}: expected a UUID like "
                    f"'57246542-96fe-1a63-e053-0824d011072a' (the Issuer ID in {_WHERE})"
                )
        self.key_id: str = key_id
        self.issuer_id: str | None = issuer_id
        self.source: str = source or key_source
        self._key: ec.EllipticCurvePrivateKey = key

    # ------------------------------------------------------------------ constructors

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Credentials:
        """Read ``ASC_KEY_ID``, ``ASC_ISSUER_ID`` and one of ``ASC_PRIVATE_KEY_PATH`` /
        ``ASC_PRIVATE_KEY`` (literal ``\\n`` accepted) / ``ASC_PRIVATE_KEY_B64``.

        ``ASC_KEY_TYPE=individual`` selects an individual key (no issuer id).
        ``.source`` names the variable the key came from.
        """
        env = config.read(environ)
        individual = env.key_type.lower() == "individual"
        missing = [] if env.key_id else ["ASC_KEY_ID"]
        if not individual and not env.issuer_id:
            missing.append("ASC_ISSUER_ID")
        given = {
            "ASC_PRIVATE_KEY_PATH": env.private_key_path,
            "ASC_PRIVATE_KEY": env.private_key,
            "ASC_PRIVATE_KEY_B64": env.private_key_b64,
        }
        key_vars = [name for name, value in given.items() if value]
        if not key_vars:
            missing.append("ASC_PRIVATE_KEY_PATH (or ASC_PRIVATE_KEY / ASC_PRIVATE_KEY_B64)")
        if missing:
            raise ConfigError(
                "Incomplete App Store Connect credentials in the environment: set "
                + ", ".join(missing)
                + " (ASC_KEY_TYPE=individual for an individual key, which needs no ASC_ISSUER_ID)"
            )
        if len(key_vars) > 1:
            raise ConfigError(f"Set only one of {', '.join(key_vars)}; they are alternatives")
        var = key_vars[0]
        raw = given[var]
        if var == "ASC_PRIVATE_KEY_PATH":
            key: str | bytes | Path = Path(os.path.expanduser(raw))
            source = f"ASC_PRIVATE_KEY_PATH={raw}"
        elif var == "ASC_PRIVATE_KEY":
            key = raw.replace("\\n", "\n")
            source = "ASC_PRIVATE_KEY"
        else:
            try:
                key = base64.b64decode(raw, validate=False)
            except (binascii.Error, ValueError):
                raise ConfigError(
                    "ASC_PRIVATE_KEY_B64 is not valid base64: encode the whole .p8 file, "
                    "e.g. `base64 -w0 AuthKey_XXXXXXXXXX.p8`"
                ) from None
            source = "ASC_PRIVATE_KEY_B64"
        try:
            return cls(
                env.key_id, None if individual else env.issuer_id, key, individual=individual, source=source
            )
        except ConfigError as exc:
            raise ConfigError(f"{exc} (from {var})") from None

    @staticmethod
    def env_present(environ: Mapping[str, str] | None = None) -> bool:
        """True when any ``ASC_*`` credential variable is set (then ``from_env`` must be used)."""
        return config.read(environ).has_credentials

    # ------------------------------------------------------------------ properties

    @property
    def individual(self) -> bool:
        """An individual key (``sub`` = ``user``) rather than a team key (``iss`` = issuer id)."""
        return self.issuer_id is None

    @property
    def private_key(self) -> ec.EllipticCurvePrivateKey:
        """The parsed key object (never printed)."""
        return self._key

    def public_key_pem(self) -> str:
        """The public half, PEM — safe to share (servers and tests verify tokens with it)."""
        return (
            self._key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )

    def signer(self, **kwargs: Any) -> TokenSigner:
        """A :class:`TokenSigner` for this key."""
        return TokenSigner(self, **kwargs)

    def __repr__(self) -> str:
        kind = "individual" if self.individual else f"issuer_id={self.issuer_id!r}"
        return f"Credentials(key_id={self.key_id!r}, {kind}, private_key=<hidden>, source={self.source!r})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Credentials):
            return NotImplemented
        return (self.key_id, self.issuer_id, self.public_key_pem()) == (
            other.key_id,
            other.issuer_id,
            other.public_key_pem(),
        )

    def __hash__(self) -> int:
        return hash((self.key_id, self.issuer_id))

    def __reduce__(self):  # refuse pickling: it would serialise the secret
        raise TypeError("Credentials cannot be pickled (they hold a private key)")


def _load_private_key(value: Any) -> tuple[ec.EllipticCurvePrivateKey, str, str | None]:
    """Parse PEM text/bytes or a ``.p8`` path; return (key, source, key id from file name)."""
    file_key_id = None
    if isinstance(value, ec.EllipticCurvePrivateKey):
        key_obj: Any = value
        source = "key object"
    else:
        data: bytes
        if isinstance(value, bytes):
            data = value
            source = "PEM text"
        elif isinstance(value, os.PathLike) or (isinstance(value, str) and "-----BEGIN" not in value):
            path = Path(os.path.expanduser(os.fspath(value)))
            if isinstance(value, str) and ("\n" in value or len(value) > 4096):
                raise ConfigError(
                    "private_key is neither PEM text (no '-----BEGIN PRIVATE KEY-----' line) nor a file path: "
                    "pass the contents of AuthKey_<KEYID>.p8 or its path"
                )
            if isinstance(value, str) and _BASE64_BODY_RE.match(value.strip()) and not path.exists():
                # the key's body without its PEM lines: never echo it as a "path" in the message
                raise ConfigError(
                    "private_key looks like the base64 body of a key without its '-----BEGIN PRIVATE KEY-----' "
                    "and '-----END PRIVATE KEY-----' lines (not shown here): pass the whole AuthKey_<KEYID>.p8 "
                    "text, its path, or the file base64-encoded in ASC_PRIVATE_KEY_B64"
                )
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                raise ConfigError(
                    f"Private key file not found: {path} — pass the path of the AuthKey_<KEYID>.p8 "
                    "file you downloaded (Apple lets you download it only once)"
                ) from None
            except IsADirectoryError:
                raise ConfigError(
                    f"Private key path is a directory: {path} — point at the .p8 file itself"
                ) from None
            except OSError as exc:
                raise ConfigError(
                    f"Cannot read private key file {path}: {exc.strerror or exc}; "
                    "check the path and its permissions"
                ) from None
            source = f"file {path}"
            m = _KEY_FILE_RE.match(path.name)
            if m:
                file_key_id = m.group(1)
        elif isinstance(value, str):
            data = value.encode()
            source = "PEM text"
        else:
            raise ConfigError(f"private_key must be PEM text or a path, not {type(value).__name__}")
        if b"-----BEGIN" not in data:
            raise ConfigError(
                f"The private key ({source}) is not PEM: expected the text of AuthKey_<KEYID>.p8 starting with "
                "'-----BEGIN PRIVATE KEY-----'"
            )
        if b"ENCRYPTED" in data.split(b"\n", 1)[0]:
            raise ConfigError(
                f"The private key ({source}) is encrypted; Apple's .p8 keys are not — "
                "use the file as downloaded"
            )
        try:
            key_obj = serialization.load_pem_private_key(data.strip() + b"\n", password=None)
        except (ValueError, TypeError):
            # never chain: the exception may quote key material
            raise ConfigError(
                f"The private key ({source}) is PEM but cannot be parsed; it may be truncated or have lost its "
                "line breaks (in ASC_PRIVATE_KEY write them as \\n) — use the AuthKey_<KEYID>.p8 file as downloaded"
            ) from None
        except Exception:
            raise ConfigError(
                f"The private key ({source}) cannot be loaded; use the AuthKey_<KEYID>.p8 file as downloaded"
            ) from None
    if not isinstance(key_obj, ec.EllipticCurvePrivateKey):
        raise ConfigError(
            f"The private key ({source}) is a {type(key_obj).__name__.lstrip('_')}, not an EC P-256 key: "
            "App Store Connect keys are EC P-256 (.p8 from Users and Access → Integrations)"
        )
    if not isinstance(key_obj.curve, ec.SECP256R1):
        raise ConfigError(
            f"The private key ({source}) uses curve {key_obj.curve.name}, not P-256 (secp256r1) as ES256 requires"
        )
    return key_obj, source, file_key_id


class TokenSigner:
    """Makes and caches ES256 bearer tokens for one :class:`Credentials`.

    ``lifetime`` (seconds, ``exp - iat`` including the ``backdate`` for clock skew) defaults to
    10 minutes, well under Apple's 20. A token is reused until ``refresh_margin`` seconds
    before it expires. ``scope`` restricts the token to ``"GET /v1/…"`` entries.
    """

    def __init__(
        self,
        credentials: Credentials,
        *,
        lifetime: int = 10 * 60,
        backdate: int = 30,
        refresh_margin: int = 60,
        scope: Sequence[str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if lifetime > MAX_TOKEN_LIFETIME:
            raise ConfigError(f"Token lifetime {lifetime}s exceeds Apple's maximum of {MAX_TOKEN_LIFETIME}s")
        if lifetime <= backdate + refresh_margin:
            raise ConfigError("Token lifetime must exceed backdate + refresh_margin")
        if scope is not None and (isinstance(scope, str) or not all(isinstance(s, str) for s in scope)):
            raise ConfigError("scope must be a list of strings like 'GET /v1/apps'")
        self.credentials = credentials
        self.lifetime = lifetime
        self.backdate = backdate
        self.refresh_margin = refresh_margin
        self.scope = list(scope) if scope is not None else None
        self.clock = clock
        #: how many tokens were signed (tests use it to prove caching)
        self.signed = 0
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = threading.Lock()

    def claims(self, now: float | None = None) -> dict[str, Any]:
        """The payload a new token would carry."""
        now = self.clock() if now is None else now
        iat = int(now) - self.backdate
        payload: dict[str, Any] = {"iat": iat, "exp": iat + self.lifetime, "aud": AUDIENCE}
        if self.credentials.individual:
            payload["sub"] = "user"
        else:
            payload["iss"] = self.credentials.issuer_id
        if self.scope:
            payload["scope"] = list(self.scope)
        return payload

    def token(self) -> str:
        """A valid token: the cached one unless it is close to expiry."""
        with self._lock:
            if self._token is None or self.clock() >= self._expires_at - self.refresh_margin:
                self._sign()
            assert self._token is not None
            return self._token

    def refresh(self) -> str:
        """Sign a new token now (after a 401, say) and cache it."""
        with self._lock:
            self._sign()
            assert self._token is not None
            return self._token

    def _sign(self) -> None:
        payload = self.claims()
        headers = {"alg": "ES256", "kid": self.credentials.key_id, "typ": "JWT"}
        self._token = jwt.encode(payload, self.credentials.private_key, algorithm="ES256", headers=headers)
        self._expires_at = float(payload["exp"])
        self.signed += 1

    @property
    def expires_at(self) -> float:
        """Epoch seconds at which the cached token expires (0 before the first)."""
        return self._expires_at

    def __repr__(self) -> str:
        return (
            f"TokenSigner(key_id={self.credentials.key_id!r}, lifetime={self.lifetime}, scope={self.scope!r})"
        )
