"""The simulated clock: reports, instances, URL expiry and inactivity follow it, never the wall clock.

Apple takes 24-48 hours to produce a first report; a notebook cannot wait that long, so the
sandbox's notion of "now" only moves when someone calls :meth:`SimClock.advance`.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

DEFAULT_START = "2026-03-02T09:00:00Z"


def parse_instant(value: str | datetime) -> datetime:
    """An aware UTC datetime from ISO text (``Z`` allowed) or a datetime (naive = UTC)."""
    if isinstance(value, datetime):
        dt = value
    else:
        text = value.strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


def iso(dt: datetime) -> str:
    """``2026-03-02T09:00:00Z`` -- the form the sandbox prints and accepts."""
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class SimClock:
    """A thread-safe clock that starts at a fixed instant and moves only forward, on demand."""

    def __init__(self, start: str | datetime = DEFAULT_START) -> None:
        self._now = parse_instant(start)
        self._lock = threading.Lock()

    @property
    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, days: float = 0, hours: float = 0, minutes: float = 0, seconds: float = 0) -> datetime:
        """Move forward (never back: Apple's world has no undo) and return the new time."""
        delta = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
        if delta < timedelta(0):
            raise ValueError("the simulated clock only moves forward")
        with self._lock:
            self._now += delta
            return self._now
