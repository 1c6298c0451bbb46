"""The client against the sandbox, in-process and over loopback HTTP: real responses, real faults."""

from __future__ import annotations

import datetime as dt
import warnings

import pandas as pd
import pytest

import asc_nb
from asc_nb import frames
from asc_nb.auth import Credentials
from asc_nb.errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    ForbiddenError,
    NetworkError,
    NotFoundError,
    RateLimitError,
    ServerError,
    UnprocessableError,
    UnsafeURLError,
)
from asc_nb.http import RetryPolicy
from asc_nb.models import AccessType, Category, Granularity
from asc_nb.records import App, Instance, Report, ReportRequest
from asc_nb.sandbox import Sandbox

REPORT = "App Sessions Standard"


def api_calls(sb: Sandbox, method: str | None = None, contains: str = "") -> list[tuple[str, str, str]]:
    return [c for c in sb.calls if c[1] == "api" and (method is None or c[0] == method) and contains in c[2]]


@pytest.fixture(scope="module")
def history_world():
    """A world where every app has had an ONGOING request for 30 days (read-only tests share it)."""
    return Sandbox(seed=3, history_days=30)


def assert_schema(df: pd.DataFrame, kind: str) -> None:
    expected = frames.empty(kind)
    assert list(df.columns) == list(expected.columns)
    assert df.dtypes.to_dict() == expected.dtypes.to_dict()


# ------------------------------------------------------------------ apps


def test_apps_frame_and_records(client, sandbox):
    apps = client.apps()
    assert_schema(apps, "apps")
    assert len(apps) == 3 and apps.columns[0] == "id"
    assert set(apps["id"]) == set(sandbox.world.apps)
    app = client.app(apps["id"][0])
    assert isinstance(app, App) and app.name == apps["name"][0]
    assert app.raw["type"] == "apps" and app.raw["id"] == app.id
    assert repr(app).startswith(f"App(id='{app.id}', name=")
    assert "<table>" in app._repr_html_() and app.name in app._repr_html_()
    assert client.last_response.json()["data"]["id"] == app.id
    with pytest.raises(dataclass_frozen_error()):
        app.name = "x"  # type: ignore[misc]


def dataclass_frozen_error():
    import dataclasses

    return dataclasses.FrozenInstanceError


def test_apps_server_side_filter(client, sandbox):
    target = next(iter(sandbox.world.apps.values()))
    before = len(sandbox.calls)
    df = client.apps(bundle_id=target["bundleId"])
    assert list(df["id"]) == [target["id"]]
    assert len(sandbox.calls) == before + 1
    assert "filter%5BbundleId%5D" in sandbox.calls[-1][2] or "filter[bundleId]" in sandbox.calls[-1][2]


def test_paging_past_200_items(make_client):
    sb = Sandbox(seed=1, apps=450)
    client = make_client(sb)
    apps = client.apps()
    assert len(apps) == 450 and apps["id"].is_unique
    gets = api_calls(sb, "GET", "/v1/apps")
    assert len(gets) == 3  # 200 + 200 + 50, the largest limit the table allows
    assert "limit=200" in gets[0][2]
    assert len(client.last_documents) == 3


def test_lazy_iterator_stops_early(make_client):
    sb = Sandbox(seed=1, apps=250)
    client = make_client(sb)
    first = next(iter(client.iter_apps()))
    assert isinstance(first, App)
    assert len(api_calls(sb)) == 1


# ------------------------------------------------------------------ requests lifecycle


def test_empty_listing_keeps_schema(client, sandbox):
    app_id = next(iter(sandbox.world.apps))
    df = client.report_requests(app_id)
    assert df.empty
    assert_schema(df, "report_requests")
    assert list(df["access_type"].cat.categories) == [a.value for a in AccessType]


