"""One exception family for everything asc-nb raises on purpose.

Apple answers every failure with an ``ErrorResponse`` (``{"errors": [{status, code, title,
detail, source, id}]}``). :func:`asc_nb.http.from_response` turns it into an :class:`APIError` subclass
picked by Apple's ``code`` first, then the HTTP status (:func:`error_class`), so callers can
``except NotFoundError`` instead of comparing numbers,
and the message reads well in a notebook::

    409 Conflict — STATE_ERROR: You already have such an entity (POST /v1/analyticsReportRequests)

Nothing here ever formats a credential: messages are built only from the server's error
body, the HTTP method and the URL path (never the query string or headers).
"""

from __future__ import annotations

from http import HTTPStatus
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import httpx

__all__ = [
    "ASCError",
    "ConfigError",
    "ChecksumError",
    "VerificationError",
    "NetworkError",
    "UnsafeURLError",
    "APIError",
    "BadRequestError",
    "AuthenticationError",
    "ForbiddenError",
    "NotFoundError",
    "ConflictError",
    "UnprocessableError",
    "RateLimitError",
    "ServerError",
    "ReportNotFoundError",
    "SegmentFormatError",
    "DownloadCancelled",
    "NonAdditiveMetricError",
    "MetricError",
    "StoreLockedError",
    "QueryError",
    "MissingDatesWarning",
    "SchemaDriftWarning",
    "ParseIssuesWarning",
    "DailyRollupWarning",
]


class ASCError(Exception):
    """Base of every error asc-nb raises on purpose; catch this to catch them all."""


class ConfigError(ASCError, ValueError):
    """Credentials or settings are wrong; the message says what to fix."""


class ChecksumError(ASCError):
    """A downloaded segment does not match the checksum or size Apple announced."""

    def __init__(
        self,
        message: str,
        *,
        expected: str | None = None,
        actual: str | None = None,
        segment_id: str | None = None,
        expected_size: int | None = None,
        actual_size: int | None = None,
    ) -> None:
        super().__init__(message)
        self.expected = expected
        self.actual = actual
        self.segment_id = segment_id
        self.expected_size = expected_size
        self.actual_size = actual_size


class NetworkError(ASCError):
    """The server could not be reached (after retries); the httpx error is the ``__cause__``."""

    def __init__(
        self, message: str, *, method: str | None = None, path: str | None = None, attempts: int = 1
    ) -> None:
        super().__init__(message)
        self.method = method
        self.path = path
        self.attempts = attempts


class UnsafeURLError(ASCError):
    """A request would leak the token: plain http to a non-loopback host, or another host's URL."""


class ReportNotFoundError(ASCError, LookupError):
    """No report of that name (under a request, or in the report registry); the message lists close names."""


class SegmentFormatError(ASCError, ValueError):
    """A segment is not a readable report file (truncated gzip, no header, a value that does not fit its column).

    The message names what is known of report, instance, segment, line, column and value, and what to do.
    """

    def __init__(
        self,
        message: str,
        *,
        report: str | None = None,
        instance_id: str | None = None,
        segment_id: str | None = None,
        line: int | None = None,
        column: str | None = None,
        value: str | None = None,
    ) -> None:
        super().__init__(message)
        self.report = report
        self.instance_id = instance_id
        self.segment_id = segment_id
        self.line = line
        self.column = column
        self.value = value

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore_plain, (type(self), self.args, dict(self.__dict__)))


class VerificationError(ASCError):
    """Downloaded bytes do not match ``sizeInBytes`` or ``checksum`` (the data layer turns it into a
    :class:`ChecksumError` after its retries; nothing unverified is ever kept)."""

    def __init__(self, kind: str, expected: object, actual: object):
        self.kind, self.expected, self.actual = kind, expected, actual
        super().__init__(f"{kind} mismatch: expected {expected}, got {actual}")


class CellConversionError(ASCError):
    """Internal to the parser: pyarrow could not convert a cell to its declared type, so the parser takes the
    (slower) path that locates the line and column. Never reaches a user (it becomes a
    :class:`SegmentFormatError` or a recorded issue)."""


class SegmentURLExpired(ASCError):
    """Internal: a store worker's presigned segment URL was refused (they live 5 minutes).

    A worker holds no key, so it cannot ask the API for a new URL: the job answers ``expired`` and
    the sync lists the segments again and re-sends it. Never reaches a user.
    """


