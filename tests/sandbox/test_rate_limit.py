"""X-Rate-Limit on every API response, a rolling hour per key, 429 past it."""

from __future__ import annotations

import re

from asc_nb.sandbox import Sandbox

from .helpers import Api, demo_key, sign


def _rem(r) -> int:
    m = re.fullmatch(r"user-hour-lim:(\d+);user-hour-rem:(\d+);", r.headers["X-Rate-Limit"])
    assert m, r.headers["X-Rate-Limit"]
    return int(m.group(2))


def test_header_on_success_and_error_responses(api: Api) -> None:
    ok = api.get("/v1/apps")
    bad = api.get("/v1/apps", foo="1")
    missing = api.get("/v1/apps/1")
    assert ok.headers["X-Rate-Limit"] == "user-hour-lim:3600;user-hour-rem:3599;"
    assert _rem(bad) == 3598 and _rem(missing) == 3597


def test_rolling_hour_per_key_and_429(make_api) -> None:
    clock = [1_000_000.0]
    sb = Sandbox(rate_limit=3, wall_clock=lambda: clock[0])
    key = demo_key(sb)
    api = make_api(sb)

    def call(k=key):
        return api.http.get("/v1/apps", headers={"Authorization": f"Bearer {sign(k, now=clock[0])}"})

    assert [_rem(call()) for _ in range(3)] == [2, 1, 0]
    clock[0] += 1000
    r = call()
    assert r.status_code == 429 and r.json()["errors"][0]["code"] == "RATE_LIMIT_EXCEEDED"
    assert _rem(r) == 0
    other = sb.add_key(role="FINANCE")
    assert call(other).status_code == 200  # per key
    clock[0] += 2601  # the first three calls leave the rolling hour
    assert _rem(call()) == 2
