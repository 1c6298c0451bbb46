"""One sync at a time per store: an advisory lock the kernel drops when its holder dies.

``flock`` (POSIX) is released by the kernel when the process exits for any reason, kill -9
included, so a lock left by a killed sync is taken over without any guessing; the file also
records the holder's pid and start time, for the :class:`StoreLockedError` message. Where
``fcntl`` is missing (Windows) the file is created exclusively and a dead pid is taken over.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from asc_nb.errors import StoreLockedError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["StoreLock"]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - someone else's live process
        return True
    except OSError:  # pragma: no cover
        return False
    return True


class StoreLock:
    """``with StoreLock(path, wait=False):`` — raises :class:`StoreLockedError` if held and not waiting."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        wait: bool = False,
        poll: float = 0.2,
        timeout: float | None = None,
    ) -> None:
        self.path = Path(path)
        self.wait = wait
        self.poll = poll
        self.timeout = timeout
        self._fd: int | None = None

    def holder(self) -> dict[str, Any]:
        """What the lock file says about its (last) holder: ``{"pid", "started"}`` or ``{}``."""
        try:
            return json.loads(self.path.read_text() or "{}")
        except (OSError, ValueError):
            return {}

    def _locked_error(self) -> StoreLockedError:
        info = self.holder()
        pid, started = info.get("pid"), info.get("started")
        return StoreLockedError(
            f"store {self.path.parent} is being synced by process {pid} (started {started}); "
            "wait for it, or pass wait=True (--wait) to queue behind it",
            pid=pid,
            started=started,
        )

    def acquire(self) -> None:
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            if self._try():
                return
            if not self.wait or (deadline is not None and time.monotonic() > deadline):
                raise self._locked_error()
            time.sleep(self.poll)

    def _stamp(self, fd: int) -> None:
        info = {"pid": os.getpid(), "started": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)

    def _try(self) -> bool:
        if fcntl is not None:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                return False
            self._stamp(fd)
            self._fd = fd
            return True
        # pragma: no cover - exclusive create, taking over a dead holder's file
        try:  # pragma: no cover
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:  # pragma: no cover
            pid = self.holder().get("pid")
            if isinstance(pid, int) and not _pid_alive(pid):
                self.path.unlink(missing_ok=True)
                return self._try()
            return False
        self._stamp(fd)  # pragma: no cover
        self._fd = fd  # pragma: no cover
        return True  # pragma: no cover

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        else:  # pragma: no cover
            os.close(fd)
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> StoreLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