def test_create_list_get_delete(client, sandbox):
    app_id = next(iter(sandbox.world.apps))
    req = client.create_report_request(app_id, "ongoing")
    assert isinstance(req, ReportRequest)
    assert req.access_type is AccessType.ONGOING and req.app_id == app_id
    assert req.stopped_due_to_inactivity is False
    df = client.report_requests(app_id)
    assert list(df["id"]) == [req.id] and df["app_id"][0] == app_id
    assert_schema(df, "report_requests")
    assert client.report_requests(app_id, access_type=AccessType.ONE_TIME_SNAPSHOT).empty
    got = client.report_request(req.id)
    assert got == req  # raw is not compared
    assert got.app_id == app_id  # remembered from the listing
    client.delete_report_request(req.id)
    with pytest.raises(NotFoundError) as info:
        client.report_request(req.id)
    assert info.value.status == 404 and f"(GET /v1/analyticsReportRequests/{req.id})" in str(info.value)
    assert client.report_requests(app_id).empty


def test_conflict_names_existing_request(client, sandbox):
    app_id = next(iter(sandbox.world.apps))
    first = client.create_report_request(app_id, AccessType.ONGOING)
    with pytest.raises(ConflictError) as info:
        client.create_report_request(app_id, "ONGOING")
    err = info.value
    assert str(err).startswith("409 Conflict — STATE_ERROR: ")
    assert "(POST /v1/analyticsReportRequests)" in str(err)
    assert err.existing == first and first.id in str(err)
    assert err.code == "STATE_ERROR" and err.request_id


def test_ensure_ongoing_reuses_without_post(client, sandbox):
    app_id = next(iter(sandbox.world.apps))
    created = client.ensure_ongoing(app_id)
    assert len(api_calls(sandbox)) == 2  # one listing (filtered to ONGOING), one POST
    assert "accessType" in api_calls(sandbox)[0][2]
    again = client.ensure_ongoing(app_id)
    assert again == created
    assert len(api_calls(sandbox)) == 3 and len(api_calls(sandbox, "POST")) == 1  # reuse = one call


def test_ensure_ongoing_409_returns_the_winner(make_client, sandbox):
    """Another session creates the request between our listing and our POST: we get theirs."""
    client = make_client(sandbox)
    rival = make_client(sandbox)
    app_id = next(iter(sandbox.world.apps))
    theirs: list[ReportRequest] = []

    def race(request):
        if request.method == "POST" and not theirs:
            theirs.append(rival.create_report_request(app_id, "ONGOING"))

    client.http.client.event_hooks["request"].append(race)
    mine = client.ensure_ongoing(app_id)
    assert theirs and mine.id == theirs[0].id
    assert len(api_calls(sandbox, "POST")) == 2  # theirs (201) and ours (409), never a third


def test_ensure_ongoing_stopped_request(make_client):
    sb = Sandbox(seed=0, inactivity_days=5)
    client = make_client(sb)
    app_id = next(iter(sb.world.apps))
    old = client.ensure_ongoing(app_id)
    sb.advance(days=10)
    with pytest.warns(UserWarning, match="stopped due to inactivity"):
        same = client.ensure_ongoing(app_id)
    assert same.id == old.id and same.stopped_due_to_inactivity
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fresh = client.ensure_ongoing(app_id, restart_stopped=True)
    assert fresh.id != old.id and not fresh.stopped_due_to_inactivity


def test_forbidden_for_reader_key(make_client, sandbox):
    key = sandbox.add_key(role="SALES_AND_REPORTS")
    admin = make_client(sandbox)
    app_id = next(iter(sandbox.world.apps))
    req = admin.create_report_request(app_id, "ONGOING")
    reader = make_client(
        sandbox, credentials=Credentials(key["key_id"], key["issuer_id"], key["private_key_pem"])
    )
    assert list(reader.report_requests(app_id)["id"]) == [req.id]  # reading is allowed
    with pytest.raises(ForbiddenError, match="Only an Admin key may create or delete") as info:
        reader.create_report_request(app_id, "ONE_TIME_SNAPSHOT")
    assert info.value.status == 403
    with pytest.raises(ForbiddenError, match="Only an Admin key"):
        reader.delete_report_request(req.id)


