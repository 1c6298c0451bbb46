"""Bad input across Credentials, connect, every client method and every widget control.

Each case must end in a typed error (or, in a widget, an error/warning line in the panel) whose
message says what to fix. Cases marked offline must fail before any request: the sandbox's
call log is the witness.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import traitlets
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

import asc_nb
from asc_nb.auth import Credentials
from asc_nb.data.parse import SegmentFormatError, parse_segment
from asc_nb.errors import ConfigError, MissingDatesWarning, NotFoundError, ReportNotFoundError
from asc_nb.widgets.explorer import ReportsExplorer
from asc_nb.widgets.requests import RequestPanel, RequestsTable

from .conftest import REPORT, Ctx

ISSUER = "57246542-96fe-1a63-e053-0824d011072a"
KID = "2X9R4HXF34"


def _pem(key: Any) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


RSA_PEM = _pem(rsa.generate_private_key(public_exponent=65537, key_size=1024))
P384_PEM = _pem(ec.generate_private_key(ec.SECP384R1()))


@dataclass
class Panels:
    request: RequestPanel
    table: RequestsTable
    explorer: ReportsExplorer


@pytest.fixture(scope="module")
def panels(ctx: Ctx) -> Panels:
    explorer = ReportsExplorer(ctx.client, ctx.request_id)
    return Panels(RequestPanel(ctx.client), RequestsTable(ctx.client), explorer)


@dataclass(frozen=True)
class Bad:
    id: str
    run: Callable[[Ctx, Panels], Any]
    raises: tuple[type[BaseException], ...] | None  # None: a widget shows it; run returns the status
    match: str  # regex the message must contain (what is wrong / what to do)
    offline: bool = True  # must be refused before any network call


def _status(panel: Any) -> tuple[str, str]:
    return panel.status.level, panel.status.text


def _truncated_pem(c: Ctx) -> str:
    lines = c.sandbox.private_key_pem.strip().splitlines()
    return "\n".join(
        lines[:2] + lines[-1:]
    )  # body cut short (a one-line PEM is fine: cryptography accepts it)


def _env(**kw: str) -> dict[str, str]:
    return dict(kw)


def _submit_without_app(c: Ctx, p: Panels) -> tuple[str, str]:
    keep = p.request.app.value
    p.request.app.search.value = "zzzz no such app zzzz"  # filters every app out: nothing chosen
    try:
        p.request.submit.click()
        return _status(p.request)
    finally:
        p.request.app.search.value = ""
        p.request.app.value = keep


def _inverted_range(c: Ctx, p: Panels) -> tuple[str, str]:
    e = p.explorer
    keep = e.start.value, e.end.value
    e.start.value, e.end.value = date(2026, 3, 1), date(2026, 2, 1)
    try:
        e.list_instances.click()
        return _status(e)
    finally:
        e.start.value, e.end.value = keep


def _no_report(c: Ctx, p: Panels) -> tuple[str, str]:
    e = ReportsExplorer(c.client)  # nothing loaded: no report chosen
    e.find_instances()
    return _status(e)


def _recreate_live(c: Ctx, p: Panels) -> tuple[str, str]:
    p.table.recreate.click()  # the selected request is live, not stopped
    return _status(p.table)


def _set(obj: Any, name: str, value: Any) -> Callable[[Ctx, Panels], Any]:
    return lambda c, p: setattr(obj(p), name, value)


CASES = [
    # ---------------------------------------------------------------- Credentials
    Bad(
        "creds: empty key id",
        lambda c, p: Credentials("", ISSUER, c.sandbox.private_key_pem),
        (ConfigError,),
        r"Missing key id: pass key_id=",
    ),
    Bad(
        "creds: malformed key id",
        lambda c, p: Credentials("abc", ISSUER, c.sandbox.private_key_pem),
        (ConfigError,),
        r"Malformed key id 'abc': expected 10 upper-case",
    ),
    Bad(
        "creds: wrong type key id",
        lambda c, p: Credentials(1234567890.5, ISSUER, c.sandbox.private_key_pem),
        (ConfigError,),
        r"Malformed key id",
    ),
    Bad(
        "creds: malformed issuer",
        lambda c, p: Credentials(KID, "not-a-uuid", c.sandbox.private_key_pem),
        (ConfigError,),
        r"Malformed issuer id .* expected a UUID",
    ),
    Bad(
        "creds: missing issuer",
        lambda c, p: Credentials(KID, None, c.sandbox.private_key_pem),
        (ConfigError,),
        r"Missing issuer id.*individual=True",
    ),
    Bad(
        "creds: private key wrong type",
        lambda c, p: Credentials(KID, ISSUER, 12345),
        (ConfigError,),
        r"private_key must be PEM text or a path, not int",
    ),
    Bad(
        "creds: key file missing",
        lambda c, p: Credentials(None, ISSUER, "/nonexistent/AuthKey_ABCDEFGHIJ.p8"),
        (ConfigError,),
        r"Private key file not found: .*AuthKey_ABCDEFGHIJ\.p8",
    ),
    Bad(
        "creds: key path is a directory",
        lambda c, p: Credentials(KID, ISSUER, c.tmp),
        (ConfigError,),
        r"is a directory.*point at the \.p8 file",
    ),
    Bad(
        "creds: truncated PEM",
        lambda c, p: Credentials(KID, ISSUER, _truncated_pem(c)),
        (ConfigError,),
        r"cannot be parsed; it may be truncated or have lost its line breaks",
    ),
    Bad(
        "creds: RSA key",
        lambda c, p: Credentials(KID, ISSUER, RSA_PEM),
        (ConfigError,),
        r"not an EC P-256 key",
    ),
    Bad(
        "creds: P-384 key",
        lambda c, p: Credentials(KID, ISSUER, P384_PEM),
        (ConfigError,),
        r"uses curve secp384r1, not P-256",
    ),
    Bad(
        "creds: non-UTF-8 bytes",
        lambda c, p: Credentials(KID, ISSUER, b"\xff\xfe\x00\x81garbage"),
        (ConfigError,),
        r"is not PEM: expected the text of AuthKey_<KEYID>\.p8",
    ),
    Bad(
        "creds: huge text",
        lambda c, p: Credentials(KID, ISSUER, "x" * 5000),
        (ConfigError,),
        r"neither PEM text .* nor a file path",
    ),
    Bad(
        "creds: individual with issuer",
        lambda c, p: Credentials(KID, ISSUER, c.sandbox.private_key_pem, individual=True),
        (ConfigError,),
        r"individual key has no issuer id",
    ),
    Bad(
        "creds env: incomplete",
        lambda c, p: Credentials.from_env(_env(ASC_KEY_ID=KID)),
        (ConfigError,),
        r"set ASC_ISSUER_ID, ASC_PRIVATE_KEY_PATH",
    ),
    Bad(
        "creds env: two key variables",
        lambda c, p: Credentials.from_env(
            _env(ASC_KEY_ID=KID, ASC_ISSUER_ID=ISSUER, ASC_PRIVATE_KEY_PATH="/x.p8", ASC_PRIVATE_KEY="y")
        ),
        (ConfigError,),
        r"Set only one of ASC_PRIVATE_KEY_PATH, ASC_PRIVATE_KEY",
    ),
    Bad(
        "creds env: base64 of garbage",
        lambda c, p: Credentials.from_env(
            _env(ASC_KEY_ID=KID, ASC_ISSUER_ID=ISSUER, ASC_PRIVATE_KEY_B64="!!!!")
        ),
        (ConfigError,),
        r"not PEM.*\(from ASC_PRIVATE_KEY_B64\)",
    ),
    # ---------------------------------------------------------------- connect / Client
    Bad(
        "connect: plain http to a remote host",
        lambda c, p: asc_nb.connect(
            key_id=c.sandbox.key_id,
            issuer_id=c.sandbox.issuer_id,
            private_key=c.sandbox.private_key_pem,
            base_url="http://api.example.com",
        ),
        (ConfigError,),
        r"Refusing plain http to api\.example\.com.*https",
    ),
    Bad(
        "connect: not an http URL",
        lambda c, p: asc_nb.connect(
            key_id=c.sandbox.key_id,
            issuer_id=c.sandbox.issuer_id,
            private_key=c.sandbox.private_key_pem,
            base_url="ftp://example.com",
        ),
        (ConfigError,),
        r"base_url must be an http\(s\) URL",
    ),
    Bad(
        "connect: credentials twice",
        lambda c, p: asc_nb.connect(c.client.credentials, key_id=KID),
        (ConfigError,),
        r"either credentials= or key_id/issuer_id/private_key, not both",
    ),
    Bad(
        "connect: no private key",
        lambda c, p: asc_nb.connect(key_id=KID, issuer_id=ISSUER),
        (ConfigError,),
        r"private_key= is required",
    ),
    Bad(
        "connect: base URL without credentials",
        lambda c, p: asc_nb.connect(environ={"ASC_BASE_URL": c.base_url}),
        (ConfigError,),
        r"no credentials were found: set ASC_KEY_ID",
    ),
    Bad(
        "connect: incomplete env",
        lambda c, p: asc_nb.connect(environ={"ASC_KEY_ID": KID}),
        (ConfigError,),
        r"Incomplete App Store Connect credentials.*ASC_ISSUER_ID",
    ),
    Bad(
        "connect: token lifetime over 20 min",
        lambda c, p: asc_nb.connect(sandbox=c.sandbox, token_lifetime=3600),
        (ConfigError,),
        r"exceeds Apple's maximum of 1200s",
    ),
    Bad(
        "connect: scope as a string",
        lambda c, p: asc_nb.connect(sandbox=c.sandbox, scope="GET /v1/apps"),
        (ConfigError,),
        r"scope must be a list of strings",
    ),
    Bad(
        "connect: credentials of the wrong type",
        lambda c, p: asc_nb.Client("key.p8"),
        (TypeError,),
        r"credentials must be asc_nb\.Credentials, got str",
    ),
    # ---------------------------------------------------------------- client methods
    Bad("app: empty id", lambda c, p: c.client.app(""), (ValueError,), r"app id '' is not a valid id"),
    Bad(
        "app: None",
        lambda c, p: c.client.app(None),
        (TypeError,),
        r"app id must be a string id, got NoneType",
    ),
    Bad("app: float", lambda c, p: c.client.app(3.5), (TypeError,), r"app id must be a string id, got float"),
    Bad(
        "app: path traversal",
        lambda c, p: c.client.app("../../v1/apps"),
        (ValueError,),
        r"app id '\.\./\.\./v1/apps' is not a valid id",
    ),
    Bad(
        "app: query injection", lambda c, p: c.client.app("123?limit=1"), (ValueError,), r"is not a valid id"
    ),
    Bad(
        "apps: empty name filter",
        lambda c, p: c.client.apps(name=""),
        (ValueError,),
        r"name must be a non-empty string",
    ),
    Bad(
        "apps: ids of mixed types",
        lambda c, p: c.client.apps(ids=["1", 2]),
        (ValueError,),
        r"id must be a non-empty string or list of strings",
    ),
    Bad(
        "report_requests: wrong enum",
        lambda c, p: c.client.report_requests(c.app_id, "WEEKLY"),
        (ValueError,),
        r"access_type must be one of ONGOING, ONE_TIME_SNAPSHOT; got 'WEEKLY'",
    ),
    Bad(
        "report_requests: unknown app",
        lambda c, p: c.client.report_requests("1"),
        (NotFoundError,),
        r"404 Not Found .*apps.* '1'",
        offline=False,
    ),
    Bad(
        "create_report_request: empty access type",
        lambda c, p: c.client.create_report_request(c.app_id, ""),
        (ValueError,),
        r"access_type must be one of",
    ),
    Bad(
        "create_report_request: wrong type",
        lambda c, p: c.client.create_report_request(c.app_id, 1),
        (ValueError,),
        r"access_type must be one of .*got 1",
    ),
    Bad(
        "ensure_ongoing: id is a list",
        lambda c, p: c.client.ensure_ongoing(["1"]),
        (TypeError,),
        r"app id must be a string id, got list",
    ),
    Bad(
        "report_request: unknown id",
        lambda c, p: c.client.report_request("00000000-0000-0000-0000-000000000000"),
        (NotFoundError,),
        r"404 Not Found — NOT_FOUND: There is no resource .*00000000",
        offline=False,
    ),
    Bad(
        "delete_report_request: space in id",
        lambda c, p: c.client.delete_report_request("a b"),
        (ValueError,),
        r"request id 'a b' is not a valid id",
    ),
    Bad(
        "reports: wrong category",
        lambda c, p: c.client.reports(c.request_id, category="SALES"),
        (ValueError,),
        r"category must be one of APP_USAGE, .*got 'SALES'",
    ),
    Bad(
        "reports: empty name",
        lambda c, p: c.client.reports(c.request_id, name=""),
        (ValueError,),
        r"name must be a non-empty string",
    ),
    Bad(
        "reports: comma in name",
        lambda c, p: c.client.reports(c.request_id, name="a,b"),
        (ValueError,),
        r"cannot contain ','",
    ),
    Bad(
        "reports: name of wrong type",
        lambda c, p: c.client.reports(c.request_id, name=5),
        (ValueError,),
        r"name must be a non-empty string or list of strings",
    ),
    Bad(
        "report: unknown id",
        lambda c, p: c.client.report("r999-nope"),
        (NotFoundError,),
        r"404 Not Found",
        offline=False,
    ),
    Bad(
        "instances: wrong granularity",
        lambda c, p: c.client.instances(c.report_id, "HOURLY"),
        (ValueError,),
        r"granularity must be one of DAILY, WEEKLY, MONTHLY; got 'HOURLY'",
    ),
    Bad(
        "instances: malformed date",
        lambda c, p: c.client.instances(c.report_id, processing_date="2026-13-01"),
        (ValueError,),
        r"processing_date must be an ISO date 'YYYY-MM-DD', got '2026-13-01'",
    ),
    Bad(
        "instances: US date",
        lambda c, p: c.client.instances(c.report_id, processing_date="03/01/2026"),
        (ValueError,),
        r"ISO date 'YYYY-MM-DD'",
    ),
    Bad(
        "instances: inverted range",
        lambda c, p: c.client.instances(c.report_id, processing_date=("2026-03-05", "2026-03-01")),
        (ValueError,),
        r"range ends \(2026-03-01\) before it starts \(2026-03-05\)",
    ),
    Bad(
        "instances: empty list",
        lambda c, p: c.client.instances(c.report_id, processing_date=[]),
        (ValueError,),
        r"processing_date list is empty",
    ),
    Bad(
        "instances: date as int",
        lambda c, p: c.client.instances(c.report_id, processing_date=20260301),
        (TypeError,),
        r"must be a date or 'YYYY-MM-DD' string, got int",
    ),
    Bad(
        "instances: 1-tuple",
        lambda c, p: c.client.instances(c.report_id, processing_date=("2026-03-01",)),
        (ValueError,),
        r"must be \(start, end\)",
    ),
    Bad(
        "instance: unknown id",
        lambda c, p: c.client.instance("00000000-0000-0000-0000-000000000000"),
        (NotFoundError,),
        r"404 Not Found",
        offline=False,
    ),
    Bad(
        "segments: empty id",
        lambda c, p: c.client.segments(""),
        (ValueError,),
        r"instance id '' is not a valid",
    ),
    Bad(
        "segment: bool id",
        lambda c, p: c.client.segment(True),
        (TypeError,),
        r"segment id must be a string id",
    ),
    Bad(
        "download_segment: path traversal via checksum",
        lambda c, p: c.client.download_segment(
            {
                "id": "x",
                "checksum": "../../../../etc/passwd",
                "size_in_bytes": 1,
                "url": c.download_base_url + "/x",
            }
        ),
        (ValueError,),
        r"checksum must be 32 hex digits \(MD5\)",
    ),
    Bad(
        "download_segment: not a segment",
        lambda c, p: c.client.download_segment({"id": "x"}),
        (ValueError,),
        r"not a segment \(needs id and checksum\)",
    ),
    Bad(
        "download_segment: cache dir is a file",
        lambda c, p: c.client.download_segment(c.segment, cache_dir=_a_file(c)),
        (OSError,),
        r"Not a directory|File exists",
    ),
    Bad(
        "read_instance: path traversal id",
        lambda c, p: c.client.read_instance("../x"),
        (ValueError,),
        r"instance id '\.\./x' is not a valid id",
    ),
    Bad(
        "fetch: inverted range",
        lambda c, p: c.client.fetch(c.request_id, REPORT, start="2026-03-05", end="2026-03-01"),
        (ValueError,),
        r"end \(2026-03-01\) is before start \(2026-03-05\)",
    ),
    Bad(
        "fetch: wrong granularity",
        lambda c, p: c.client.fetch(c.request_id, REPORT, granularity="YEARLY"),
        (ValueError,),
        r"granularity must be one of DAILY, WEEKLY, MONTHLY",
    ),
    Bad(
        "fetch: empty report name",
        lambda c, p: c.client.fetch(c.request_id, ""),
        (ValueError,),
        r"name must be a non-empty string",
    ),
    Bad(
        "fetch: request id None",
        lambda c, p: c.client.fetch(None, REPORT),
        (TypeError,),
        r"request id must be a string id, got NoneType",
    ),
    Bad(
        "fetch: misspelt report",
        lambda c, p: c.client.fetch(c.request_id, "App Sesions Standard"),
        (ReportNotFoundError,),
        r"no report named 'App Sesions Standard'; did you mean 'App Sessions Standard'",
        offline=False,
    ),
    Bad(
        "parse: non-UTF-8 bytes in a segment",
        lambda c, p: parse_segment(gzip.compress(b"Date\tApp Name\tSessions\n2026-03-01\t\xff\xfeX\t3\n")),
        (SegmentFormatError,),
        r"invalid UTF8",
    ),
    Bad(
        "parse: non-UTF-8 header",
        lambda c, p: parse_segment(gzip.compress(b"Date\tApp \xff\tSessions\n")),
        (SegmentFormatError,),
        r"header is not UTF-8",
    ),
    Bad(
        "parse: not gzip at all",
        lambda c, p: parse_segment(b"\x1f\x8bnot really gzip"),
        (SegmentFormatError,),
        r"not a complete gzip stream",
    ),
    # ---------------------------------------------------------------- widget controls
    Bad(
        "RequestPanel: unknown app id",
        _set(lambda p: p.request.app, "value", "no-such-app"),
        (traitlets.TraitError,),
        r"no app with id 'no-such-app' \(known: ",
    ),
    Bad(
        "RequestPanel: path traversal as app id",
        _set(lambda p: p.request.app, "value", "../../etc"),
        (traitlets.TraitError,),
        r"no app with id '\.\./\.\./etc'",
    ),
    Bad(
        "RequestPanel: wrong access type",
        _set(lambda p: p.request.access_type, "value", "WEEKLY"),
        (traitlets.TraitError,),
        r"Invalid selection",
    ),
    Bad("RequestPanel: submit without an app", _submit_without_app, None, r"Choose an app first"),
    Bad(
        "RequestsTable: unknown app id",
        _set(lambda p: p.table.app, "value", "12"),
        (traitlets.TraitError,),
        r"no app with id '12'",
    ),
    Bad(
        "RequestsTable: recreate a live request",
        _recreate_live,
        None,
        r"Only a request stopped due to inactivity needs recreating",
    ),
    Bad(
        "RequestsTable: open an unknown request",
        lambda c, p: (p.table.select("deadbeef-0000"), _status(p.table))[1],
        None,
        r"404 Not Found",
        offline=False,
    ),
    Bad(
        "ReportsExplorer: load a path-traversal id",
        lambda c, p: _status_of_new_explorer(c),
        None,
        r"request id '\.\./\.\./x' is not a valid id",
    ),
    Bad(
        "ReportsExplorer: inverted date range",
        _inverted_range,
        None,
        r"The range is empty: 2026-03-01 is after",
    ),
    Bad("ReportsExplorer: no report chosen", _no_report, None, r"Choose a report first"),
    Bad(
        "ReportsExplorer: wrong granularity",
        _set(lambda p: p.explorer.granularity, "value", "HOURLY"),
        (traitlets.TraitError,),
        r"Invalid selection",
    ),
    Bad(
        "ReportsExplorer: unknown report id",
        _set(lambda p: p.explorer.report, "value", "r999-bogus"),
        (traitlets.TraitError,),
        r"Invalid selection",
    ),
]


def _status_of_new_explorer(c: Ctx) -> tuple[str, str]:
    e = ReportsExplorer(c.client)
    e.load("../../x")
    return _status(e)


def _a_file(c: Ctx) -> Path:
    f = c.tmp / "not-a-directory"
    f.write_text("x")
    return f


@pytest.mark.parametrize("case", CASES, ids=lambda k: k.id)
def test_bad_input(ctx: Ctx, panels: Panels, case: Bad) -> None:
    sb = ctx.sandbox
    before = len(sb.calls)
    if case.raises is None:
        level, text = case.run(ctx, panels)
        assert level in ("warn", "error"), (level, text)
        message = text
    else:
        with pytest.raises(case.raises) as info:
            case.run(ctx, panels)
        message = str(info.value)
        assert not isinstance(info.value, (AttributeError, KeyError, IndexError, AssertionError))
    assert re.search(case.match, message, re.S), f"message does not say what to fix: {message!r}"
    if case.offline:
        assert sb.calls[before:] == [], f"refused only after calling the API: {sb.calls[before:]}"


def test_case_count() -> None:
    assert len(CASES) + len(FIXED_CASES) + len(OTHER_CASES) >= 40


# ---------------------------------------------------------------- bugs found (left for their owners)


# found as bugs by this suite, fixed since: each has its own test below
FIXED_CASES = [
    "fetch: malformed start date",
    "fetch: export path is a file",
    "connect: timeout of the wrong type",
]
OTHER_CASES = [
    "fetch: future dates",
    "instances: huge range",
    "export: traversal in partition names",
    "ReportsExplorer: huge day window",
]


def test_fetch_malformed_start_names_the_argument(ctx: Ctx) -> None:
    before = len(ctx.sandbox.calls)
    with pytest.raises(ValueError, match=r"start .*YYYY-MM-DD"):
        ctx.client.fetch(ctx.request_id, REPORT, start="not a date")
    assert ctx.sandbox.calls[before:] == []


def test_fetch_export_path_is_a_file_refused_offline(ctx: Ctx) -> None:
    before = len(ctx.sandbox.calls)
    with pytest.raises((ValueError, OSError), match=r"to=|directory"):
        ctx.client.fetch(ctx.request_id, REPORT, to=_a_file(ctx))
    assert ctx.sandbox.calls[before:] == []


def test_connect_timeout_wrong_type(ctx: Ctx) -> None:
    with pytest.raises((ConfigError, TypeError), match="timeout"):
        asc_nb.connect(sandbox=ctx.sandbox, base_url=ctx.base_url, timeout="fast")


def test_explorer_huge_day_window(ctx: Ctx) -> None:
    """Found here as a bare OverflowError 'date value out of range'; fixed by the widgets owner (37e91a8)."""
    with pytest.raises(ValueError, match="days"):
        ReportsExplorer(ctx.client, days=10**6)


# ---------------------------------------------------------------- odd but legal input: sane outcome


def test_future_dates_warn_not_crash(ctx: Ctx) -> None:
    with pytest.warns(MissingDatesWarning, match="not published yet"):
        frame = ctx.client.fetch(ctx.request_id, REPORT, start="2099-01-01", end="2099-01-02", progress=False)
    assert len(frame) == 0 and frame.attrs["missing_dates"] == [date(2099, 1, 1), date(2099, 1, 2)]


def test_huge_range_is_not_sent_as_a_huge_url(ctx: Ctx) -> None:
    before = len(ctx.sandbox.calls)
    df = ctx.client.instances(ctx.report_id, processing_date=("2000-01-01", "2099-12-31"))
    new = ctx.sandbox.calls[before:]
    assert len(df) > 0 and len(new) == 1 and "processingDate" not in new[0][2] and len(new[0][2]) < 200


def test_export_partition_names_cannot_escape_root(tmp_path: Path) -> None:
    import pandas as pd

    from asc_nb.data.export import to_parquet

    frame = pd.DataFrame({"date": pd.to_datetime(["2026-03-01"]), "sessions": [1]})
    root = tmp_path / "out"
    to_parquet(frame, root, report="../../../escaped", granularity="../DAILY")
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert written and all(root in p.parents for p in written), written
