"""Error mapping and header parsing on hand-built responses (the sandbox tests cover live ones)."""

from __future__ import annotations

import email.utils
from datetime import datetime, timezone

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from asc_nb import errors as E
from asc_nb.http import RetryPolicy, from_response, is_loopback, parse_rate_limit, parse_retry_after


def response(status, body=None, *, method="GET", path="/v1/apps", headers=None, text=None):
    request = httpx.Request(method, f"https://api.appstoreconnect.apple.com{path}?limit=200")
    if body is not None:
        return httpx.Response(status, json=body, request=request, headers=headers)
    return httpx.Response(status, text=text or "", request=request, headers=headers)


def body(status, code, title, detail, **extra):
    return {
        "errors": [
            {"id": "err-1", "status": str(status), "code": code, "title": title, "detail": detail, **extra}
        ]
    }


@pytest.mark.parametrize(
    "status, cls",
    [
        (400, E.BadRequestError),
        (401, E.AuthenticationError),
        (403, E.ForbiddenError),
        (404, E.NotFoundError),
        (409, E.ConflictError),
        (422, E.UnprocessableError),
        (429, E.RateLimitError),
        (500, E.ServerError),
        (503, E.ServerError),
        (418, E.APIError),
    ],
)
def test_status_maps_to_class(status, cls):
    err = from_response(response(status, body(status, "X", "t", "d")))
    assert type(err) is cls and isinstance(err, E.APIError) and isinstance(err, E.ASCError)
    assert err.status == status


def test_conflict_message_reads_well():
    r = response(
        409,
        body(409, "STATE_ERROR", "The request cannot be fulfilled.", "You already have such an entity"),
        method="POST",
        path="/v1/analyticsReportRequests",
    )
    err = from_response(r)
    assert (
        str(err)
        == "409 Conflict — STATE_ERROR: You already have such an entity (POST /v1/analyticsReportRequests)"
    )
    assert err.code == "STATE_ERROR" and err.title.startswith("The request")
    assert err.request_id == "err-1" and err.method == "POST" and err.path == "/v1/analyticsReportRequests"


def test_source_parameter_and_no_query_in_message():
    r = response(
        400,
        body(
            400,
            "PARAMETER_ERROR.INVALID",
            "bad",
            "'x' is not valid",
            source={"parameter": "filter[granularity]"},
        ),
    )
    err = from_response(r)
    assert err.source == {"parameter": "filter[granularity]"}
    assert "[parameter filter[granularity]]" in str(err)
    assert "limit=200" not in str(err)


def test_forbidden_on_create_explains_admin():
    r = response(
        403,
        body(403, "FORBIDDEN_ERROR", "no", "The API key in use does not allow this request"),
        method="POST",
        path="/v1/analyticsReportRequests",
    )
    assert "Only an Admin key" in str(from_response(r))
    r = response(
        403, body(403, "FORBIDDEN_ERROR", "no", "nope"), method="DELETE", path="/v1/analyticsReportRequests/x"
    )
    assert "Only an Admin key" in str(from_response(r))
    r = response(403, body(403, "FORBIDDEN_ERROR", "no", "nope"))
    assert "Admin" not in str(from_response(r))


def test_tolerant_of_plain_text_and_missing_detail():
    err = from_response(response(406, text="Not Acceptable", headers={"content-type": "text/plain"}))
    assert str(err).startswith("406 Not Acceptable — Not Acceptable")
    err = from_response(
        response(500, {"errors": [{"status": "500", "code": "UNEXPECTED_ERROR", "title": "Oops"}]})
    )
    assert "UNEXPECTED_ERROR: Oops" in str(err)
    err = from_response(response(502, text="<html>bad gateway</html>", headers={"content-type": "text/html"}))
    assert str(err) == "502 Bad Gateway (GET /v1/apps)"


def test_multiple_errors_counted():
    b = body(400, "A", "t", "first")
    b["errors"].append({"status": "400", "code": "B", "title": "t", "detail": "second"})
    err = from_response(response(400, b))
    assert "(+1 more)" in str(err) and len(err.errors) == 2


def test_rate_limit_error_carries_retry_after_and_budget():
    r = response(
        429,
        body(429, "RATE_LIMIT_EXCEEDED", "t", "d"),
        headers={"retry-after": "7", "x-rate-limit": "user-hour-lim:3600;user-hour-rem:0;"},
    )
    err = from_response(r)
    assert err.retry_after == 7 and err.rate_limit.remaining == 0


def test_rate_limit_parsing():
    rl = parse_rate_limit("user-hour-lim:3500;user-hour-rem:500;")
    assert (rl.limit, rl.remaining, rl.used) == (3500, 500, 3000)
    assert rl.updated_at.tzinfo is not None
    assert parse_rate_limit(None) is None and parse_rate_limit("garbage") is None
    assert parse_rate_limit(" user-hour-rem : 3 ; ").remaining == 3


def test_retry_after_parsing():
    assert parse_retry_after("12") == 12
    assert parse_retry_after("1.5") == 1.5
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    now = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc).timestamp()
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after(date, now=now) == pytest.approx(30)
    assert parse_retry_after(email.utils.formatdate(now - 30, usegmt=True), now=now) == 0


def test_backoff_grows_with_jitter():
    policy = RetryPolicy(backoff_base=1, backoff_max=8)
    assert [policy.backoff(n, lambda: 0.0) for n in (1, 2, 3, 4, 5)] == [0.5, 1, 2, 4, 4]
    assert [policy.backoff(n, lambda: 1.0) for n in (1, 2, 3, 4, 5)] == [1, 2, 4, 8, 8]


def test_loopback():
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("[::1]")
    assert not is_loopback("api.appstoreconnect.apple.com") and not is_loopback("10.0.0.1")


@given(st.text(max_size=80))
def test_header_parsers_never_raise(text):
    parse_rate_limit(text)
    value = parse_retry_after(text)
    assert value is None or value >= 0


@given(st.integers(min_value=0, max_value=10_000), st.integers(min_value=0, max_value=10_000))
def test_rate_limit_roundtrip(limit, remaining):
    rl = parse_rate_limit(f"user-hour-lim:{limit};user-hour-rem:{remaining};")
    assert (rl.limit, rl.remaining) == (limit, remaining)