def test_unprocessable_and_bad_request(client, sandbox):
    with pytest.raises(UnprocessableError) as info:
        client.create_report_request("999999999", "ONGOING")
    assert info.value.status == 422 and info.value.source == {"pointer": "/data/relationships/app/data/id"}
    with pytest.raises(BadRequestError) as info:
        client.http.get_json("/v1/apps", {"filter[nope]": "x"})
    assert info.value.status == 400 and info.value.source


# ------------------------------------------------------------------ reports, instances, segments


def test_reports_filters(make_client, history_world):
    client = make_client(history_world)
    app_id = next(iter(history_world.world.apps))
    req = client.ensure_ongoing(app_id)
    all_reports = client.reports(req.id)
    assert_schema(all_reports, "reports")
    assert len(all_reports) > 100 and (all_reports["request_id"] == req.id).all()
    usage = client.reports(req.id, category="app_usage")
    assert len(usage) and set(usage["category"]) == {"APP_USAGE"}
    assert list(usage["category"].cat.categories) == [c.value for c in Category]
    one = client.reports(req.id, name=REPORT)
    assert list(one["name"]) == [REPORT]
    report = client.report(one["id"][0])
    assert isinstance(report, Report) and report.name == REPORT and report.request_id == req.id
    assert client.reports(req.id, name="No Such Report").empty


def test_instances_and_dates(make_client, history_world):
    client = make_client(history_world)
    sb = history_world
    app_id = next(iter(sb.world.apps))
    req = client.ensure_ongoing(app_id)
    report_id = client.reports(req.id, name=REPORT)["id"][0]
    everything = client.instances(report_id)
    assert_schema(everything, "instances")
    assert str(everything["processing_date"].dtype) == "datetime64[ns]"
    daily = client.instances(report_id, granularity="Daily")
    assert len(daily) and set(daily["granularity"]) == {"DAILY"}
    days = sorted(daily["processing_date"].dt.date)
    one_day = days[-1]
    for value in (one_day, one_day.isoformat(), dt.datetime.combine(one_day, dt.time())):
        df = client.instances(report_id, "DAILY", processing_date=value)
        assert list(df["processing_date"].dt.date) == [one_day]
        assert "processingDate" in api_calls(sb)[-1][2]
    window = client.instances(report_id, Granularity.DAILY, processing_date=(days[-5], days[-1]))
    assert sorted(window["processing_date"].dt.date) == days[-5:]
    assert "processingDate" in api_calls(sb)[-1][2]  # a short range is filtered by the server
    open_ended = client.instances(report_id, "DAILY", processing_date=(days[-3], None))
    assert sorted(open_ended["processing_date"].dt.date) == days[-3:]
    picked = client.instances(report_id, "DAILY", processing_date=[days[0], days[2]])
    assert sorted(picked["processing_date"].dt.date) == [days[0], days[2]]
    assert client.instances(report_id, "DAILY", processing_date="2020-01-01").empty
    inst = client.instance(daily["id"][0])
    assert isinstance(inst, Instance) and inst.report_id == report_id
    assert isinstance(inst.processing_date, dt.date)


def test_canonical_job_call_count(make_client, history_world):
    """One report for one date: request → report → instance → segments = 4 API calls."""
    client = make_client(history_world)
    sb = history_world
    app_id = next(iter(sb.world.apps))
    day = (sb.now - dt.timedelta(days=2)).date()
    before = len(api_calls(sb))
    req = client.report_requests(app_id, "ONGOING")
    report = client.reports(req["id"][0], name=REPORT)
    inst = client.instances(report["id"][0], "DAILY", processing_date=day)
    segs = client.segments(inst["id"][0])
    assert len(api_calls(sb)) - before == 4
    assert_schema(segs, "segments")
    assert len(segs) >= 1 and (segs["instance_id"] == inst["id"][0]).all()
    assert (segs["size_in_bytes"] > 0).all()
    seg = client.segment(segs["id"][0])
    assert seg.checksum == segs["checksum"][0] and seg.instance_id == inst["id"][0]
    assert "url=<" in repr(seg) and "Signature" not in repr(seg)