class DownloadCancelled(ASCError):
    """A download was cancelled through its ``cancel`` event; nothing unverified reached the cache."""


class NonAdditiveMetricError(ASCError):
    """A unique count was asked for at a grain where summing rows would over-count (see ``approx=True``)."""


class MetricError(ASCError, ValueError):
    """A metrics question that cannot be answered as asked (unknown metric, a breakdown or filter its report
    lacks); the message says what would work."""


class StoreLockedError(ASCError):
    """Another sync holds the store's lock (``pid`` and ``started`` name the holder)."""

    def __init__(self, message: str, *, pid: int | None = None, started: str | None = None) -> None:
        super().__init__(message)
        self.pid = pid
        self.started = started

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore_plain, (type(self), self.args, dict(self.__dict__)))


class QueryError(ASCError, ValueError):
    """A SQL query the read-only MCP server refuses or cannot run (a write, a file outside the lake, too many
    rows, too long); the message says what would work."""


def _restore_plain(cls: type[Exception], args: tuple[Any, ...], state: dict[str, Any]) -> Exception:
    err = cls.__new__(cls, *args)
    err.args = args
    err.__dict__.update(state)
    return err


class MissingDatesWarning(UserWarning):
    """Some dates of the requested range have no rows (not published yet, suppressed, or expired)."""


class SchemaDriftWarning(UserWarning):
    """A segment's header differs from the report's documented fields (a column added or missing)."""


class ParseIssuesWarning(UserWarning):
    """``errors="coerce"`` turned values that did not fit their column into missing cells."""


class DailyRollupWarning(UserWarning):
    """A weekly/monthly metric was summed from daily rows: no report of its family is published at that
    granularity, and daily rows lose more to privacy thresholds than Apple's own weekly/monthly rows."""


class APIError(ASCError):
    """App Store Connect answered with an error status.

    Attributes mirror the first entry of Apple's ``ErrorResponse``; ``errors`` keeps them all,
    ``response`` the ``httpx.Response`` (its request's headers are *not* in any message).
    """

    #: a sentence appended to the message telling the caller what to do (set per subclass/case)
    hint: str | None = None

    def __init__(
        self,
        status: int,
        *,
        code: str | None = None,
        title: str | None = None,
        detail: str | None = None,
        source: dict[str, Any] | None = None,
        request_id: str | None = None,
        method: str | None = None,
        path: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        response: httpx.Response | None = None,
        hint: str | None = None,
        attempts: int = 1,
    ) -> None:
        self.status = int(status)
        self.code = code
        self.title = title
        self.detail = detail
        self.source = source
        self.request_id = request_id
        self.method = method
        self.path = path
        self.errors = errors or []
        self.response = response
        self.attempts = attempts
        if hint is not None:
            self.hint = hint
        super().__init__(self._message())

    @property
    def reason(self) -> str:
        try:
            return HTTPStatus(self.status).phrase
        except ValueError:
            return "Error"

    def _message(self) -> str:
        text = f"{self.status} {self.reason}"
        what = self.detail or self.title
        if self.code and what:
            text += f" — {self.code}: {what}"
        elif self.code or what:
            text += f" — {self.code or what}"
        src = _describe_source(self.source)
        if src:
            text += f" [{src}]"
        if len(self.errors) > 1:
            text += f" (+{len(self.errors) - 1} more)"
        if self.method and self.path:
            text += f" ({self.method} {self.path})"
        if self.hint:
            text += f". {self.hint}"
        return text

    def add_hint(self, hint: str) -> None:
        """Append advice to the message (used by the client once it knows more context)."""
        self.hint = f"{self.hint} {hint}" if self.hint else hint
        self.args = (self._message(),)

    def __str__(self) -> str:
        return self.args[0] if self.args else self._message()

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle by fields, so the error crosses process boundaries (process pools, joblib, Dask).

        Exception's default, ``cls(*args)``, cannot call this keyword-only constructor. The
        ``response`` is left behind: its request carries the bearer token.
        """
        state = {k: v for k, v in self.__dict__.items() if k != "response"}
        return (_restore_api_error, (type(self), self.args, state))


def _restore_api_error(cls: type[APIError], args: tuple[Any, ...], state: dict[str, Any]) -> APIError:
    err = cls.__new__(cls, *args)
    err.args = args
    err.__dict__.update(state)
    err.response = None
    return err


class BadRequestError(APIError):
    """400: a parameter is invalid (``source.parameter`` names it)."""


class AuthenticationError(APIError):
    """401: the token was missing, malformed, expired or signed with an unknown key."""

    hint = (
        "Check ASC_KEY_ID / ASC_ISSUER_ID and that the .p8 key belongs to them and was not revoked; "
        "also check this machine's clock"
    )


class ForbiddenError(APIError):
    """403: the key's role may not do this (only an Admin key may create or delete requests)."""


