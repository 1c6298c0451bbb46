"""``client.on_wait(callback)``: the session tells listeners why and how long it is about to wait."""

from __future__ import annotations

import threading
from datetime import datetime, timezone

import asc_nb
from asc_nb.http import Pacer, RateLimit


def _client(sandbox, sleeps, **kwargs):
    return asc_nb.connect(sandbox=sandbox, sleep=sleeps.append, **kwargs)


def test_retry_after_wait_is_announced_before_sleeping() -> None:
    sb = asc_nb.Sandbox(seed=0)
    sleeps: list[float] = []
    seen: list[tuple[str, float, int, str]] = []
    with _client(sb, sleeps) as client:
        remove = client.on_wait(
            lambda reason, s: seen.append((reason, s, len(sleeps), threading.current_thread().name))
        )
        sb.faults.add("rate_limit", path="/v1/apps", retry_after=7)
        assert len(client.apps()) == 3
        # announced once, with Apple's seconds, before the sleep happened, on the calling thread
        assert seen == [("retry-after", 7.0, 0, threading.current_thread().name)]
        assert sleeps == [7.0]
        remove()
        sb.faults.add("rate_limit", path="/v1/apps", retry_after=3)
        client.apps()
        assert len(seen) == 1 and sleeps == [7.0, 3.0]  # removed: no longer told
        remove()  # removing twice is harmless


def test_backoff_without_retry_after_and_pacer_waits_are_announced() -> None:
    sb = asc_nb.Sandbox(seed=0)
    sleeps: list[float] = []
    seen: list[tuple[str, float]] = []
    with _client(sb, sleeps) as client:
        client.on_wait(lambda reason, s: seen.append((reason, s)))
        sb.faults.add("server_error", path="/v1/apps")
        client.apps()
        assert [r for r, _ in seen] == ["backoff"] and seen[0][1] == sleeps[0] > 0

    now = [1000.0]
    pacer = Pacer(clock=lambda: now[0])
    seen.clear()
    with _client(sb, sleeps, pacer=pacer) as client:
        client.on_wait(lambda reason, s: seen.append((reason, s)))
        pacer.observe(
            RateLimit(limit=3600, remaining=0, updated_at=datetime.now(timezone.utc))
        )  # Apple said: nothing left this hour
        client.apps()
        assert seen and seen[0][0] == "pacer" and seen[0][1] > 0 and seen[0][1] == pacer.waited


def test_a_failing_listener_never_breaks_the_call() -> None:
    sb = asc_nb.Sandbox(seed=0)
    with _client(sb, []) as client:
        client.on_wait(lambda *_: 1 / 0)
        sb.faults.add("rate_limit", path="/v1/apps", retry_after=1)
        assert len(client.apps()) == 3