def test_downloads_client_never_sends_token(make_client, history_world):
    client = make_client(history_world)
    sb = history_world
    app_id = next(iter(sb.world.apps))
    req = client.report_requests(app_id, "ONGOING")["id"][0]
    report = client.reports(req, name=REPORT)["id"][0]
    inst = client.instances(report, "DAILY")["id"][0]
    url = client.segments(inst)["url"][0]
    assert not client.http.is_api_url(__import__("httpx").URL(url))
    response = client.downloads.get(url, headers={"Authorization": "Bearer leaked"})
    assert response.status_code == 200 and response.content[:2] == b"\x1f\x8b"
    assert "authorization" not in {k.lower() for k in response.request.headers}
    with pytest.raises(UnsafeURLError):
        client.http.request("GET", url)  # the API session refuses to send the token there


# ------------------------------------------------------------------ rate limit, retries, auth


def test_rate_limit_parsed_on_every_response(client, sandbox):
    assert client.rate_limit is None
    client.apps()
    first = client.rate_limit
    assert first.limit == 3600 and first.remaining == 3599
    client.apps()
    assert client.rate_limit.remaining == 3598 and client.rate_limit.updated_at >= first.updated_at


def test_429_retried_honouring_retry_after(client, sandbox, sleeps):
    sandbox.faults.add("rate_limit", path="/v1/apps", count=2, retry_after=3)
    assert len(client.apps()) == 3
    assert sleeps == [3.0, 3.0]
    assert len(api_calls(sandbox, "GET", "/v1/apps")) == 3


def test_429_exhausted_raises(make_client, sandbox, sleeps):
    client = make_client(sandbox, retry=RetryPolicy(max_retries=2))
    sandbox.faults.add("rate_limit", path="/v1/apps", count=None)
    with pytest.raises(RateLimitError) as info:
        client.apps()
    assert info.value.attempts == 3 and len(sleeps) == 2
    assert info.value.code == "RATE_LIMIT_EXCEEDED" and info.value.rate_limit is not None
    sandbox.faults.clear()


def test_long_retry_after_not_waited(make_client, sandbox, sleeps):
    client = make_client(sandbox, retry=RetryPolicy(max_retry_after=60))
    sandbox.faults.add("rate_limit", path="/v1/apps", count=1, retry_after=3600)
    with pytest.raises(RateLimitError) as info:
        client.apps()
    assert info.value.retry_after == 3600 and sleeps == []


def test_5xx_retried_with_backoff(client, sandbox, sleeps):
    sandbox.faults.add("server_error", path="/v1/apps", count=3, status=503)
    assert len(client.apps()) == 3
    assert len(sleeps) == 3 and sleeps[0] < sleeps[2]  # exponential
    assert all(s <= 30 for s in sleeps)


def test_5xx_exhausted_raises_server_error(make_client, sandbox):
    client = make_client(sandbox, retry=RetryPolicy(max_retries=1))
    sandbox.faults.add("server_error", path="/v1/apps", count=None, status=500)
    with pytest.raises(ServerError) as info:
        client.apps()
    assert info.value.status == 500 and str(info.value).startswith(
        "500 Internal Server Error — UNEXPECTED_ERROR"
    )
    sandbox.faults.clear()


def test_connection_reset_retried_for_get(client, sandbox, sleeps):
    sandbox.faults.add("reset", path="/v1/apps", count=1)
    assert len(client.apps()) == 3 and len(sleeps) == 1


