"""What the subcommands share: comma lists from flags, and JSON-ready values from DataFrame cells."""

from __future__ import annotations

from typing import Any


def split(text: str | None) -> list[str] | None:
    """``"a, b,"`` -> ``["a", "b"]``; ``None`` (flag not given) or nothing but commas -> ``None``."""
    if text is None:
        return None
    items = [t.strip() for t in text.split(",") if t.strip()]
    return items or None


def jsonable(value: Any) -> Any:
    """A DataFrame cell as JSON: missing -> null, a timestamp -> its ISO day, numpy scalars -> Python."""
    import pandas as pd

    if isinstance(value, list):
        return [jsonable(v) for v in value]
    if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    if hasattr(value, "item"):
        return value.item()
    return value
