"""Helpers for driving the sandbox with raw httpx and hand-signed JWTs (never the client).

Every response that passes through an ``Api`` is validated against the spec's schema for its
operation and status (``SpecChecker``), so each test doubles as a contract test.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import jwt
from openapi_schema_validator import OAS30Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from asc_nb import models
from asc_nb.sandbox import Sandbox

SPEC_PATH = Path(__file__).resolve().parents[1] / "spec" / "asc-analytics-openapi.json"
SPEC: dict[str, Any] = json.loads(SPEC_PATH.read_text())
#: Statuses the sandbox may answer although the spec does not list them for an operation
#: (Apple's HTTP table lists 415; 5xx only come from injected faults).
EXTRA_STATUSES = {415, 500, 503}


class SpecChecker:
    """Validates a response body against the spec's schema for (operation, status)."""

    def __init__(self) -> None:
        registry = Registry().with_resource(
            "urn:asc", Resource.from_contents(SPEC, default_specification=DRAFT4)
        )
        self._registry = registry
        self._validators: dict[str, OAS30Validator] = {}
        self.seen: set[tuple[str, int]] = set()

    def validator(self, schema_name: str) -> OAS30Validator:
        if schema_name not in self._validators:
            self._validators[schema_name] = OAS30Validator(
                {"$ref": f"urn:asc#/components/schemas/{schema_name}"},
                registry=self._registry,
                format_checker=OAS30Validator.FORMAT_CHECKER,
            )
        return self._validators[schema_name]

    def check(self, method: str, path: str, status: int, body: bytes, headers: httpx.Headers) -> None:
        found = models.match(method, path)
        if found is None:  # no such operation: still an Apple ErrorResponse
            assert status in (403, 404, 401, 429), (method, path, status)
            self._validate("ErrorResponse", body)
            return
        ep = found[0]
        op = SPEC["paths"][ep.path][method.lower()]
        responses = op["responses"]
        key = str(status)
        self.seen.add((ep.name, status))
        if key not in responses:
            assert status in EXTRA_STATUSES, f"{method} {ep.path} answered {status}, not in the spec"
            self._validate("ErrorResponse", body)
            return
        content = responses[key].get("content")
        if content is None:
            assert body == b"", f"{status} must have no body"
            return
        assert headers.get("content-type", "").startswith("application/json")
        ref = content["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
        self._validate(ref, body)

    def _validate(self, schema_name: str, body: bytes) -> None:
        doc = json.loads(body)
        self.validator(schema_name).validate(doc)


CHECKER = SpecChecker()


def sign(
    key: dict[str, Any],
    *,
    lifetime: int = 600,
    now: float | None = None,
    headers: dict | None = None,
    algorithm: str = "ES256",
    pem: str | None = None,
    **claims: Any,
) -> str:
    """A token for ``key`` (a dict with key_id, issuer_id, private_key_pem, maybe individual)."""
    now = time.time() if now is None else now
    payload: dict[str, Any] = {"iat": int(now), "exp": int(now) + lifetime, "aud": "appstoreconnect-v1"}
    if key.get("individual"):
        payload["sub"] = "user"
    else:
        payload["iss"] = key["issuer_id"]
    payload.update(claims)
    payload = {k: v for k, v in payload.items() if v is not None}
    hdrs = {"kid": key["key_id"], **(headers or {})}
    return jwt.encode(payload, pem or key["private_key_pem"], algorithm=algorithm, headers=hdrs)


def demo_key(sb: Sandbox) -> dict[str, Any]:
    return {"key_id": sb.key_id, "issuer_id": sb.issuer_id, "private_key_pem": sb.private_key_pem}


def _spec_hook(response: httpx.Response) -> None:
    response.read()
    url = response.request.url
    if url.path.startswith("/_sandbox/"):
        return
    CHECKER.check(response.request.method, url.path, response.status_code, response.content, response.headers)


class Api:
    """A raw httpx client on the API host, authenticated with a key, spec-checking every response."""

    def __init__(
        self,
        sb: Sandbox,
        key: dict[str, Any] | None = None,
        base_url: str | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.sb = sb
        self.key = key or demo_key(sb)
        self.http = httpx.Client(
            base_url=base_url or sb.api_base_url,
            transport=transport if transport is not None else (None if base_url else sb.transport()),
            event_hooks={"response": [_spec_hook]},
            timeout=10,
        )

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {sign(self.key)}"}

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.http.get(path, params=params or None, headers=self.auth())

    def get_url(self, url: str) -> httpx.Response:
        return self.http.get(url, headers=self.auth())

    def post(
        self,
        path: str,
        doc: Any = None,
        *,
        content: bytes | None = None,
        content_type: str = "application/json",
    ) -> httpx.Response:
        body = content if content is not None else json.dumps(doc).encode()
        return self.http.post(path, content=body, headers={**self.auth(), "Content-Type": content_type})

    def delete(self, path: str) -> httpx.Response:
        return self.http.delete(path, headers=self.auth())

    def create(self, app_id: str, access_type: str = "ONGOING") -> httpx.Response:
        return self.post("/v1/analyticsReportRequests", create_doc(app_id, access_type))

    def all_pages(self, path: str, **params: Any) -> list[dict[str, Any]]:
        r = self.get(path, **params)
        assert r.status_code == 200, r.text
        data = list(r.json()["data"])
        while "next" in r.json()["links"]:
            r = self.get_url(r.json()["links"]["next"])
            assert r.status_code == 200, r.text
            data += r.json()["data"]
        return data

    def close(self) -> None:
        self.http.close()


def create_doc(app_id: str, access_type: str = "ONGOING") -> dict[str, Any]:
    return {
        "data": {
            "type": "analyticsReportRequests",
            "attributes": {"accessType": access_type},
            "relationships": {"app": {"data": {"type": "apps", "id": app_id}}},
        }
    }


def first_app(sb: Sandbox) -> str:
    return next(iter(sb.world.apps))