def test_post_never_retried_blindly(client, sandbox, sleeps):
    app_id = next(iter(sandbox.world.apps))
    for kind, exc in (("server_error", ServerError), ("rate_limit", RateLimitError), ("reset", NetworkError)):
        sandbox.faults.add(kind, path="/v1/analyticsReportRequests$", method="POST", count=1)
        before = len(api_calls(sandbox, "POST"))
        with pytest.raises(exc):
            client.create_report_request(app_id, "ONGOING")
        assert len(api_calls(sandbox, "POST")) == before + 1
    assert sleeps == []
    assert client.report_requests(app_id).empty  # and nothing was created behind our back
    assert client.create_report_request(app_id, "ONGOING")  # a deliberate second call works


def test_ensure_ongoing_survives_one_5xx(client, sandbox):
    app_id = next(iter(sandbox.world.apps))
    sandbox.faults.add("server_error", path="/v1/analyticsReportRequests$", method="POST", count=1)
    req = client.ensure_ongoing(app_id)  # verified nothing exists, then one more POST
    assert req.access_type is AccessType.ONGOING
    assert len(api_calls(sandbox, "POST")) == 2


def test_delete_retried(client, sandbox, sleeps):
    app_id = next(iter(sandbox.world.apps))
    req = client.create_report_request(app_id, "ONGOING")
    sandbox.faults.add("server_error", path="/v1/analyticsReportRequests/", method="DELETE", count=1)
    client.delete_report_request(req.id)
    assert len(api_calls(sandbox, "DELETE")) == 2 and len(sleeps) == 1
    assert client.report_requests(app_id).empty


def test_token_cached_across_calls(client, sandbox):
    client.apps()
    client.report_requests(next(iter(sandbox.world.apps)))
    client.apps()
    assert client.signer.signed == 1


def _token_expired_on_the_server(make_client):
    """A client whose cached token looks valid to it and expired to the server (its clock runs ahead)."""
    clock = {"server": 1_900_000_000.0}
    sb = Sandbox(seed=0, wall_clock=lambda: clock["server"])
    client = make_client(sb)
    ours = {"now": clock["server"]}
    client.signer.clock = lambda: ours["now"]
    client.apps()
    assert client.signer.signed == 1
    ours["now"] += 500  # still inside our cache window
    clock["server"] += 700  # past exp + skew on the server
    return sb, client


def test_401_resigns_once_and_succeeds(make_client):
    """The server's clock runs ahead: the cached token looks valid to us, expired to it."""
    sb, client = _token_expired_on_the_server(make_client)
    assert len(client.apps()) == 3
    assert client.signer.signed == 2
    statuses = api_calls(sb, "GET", "/v1/apps")
    assert len(statuses) == 3  # ok, 401, ok


def test_401_resign_is_the_auth_flow_so_every_request_of_the_session_gets_it(make_client):
    """Not only ``Session.request``: a request sent straight through the session's httpx client (as a
    store or widget hook might) is re-signed once on 401 too, and counted as sent."""
    _, client = _token_expired_on_the_server(make_client)
    sent = client.http.requests_sent
    response = client.http.client.get("/v1/apps")
    assert response.status_code == 200 and client.signer.signed == 2
    assert client.http.requests_sent == sent + 1  # the re-sent request; the first is counted by its sender


def test_401_unknown_key_raises_after_one_resign(make_client, sandbox):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    pem = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        .decode()
    )
    stranger = Credentials("ZZZZZZZZZZ", sandbox.issuer_id, pem)
    client = make_client(sandbox, credentials=stranger)
    with pytest.raises(AuthenticationError) as info:
        client.apps()
    assert info.value.status == 401 and info.value.code == "NOT_AUTHORIZED"
    assert "Check ASC_KEY_ID" in str(info.value)
    assert len(api_calls(sandbox)) == 2 and client.signer.signed == 2
    assert pem.splitlines()[1] not in str(info.value)


def test_foreign_absolute_url_refused(client):
    with pytest.raises(UnsafeURLError):
        client.http.request("GET", "https://evil.example/v1/apps")


