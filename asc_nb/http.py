"""The HTTP session: one ``httpx.Client`` plus everything Apple expects of a polite client.

- the bearer token goes only to the API's origin (scheme + host + port), never over plain
  http except to loopback (the sandbox CLI), never to the presigned download host;
- ``X-Rate-Limit`` is parsed on every response into :attr:`Session.rate_limit`;
- GET and DELETE are retried on 429, transient 5xx and connection errors with exponential
  backoff + jitter, honouring ``Retry-After``; a POST is never retried blindly (the client
  checks what happened instead); a 401 re-signs the token once and retries;
- paging follows ``links.next`` asking for the endpoint's largest ``limit``, lazily, and
  refuses a ``links.next`` that points at another origin.

``sleep`` and ``random`` are injectable so tests never wait for real.
"""

from __future__ import annotations

import contextlib
import email.utils
import html
import ipaddress
import logging
import random as _random
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import httpx

from .auth import TokenSigner
from .errors import (
    APIError,
    ConfigError,
    ForbiddenError,
    NetworkError,
    RateLimitError,
    UnsafeURLError,
    error_class,
)

__all__ = [
    "Session",
    "RateLimit",
    "RetryPolicy",
    "Pacer",
    "from_response",
    "parse_rate_limit",
    "parse_retry_after",
    "is_loopback",
]

log = logging.getLogger("asc_nb.http")

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
USER_AGENT = "asc-nb/0.1 (+https://github.com/asc-nb)"


# --------------------------------------------------------------------------- rate limit


@dataclass(frozen=True)
class RateLimit:
    """The key's rolling-hour budget from ``X-Rate-Limit: user-hour-lim:3600;user-hour-rem:3599;``."""

    limit: int | None
    remaining: int | None
    updated_at: datetime
    raw: str = field(default="", compare=False)

    @property
    def used(self) -> int | None:
        if self.limit is None or self.remaining is None:
            return None
        return self.limit - self.remaining

    def __str__(self) -> str:
        return f"{self.remaining}/{self.limit} requests left this hour (at {self.updated_at:%H:%M:%S} UTC)"


def parse_rate_limit(header: str | None, *, now: datetime | None = None) -> RateLimit | None:
    """Parse an ``X-Rate-Limit`` value; ``None`` when absent or unparseable."""
    if not header:
        return None
    values: dict[str, int] = {}
    for part in header.split(";"):
        key, sep, value = part.partition(":")
        if not sep:
            continue
        try:
            values[key.strip().lower()] = int(value.strip())
        except ValueError:
            continue
    if not values:
        return None
    return RateLimit(
        limit=values.get("user-hour-lim"),
        remaining=values.get("user-hour-rem"),
        updated_at=now or datetime.now(timezone.utc),
        raw=header,
    )


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """``Retry-After`` in seconds (from delta-seconds or an HTTP date); ``None`` if absent/bad."""
    if value is None or not str(value).strip():
        return None
    value = str(value).strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)


# --------------------------------------------------------------------------- retry policy


@dataclass
class RetryPolicy:
    """When and how long to wait before retrying an idempotent request."""

    max_retries: int = 4
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    #: a ``Retry-After`` longer than this is not waited for: the error is raised instead
    max_retry_after: float = 120.0
    statuses: frozenset[int] = frozenset({429, 500, 502, 503, 504})
    methods: frozenset[str] = frozenset({"GET", "DELETE", "HEAD", "OPTIONS"})

    def backoff(self, attempt: int, rand: Callable[[], float] = _random.random) -> float:
        """Full-jitter exponential backoff for retry number ``attempt`` (1-based)."""
        cap = min(self.backoff_max, self.backoff_base * (2 ** (attempt - 1)))
        return cap / 2 + rand() * cap / 2


# --------------------------------------------------------------------------- pacing


