"""Scale fixtures: small worlds and lake comparisons (the store tests' helpers, shared by import)."""

from __future__ import annotations

from store.conftest import (  # noqa: F401
    REPORTS,
    assert_same_lake,
    canonical,
    lake_snapshot,
    sandbox_cli_process,
    small_world,
)
