"""Segment bytes → typed table.

Apple delivers each segment as gzip'd, tab-separated text with a header line (a few reports
are comma-separated, some files start with a UTF-8 BOM). Parsing is the hot loop of every
fetch, so it is built for speed: ISA-L (``isal``) inflates about twice as fast as zlib, and
the inflating stream is handed to pyarrow's multithreaded CSV reader so decompression of
block *n+1* overlaps parsing of block *n* (isal releases the GIL).

Typing is by column name, because pyarrow's inference alone corrupts dimensions: App
Version ``1.10`` would become the float ``1.1`` and Territory ``NA`` (Namibia) a null. So:

* ``date`` and ``*_date`` columns → ``datetime64[ns]``;
* dimension-like names (``…version``, ``…type``, ``territory``, ``…name`` …) → string;
* everything else is inferred (counts → nullable ``Int64``, fractions → ``Float64``);
* only an empty field is missing (never ``0``, never the text ``NA``); unknown columns are kept.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Union

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from isal import igzip, igzip_lib

from ..errors import SegmentFormatError
from ..models import snake

__all__ = [
    "SegmentFormatError",
    "arrow_to_pandas",
    "parse_segment",
    "read_table",
    "read_tables",
    "snake_columns",
    "unify_tables",
]

Source = Union[bytes, bytearray, memoryview, str, os.PathLike, IO[bytes]]  # noqa: UP007 - 3.10 runtime alias

GZIP_MAGIC = b"\x1f\x8b"
UTF8_BOM = b"\xef\xbb\xbf"
#: What isal/zlib raise for a truncated or corrupt stream.
_INFLATE_ERRORS = (EOFError, OSError, ValueError, igzip_lib.IsalError)
#: Below this many compressed bytes a one-shot inflate + single-threaded parse beats the
#: streaming pipeline (thread start-up costs more than the overlap saves).
_STREAM_THRESHOLD = 1 << 20
_PEEK = 1 << 16

#: A name whose last word is one of these is a measure (numbers inferred), whatever else it says.
_MEASURE_LAST = frozenset({
    "count", "counts", "sessions", "devices", "users", "views", "crashes", "seconds", "ms",
    "milliseconds", "duration", "total", "sum", "average", "avg", "mean", "median", "rate", "ratio",
    "percent", "percentage", "bytes", "kb", "mb", "gb", "hours", "minutes", "events", "installs",
    "deletions", "downloads", "impressions", "taps", "units", "value", "amount",
})
#: A name containing one of these words is a dimension: kept as text, never coerced to a number.
_DIMENSION_WORDS = frozenset({
    "name", "id", "version", "device", "type", "territory", "source", "info", "campaign", "page",
    "title", "event", "platform", "language", "locale", "country", "region", "model", "os", "category",
    "bundle", "code", "status", "reason", "mode", "state", "method", "kind", "format", "interface",
    "network", "order", "genre", "url", "domain", "account", "sku", "currency", "family", "class",
    "bucket", "range", "tier", "channel", "build",
})


def _is_date_name(name: str) -> bool:
    return name == "date" or name.endswith("_date")


def _is_dimension_name(name: str) -> bool:
    words = name.split("_")
    if not words or words[-1] in _MEASURE_LAST:
        return False
    return any(w in _DIMENSION_WORDS for w in words)


def snake_columns(names: Iterable[str]) -> list[str]:
    """Header names → unique snake_case names (``Counts`` and ``counts`` become ``counts``, ``counts_2``)."""
    out: list[str] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(names):
        name = snake(raw) or f"column_{i + 1}"
        if name in seen:
            seen[name] += 1
            name = f"{name}_{seen[name]}"
            while name in seen:  # pathological: the suffixed name exists too
                name += "_"
        seen.setdefault(name, 1)
        out.append(name)
    return out

# --------------------------------------------------------------------------- streams


class _Prefixed(io.RawIOBase):
    """A read-only stream: the bytes already peeked, then the rest of the underlying stream."""

    def __init__(self, prefix: bytes, rest: IO[bytes]):
        self._prefix = memoryview(prefix)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        if self._prefix.nbytes:
            n = min(len(buffer), self._prefix.nbytes)
            buffer[:n] = self._prefix[:n]
            self._prefix = self._prefix[n:]
            return n
        return self._rest.readinto(buffer)

    def read(self, size: int = -1) -> bytes:
        if self._prefix.nbytes:
            if size is None or size < 0:
                head, self._prefix = bytes(self._prefix), memoryview(b"")
                return head + self._rest.read()
            n = min(size, self._prefix.nbytes)
            head, self._prefix = bytes(self._prefix[:n]), self._prefix[n:]
            return head
        return self._rest.read(size)


def _open(source: Source) -> tuple[IO[bytes], bool, list[IO[bytes]]]:
    """Return (stream of decompressed bytes, whether to stream, things to close)."""
    closers: list[IO[bytes]] = []
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        if data[:2] != GZIP_MAGIC:
            return io.BytesIO(data), len(data) >= _STREAM_THRESHOLD, closers
        if len(data) < _STREAM_THRESHOLD:
            return io.BytesIO(_inflate(data)), False, closers
        stream = igzip.open(io.BytesIO(data), "rb")
        closers.append(stream)
        return stream, True, closers
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        with open(path, "rb") as probe:
            magic = probe.read(2)
        size = path.stat().st_size
        if magic == GZIP_MAGIC and size >= _STREAM_THRESHOLD:
            stream = igzip.open(path, "rb")  # its own buffered file: no Python-level hop per block
            closers.append(stream)
            return stream, True, closers
        raw = open(path, "rb")  # noqa: SIM115 - closed by the caller through `closers`
        closers.append(raw)
    else:
        raw = source
        size = _STREAM_THRESHOLD
    magic = raw.read(2)
    rest = _Prefixed(magic, raw)
    if magic != GZIP_MAGIC:
        return rest, size >= _STREAM_THRESHOLD, closers
    if size < _STREAM_THRESHOLD:
        return io.BytesIO(_inflate(rest.read())), False, closers
    stream = igzip.open(rest, "rb")
    closers.append(stream)
    return stream, True, closers


def _inflate(data: bytes) -> bytes:
    try:
        return igzip.decompress(data)
    except _INFLATE_ERRORS as e:
        raise SegmentFormatError(f"not a complete gzip stream: {e}") from e


def _peek_header(stream: IO[bytes]) -> tuple[bytes, bytes]:
    """Read until the first newline; return (header line without BOM/EOL, everything read)."""
    buf = b""
    while b"\n" not in buf:
        chunk = stream.read(_PEEK)
        if not chunk:
            break
        buf += chunk
    head = buf[3:] if buf.startswith(UTF8_BOM) else buf
    line = head.split(b"\n", 1)[0].rstrip(b"\r")
    return line, head


def _sniff_delimiter(header: bytes) -> str:
    """Tab unless the header has no tab but has commas (Apple's few comma-separated reports)."""
    if b"\t" in header:
        return "\t"
    if b"," in header:
        return ","
    return "\t"

# --------------------------------------------------------------------------- parse


def read_table(
    source: Source,
    *,
    delimiter: str | None = None,
    use_threads: bool | None = None,
) -> pa.Table:
    """Parse one segment (gzip or plain bytes, a path, or a binary file) into a typed Arrow table.

    Column names are snake_case; see the module docstring for the typing rules.
    ``delimiter=None`` sniffs it from the header line. Raises ``SegmentFormatError``.
    """
    rereadable = isinstance(source, (bytes, bytearray, memoryview, str, os.PathLike))
    if rereadable:
        # ISO dates parsed by Arrow's converter, in its threads; any other spelling → text, then cast
        try:
            return _read(source, delimiter, use_threads, pa.timestamp("ns"))
        except SegmentFormatError:
            pass
    return _read(source, delimiter, use_threads, pa.string())


#: ``read_tables`` parses at most this many decompressed bytes in one pyarrow call.
_BATCH_BYTES = 32 << 20


def read_tables(paths: list[str | os.PathLike[str]]) -> list[pa.Table]:
    """``[read_table(p) for p in paths]``, with small tab-separated files read in one pyarrow call.

    Apple's segments are often tiny (a few KB), and then pyarrow's fixed cost per call (and,
    with many threads, a GIL hand-off per call) dominates. Files under 1 MB whose header lines
    are identical are inflated, their bodies concatenated under one header, parsed once and
    returned as zero-copy slices, one per file, in order. A file is read on its own (exactly
    as ``read_table`` would) when it is large, empty, not tab-separated, has a carriage return
    or an empty line (so its row count is not its line count), or when the combined parse
    fails or yields another row count — then each file of that group is read on its own, so
    an error names the bad file's content exactly as ``read_table`` does.

    Column types are inferred over the group, so a count column that is integral in one file
    and fractional in another comes back as float in both (what ``unify_tables`` would make of
    the separate tables anyway).
    """
    out: list[pa.Table | None] = [None] * len(paths)
    groups: dict[bytes, list[tuple[int, bytes, int]]] = {}
    for k, path in enumerate(paths):
        body = _small_tab_body(path)
        if body is None:
            out[k] = read_table(path)
            continue
        header, rest, rows = body
        groups.setdefault(header, []).append((k, rest, rows))
    for header, members in groups.items():
        chunk: list[tuple[int, bytes, int]] = []
        size = 0
        for member in members:  # split a group too big for one call
            if chunk and size + len(member[1]) > _BATCH_BYTES:
                _read_group(header, chunk, paths, out)
                chunk, size = [], 0
            chunk.append(member)
            size += len(member[1])
        _read_group(header, chunk, paths, out)
    return out  # type: ignore[return-value]


def _small_tab_body(path: str | os.PathLike[str]) -> tuple[bytes, bytes, int] | None:
    """(header line, body ending in a newline, row count) of a small plain-tab file, else ``None``."""
    try:
        with open(path, "rb") as f:
            data = f.read(_STREAM_THRESHOLD + 1)
    except OSError:
        return None
    if len(data) > _STREAM_THRESHOLD:
        return None
    if data[:2] == GZIP_MAGIC:
        try:
            data = igzip.decompress(data)
        except _INFLATE_ERRORS:
            return None
    if data.startswith(UTF8_BOM):
        data = data[3:]
    header, sep, rest = data.partition(b"\n")
    if (not sep or not header.strip() or b"\t" not in header or b"\r" in data or b'"' in header
            or rest.startswith(b"\n") or b"\n\n" in rest):
        return None
    if rest and not rest.endswith(b"\n"):
        rest += b"\n"
    return header, rest, rest.count(b"\n")


def _read_group(header: bytes, members: list[tuple[int, bytes, int]], paths: list, out: list) -> None:
    if len(members) > 1:
        try:
            table = _read(header + b"\n" + b"".join(m[1] for m in members), "\t", False, pa.timestamp("ns"))
        except SegmentFormatError:
            table = None
        if table is not None and table.num_rows == sum(m[2] for m in members):
            offset = 0
            for k, _, rows in members:
                out[k] = table.slice(offset, rows)
                offset += rows
            return
    for k, _, _ in members:
        out[k] = read_table(paths[k])


def _read(source: Source, delimiter: str | None, use_threads: bool | None, date_type: pa.DataType) -> pa.Table:
    stream, streaming, closers = _open(source)
    try:
        try:
            header, head = _peek_header(stream)
        except _INFLATE_ERRORS as e:
            raise SegmentFormatError(f"not a complete gzip stream: {e}") from e
        if not header.strip():
            return pa.table({})
        delim = delimiter or _sniff_delimiter(header)
        try:
            text = header.decode("utf-8")
        except UnicodeDecodeError as e:
            raise SegmentFormatError(f"header is not UTF-8: {e}") from e
        try:
            raw_names = next(iter(_split_header(text, delim)))
        except csv.Error as e:  # e.g. a stray carriage return inside an unquoted header name
            raise SegmentFormatError(f"unreadable header line {text[:80]!r}: {e}") from e
        names = snake_columns(raw_names)
        column_types = {n: date_type for n in names if _is_date_name(n)}
        column_types.update({n: pa.string() for n in names if n not in column_types and _is_dimension_name(n)})
        threads = streaming if use_threads is None else use_threads
        # small inputs: one in-memory buffer, read by Arrow without calling back into Python
        body = _Prefixed(head, stream) if streaming else pa.BufferReader(head + stream.read())
        try:
            table = pacsv.read_csv(
                body,
                read_options=pacsv.ReadOptions(
                    column_names=names, skip_rows=1, use_threads=threads, block_size=1 << 20
                ),
                parse_options=pacsv.ParseOptions(
                    delimiter=delim,
                    # RFC 4180 quoting for comma files; none for tab files, whose writers turn
                    # tabs/newlines into spaces, so a value starting with '"' stays literal
                    quote_char='"' if delim == "," else False,
                    newlines_in_values=delim == ",",
                ),
                convert_options=pacsv.ConvertOptions(
                    column_types=column_types,
                    null_values=[""],
                    strings_can_be_null=True,
                    quoted_strings_can_be_null=True,
                ),
            )
        except (pa.ArrowInvalid, *_INFLATE_ERRORS) as e:
            raise SegmentFormatError(f"unreadable segment: {e}") from e
    finally:
        for c in reversed(closers):
            c.close()
    return _finish(table)


def _split_header(text: str, delim: str) -> Iterable[list[str]]:
    if '"' not in text:
        return [text.split(delim)]
    import csv

    return csv.reader([text], delimiter=delim)


def _to_timestamp(col: pa.ChunkedArray) -> pa.ChunkedArray:
    """ISO dates (Apple's format) fast; a few other spellings as a fallback; else leave text."""
    if pa.types.is_timestamp(col.type):
        return col.cast(pa.timestamp("ns"))
    if pa.types.is_date(col.type):
        return col.cast(pa.timestamp("ns"))
    if not pa.types.is_string(col.type) and not pa.types.is_large_string(col.type):
        if pa.types.is_null(col.type):
            return col.cast(pa.timestamp("ns"))
        return col
    try:
        return col.cast(pa.date32()).cast(pa.timestamp("ns"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    for fmt in ("%Y-%m-%dT%H:%M:%S", "%Y%m%d", "%m/%d/%Y"):
        try:
            return pc.strptime(col, format=fmt, unit="ns")
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
    return col


def _finish(table: pa.Table) -> pa.Table:
    cols = []
    for name, col in zip(table.column_names, table.columns, strict=False):
        if _is_date_name(name):
            col = _to_timestamp(col)
        elif pa.types.is_null(col.type):
            col = col.cast(pa.string() if _is_dimension_name(name) else pa.int64())
        cols.append(col)
    return pa.Table.from_arrays(cols, names=table.column_names)

_PANDAS_TYPES = {
    pa.int64(): pd.Int64Dtype(),
    pa.int32(): pd.Int64Dtype(),
    pa.float64(): pd.Float64Dtype(),
    pa.bool_(): pd.BooleanDtype(),
}


def arrow_to_pandas(table: pa.Table) -> pd.DataFrame:
    """Arrow → pandas with nullable dtypes (so a blank count is ``<NA>``, not ``0`` or ``NaN``)."""
    return table.to_pandas(types_mapper=_PANDAS_TYPES.get, split_blocks=True)


def parse_segment(source: Source, *, delimiter: str | None = None) -> pd.DataFrame:
    """Parse one segment into a typed DataFrame (see ``read_table``)."""
    return arrow_to_pandas(read_table(source, delimiter=delimiter))


# --------------------------------------------------------------------------- combine


def unify_tables(tables: list[pa.Table]) -> pa.Table:
    """Concatenate segment tables by column *name* (Apple may reorder columns between files).

    Missing columns are filled with nulls; int/float promote to float; a column that is a
    number in one segment and text in another becomes text rather than failing.
    """
    tables = [t for t in tables if t.num_columns]
    if not tables:
        return pa.table({})
    if len(tables) == 1:
        return tables[0]
    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        pass
    kinds: dict[str, set[pa.DataType]] = {}
    for t in tables:
        for f in t.schema:
            kinds.setdefault(f.name, set()).add(f.type)
    text = {n for n, ts in kinds.items() if len(ts) > 1}
    fixed = []
    for t in tables:
        cols = [c.cast(pa.string()) if n in text else c for n, c in zip(t.column_names, t.columns, strict=False)]
        fixed.append(pa.Table.from_arrays(cols, names=t.column_names))
    return pa.concat_tables(fixed, promote_options="permissive")

