"""Scale fixtures: small worlds and lake comparisons (the store tests' helpers, shared by import)."""

from __future__ import annotations

from store.conftest import REPORTS, assert_same_lake, canonical, lake_snapshot, small_world  # noqa: F401
