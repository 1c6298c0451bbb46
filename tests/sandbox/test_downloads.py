"""The download host: presigned URLs on another host, S3-style answers, raw gzip bytes."""

from __future__ import annotations

import gzip
import hashlib
from urllib.parse import urlsplit

import httpx
import pytest

from asc_nb.sandbox import Sandbox

from .helpers import Api, first_app


@pytest.fixture
def segment(sb: Sandbox, api: Api) -> dict:
    req = api.create(first_app(sb)).json()["data"]["id"]
    sb.advance(days=3)
    inst = api.get(f"/v1/analyticsReports/r10-{req}/instances").json()["data"][-1]["id"]
    return api.get(f"/v1/analyticsReportInstances/{inst}/segments").json()["data"][0]


def test_segment_url_is_on_the_download_host_and_serves_verified_gzip(
    segment: dict, downloader: httpx.Client, sb: Sandbox
) -> None:
    attrs = segment["attributes"]
    url = attrs["url"]
    assert (
        url.startswith(sb.download_base_url + "/")
        and urlsplit(url).netloc != urlsplit(sb.api_base_url).netloc
    )
    assert "X-Amz-Expires=300" in url and "X-Amz-Signature=" in url
    r = downloader.get(url)
    assert r.status_code == 200
    assert "content-encoding" not in r.headers
    assert len(r.content) == attrs["sizeInBytes"] == int(r.headers["content-length"])
    assert hashlib.md5(r.content).hexdigest() == attrs["checksum"]
    text = gzip.decompress(r.content).decode()
    assert text.splitlines()[0].split("\t")[:2] == ["Date", "App Name"]


def test_authorization_header_is_refused(segment: dict, downloader: httpx.Client) -> None:
    r = downloader.get(segment["attributes"]["url"], headers={"Authorization": "Bearer abc"})
    assert r.status_code == 400
    assert b"<Code>InvalidArgument</Code>" in r.content and r.headers["content-type"] == "application/xml"


def test_url_expires_after_five_simulated_minutes(
    segment: dict, downloader: httpx.Client, sb: Sandbox, api: Api
) -> None:
    url = segment["attributes"]["url"]
    sb.advance(minutes=5)
    assert downloader.get(url).status_code == 200
    sb.advance(minutes=1)
    r = downloader.get(url)
    assert r.status_code == 403
    assert b"<Code>AccessDenied</Code><Message>Request has expired</Message>" in r.content
    fresh = api.get(f"/v1/analyticsReportSegments/{segment['id']}").json()["data"]["attributes"]["url"]
    assert fresh != url and downloader.get(fresh).status_code == 200


def test_tampered_signature_or_path_is_403(segment: dict, downloader: httpx.Client) -> None:
    url = segment["attributes"]["url"]
    bad = url[:-4] + ("0000" if not url.endswith("0000") else "1111")
    r = downloader.get(bad)
    assert r.status_code == 403 and b"SignatureDoesNotMatch" in r.content
    r = downloader.get(url.replace("/0.csv.gz", "/1.csv.gz"))
    assert r.status_code == 403
    assert downloader.get(url.split("?")[0]).status_code == 403


def test_deleted_request_segments_are_gone(
    segment: dict, downloader: httpx.Client, api: Api, sb: Sandbox
) -> None:
    req_id = next(iter(sb.world.requests))
    api.delete(f"/v1/analyticsReportRequests/{req_id}")
    r = downloader.get(segment["attributes"]["url"])
    assert r.status_code == 404 and b"NoSuchKey" in r.content
    assert api.get(f"/v1/analyticsReportSegments/{segment['id']}").status_code == 404


def test_some_instances_have_several_segments(make_api) -> None:
    sb = Sandbox(segment_rows=50, history_days=3)
    api = make_api(sb)
    app = first_app(sb)
    req = api.get(f"/v1/apps/{app}/analyticsReportRequests").json()["data"][0]["id"]
    inst = api.get(f"/v1/analyticsReports/r10-{req}/instances").json()["data"][-1]["id"]
    segs = api.get(f"/v1/analyticsReportInstances/{inst}/segments").json()["data"]
    assert len(segs) > 1
    assert [s["id"] for s in segs] == [
        s["id"] for s in api.get(f"/v1/analyticsReportInstances/{inst}/relationships/segments").json()["data"]
    ]
    with httpx.Client(transport=sb.transport()) as dl:
        for s in segs:
            body = dl.get(s["attributes"]["url"]).content
            assert hashlib.md5(body).hexdigest() == s["attributes"]["checksum"]
