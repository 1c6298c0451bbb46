"""A local, checksum-keyed store of verified segment files.

Why it looks like this:

* **Keyed by Apple's checksum.** The same bytes get the same name whatever URL served them,
  so a re-run (or another notebook) downloads nothing it already has.
* **Nothing unverified is ever in the cache.** Bytes stream into a temporary file in a
  sibling directory on the same filesystem while their MD5 and length are computed chunk by
  chunk (a segment is never held whole in memory); only a file whose size and checksum match
  is atomically renamed into place (``durable=True`` also fsyncs it first). A download killed
  midway leaves at most a stale ``.partial/`` file, which is never looked up and is swept later.
* **Path traversal is impossible.** Entry names are built only from a validated 32-hex-digit
  checksum, never from a URL or an id a server sent.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import re
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

from .. import config
from ..errors import VerificationError

__all__ = ["SegmentCache", "VerificationError", "default_cache_dir", "valid_checksum"]

ENV_VAR = "ASC_NB_CACHE_DIR"
_HEX32 = re.compile(r"^[0-9a-f]{32}$")
_PARTIAL = ".partial"
#: O_EXCL: a temporary name is never shared, even by two processes on one cache.
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
_SERIAL = itertools.count()
#: Temporary files older than this are leftovers of a killed process and are removed.
STALE_PARTIAL_SECONDS = 6 * 3600


def default_cache_dir() -> Path:
    """``$ASC_NB_CACHE_DIR`` if set, else the per-user cache directory (the same place as ``Client.cache_dir``)."""
    return config.cache_dir()


def valid_checksum(checksum: str) -> str:
    """The checksum, lower-cased, if it is 32 hex digits (an MD5); else ``ValueError``."""
    value = str(checksum).strip().lower()
    if not _HEX32.match(value):
        raise ValueError(f"segment checksum must be 32 hex digits (MD5); got {checksum!r}")
    return value


class SegmentCache:
    """Verified segment files under ``root``, one per checksum."""

    def __init__(self, root: str | os.PathLike[str] | None = None, *, durable: bool = False):
        self.root = Path(root).expanduser() if root is not None else default_cache_dir()
        #: fsync each file before the rename. Off by default: it costs ~5 ms a segment, and a
        #: crash can at worst leave a short file under its final name, which `get` rejects by size.
        self.durable = durable
        self._partials = self.root / _PARTIAL
        self._swept = False

    def __repr__(self) -> str:
        return f"SegmentCache({str(self.root)!r})"

    def path(self, checksum: str) -> Path:
        """Where the segment with this checksum lives (whether or not it is there yet)."""
        key = valid_checksum(checksum)
        return self.root / key[:2] / f"{key}.gz"

    def get(self, checksum: str, size: int | None = None) -> Path | None:
        """The cached file if present (and of ``size`` bytes when given), else ``None``."""
        path = self.path(checksum)
        try:
            st = path.stat()
        except FileNotFoundError:
            return None
        if size is not None and st.st_size != int(size):
            return None  # cannot happen through this class; treat a foreign file as absent
        return path

    def __contains__(self, checksum: str) -> bool:
        return self.get(checksum) is not None

    def writer(self, checksum: str, size: int | None) -> VerifiedWriter:
        """A file-like sink that verifies as it goes and commits atomically (use as ``with``)."""
        self._sweep()
        return VerifiedWriter(self, valid_checksum(checksum), None if size is None else int(size))

    def put(self, checksum: str, size: int | None, chunks: Iterable[bytes]) -> Path:
        """Stream ``chunks`` into the cache; return the committed path or raise ``VerificationError``."""
        with self.writer(checksum, size) as w:
            for chunk in chunks:
                w.write(chunk)
            return w.commit()

    def verify(self, checksum: str) -> bool:
        """Re-hash a cached file (for the paranoid; the cache only ever holds verified files)."""
        path = self.get(checksum)
        if path is None:
            return False
        md5 = hashlib.md5(usedforsecurity=False)
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                md5.update(chunk)
        return md5.hexdigest() == valid_checksum(checksum)

    def _sweep(self) -> None:
        """Once per instance: delete temporary files a killed process left behind long ago."""
        if self._swept:
            return
        self._swept = True
        try:
            entries = list(self._partials.iterdir())
        except FileNotFoundError:
            return
        cutoff = time.time() - STALE_PARTIAL_SECONDS
        for p in entries:
            try:
                if p.stat().st_mtime < cutoff:
                    p.unlink()
            except OSError:
                pass


class VerifiedWriter:
    """Temp file + running MD5 + byte count; ``commit()`` verifies and renames atomically."""

    def __init__(self, cache: SegmentCache, checksum: str, size: int | None):
        self.cache, self.checksum, self.size = cache, checksum, size
        self.written = 0
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._tmp = cache._partials / f"{checksum}-{os.getpid()}-{next(_SERIAL)}.part"
        try:
            fd = os.open(self._tmp, _CREATE, 0o644)
        except FileNotFoundError:
            cache._partials.mkdir(parents=True, exist_ok=True)
            fd = os.open(self._tmp, _CREATE, 0o644)
        # unbuffered: one write() per chunk, and no isatty/lseek probes at open (each syscall
        # releases the GIL, which 16 download threads then fight over)
        self._file = os.fdopen(fd, "wb", buffering=0)
        self._done = False
        # a cancelled download is aborted from another thread: commit and abort never interleave
        self._state = threading.Lock()

    def write(self, chunk: bytes) -> int:
        """Append bytes; fail fast once more than ``size`` bytes arrive."""
        self.written += len(chunk)
        if self.size is not None and self.written > self.size:
            raise VerificationError("size", self.size, f"more than {self.size} bytes")
        self._md5.update(chunk)
        view = memoryview(chunk)
        while view:  # a raw write may be short
            view = view[self._file.write(view) :]
        return len(chunk)

    def commit(self) -> Path:
        """Verify size and checksum; on success move the file into the cache and return its path."""
        with self._state:
            if self._done:
                raise VerificationError("state", "an open download", "an aborted one")
            return self._commit()

    def _commit(self) -> Path:
        self._file.flush()
        if self.size is not None and self.written != self.size:
            raise VerificationError("size", self.size, self.written)
        digest = self._md5.hexdigest()
        if digest != self.checksum:
            raise VerificationError("checksum", self.checksum, digest)
        if self.cache.durable:
            os.fsync(self._file.fileno())
        self._file.close()
        final = self.cache.path(self.checksum)
        try:
            os.replace(self._tmp, final)
        except FileNotFoundError:  # first entry of this shard directory
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(self._tmp, final)
        self._done = True
        return final

    def abort(self) -> None:
        """Drop the temporary file (idempotent; safe from another thread)."""
        with self._state:
            if not self._file.closed:
                self._file.close()
            if not self._done:
                self._tmp.unlink(missing_ok=True)
                self._done = True

    def __enter__(self) -> VerifiedWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.abort()