class Pacer:
    """Keeps a key under its rolling-hour budget instead of discovering the limit with a 429.

    Apple counts every call of a key over the previous 60 minutes (``X-Rate-Limit``). The
    pacer remembers when this process sent each call and what the last header said; when the
    estimated budget falls to ``reserve``, the next call waits until the oldest of our own
    calls leaves the window (the moment the server frees a slot). A wait longer than
    ``max_wait`` is not taken: the call goes out and the retry policy deals with the 429.
    ``clock`` and ``sleep`` are injectable so a scaled-time test can run an hour in a second.
    """

    def __init__(
        self,
        *,
        reserve: int = 0,
        window: float = 3600.0,
        max_wait: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.reserve = reserve
        self.window = window
        self.max_wait = max_wait
        self.clock = clock
        #: total seconds this pacer asked the session to wait
        self.waited = 0.0
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()
        self._remaining: int | None = None
        self._observed_at = 0.0
        self._since = 0  # calls sent since the header was read
        self._freed = 0  # own calls that left the window since the header was read

    def _expire(self, now: float) -> None:
        while self._sent and self._sent[0] <= now - self.window:
            sent = self._sent.popleft()
            if sent > self._observed_at - self.window:
                self._freed += 1

    def estimate(self) -> int | None:
        """Calls we may still send now without a 429 (``None`` before any header)."""
        with self._lock:
            self._expire(self.clock())
            if self._remaining is None:
                return None
            return self._remaining - self._since + self._freed

    def delay(self) -> float:
        """Seconds to wait before the next call (0 when the budget allows it now)."""
        with self._lock:
            now = self.clock()
            self._expire(now)
            if self._remaining is None or self._remaining - self._since + self._freed > self.reserve:
                return 0.0
            if self._sent:
                return max(0.0, self._sent[0] + self.window - now)
            # someone else spent the budget: we cannot know when it frees; probe one slot later
            return self.window / 3600.0

    def sent(self) -> None:
        with self._lock:
            self._sent.append(self.clock())
            self._since += 1

    def observe(self, rate_limit: RateLimit) -> None:
        """Take the server's word for the budget (it also counts other clients of the key)."""
        if rate_limit.remaining is None:
            return
        with self._lock:
            self._remaining = rate_limit.remaining
            self._observed_at = self.clock()
            self._since = 0
            self._freed = 0


# --------------------------------------------------------------------------- helpers


def is_loopback(host: str) -> bool:
    """``localhost``, 127.0.0.0/8 or ::1."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    port = url.port or {"https": 443, "http": 80}.get(url.scheme)
    return (url.scheme, url.host.lower(), port)


class _BearerAuth(httpx.Auth):
    """The auth flow: ``Authorization`` only for the API origin (never anywhere else), and a 401 re-signs once.

    A 401 means the server did nothing (any method, a POST too), so the request is sent again with a
    freshly signed token, once; a second 401 is the caller's :class:`AuthenticationError`. The re-sent
    request counts as sent (pacer, ``requests_sent``) but is not a retry.
    """

    def __init__(self, session: Session) -> None:
        self.session = session

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        signer = self.session.signer
        if signer is None or not self.session.is_api_url(request.url):
            request.headers.pop("Authorization", None)
            yield request
            return
        request.headers["Authorization"] = f"Bearer {signer.token()}"
        response = yield request
        if response.status_code != 401:
            return
        log.info("%s %s: 401, re-signing the token once", request.method, request.url.path)
        self.session._note(response)
        request.headers["Authorization"] = f"Bearer {signer.refresh()}"
        self.session.requests_sent += 1
        self.session.pacer.sent()
        yield request


# --------------------------------------------------------------------------- session


class Session:
    """One ``httpx.Client`` bound to the API base URL, with auth, retries, rate limit and paging."""

    def __init__(
        self,
        base_url: str,
        signer: TokenSigner | None,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout | float | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        random: Callable[[], float] = _random.random,
        headers: Mapping[str, str] | None = None,
        pacer: Pacer | None = None,
    ) -> None:
        url = httpx.URL(base_url.rstrip("/"))
        if url.scheme not in ("http", "https") or not url.host:
            raise ConfigError(f"base_url must be an http(s) URL, got {base_url!r}")
        if url.scheme == "http" and not is_loopback(url.host):
            raise ConfigError(
                f"Refusing plain http to {url.host}: the bearer token would travel unencrypted. "
                "Use https (plain http is allowed only to loopback, e.g. the sandbox CLI on 127.0.0.1)"
            )
        self.base_url = url
        self.signer = signer
        self.retry = retry or RetryPolicy()
        self.sleep = sleep
        self.random = random
        #: keeps calls under the hourly budget (``Pacer(max_wait=0)`` turns pacing off)
        self.pacer = pacer or Pacer()
        #: the last ``X-Rate-Limit`` seen (``None`` until a response carried one)
        self.rate_limit: RateLimit | None = None
        #: the last ``httpx.Response`` (raw JSON: ``session.last_response.json()``)
        self.last_response: httpx.Response | None = None
        #: every request sent, as ``(method, url)`` — counting retries (cheap, for diagnostics)
        self.requests_sent = 0
        self.retries = 0
        #: ``callback(reason, seconds)`` before every deliberate wait (see :meth:`add_wait_listener`)
        self.wait_listeners: list[Callable[[str, float], None]] = []
        self.client = httpx.Client(
            base_url=str(url),
            transport=transport,
            timeout=timeout if timeout is not None else DEFAULT_TIMEOUT,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})},
            auth=_BearerAuth(self),
            follow_redirects=False,
        )

    # ------------------------------------------------------------------ plumbing

    def is_api_url(self, url: httpx.URL) -> bool:
        """Same scheme, host and port as the API base URL."""
        return _origin(url) == _origin(self.base_url)

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _resolve(self, path_or_url: str) -> httpx.URL:
        if path_or_url.startswith(("http://", "https://")):
            url = httpx.URL(path_or_url)
            if not self.is_api_url(url):
                raise UnsafeURLError(
                    f"Refusing to send the API token to {url.scheme}://{url.host}"
                    f"{':' + str(url.port) if url.port else ''}: only {self.base_url} gets it"
                )
            return url
        return self.base_url.join(path_or_url if path_or_url.startswith("/") else "/" + path_or_url)

    def _note(self, response: httpx.Response) -> None:
        self.last_response = response
        rl = parse_rate_limit(response.headers.get("x-rate-limit"))
        if rl is not None:
            self.rate_limit = rl
            self.pacer.observe(rl)

    def add_wait_listener(self, callback: Callable[[str, float], None]) -> Callable[[], None]:
        """Call ``callback(reason, seconds)`` just before this session sleeps on purpose; returns a remover.

        Reasons: ``"pacer"`` (the hourly budget is spent), ``"retry-after"`` (the server said when to
        retry), ``"backoff"`` (a retry after a transient failure with no ``Retry-After``). The callback
        runs on the thread that is about to wait (a widget shows a countdown); its errors are logged, not raised.
        """
        self.wait_listeners.append(callback)

        def remove() -> None:
            with contextlib.suppress(ValueError):
                self.wait_listeners.remove(callback)

        return remove

    def _wait(self, reason: str, seconds: float) -> None:
        """Tell the listeners, then sleep ``seconds``."""
        for callback in list(self.wait_listeners):
            try:
                callback(reason, seconds)
            except Exception:  # a display problem must never break an API call
                log.exception("wait listener %r failed", callback)
        self.sleep(seconds)

    def _pace(self, method: str, url: httpx.URL) -> None:
        """Wait, once, for hourly budget if the pacer says the next call would be refused."""
        delay = self.pacer.delay()
        if delay <= 0:
            return
        if delay > self.pacer.max_wait:
            log.info(
                "%s %s: hourly budget spent; a %.0fs wait is over max_wait, sending anyway",
                method,
                url.path,
                delay,
            )
            return
        log.warning("hourly API budget spent: waiting %.0fs before %s %s", delay, method, url.path)
        self.pacer.waited += delay
        self._wait("pacer", delay)

    # ------------------------------------------------------------------ requests

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
    ) -> httpx.Response:
        """Send one API request; return the 2xx response or raise a typed :class:`APIError`.

        Retries GET/DELETE per :attr:`retry`; a 401 is re-signed once by the auth flow
        (:class:`_BearerAuth`). Connection errors surface as :class:`NetworkError`.
        """
        method = method.upper()
        url = self._resolve(path_or_url)
        retryable = method in self.retry.methods
        attempt = 0
        while True:
            attempt += 1
            self._pace(method, url)
            self.requests_sent += 1
            self.pacer.sent()
            try:
                response = self.client.request(method, url, params=params, json=json)
            except httpx.TransportError as exc:
                if retryable and attempt <= self.retry.max_retries:
                    delay = self.retry.backoff(attempt, self.random)
                    log.info(
                        "%s %s: %s; retry %d in %.2fs", method, url.path, type(exc).__name__, attempt, delay
                    )
                    self.retries += 1
                    self._wait("backoff", delay)
                    continue
                raise NetworkError(
                    f"{type(exc).__name__} talking to {url.host} ({method} {url.path})"
                    + (f" after {attempt} attempts" if attempt > 1 else "")
                    + (": not retried, a POST may have reached the server" if method == "POST" else ""),
                    method=method,
                    path=url.path,
                    attempts=attempt,
                ) from exc
            self._note(response)
            status = response.status_code
            if status < 400:
                return response
            if retryable and status in self.retry.statuses and attempt <= self.retry.max_retries:
                retry_after = parse_retry_after(response.headers.get("retry-after"))
                if retry_after is not None and retry_after > self.retry.max_retry_after:
                    response.read()
                    raise from_response(response, attempts=attempt)
                delay = retry_after if retry_after is not None else self.retry.backoff(attempt, self.random)
                response.close()
                log.info("%s %s: %d; retry %d in %.2fs", method, url.path, status, attempt, delay)
                self.retries += 1
                self._wait("retry-after" if retry_after is not None else "backoff", delay)
                continue
            response.read()
            raise from_response(response, attempts=attempt)

    def get_json(self, path_or_url: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """GET and decode a JSON:API document."""
        response = self.request("GET", path_or_url, params=params)
        return _json(response)

    def pages(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        limit: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Yield each page document of a collection, lazily, following ``links.next``.

        ``limit`` is sent on the first request (the server echoes it into ``links.next``).
        """
        query = dict(params or {})
        if limit is not None:
            query["limit"] = limit
        doc = self.get_json(path, query)
        yield doc
        seen: set[str] = set()
        while True:
            nxt = (doc.get("links") or {}).get("next")
            if not nxt:
                return
            url = self.base_url.join(nxt) if not nxt.startswith(("http://", "https://")) else httpx.URL(nxt)
            if not self.is_api_url(url):
                raise UnsafeURLError(
                    f"links.next points at another origin ({url.scheme}://{url.host}); refusing to follow it "
                    f"with the API token (expected {self.base_url})"
                )
            key = str(url)
            if key in seen:
                raise APIError(
                    200,
                    code="PAGING_LOOP",
                    detail=f"links.next repeats {url.path}?{url.query.decode()}",
                    method="GET",
                    path=url.path,
                )
            seen.add(key)
            doc = self.get_json(str(url))
            yield doc

    def iter_resources(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        limit: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Yield each resource of every page, lazily (stop early to save calls)."""
        for doc in self.pages(path, params, limit=limit):
            yield from doc.get("data") or []


# --------------------------------------------------------------------------- error responses

ADMIN_HINT = (
    "Only an Admin key may create or delete analytics report requests; "
    "Sales and Reports or Finance keys can list and download once a request exists"
)


def _request_id(response: httpx.Response, first: dict[str, Any]) -> str | None:
    for name in ("x-request-id", "x-apple-request-uuid", "x-apple-jingle-correlation-key"):
        value = response.headers.get(name)
        if value:
            return value
    rid = first.get("id")
    return str(rid) if rid else None


def from_response(response: httpx.Response, *, attempts: int = 1) -> APIError:
    """Build the typed error for an error ``response``; tolerant of non-JSON bodies."""
    errors: list[dict[str, Any]] = []
    try:
        body = response.json()
        if isinstance(body, dict) and isinstance(body.get("errors"), list):
            errors = [e for e in body["errors"] if isinstance(e, dict)]
    except Exception:  # plain text (406), HTML from a proxy, empty body...
        errors = []
    if not errors and "xml" in response.headers.get("content-type", ""):
        errors = _s3_errors(response.text or "")
    first = errors[0] if errors else {}
    detail = first.get("detail")
    if not errors:
        text = (response.text or "").strip() if _is_text(response) else ""
        detail = text[:200] or None
    method = response.request.method if response.request is not None else None
    path = response.request.url.path if response.request is not None else None
    cls = error_class(response.status_code, first.get("code"))
    hint = None
    if cls is ForbiddenError and method in ("POST", "DELETE") and path and "analyticsReportRequests" in path:
        hint = ADMIN_HINT
    elif first.get("code") == "AccessDenied" and "expired" in str(detail).lower():
        hint = EXPIRED_URL_HINT
    err = cls(
        response.status_code,
        code=first.get("code"),
        title=first.get("title"),
        detail=detail,
        source=first.get("source"),
        request_id=_request_id(response, first),
        method=method,
        path=path,
        errors=errors,
        response=response,
        hint=hint,
        attempts=attempts,
    )
    if isinstance(err, RateLimitError):
        err.retry_after = parse_retry_after(response.headers.get("retry-after"))
        err.rate_limit = parse_rate_limit(response.headers.get("x-rate-limit"))
    return err


#: S3-style error bodies of the download host: <Error><Code>…</Code><Message>…</Message></Error>
_S3_FIELD = re.compile(r"<(Code|Message)>([^<]{0,300})</\1>")
EXPIRED_URL_HINT = (
    "Segment download URLs are presigned and expire 5 minutes after they are listed: list the "
    "instance's segments again (client.segments(...)) and download right away"
)


def _s3_errors(text: str) -> list[dict[str, Any]]:
    """The download host answers errors in S3's XML; read its Code and Message (no XML parser needed)."""
    fields = dict(_S3_FIELD.findall(text[:4096]))
    if "Code" not in fields:
        return []
    return [
        {"code": html.unescape(fields["Code"]), "detail": html.unescape(fields.get("Message", "")) or None}
    ]


def _is_text(response: httpx.Response) -> bool:
    ctype = response.headers.get("content-type", "")
    if "html" in ctype:
        return False
    return not ctype or ctype.startswith("text/") or "json" in ctype


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        doc = response.json()
    except ValueError as exc:
        raise APIError(
            response.status_code,
            code="INVALID_JSON",
            detail=f"expected a JSON document, got {response.headers.get('content-type', 'no content-type')}",
            method=response.request.method,
            path=response.request.url.path,
            response=response,
        ) from exc
    if not isinstance(doc, dict):
        raise APIError(
            response.status_code,
            code="INVALID_JSON",
            detail="expected a JSON object",
            method=response.request.method,
            path=response.request.url.path,
            response=response,
        )
    return doc