class NotFoundError(APIError):
    """404: no such resource (or it expired: instances live 35 days)."""


class ConflictError(APIError):
    """409: e.g. the app already has a report request of that access type.

    ``existing`` is that request when the client could find it (see ``Client.ensure_ongoing``).
    """

    existing: Any = None


class UnprocessableError(APIError):
    """422: the request body is not what the endpoint expects."""


class RateLimitError(APIError):
    """429: the key's hourly budget is spent; ``retry_after`` (seconds) when the server said."""

    retry_after: float | None = None
    rate_limit: Any = None


class ServerError(APIError):
    """5xx: a failure on Apple's side; GET and DELETE are retried before this is raised."""


_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: ForbiddenError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableError,
    429: RateLimitError,
}

#: Apple's error ``code`` -> class, read before the status (Apple: "for programmatic error handling, use
#: only the ``code``"; the code is hierarchical, dot-separated, general to specific — so an entry matches the
#: code itself and every more specific code under it: ``ENTITY_ERROR`` matches ``ENTITY_ERROR.ATTRIBUTE.TYPE``).
#: Sources: https://developer.apple.com/documentation/appstoreconnectapi/parsing-the-error-response-code
#: (``ENTITY_ERROR.ATTRIBUTE.INVALID``), .../identifying-rate-limits (``RATE_LIMIT_EXCEEDED``); the others are
#: codes Apple's live API is reported to send (shared/spec/FACTS.md §5 [3P]). Apple answers ``ENTITY_ERROR.*``
#: with 409 on many endpoints and documents 422 for others: either way it is a bad request entity, never a
#: conflict with an existing resource. An unknown code (or none) falls back to the status; a 5xx is always a
#: :class:`ServerError` (the failure is on Apple's side and the retry policy keys off it).
CODE_CLASSES: tuple[tuple[str, type[APIError]], ...] = (
    (
        "ENTITY_ERROR",
        UnprocessableError,
    ),  # the request entity (body) is invalid: .ATTRIBUTE.*, .RELATIONSHIP.*
    ("ENTITY_UNPROCESSABLE", UnprocessableError),  # the body is not JSON / not the expected document
    ("ENTITY_INVALID", UnprocessableError),  # "JSON processing failed" (reported with 400)
    ("PARAMETER_ERROR", BadRequestError),  # .INVALID, .ILLEGAL, .REQUIRED: a query parameter
    ("NOT_AUTHORIZED", AuthenticationError),  # token missing, malformed, expired, unknown key
    ("FORBIDDEN_ERROR", ForbiddenError),  # role or operation not allowed
    ("FORBIDDEN", ForbiddenError),  # e.g. FORBIDDEN.REQUIRED_AGREEMENTS_MISSING_OR_EXPIRED
    ("NOT_FOUND", NotFoundError),
    ("STATE_ERROR", ConflictError),  # the resource's state forbids it (e.g. such a request already exists)
    ("CONFLICT_ERROR", ConflictError),
    ("RATE_LIMIT_EXCEEDED", RateLimitError),
)


def error_class(status: int, code: object = None) -> type[APIError]:
    """The exception class for an error answer: Apple's ``code`` first (:data:`CODE_CLASSES`), then the status."""
    if status >= 500:
        return ServerError
    if isinstance(code, str) and code:
        for prefix, cls in CODE_CLASSES:
            if code == prefix or code.startswith(prefix + "."):
                return cls
    return _BY_STATUS.get(status, APIError)


def _describe_source(source: dict[str, Any] | None) -> str | None:
    if not isinstance(source, dict):
        return None
    if source.get("parameter"):
        return f"parameter {source['parameter']}"
    if source.get("pointer"):
        return f"pointer {source['pointer']}"
    return None
