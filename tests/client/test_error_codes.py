"""Errors are read by Apple's ``code`` first, then by the HTTP status (errors.CODE_CLASSES).

Each row of the table has its own case here, with a status that would pick a *different* class, so
a row that stops working fails its own test. ENTITY_ERROR is checked with 409 (what Apple sends on
many endpoints) and 422 (what the spec documents for POST /v1/analyticsReportRequests); both must be
the validation error, never a conflict. The end-to-end cases drive the client against the sandbox
(in-process and loopback) and count the calls: no extra listing, no "reuse it" hint.
"""

from __future__ import annotations

import httpx
import pytest

from asc_nb import errors as E
from asc_nb.http import from_response
from asc_nb.sandbox import Sandbox


def _response(status: int, code: object, *, method: str = "GET", path: str = "/v1/apps") -> httpx.Response:
    request = httpx.Request(method, f"https://api.appstoreconnect.apple.com{path}")
    item = {"id": "e-1", "status": str(status), "code": code, "title": "t", "detail": "d"}
    return httpx.Response(status, json={"errors": [item]}, request=request)


# (code, status, expected class): one case per table row; the status alone would say something else
ROWS = [
    ("ENTITY_ERROR", 409, E.UnprocessableError),
    ("ENTITY_ERROR.ATTRIBUTE.INVALID", 409, E.UnprocessableError),
    ("ENTITY_ERROR.ATTRIBUTE.INVALID", 422, E.UnprocessableError),
    ("ENTITY_ERROR.ATTRIBUTE.TYPE", 409, E.UnprocessableError),
    ("ENTITY_ERROR.RELATIONSHIP.INVALID", 409, E.UnprocessableError),
    ("ENTITY_ERROR.RELATIONSHIP.INVALID", 422, E.UnprocessableError),
    ("ENTITY_UNPROCESSABLE", 400, E.UnprocessableError),
    ("ENTITY_INVALID", 400, E.UnprocessableError),
    ("PARAMETER_ERROR.INVALID", 422, E.BadRequestError),
    ("PARAMETER_ERROR.ILLEGAL", 403, E.BadRequestError),
    ("NOT_AUTHORIZED", 403, E.AuthenticationError),
    ("FORBIDDEN_ERROR", 400, E.ForbiddenError),
    ("FORBIDDEN.REQUIRED_AGREEMENTS_MISSING_OR_EXPIRED", 409, E.ForbiddenError),
    ("NOT_FOUND", 400, E.NotFoundError),
    ("STATE_ERROR", 422, E.ConflictError),
    ("STATE_ERROR.ENTITY_STATE_INVALID", 400, E.ConflictError),
    ("CONFLICT_ERROR", 400, E.ConflictError),
    ("RATE_LIMIT_EXCEEDED", 403, E.RateLimitError),
]


@pytest.mark.parametrize("code, status, cls", ROWS, ids=[f"{c}-{s}" for c, s, _ in ROWS])
def test_code_decides_the_class(code: str, status: int, cls: type[E.APIError]) -> None:
    assert E.error_class(status, code) is cls
    err = from_response(_response(status, code))
    assert type(err) is cls and err.status == status and err.code == code


def test_every_table_row_is_tested() -> None:
    for prefix, cls in E.CODE_CLASSES:
        assert any(
            (code == prefix or code.startswith(prefix + ".")) and want is cls for code, _, want in ROWS
        ), prefix


