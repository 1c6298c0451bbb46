"""Argument checks shared by the Store's methods and its sync: a bad argument is a ConfigError that says what to fix."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence

from asc_nb.errors import ASCError, ConfigError

__all__ = ["bad_argument", "names"]


@contextlib.contextmanager
def bad_argument() -> Iterator[None]:
    """A bad argument raises :class:`ConfigError` (an ``ASCError`` and still a ``ValueError``) saying what to fix."""
    try:
        yield
    except ValueError as err:
        if isinstance(err, ASCError):
            raise
        raise ConfigError(str(err)) from None


def names(value: str | Sequence[str], what: str) -> list[str]:
    items = [value] if isinstance(value, str) else list(value) if isinstance(value, Iterable) else []
    if not items or not all(isinstance(v, str) and v.strip() for v in items):
        raise ValueError(f"{what} must be a non-empty string or list of strings, got {value!r}")
    out: list[str] = []
    for v in items:
        if v.strip() not in out:
            out.append(v.strip())
    return out
