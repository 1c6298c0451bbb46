"""Parse benchmark: gzip segment bytes → typed DataFrame.

Compares asc_nb.data.parse.parse_segment — typed from the report registry (``report=``, what fetch
does) and typed by column name (``report=None``) — with what a user would write,
``pandas.read_csv(f, sep="\\t", compression="gzip")``, and with the bound
max(decompress time, bare ``pyarrow.csv`` parse of the decompressed bytes).
Best of N runs each, interleaved; prints ratios (absolute times on shared machines mean little).

    .venv/bin/python benchmarks/bench_parse.py [--rows 400000] [--repeat 7]
"""

from __future__ import annotations

import argparse
import io
import time
import warnings
import zlib

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
from isal import igzip

from asc_nb.data.parse import parse_segment
from asc_nb.sandbox.datagen import instance_segments

REPORT = "App Sessions Detailed"


def segment(rows: int) -> bytes:
    app = {"id": "1234567890", "name": "Benchmark App"}
    scale = rows / 500  # ~ (3 dates × ~170 rows) per instance at scale 1
    segs = instance_segments(
        0, app, REPORT, "DAILY", "2026-03-05", "ONGOING", data_scale=scale, segment_rows=rows
    )
    return segs[0]


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=400_000)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    warnings.simplefilter("ignore", pd.errors.DtypeWarning)  # pandas guesses App Version's type per chunk
    blob = segment(args.rows)
    raw = igzip.decompress(blob)
    nrows = raw.count(b"\n") - 1
    print(f"segment: {REPORT}, {nrows:,} rows, {len(raw) / 1e6:.1f} MB text, {len(blob) / 1e6:.1f} MB gzip")

    ours = parse_segment(blob, report=REPORT)
    assert ours.attrs["typing"] == "registry" and "parse_issues" not in ours.attrs
    theirs = pd.read_csv(io.BytesIO(blob), sep="\t", compression="gzip")
    assert len(ours) == len(theirs) == nrows

    cases = {
        "asc_nb parse_segment (bytes -> typed DataFrame)": lambda: parse_segment(blob, report=REPORT),
        "asc_nb parse_segment, report=None (typed by name)": lambda: parse_segment(blob),
        "pandas.read_csv(sep='\\t', compression='gzip')": lambda: pd.read_csv(
            io.BytesIO(blob), sep="\t", compression="gzip"
        ),
        "decompress, isal": lambda: igzip.decompress(blob),
        "decompress, zlib": lambda: zlib.decompress(blob, wbits=31),
        "bare pyarrow.csv parse of decompressed bytes": lambda: pacsv.read_csv(
            pa.BufferReader(raw), parse_options=pacsv.ParseOptions(delimiter="\t")
        ),
    }
    times = {k: float("inf") for k in cases}
    for _ in range(args.repeat):  # interleave so machine noise hits every case alike
        for k, fn in cases.items():
            times[k] = min(times[k], best(fn, 1))
    for k, v in times.items():
        print(f"  {k:55s} {v * 1000:8.1f} ms")
    ours_t = times["asc_nb parse_segment (bytes -> typed DataFrame)"]
    pandas_t = times["pandas.read_csv(sep='\\t', compression='gzip')"]
    bound = max(times["decompress, isal"], times["bare pyarrow.csv parse of decompressed bytes"])
    bound_zlib = max(times["decompress, zlib"], times["bare pyarrow.csv parse of decompressed bytes"])
    names_t = times["asc_nb parse_segment, report=None (typed by name)"]
    print(f"speed-up vs pandas.read_csv:           {pandas_t / ours_t:5.2f}x   (target >= 1.5x)")
    print(f"  (report=None, typed by name:         {pandas_t / names_t:5.2f}x)")
    print(f"time / max(isal decompress, bare parse): {ours_t / bound:5.2f}x   (target <= 1.3x)")
    print(f"time / max(zlib decompress, bare parse): {ours_t / bound_zlib:5.2f}x   (zlib = what pandas uses)")


if __name__ == "__main__":
    main()