@pytest.mark.parametrize(
    "code, status, cls",
    [
        ("SOMETHING_NEW", 409, E.ConflictError),  # unknown code: the status decides
        ("SOMETHING_NEW", 422, E.UnprocessableError),
        (None, 404, E.NotFoundError),
        ("", 400, E.BadRequestError),
        (["ENTITY_ERROR"], 409, E.ConflictError),  # not a string: ignored
        (7, 401, E.AuthenticationError),
        ("NOT_FOUNDISH", 409, E.ConflictError),  # a prefix only matches at a '.' boundary
        ("ENTITY_ERRORS", 409, E.ConflictError),
        ("entity_error.attribute.invalid", 409, E.ConflictError),  # codes are upper case; no guessing
        ("ENTITY_ERROR", 500, E.ServerError),  # a 5xx is Apple's failure whatever the code
        ("NOT_FOUND", 503, E.ServerError),
        ("PARAMETER_ERROR.INVALID", 418, E.BadRequestError),  # the code wins over an unmapped status too
        ("SOMETHING_NEW", 418, E.APIError),
    ],
)
def test_unknown_or_odd_codes_fall_back_to_the_status(
    code: object, status: int, cls: type[E.APIError]
) -> None:
    assert E.error_class(status, code) is cls
    assert type(from_response(_response(status, code))) is cls


def test_entity_error_409_is_not_the_conflict_hint() -> None:
    r = _response(409, "ENTITY_ERROR.ATTRIBUTE.INVALID", method="POST", path="/v1/analyticsReportRequests")
    err = from_response(r)
    assert not isinstance(err, E.ConflictError)
    assert str(err).startswith("409 Conflict — ENTITY_ERROR.ATTRIBUTE.INVALID: d")
    assert err.hint is None


def test_not_authorized_403_gets_no_admin_hint() -> None:
    """A 403 that is really an authentication failure must not tell the user to use an Admin key."""
    err = from_response(_response(403, "NOT_AUTHORIZED", method="POST", path="/v1/analyticsReportRequests"))
    assert type(err) is E.AuthenticationError
    assert "Admin" not in str(err)


# --------------------------------------------------------------------------- end to end, both fronts


def _calls(sb: Sandbox, since: int) -> list[tuple[str, str, str]]:
    return [c for c in sb.calls[since:] if c[1] == "api"]


@pytest.mark.parametrize("status", [409, 422])
def test_entity_error_reaches_the_caller_as_one_typed_error(make_client, status: int) -> None:
    """An invalid create body answered 409 or 422: UnprocessableError, one call, no listing, no hint."""
    sb = Sandbox(seed=0)
    sb.router.entity_error_status = status
    client = make_client(sb)
    start = len(sb.calls)
    with pytest.raises(E.UnprocessableError) as info:
        client.create_report_request("999999999", "ONGOING")  # no such app: ENTITY_ERROR.RELATIONSHIP.INVALID
    err = info.value
    assert err.status == status and err.code.startswith("ENTITY_ERROR.")
    assert err.source == {"pointer": "/data/relationships/app/data/id"}
    assert not isinstance(err, E.ConflictError) and getattr(err, "existing", None) is None
    assert "reuse" not in str(err)
    assert [c[0] for c in _calls(sb, start)] == ["POST"]  # no listing of the app's requests afterwards

    # ensure_ongoing: the app exists when it lists, and is gone (ENTITY_ERROR) by the time it POSTs
    app = next(iter(sb.world.apps))

    def vanish(request: httpx.Request) -> None:
        if request.method == "POST":
            sb.world.apps.pop(app, None)

    client.http.client.event_hooks["request"].append(vanish)
    start = len(sb.calls)
    with pytest.raises(E.UnprocessableError) as again:
        client.ensure_ongoing(app)
    assert again.value.status == status and "reuse" not in str(again.value)
    assert getattr(again.value, "existing", None) is None
    # one listing (to reuse an existing request), one POST, and nothing after the error
    assert [c[0] for c in _calls(sb, start)] == ["GET", "POST"]


def test_a_real_conflict_is_still_a_conflict(make_client) -> None:
    sb = Sandbox(seed=0)
    sb.router.entity_error_status = 409
    client = make_client(sb)
    app = next(iter(sb.world.apps))
    client.create_report_request(app, "ONGOING")
    with pytest.raises(E.ConflictError) as info:
        client.create_report_request(app, "ONGOING")
    assert info.value.code == "STATE_ERROR" and "reuse it" in str(info.value)
    assert info.value.existing is not None
