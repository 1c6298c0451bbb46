"""The names DESIGN.md promises users resolve from ``import asc_nb``."""

from __future__ import annotations

import asc_nb


def test_every_public_name_resolves() -> None:
    missing = [name for name in asc_nb.__all__ if getattr(asc_nb, name, None) is None]
    assert missing == []


def test_design_surface() -> None:
    for name in (
        "connect",
        "Client",
        "Credentials",
        "Sandbox",
        "AccessType",
        "Category",
        "Granularity",
        "to_parquet",
        "ConflictError",
        "ChecksumError",
    ):
        assert name in asc_nb.__all__, name
    assert callable(asc_nb.widgets.dashboard)
