"""The pacer keeps a bulk job under the hourly budget: no 429, and no wait it didn't need."""

from __future__ import annotations

import time

from asc_nb.errors import RateLimitError
from asc_nb.http import Pacer, RetryPolicy
from asc_nb.sandbox import Sandbox


class ScaledTime:
    """One clock for the sandbox's rolling hour and the client's pacer; sleeping advances it."""

    def __init__(self) -> None:
        self.now = time.time()
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_bulk_job_paces_itself_with_zero_429(make_client) -> None:
    t = ScaledTime()
    sb = Sandbox(seed=0, rate_limit=10, wall_clock=t.clock)
    client = make_client(
        sb, sleep=t.sleep, clock=t.clock, retry=RetryPolicy(max_retries=0)
    )  # any 429 would raise
    for _ in range(25):
        t.now += 1.0  # one second of work between calls
        client.apps()
    assert client.rate_limit is not None and client.rate_limit.limit == 10
    # 25 calls a second apart with a budget of 10 an hour: after calls 10 and 20 the job waits
    # until the first call of its window ages out (3600 s after it, minus the 10 s already spent)
    assert t.slept == [3590.0, 3590.0]
    assert client.http.pacer.waited == sum(t.slept)


def test_pacer_does_not_wait_while_budget_remains(make_client) -> None:
    t = ScaledTime()
    sb = Sandbox(seed=0, rate_limit=50, wall_clock=t.clock)
    client = make_client(sb, sleep=t.sleep, clock=t.clock)
    for _ in range(20):
        client.apps()
    assert t.slept == []
    assert client.http.pacer.estimate() == 30


def test_without_pacing_the_same_job_hits_429(make_client) -> None:
    """The control: the same job with pacing off is refused, so the test above can fail."""
    t = ScaledTime()
    sb = Sandbox(seed=0, rate_limit=10, wall_clock=t.clock)
    client = make_client(
        sb,
        sleep=t.sleep,
        clock=t.clock,
        pacer=Pacer(clock=t.clock, max_wait=0),
        retry=RetryPolicy(max_retries=0),
    )
    try:
        for _ in range(25):
            t.now += 1.0
            client.apps()
    except RateLimitError as exc:
        assert exc.status == 429
    else:
        raise AssertionError("expected a 429 without pacing")
