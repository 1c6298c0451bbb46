"""Faults injected on demand, so clients can be tested against what the real network does.

``sandbox.faults.add(kind, path=regex, method=None, host="api"|"download", count=1, **options)``
arms a fault; the next ``count`` matching requests suffer it (``count=None``: every one until
:meth:`Faults.clear`). Kinds (aliases in brackets) and their options:

=================  ========================================================================
``slow``           sleep ``seconds`` (default 1.0) of wall time, then answer normally
``rate_limit``     [``429``] 429 ``RATE_LIMIT_EXCEEDED``; ``retry_after`` seconds adds ``Retry-After``
``server_error``   [``5xx``] ``status`` (default 503) with an ErrorResponse body (API) or S3 XML
``reset``          the connection is dropped before any response byte
``truncate``       the headers promise the full body, ``keep`` bytes (default half) arrive, then the
                   connection closes
``corrupt``        [``bad_checksum``] download body with flipped bytes, same length (checksum fails)
``size_mismatch``  download body with ``extra`` bytes (default 16) appended (size check fails)
``expired``        [``expired_url``] the download host answers 403 "Request has expired"
=================  ========================================================================
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field

KINDS = ("slow", "rate_limit", "server_error", "reset", "truncate", "corrupt", "size_mismatch", "expired")
ALIASES = {
    "429": "rate_limit", "5xx": "server_error", "500": "server_error", "503": "server_error",
    "bad_checksum": "corrupt", "wrong_checksum": "corrupt", "expired_url": "expired",
    "connection_reset": "reset", "truncated": "truncate",
}


class ConnectionReset(Exception):
    """Raised by the router: the front must drop the connection without answering."""


class Truncated(Exception):
    """Raised by the router: the front must send these headers, only ``body``, then close."""

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        super().__init__(f"truncated to {len(body)} bytes")
        self.status, self.headers, self.body = status, headers, body


@dataclass
class Fault:
    kind: str
    path: str = ".*"
    method: str | None = None
    host: str = "api"
    count: int | None = 1
    options: dict[str, object] = field(default_factory=dict)
    hits: int = 0

    def matches(self, method: str, host: str, path: str) -> bool:
        if self.host not in (host, "any"):
            return False
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return re.search(self.path, path) is not None


class Faults:
    """The armed faults; the router asks :meth:`take` once per request."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(
        self,
        kind: str,
        path: str = ".*",
        method: str | None = None,
        host: str = "api",
        count: int | None = 1,
        **options: object,
    ) -> Fault:
        """Arm a fault (see the module docstring for kinds and options) and return it."""
        kind = ALIASES.get(str(kind).lower(), str(kind).lower())
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(KINDS)}")
        if host not in ("api", "download", "any"):
            raise ValueError("host must be 'api', 'download' or 'any'")
        if count is not None and count < 1:
            raise ValueError("count must be >= 1 or None")
        re.compile(path)
        fault = Fault(kind, path, method, host, count, dict(options))
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        """Disarm every fault."""
        with self._lock:
            self._faults.clear()

    @property
    def armed(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def take(self, method: str, host: str, path: str) -> Fault | None:
        """The first armed fault matching this request, consuming one of its ``count``."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, host, path):
                    fault.hits += 1
                    if fault.count is not None:
                        fault.count -= 1
                        if fault.count <= 0:
                            self._faults.remove(fault)
                    return fault
        return None
