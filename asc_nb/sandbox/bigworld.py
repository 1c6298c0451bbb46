"""A generator-backed sandbox world big enough for tens of millions of rows, cheap to serve.

Why: the sandbox's world model (:mod:`asc_nb.sandbox.world`) draws every day's cells from a
universe, which is what makes its numbers consistent — and costs seconds per report-day at the
data scales a 50-million-row benchmark needs (one Detailed report-day at ``data_scale=2000``
takes ~17 s to generate). A :class:`BigSandbox` keeps the world model at a modest base scale
and *tiles* each instance's rows: tile ``k`` is the base rows with one text dimension suffixed
``~k`` (so every row stays a distinct dimension combination) and the same measures. So:

* every value still comes from the world model (same reports, columns, blanks, vintages and
  restatements, the same bytes for the same seed), and a row count or a sum over the big world
  is exactly ``tiles ×`` the base world's — a benchmark can check its totals against that;
* serving costs what formatting and gzip of the rows cost (Arrow's CSV writer and ISA-L), linear
  in rows, and nothing is held: segments are generated per request (a small LRU keeps the most
  recent instances, bounded by bytes, as the normal world does).

It is a benchmark world: tiled rows are not a realistic distribution of App Versions (or whichever
dimension carries the tile), and the privacy rule is applied at the base scale.

    sb = BigSandbox(tiles=16, seed=7, apps=4, history_days=30, data_scale=20)
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from asc_nb.sandbox import Sandbox
from asc_nb.sandbox import datagen as _dg
from asc_nb.sandbox.catalog import FIXED, ReportSpec
from asc_nb.sandbox.state import Instance, World

__all__ = ["BigSandbox", "big_instance_segments", "tile_column"]

#: segment bytes kept per big world (the most recent instances)
CACHE_BYTES = 256 << 20


def tile_column(spec: ReportSpec) -> int | None:
    """The position of the text dimension that carries the tile suffix (the first non-date dimension)."""
    for i, col in enumerate(spec.columns):
        if col.name not in FIXED and not col.is_measure and col.kind != "date":
            return i
    return None


def _tiled(table: pa.Table, column: int | None, tiles: int) -> pa.Table:
    """``tiles`` copies of ``table``; copy k > 0 has ``~k`` appended to ``column``'s text."""
    if tiles <= 1 or column is None:
        return table if tiles <= 1 else pa.concat_tables([table] * tiles)
    copies = [table]
    base = table.column(column)
    for k in range(1, tiles):
        suffixed = pc.binary_join_element_wise(
            base, pa.scalar(f"~{k}", pa.large_string()), pa.scalar("", pa.large_string())
        )
        copies.append(table.set_column(column, table.field(column).name, suffixed))
    return pa.concat_tables(copies)


def big_instance_segments(
    seed: int,
    app: dict[str, Any],
    report: ReportSpec | str,
    granularity: str,
    processing_date: Any,
    access_type: str,
    *,
    data_scale: float,
    segment_rows: int,
    tiles: int,
) -> list[bytes]:
    """An instance's segment files with every base row repeated ``tiles`` times (see the module docstring)."""
    app_id, app_name, spec, g = _dg._resolve(app, report, granularity)
    parts = _dg._instance_blocks(seed, app_id, spec, g, processing_date, access_type, data_scale)
    esc = _dg._escaper(spec.delimiter)
    head = (
        ("\ufeff" if spec.bom else "") + spec.delimiter.join(esc(c) for c in spec.column_names) + "\n"
    ).encode()
    tables = [_dg._block_table(spec, app_id, app_name, b, v) for b, v in parts if b.n]
    if not tables:
        return [_dg._gzip(head)]
    column = tile_column(spec)
    if column is not None:  # decoded once, so every copy's column is plain text of one type
        tables = [
            t.set_column(column, t.field(column).name, t.column(column).cast(pa.large_string()))
            for t in tables
        ]
    table = _tiled(pa.concat_tables(tables), column, tiles)
    fast = _dg._can_write_fast(spec, app_name)
    return [
        _dg._gzip(head + _dg._text(table.slice(start, segment_rows), spec.delimiter, fast))
        for start in range(0, table.num_rows, segment_rows)
    ]


class _BigWorld(World):
    """The sandbox world with segments from :func:`big_instance_segments`."""

    tiles: int = 1

    def segment_bytes(self, inst: Instance) -> list[bytes]:
        with self.lock:
            cache = self.__dict__.setdefault("_big_cache", OrderedDict())
            hit = cache.get(inst.id)
            if hit is not None:
                cache.move_to_end(inst.id)
                return hit
        req = self.requests.get(inst.request_id) or self.deleted[inst.request_id]
        blobs = big_instance_segments(
            self.seed,
            self.apps[req.app_id],
            self.report_spec(inst.report_number),
            inst.granularity.value,
            inst.processing_date,
            req.access_type.value,
            data_scale=self.data_scale,
            segment_rows=self.segment_rows,
            tiles=self.tiles,
        )
        with self.lock:
            cache[inst.id] = blobs
            used = sum(len(b) for bs in cache.values() for b in bs)
            while len(cache) > 1 and used > CACHE_BYTES:
                _, old = cache.popitem(last=False)
                used -= sum(map(len, old))
        return blobs


class BigSandbox(Sandbox):
    """A :class:`~asc_nb.sandbox.Sandbox` whose every instance holds ``tiles`` × the base world's rows."""

    def __init__(self, *args: Any, tiles: int = 1, **kwargs: Any) -> None:
        if int(tiles) < 1:
            raise ValueError(f"tiles must be >= 1; got {tiles!r}")
        super().__init__(*args, **kwargs)
        # the world was built by Sandbox; only how it makes segment bytes changes
        self.world.__class__ = _BigWorld
        self.world.tiles = int(tiles)
        self.tiles = int(tiles)
