"""Progress of a download: a tqdm bar, a callback of one's own (widgets), or nothing.

Counts are segments and bytes; both are updated from worker threads, so every change holds a
lock, and a callback is called one at a time in order (its counts never go back).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping

from .. import config

__all__ = ["Progress", "ProgressCallback", "make_progress"]

#: ``progress(segments_done, segments_planned, bytes_done, bytes_planned)``, called from worker threads
ProgressCallback = Callable[[int, int, int, int], None]


class Progress:
    """Counts segments and bytes for a tqdm bar and/or a callback; thread-safe; silent when disabled."""

    def __init__(self, enabled: bool, desc: str, callback: ProgressCallback | None = None):
        self._lock = threading.Lock()
        self._callback_lock = threading.Lock()
        self.segments = self.done = 0
        self.bytes_planned = self.bytes_done = 0
        self.callback = callback
        self.bar = None
        if enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=0, unit="B", unit_scale=True, unit_divisor=1024, desc=desc, leave=True)

    def _report(self) -> None:
        if self.callback is not None:
            with self._callback_lock:  # one call at a time, in order: counts never go back
                with self._lock:
                    counts = (self.done, self.segments, self.bytes_done, self.bytes_planned)
                self.callback(*counts)

    def plan(self, segments: int, nbytes: int) -> None:
        with self._lock:
            self.segments += segments
            self.bytes_planned += nbytes
            if self.bar is not None:
                self.bar.total = (self.bar.total or 0) + nbytes
                self.bar.set_postfix_str(f"{self.done}/{self.segments} segments", refresh=True)
        self._report()

    def bytes(self, n: int) -> None:
        if n:
            with self._lock:
                self.bytes_done += n
                if self.bar is not None:
                    self.bar.update(n)

    def segment_done(self, nbytes_if_cached: int = 0) -> None:
        with self._lock:
            self.done += 1
            self.bytes_done += nbytes_if_cached
            if self.bar is not None:
                if nbytes_if_cached:
                    self.bar.update(nbytes_if_cached)
                self.bar.set_postfix_str(f"{self.done}/{self.segments} segments", refresh=False)
        self._report()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(f"{self.done}/{self.segments} segments", refresh=True)
            self.bar.close()


def make_progress(
    progress: bool | ProgressCallback | None,
    segments: int,
    desc: str,
    environ: Mapping[str, str] | None = None,
) -> Progress:
    """``progress`` may be a bool (tqdm bar on/off), ``None`` (a bar for multi-segment jobs unless
    ``ASC_NB_PROGRESS`` turns bars off) or a callback."""
    if callable(progress):
        return Progress(False, desc, callback=progress)
    if progress is not None:
        return Progress(bool(progress), desc)
    return Progress(segments > 1 and not config.read(environ).progress_off, desc)
