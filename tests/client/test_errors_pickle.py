"""Typed errors survive a trip between processes.

A bulk job spread over processes (``concurrent.futures.ProcessPoolExecutor``, joblib/loky, Dask)
sends a worker's exception back pickled. ``APIError`` has keyword-only fields and Exception pickles
as ``cls(*args)`` — ``APIError("409 Conflict — …")`` — so unpickling died with
``ValueError: invalid literal for int()`` and the analyst saw that instead of the 409. The
``response`` (whose request carries the bearer token) is not worth shipping and is dropped.
"""

from __future__ import annotations

import pickle
from concurrent.futures import ProcessPoolExecutor

import pytest

from asc_nb.client import Client
from asc_nb.errors import APIError, ConflictError, NotFoundError, RateLimitError, ServerError
from asc_nb.sandbox import Sandbox


@pytest.mark.parametrize(
    "err",
    [
        ConflictError(
            409,
            code="STATE_ERROR",
            detail="You already have such an entity",
            method="POST",
            path="/v1/analyticsReportRequests",
            hint="reuse it",
        ),
        ServerError(503, code="SERVICE_UNAVAILABLE", title="Service unavailable", attempts=5),
        APIError(418, detail="teapot", source={"parameter": "limit"}, errors=[{"code": "X"}]),
    ],
    ids=lambda e: type(e).__name__,
)
def test_api_errors_round_trip(err: APIError) -> None:
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is type(err)
    assert str(back) == str(err)
    for name in (
        "status",
        "code",
        "title",
        "detail",
        "source",
        "method",
        "path",
        "errors",
        "attempts",
        "hint",
    ):
        assert getattr(back, name) == getattr(err, name), name


def test_error_from_the_server_round_trips_without_the_response() -> None:
    with Client(sandbox=Sandbox(seed=0)) as client, pytest.raises(NotFoundError) as info:
        client.report_request("no-such-request")
    err = info.value
    assert err.response is not None
    back = pickle.loads(pickle.dumps(err))
    assert back.response is None  # its request holds the Authorization header: never serialised
    assert b"Bearer" not in pickle.dumps(err)
    assert str(back) == str(err) and back.request_id == err.request_id


def test_rate_limit_details_round_trip() -> None:
    err = RateLimitError(429, code="RATE_LIMIT_EXCEEDED")
    err.retry_after = 12.0
    back = pickle.loads(pickle.dumps(err))
    assert back.retry_after == 12.0


def _raise_conflict() -> None:
    raise ConflictError(
        409,
        code="STATE_ERROR",
        detail="You already have such an entity",
        method="POST",
        path="/v1/analyticsReportRequests",
    )


def test_raised_in_a_worker_process_arrives_typed() -> None:
    with ProcessPoolExecutor(1) as pool, pytest.raises(ConflictError, match="STATE_ERROR: You already have"):
        pool.submit(_raise_conflict).result(timeout=60)