# ------------------------------------------------------------------ bad input, before any call


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.create_report_request("123", "HOURLY"),
        lambda c: c.report_requests("123", access_type="sometimes"),
        lambda c: c.reports("r1", category="GAMES"),
        lambda c: c.instances("r1", granularity="HOURLY"),
        lambda c: c.instances("r1", processing_date="yesterday"),
        lambda c: c.instances("r1", processing_date="2026-13-01"),
        lambda c: c.instances("r1", processing_date=("2026-02-01", "2026-01-01")),
        lambda c: c.instances("r1", processing_date=(1, 2, 3)),
        lambda c: c.reports("r1", name=""),
        lambda c: c.report_request(""),
        lambda c: c.report_request("../apps"),
        lambda c: c.segment("a b"),
        lambda c: c.app(None),
        lambda c: c.instance(3.5),
        lambda c: c.create_report_request("123", 7),
    ],
)
def test_bad_input_rejected_before_any_call(client, sandbox, call):
    with pytest.raises((ValueError, TypeError)):
        call(client)
    assert sandbox.calls == []


def test_enum_args_accept_members_and_any_case(client, sandbox):
    app_id = next(iter(sandbox.world.apps))
    for value in ("ongoing", "ONGOING", AccessType.ONGOING, " Ongoing "):
        assert client.report_requests(app_id, access_type=value).empty
    assert all(
        "filter%5BaccessType%5D=ONGOING" in c[2] or "filter[accessType]=ONGOING" in c[2]
        for c in api_calls(sandbox)
    )


def test_error_family():
    for cls in (
        AuthenticationError,
        ForbiddenError,
        NotFoundError,
        ConflictError,
        RateLimitError,
        ServerError,
    ):
        assert issubclass(cls, APIError) and issubclass(cls, asc_nb.ASCError)


# ------------------------------------------------------------------ more network behaviour


def test_truncated_body_retried(client, sandbox, sleeps):
    sandbox.faults.add("truncate", path="/v1/apps", count=1)
    assert len(client.apps()) == 3 and len(sleeps) == 1


def test_retry_after_http_date(client, sandbox, sleeps):
    import email.utils
    import time

    when = email.utils.formatdate(time.time() + 5, usegmt=True)
    sandbox.faults.add("rate_limit", path="/v1/apps", count=1, retry_after=when)
    client.apps()
    assert len(sleeps) == 1 and 3 <= sleeps[0] <= 5


def test_long_range_filtered_on_client(make_client, history_world):
    client = make_client(history_world)
    sb = history_world
    app_id = next(iter(sb.world.apps))
    req = client.report_requests(app_id, "ONGOING")["id"][0]
    report = client.reports(req, name=REPORT)["id"][0]
    daily = client.instances(report, "DAILY")
    wide = client.instances(report, "DAILY", processing_date=("2024-01-01", "2030-12-31"))
    assert "processingDate" not in api_calls(sb)[-1][2]
    assert sorted(wide["id"]) == sorted(daily["id"])


def test_secrets_never_logged(make_client, sandbox, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    client = make_client(sandbox)
    sandbox.faults.add("server_error", path="/v1/apps", count=1)
    client.apps()
    token = client.signer.token()
    text = caplog.text + "".join(repr(r.args) for r in caplog.records)
    assert token not in text and token.split(".")[2] not in text
    body = "".join(sandbox.private_key_pem.strip().splitlines()[1:-1])
    assert body[:32] not in text


def test_individual_key_against_sandbox(make_client, sandbox):
    key = sandbox.add_key(role="ADMIN", individual=True)
    creds = Credentials(key["key_id"], None, key["private_key_pem"], individual=True)
    client = make_client(sandbox, credentials=creds)
    assert len(client.apps()) == 3
    assert client.create_report_request(next(iter(sandbox.world.apps)), "ONE_TIME_SNAPSHOT")
