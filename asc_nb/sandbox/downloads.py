"""The download host: presigned-style segment URLs, answered the way Apple's S3 bucket answers them.

Segment URLs live on a *separate* host and carry their own authorisation (a signature and an
expiry in the query string), so a client must fetch them without its bearer token. Like S3,
this host answers 400 to a request that also carries an ``Authorization`` header, 403 with an
XML body once the URL is older than ``SEGMENT_URL_LIFETIME`` (5 minutes of simulated time) or
when the signature does not match, and serves the raw gzip bytes with no ``Content-Encoding``.
It advertises ``Accept-Ranges: bytes`` and honours it as S3 does: one ``Range`` -> 206 with
``Content-Range``, a range past the end -> 416 ``InvalidRange``, so an interrupted download can
resume from the bytes it has.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, quote, urlencode

from asc_nb.models import SEGMENT_URL_LIFETIME
from asc_nb.sandbox.faults import ConnectionReset, Fault, Truncated

if TYPE_CHECKING:
    from asc_nb.sandbox.state import Instance, ReportRequest, Segment, World

Reply = tuple[int, dict[str, str], bytes]
AMZ_DATE = "%Y%m%dT%H%M%SZ"


def _secret(world: World) -> bytes:
    return hashlib.sha256(f"asc-sandbox-download-secret/{world.seed}".encode()).digest()


def _sign(world: World, path: str, amz_date: str, expires: str) -> str:
    return hmac.new(_secret(world), f"{path}\n{amz_date}\n{expires}".encode(), hashlib.sha256).hexdigest()


def presign(world: World, origin: str, seg: Segment, inst: Instance, req: ReportRequest) -> str:
    """A URL for ``seg`` on the download host at ``origin``, valid for 5 simulated minutes from now."""
    spec = world.report_spec(inst.report_number)
    code = "".join(ch if ch.isalnum() else "_" for ch in spec.name.upper())
    path = (
        f"/reports/{req.app_id}/{code}/{inst.granularity.value}/{req.access_type.value}/"
        f"{inst.processing_date.strftime('%Y%m%d')}/{seg.id}/{seg.index}.csv.gz"
    )
    now = world.now
    amz_date = now.strftime(AMZ_DATE)
    expires = str(SEGMENT_URL_LIFETIME)
    query = {
        "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
        "X-Amz-Date": amz_date,
        "X-Amz-SignedHeaders": "host",
        "X-Amz-Expires": expires,
        "X-Amz-Credential": f"ASIASANDBOX/{now.strftime('%Y%m%d')}/us-west-2/s3/aws4_request",
        "X-Amz-Signature": _sign(world, path, amz_date, expires),
    }
    return f"{origin}{path}?{urlencode(query, quote_via=quote)}"


def _xml(status: int, code: str, message: str, world: World, **extra: str) -> Reply:
    """An S3-style error document."""
    fields = "".join(f"<{k}>{v}</{k}>" for k, v in extra.items())
    rid = world.uuid(f"s3-request/{world.now.isoformat()}/{code}/{message}").replace("-", "")[:16].upper()
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message>{fields}"
        f"<RequestId>{rid}</RequestId></Error>"
    ).encode()
    return status, {"Content-Type": "application/xml", "x-amz-request-id": rid}, body


def handle(
    world: World, method: str, path: str, query: str, headers: Mapping[str, str], fault: Fault | None
) -> Reply:
    """Serve one request on the download host (``headers`` keys are lower-case)."""
    if fault is not None and fault.kind == "reset":
        raise ConnectionReset()
    if method not in ("GET", "HEAD"):
        return _xml(
            405, "MethodNotAllowed", "The specified method is not allowed against this resource.", world
        )
    if "authorization" in headers:
        return _xml(
            400,
            "InvalidArgument",
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query "
            "string parameter or the Authorization header should be specified",
            world,
            ArgumentName="Authorization",
            ArgumentValue=headers["authorization"][:20] + "...",
        )
    params = dict(parse_qsl(query, keep_blank_values=True))
    amz_date, expires, sig = (
        params.get("X-Amz-Date"),
        params.get("X-Amz-Expires"),
        params.get("X-Amz-Signature"),
    )
    if not (amz_date and expires and sig and params.get("X-Amz-Algorithm")):
        return _xml(403, "AccessDenied", "Access Denied", world)
    if not hmac.compare_digest(sig, _sign(world, path, amz_date, expires)):
        return _xml(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. "
            "Check your key and signing method.",
            world,
        )
    signed_at = datetime.strptime(amz_date, AMZ_DATE).replace(tzinfo=timezone.utc)
    expiry = signed_at + timedelta(seconds=int(expires))
    now = world.now
    if now > expiry or (fault is not None and fault.kind == "expired"):
        return _xml(
            403,
            "AccessDenied",
            "Request has expired",
            world,
            **{
                "X-Amz-Expires": expires,
                "Expires": expiry.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "ServerTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            },
        )
    if fault is not None and fault.kind in ("rate_limit", "server_error"):
        status = 503 if fault.kind == "rate_limit" else int(fault.options.get("status", 503))  # type: ignore[call-overload]
        status, hdrs, body = _xml(
            status,
            "SlowDown" if status == 503 else "InternalError",
            "Please reduce your request rate."
            if status == 503
            else "We encountered an internal error. Please try again.",
            world,
        )
        if fault.options.get("retry_after") is not None:
            hdrs["Retry-After"] = str(fault.options["retry_after"])
        return status, hdrs, body
    parts = path.strip("/").split("/")
    found = world.find_segment(parts[-2]) if len(parts) >= 3 else None
    if found is None:
        return _xml(404, "NoSuchKey", "The specified key does not exist.", world, Key=path.lstrip("/"))
    seg, inst = found
    blob = world.segment_bytes(inst)[seg.index]
    if fault is not None and fault.kind == "corrupt":
        mid = len(blob) // 2
        blob = blob[:mid] + bytes(b ^ 0xFF for b in blob[mid : mid + 4]) + blob[mid + 4 :]
    elif fault is not None and fault.kind == "size_mismatch":
        blob = blob + b"\0" * int(fault.options.get("extra", 16))  # type: ignore[call-overload]
    hdrs = {
        "Content-Type": "binary/octet-stream",
        "Content-Length": str(len(blob)),
        "ETag": f'"{hashlib.md5(blob).hexdigest()}"',
        "Last-Modified": format_datetime(inst.generated_at, usegmt=True),
        "Accept-Ranges": "bytes",
        "Server": "AmazonS3",
    }
    status = 200
    wanted = _range(headers, hdrs, len(blob))
    if wanted == "unsatisfiable":
        status, err_hdrs, body = _xml(
            416,
            "InvalidRange",
            "The requested range is not satisfiable",
            world,
            RangeRequested=headers.get("range", ""),
            ActualObjectSize=str(len(blob)),
        )
        return status, {**err_hdrs, "Content-Range": f"bytes */{len(blob)}"}, body
    if wanted is not None:
        first, last = wanted
        status, blob = 206, blob[first : last + 1]
        hdrs["Content-Range"] = f"bytes {first}-{last}/{hdrs['Content-Length']}"
        hdrs["Content-Length"] = str(len(blob))
    if method == "HEAD":
        return status, hdrs, b""
    if fault is not None and fault.kind == "truncate":
        keep = int(fault.options.get("keep", len(blob) // 2))  # type: ignore[call-overload]
        raise Truncated(status, hdrs, blob[:keep])
    return status, hdrs, blob


_RANGE = re.compile(r"bytes=(?:([0-9]+)-([0-9]*)|-([0-9]+))")


def _range(headers: Mapping[str, str], hdrs: Mapping[str, str], size: int) -> tuple[int, int] | str | None:
    """The one byte range to serve, ``"unsatisfiable"`` (416), or ``None`` for the whole object (200).

    As S3 does (RFC 9110 byte ranges): one range ``bytes=a-b``, ``bytes=a-`` or ``bytes=-n``, the end
    clamped to the object; a range starting at or past the end is 416. A header that is not one
    well-formed range (several ranges, another unit, garbage) is ignored and the whole object sent,
    and so is a range whose ``If-Range`` names another version (ETag or Last-Modified).
    """
    spec = headers.get("range")
    if spec is None:
        return None
    if_range = headers.get("if-range")
    if if_range is not None and if_range.strip() not in (hdrs["ETag"], hdrs["Last-Modified"]):
        return None
    m = _RANGE.fullmatch(spec.strip())
    if m is None:
        return None
    if m.group(3) is not None:  # the last n bytes
        n = int(m.group(3))
        if n == 0 or size == 0:
            return "unsatisfiable"
        return max(size - n, 0), size - 1
    first = int(m.group(1))
    if m.group(2) and int(m.group(2)) < first:
        return None  # not a valid range: ignored
    if first >= size:
        return "unsatisfiable"
    return first, min(int(m.group(2)) if m.group(2) else size - 1, size - 1)
