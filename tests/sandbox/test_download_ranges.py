"""The download host honours the ``Accept-Ranges: bytes`` it advertises, as S3 does.

Both fronts. The resume test is what a client that keeps partial downloads would do: a transfer
cut short by the network, then ``Range: bytes=<have>-`` with ``If-Range: <etag>``, and the two
parts together match the checksum and size the API announced.
"""

from __future__ import annotations

import hashlib

import httpx
import pytest

from .conftest import Front
from .helpers import first_app


@pytest.fixture
def segment(front: Front) -> dict:
    sb, api = front.sb, front.api
    req = api.create(first_app(sb)).json()["data"]["id"]
    sb.advance(days=3)
    inst = api.get(f"/v1/analyticsReports/r10-{req}/instances").json()["data"][-1]["id"]
    return api.get(f"/v1/analyticsReportInstances/{inst}/segments").json()["data"][0]["attributes"]


def test_a_cut_download_resumes_with_a_range(front: Front, segment: dict) -> None:
    url, size = segment["url"], segment["sizeInBytes"]
    keep = size // 3
    front.sb.faults.add("truncate", host="download", keep=keep)
    have = b""
    etag = None
    # in-process: RemoteProtocolError after the bytes; loopback: the socket is reset (RST), which may
    # also discard some of the bytes already sent — resuming from whatever arrived must work either way
    with pytest.raises(httpx.TransportError), front.dl.stream("GET", url) as r:
        assert r.status_code == 200 and r.headers["accept-ranges"] == "bytes"
        etag = r.headers["etag"]
        for chunk in r.iter_raw():
            have += chunk
    assert len(have) <= keep < size
    if front.mode == "inprocess":
        assert len(have) == keep

    r = front.dl.get(url, headers={"Range": f"bytes={len(have)}-", "If-Range": etag})
    assert r.status_code == 206, r.text
    assert r.headers["content-range"] == f"bytes {len(have)}-{size - 1}/{size}"
    assert int(r.headers["content-length"]) == len(r.content) == size - len(have)
    whole = have + r.content
    assert len(whole) == size and hashlib.md5(whole).hexdigest() == segment["checksum"]


@pytest.mark.parametrize(
    "header, first, last",
    [
        ("bytes=0-9", 0, 9),
        ("bytes=10-", 10, None),
        ("bytes=-7", -7, None),
        ("bytes=5-999999999", 5, None),
        ("bytes=0-0", 0, 0),
    ],
)
def test_single_ranges_get_206(
    front: Front, segment: dict, header: str, first: int, last: int | None
) -> None:
    size = segment["sizeInBytes"]
    whole = front.dl.get(segment["url"]).content
    r = front.dl.get(segment["url"], headers={"Range": header})
    assert r.status_code == 206
    start = first % size
    end = size - 1 if last is None else last
    assert r.content == whole[start : end + 1]
    assert r.headers["content-range"] == f"bytes {start}-{end}/{size}"
    head = front.dl.head(segment["url"], headers={"Range": header})
    assert head.status_code == 206 and head.headers["content-range"] == r.headers["content-range"]


@pytest.mark.parametrize("header", ["bytes={size}-", "bytes={size}-{more}", "bytes=-0"])
def test_a_range_past_the_end_is_416(front: Front, segment: dict, header: str) -> None:
    size = segment["sizeInBytes"]
    r = front.dl.get(segment["url"], headers={"Range": header.format(size=size, more=size + 10)})
    assert r.status_code == 416
    assert b"<Code>InvalidRange</Code>" in r.content and r.headers["content-range"] == f"bytes */{size}"


@pytest.mark.parametrize(
    "headers",
    [
        {"Range": "bytes=0-1,5-6"},
        {"Range": "items=0-1"},
        {"Range": "bytes=9-3"},
        {"Range": "bytes=abc"},
        {"Range": "bytes=0-9", "If-Range": '"not-the-etag"'},
    ],
    ids=["multi", "unit", "reversed", "garbage", "if-range-mismatch"],
)
def test_ranges_s3_ignores_get_the_whole_object(front: Front, segment: dict, headers: dict) -> None:
    r = front.dl.get(segment["url"], headers=headers)
    assert r.status_code == 200 and len(r.content) == segment["sizeInBytes"]
    assert "content-range" not in r.headers
