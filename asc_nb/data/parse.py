"""Segment bytes → typed table, typed from the report registry.

Apple delivers each segment as gzip'd, tab-separated text with a header line (a few reports
are comma-separated, some files start with a UTF-8 BOM). Parsing is the hot loop of every
fetch, so it is built for speed: ISA-L (``isal``) inflates about twice as fast as zlib, and
the inflating stream is handed to pyarrow's multithreaded CSV reader so decompression of
block *n+1* overlaps parsing of block *n* (isal releases the GIL).

With a report name (what ``fetch`` and ``read_instance`` pass) every column's type comes from
:mod:`asc_nb.registry` — counts and identifiers ``Int64``, amounts ``Float64``, dates
``datetime64[ns]``, dimensions text — and is handed to pyarrow up front, so no value can change
a column's type. A value that does not fit its column (``1,000`` in a count, ``02/26/2026`` in a
date, a number beyond int64, bytes that are not UTF-8) is found by re-reading the file as text,
only on that error path, and then either raises :class:`~asc_nb.errors.SegmentFormatError`
naming segment, line, column and value (``errors="raise"``) or becomes a missing cell listed in
the table's notes (``errors="coerce"``, see :func:`table_notes`). A column the registry does not
know is kept as text; it and any documented column the file lacks are noted as schema drift.

Without a report (``report=None``, or a report the registry has no fields for), typing is by
column name, as before the registry existed, because pyarrow's inference alone corrupts
dimensions: App Version ``1.10`` would become the float ``1.1`` and Territory ``NA`` (Namibia)
a null. The frame's ``attrs["typing"]`` says which rule applied (``"registry"`` or ``"names"``). So:

* ``date`` and ``*_date`` columns → ``datetime64[ns]``;
* dimension-like names (``…version``, ``…type``, ``territory``, ``…name`` …) → string;
* everything else is inferred (counts → nullable ``Int64``, fractions → ``Float64``);
* only an empty field is missing (never ``0``, never the text ``NA``); unknown columns are kept.
"""

from __future__ import annotations

import csv
import io
import json
import os
import warnings
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import IO, Any, Literal, Union

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from isal import igzip, igzip_lib

from .. import registry
from ..errors import CellConversionError as _ConversionError
from ..errors import ParseIssuesWarning, SchemaDriftWarning, SegmentFormatError
from ..models import snake

__all__ = [
    "ERRORS",
    "SegmentFormatError",
    "arrow_to_pandas",
    "empty_table",
    "notes_to_attrs",
    "strip_notes",
    "table_notes",
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
_MEASURE_LAST = frozenset(
    {
        "count",
        "counts",
        "sessions",
        "devices",
        "users",
        "views",
        "crashes",
        "seconds",
        "ms",
        "milliseconds",
        "duration",
        "total",
        "sum",
        "average",
        "avg",
        "mean",
        "median",
        "rate",
        "ratio",
        "percent",
        "percentage",
        "bytes",
        "kb",
        "mb",
        "gb",
        "hours",
        "minutes",
        "events",
        "installs",
        "deletions",
        "downloads",
        "impressions",
        "taps",
        "units",
        "value",
        "amount",
    }
)
#: A name containing one of these words is a dimension: kept as text, never coerced to a number.
_DIMENSION_WORDS = frozenset(
    {
        "name",
        "id",
        "version",
        "device",
        "type",
        "territory",
        "source",
        "info",
        "campaign",
        "page",
        "title",
        "event",
        "platform",
        "language",
        "locale",
        "country",
        "region",
        "model",
        "os",
        "category",
        "bundle",
        "code",
        "status",
        "reason",
        "mode",
        "state",
        "method",
        "kind",
        "format",
        "interface",
        "network",
        "order",
        "genre",
        "url",
        "domain",
        "account",
        "sku",
        "currency",
        "family",
        "class",
        "bucket",
        "range",
        "tier",
        "channel",
        "build",
    }
)


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

#: ``typer(header names as written, snake_case names) -> {column: Arrow type to declare}``
Typer = Callable[[list[str], list[str]], dict[str, pa.DataType]]
#: the accepted values of ``errors=``
ERRORS = ("raise", "coerce")
Errors = Literal["raise", "coerce"]
ReportArg = Union[str, "registry.ReportSchema", None]  # noqa: UP007 - 3.10 runtime alias

#: registry kind -> the Arrow type handed to pyarrow's CSV reader (pandas: Int64/Float64/datetime64/str)
_ARROW_TYPES: dict[str, pa.DataType] = {
    "date": pa.timestamp("ns"),
    "dimension": pa.string(),
    "count": pa.int64(),
    "identifier": pa.int64(),
    "amount": pa.float64(),
}
_EXPECTED = {
    "date": "an ISO date (YYYY-MM-DD)",
    "dimension": "UTF-8 text",
    "count": "a whole number within int64",
    "identifier": "a whole number within int64",
    "amount": "a decimal number (a '.' for the decimal point)",
}
#: schema-metadata key under which a parsed table carries its notes (typing, issues, drift) as JSON
_NOTES = b"asc_nb.notes"


def check_errors(errors: str) -> None:
    """``errors`` must be ``"raise"`` or ``"coerce"`` (a ``ValueError`` saying so otherwise)."""
    if errors not in ERRORS:
        raise ValueError(f"errors must be 'raise' or 'coerce', got {errors!r}")


def resolve_report(
    report: ReportArg, *, strict: bool = True
) -> tuple[str | None, registry.ReportSchema | None]:
    """(report name for messages, schema to type by — None when the registry knows no fields for it).

    ``strict=False`` (what ``fetch`` uses): a name the registry does not know — a report Apple
    added since — falls back to typing by column name instead of raising ReportNotFoundError.
    """
    if report is None:
        return None, None
    if isinstance(report, registry.ReportSchema):
        schema = report
    else:
        try:
            schema = registry.get(str(report))
        except LookupError:
            if strict:
                raise
            return str(report), None
    return schema.name, (schema if schema.fields else None)


def _context(report: str | None, instance_id: str | None, segment_id: str | None) -> str:
    where = [report] if report else []
    if instance_id:
        where.append(f"instance {instance_id}")
    if segment_id:
        where.append(f"segment {segment_id}")
    return ", ".join(where)


def _located(
    e: SegmentFormatError, report: str | None, instance_id: str | None, segment_id: str | None
) -> SegmentFormatError:
    """``e`` with what is known of report, instance and segment filled in and named in the message."""
    where = _context(
        report if e.report is None else None,
        instance_id if e.instance_id is None else None,
        segment_id if e.segment_id is None else None,
    )
    if not where:
        return e
    return SegmentFormatError(
        f"{where}: {e}",
        report=e.report or report,
        instance_id=e.instance_id or instance_id,
        segment_id=e.segment_id or segment_id,
        line=e.line,
        column=e.column,
        value=e.value,
    )


def empty_table(schema: registry.ReportSchema) -> pa.Table:
    """No rows, the report's documented columns in file order, typed."""
    return pa.table({f.column: pa.array([], _ARROW_TYPES[f.kind]) for f in schema.fields})


def _with_notes(table: pa.Table, notes: dict[str, Any]) -> pa.Table:
    return table.replace_schema_metadata({_NOTES: json.dumps(notes).encode()})


def table_notes(table: pa.Table) -> dict[str, Any]:
    """What parsing noted about a table: ``typing`` ("registry"/"names"), ``issues`` ([line, column,
    value] of each value coerced to missing), ``added``/``missing`` (header names vs the registry)."""
    meta = table.schema.metadata or {}
    raw = meta.get(_NOTES)
    return json.loads(raw) if raw else {}


def strip_notes(table: pa.Table) -> pa.Table:
    """The table without its notes (so tables concatenate and Parquet files carry no stale notes)."""
    return table.replace_schema_metadata(None) if table.schema.metadata else table


def notes_to_attrs(
    parts: Sequence[tuple[str | None, dict[str, Any]]],
    attrs: dict[str, Any],
    *,
    report: str | None,
    stacklevel: int,
) -> None:
    """Fold the notes of parsed segments ``(segment_id, notes)`` into a frame's ``attrs``, warning once each.

    ``attrs["typing"]``; with coerced values ``attrs["parse_issues"]`` (DataFrame: segment, line,
    column, value) and one :class:`ParseIssuesWarning`; with drift ``attrs["schema_drift"]``
    (``{"added": [...], "missing": [...]}``) and one :class:`SchemaDriftWarning`.
    """
    typing = {n["typing"] for _, n in parts if n.get("typing")}
    if typing:
        attrs["typing"] = "registry" if typing == {"registry"} else "names"
    rows = [(seg, line, col, val) for seg, n in parts for line, col, val in n.get("issues", ())]
    name = report or "segment"
    if rows:
        issues = pd.DataFrame(rows, columns=["segment", "line", "column", "value"])
        issues["line"] = issues["line"].astype("Int64")
        attrs["parse_issues"] = issues
        segs = len({r[0] for r in rows})
        warnings.warn(
            f"{name}: {len(rows)} value(s) in {segs} segment(s) did not fit their column and are missing "
            "(errors='coerce'); df.attrs['parse_issues'] lists segment, line, column and value",
            ParseIssuesWarning,
            stacklevel=stacklevel + 1,
        )
    added = list(dict.fromkeys(c for _, n in parts for c in n.get("added", ())))
    missing = list(dict.fromkeys(c for _, n in parts for c in n.get("missing", ())))
    if added or missing:
        attrs["schema_drift"] = {"added": added, "missing": missing}
        said = []
        if added:
            said.append(f"column(s) Apple's documentation does not list, kept as text: {', '.join(added)}")
        if missing:
            said.append(f"documented column(s) absent from the file: {', '.join(missing)}")
        warnings.warn(
            f"{name}: the file differs from the report registry — {'; '.join(said)} "
            "(see df.attrs['schema_drift'])",
            SchemaDriftWarning,
            stacklevel=stacklevel + 1,
        )


def _name_types(date_type: pa.DataType) -> Typer:
    def typer(raw: list[str], names: list[str]) -> dict[str, pa.DataType]:
        types = {n: date_type for n in names if _is_date_name(n)}
        types.update({n: pa.string() for n in names if n not in types and _is_dimension_name(n)})
        return types

    return typer


def read_table(
    source: Source,
    *,
    delimiter: str | None = None,
    use_threads: bool | None = None,
    report: ReportArg = None,
    errors: Errors = "raise",
    instance_id: str | None = None,
    segment_id: str | None = None,
) -> pa.Table:
    """Parse one segment (gzip or plain bytes, a path, or a binary file) into a typed Arrow table.

    Column names are snake_case. With ``report`` (a name or a registry schema) types come from
    the registry; without, from column names (see the module docstring). ``delimiter=None``
    sniffs it from the header line. Raises ``SegmentFormatError`` naming report, instance and
    segment as far as given; the table's :func:`table_notes` carry coerced values and drift.
    """
    check_errors(errors)
    name, schema = resolve_report(report)
    if not isinstance(source, (bytes, bytearray, memoryview, str, os.PathLike)):
        source = source.read()  # a file object: read once, so the error path can read it again
    try:
        if schema is None:
            try:  # ISO dates parsed by Arrow's converter, in its threads; any other spelling → text, then cast
                table = _read(source, delimiter, use_threads, _name_types(pa.timestamp("ns")))
            except SegmentFormatError:
                table = _read(source, delimiter, use_threads, _name_types(pa.string()))
            return _with_notes(_finish(table), {"typing": "names"})
        return _read_typed(source, delimiter, use_threads, schema, errors)
    except SegmentFormatError as e:
        raise _located(e, name, instance_id, segment_id) from e


def _read_typed(
    source: Source,
    delimiter: str | None,
    use_threads: bool | None,
    schema: registry.ReportSchema,
    errors: Errors,
) -> pa.Table:
    known = {f.column: f for f in schema.fields}
    header: dict[str, list[str]] = {}

    def typer(raw: list[str], names: list[str]) -> dict[str, pa.DataType]:
        header["raw"], header["names"] = raw, names
        return {n: _ARROW_TYPES[known[n].kind] if n in known else pa.string() for n in names}

    issues: list[list[Any]] = []
    try:
        table = _read(source, delimiter, use_threads, typer, locate=True)
    except _ConversionError:
        table, issues = _read_located(source, delimiter, typer, known, errors)
    if not header:  # an empty file: not even a header line
        return _with_notes(empty_table(schema), {"typing": "registry"})
    names = set(header["names"])
    notes: dict[str, Any] = {"typing": "registry"}
    if issues:
        notes["issues"] = issues
    added = [raw for raw, n in zip(header["raw"], header["names"], strict=True) if n not in known]
    missing = [f.name for f in schema.fields if f.column not in names]
    if added:
        notes["added"] = added
    if missing:
        notes["missing"] = missing
    return _with_notes(table, notes)


def _read_located(
    source: Source, delimiter: str | None, typer: Typer, known: dict[str, registry.Field], errors: Errors
) -> tuple[pa.Table, list[list[Any]]]:
    """The error path: read every column as bytes, convert each, and locate the cells that do not fit.

    Line numbers count the header as line 1 (Apple's files have no blank lines, which Arrow skips).
    """
    types: dict[str, pa.DataType] = {}

    def as_bytes(raw: list[str], names: list[str]) -> dict[str, pa.DataType]:
        types.update(typer(raw, names))
        return {n: pa.binary() for n in names}

    table = _read(source, delimiter, False, as_bytes)
    bad: list[tuple[int, int, str, str, bool]] = []  # (row, column position, column, value, not UTF-8)
    cols = []
    for pos, (name, col) in enumerate(zip(table.column_names, table.columns, strict=True)):
        arr = col.combine_chunks()
        text, wrong = _as_text(arr)
        bad += [(row, pos, name, value, True) for row, value in wrong]
        target = types[name]
        if target != pa.string():
            text, wrong = _as_type(text, target)
            bad += [(row, pos, name, value, False) for row, value in wrong]
        cols.append(text)
    bad.sort()
    if bad and errors == "raise":
        row, _, column, value, utf8 = bad[0]
        field = known.get(column)
        kind = field.kind if field else "dimension"
        label = f"{column!r} ({field.name}, {kind})" if field else f"{column!r} (not in the registry, text)"
        more = f"; {len(bad) - 1} more value(s) in this segment do not fit either" if len(bad) > 1 else ""
        expected = "UTF-8 text (invalid UTF8)" if utf8 else _EXPECTED[kind]
        raise SegmentFormatError(
            f"line {row + 2}, column {label}: value {value!r} is not {expected}{more}. "
            "The file is not as Apple documents the report: pass errors='coerce' to keep its rows with such "
            "cells missing (listed in df.attrs['parse_issues'])",
            line=row + 2,
            column=column,
            value=value,
        )
    issues = [[row + 2, column, value] for row, _, column, value, _ in bad]
    return pa.Table.from_arrays(cols, names=table.column_names), issues


def _as_text(arr: pa.Array) -> tuple[pa.Array, list[tuple[int, str]]]:
    """Binary → UTF-8 text; cells that are not UTF-8 become null and are returned (row, shown value)."""
    try:
        return arr.cast(pa.string()), []
    except pa.ArrowInvalid:
        pass
    out: list[str | None] = []
    wrong: list[tuple[int, str]] = []
    for row, raw in enumerate(arr.to_pylist()):
        if raw is None:
            out.append(None)
            continue
        try:
            out.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            wrong.append((row, raw.decode("utf-8", "backslashreplace")))
            out.append(None)
    return pa.array(out, pa.string()), wrong


#: cells these match surely convert (checked in one vectorised call); the rest are tried one by one
_INT = r"^-?[0-9]{1,18}$"
_FLOAT = r"^-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?$"


def _as_type(text: pa.Array, target: pa.DataType) -> tuple[pa.Array, list[tuple[int, str]]]:
    """Text → ``target``; cells that do not convert become null and are returned (row, value)."""
    try:
        return text.cast(target), []
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    if pa.types.is_integer(target):
        fine = pc.match_substring_regex(text, _INT)
    elif pa.types.is_floating(target):
        fine = pc.match_substring_regex(text, _FLOAT)
    else:
        fine = pc.is_valid(pc.strptime(text, format="%Y-%m-%d", unit="ns", error_is_null=True))
    suspects = pc.indices_nonzero(pc.invert(pc.fill_null(fine, True))).to_pylist()
    wrong = _try_each(text, suspects, target)
    try:
        return _null_out(text, wrong).cast(target), wrong
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # the vectorised check passed a bad cell
        wrong = _try_each(text, pc.indices_nonzero(pc.is_valid(text)).to_pylist(), target)
        return _null_out(text, wrong).cast(target), wrong


def _try_each(text: pa.Array, rows: list[int], target: pa.DataType) -> list[tuple[int, str]]:
    """The (row, value) of each of ``rows`` that Arrow cannot cast to ``target`` on its own."""
    wrong: list[tuple[int, str]] = []
    for row in rows:
        value = text[row].as_py()
        try:
            pa.array([value], pa.string()).cast(target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            wrong.append((row, value))
    return wrong


def _null_out(text: pa.Array, wrong: list[tuple[int, str]]) -> pa.Array:
    if not wrong:
        return text
    mask = [False] * len(text)
    for row, _ in wrong:
        mask[row] = True
    return pc.if_else(pa.array(mask), pa.scalar(None, pa.string()), text)


#: ``read_tables`` parses at most this many decompressed bytes in one pyarrow call.
_BATCH_BYTES = 32 << 20


def read_tables(
    paths: list[str | os.PathLike[str]],
    *,
    report: ReportArg = None,
    errors: Errors = "raise",
    ids: Sequence[tuple[str | None, str | None]] | None = None,
) -> list[pa.Table]:
    """``[read_table(p, report=report, errors=errors) for p in paths]``, small tab-separated files in one call.

    ``ids`` are each path's (instance id, segment id), named in errors and kept for notes.
    Apple's segments are often tiny (a few KB), and then pyarrow's fixed cost per call (and,
    with many threads, a GIL hand-off per call) dominates. Files under 1 MB whose header lines
    are identical are inflated, their bodies concatenated under one header, parsed once and
    returned as zero-copy slices, one per file, in order. A file is read on its own (exactly
    as ``read_table`` would) when it is large, empty, not tab-separated, has a carriage return
    or an empty line (so its row count is not its line count), or when the combined parse
    fails (a value that does not fit, say) or yields another row count — then each file of that
    group is read on its own, so an error or a coerced value names the file and line exactly.

    Without a registry schema, column types are inferred over the group, so a count column that
    is integral in one file and fractional in another comes back as float in both (what
    ``unify_tables`` would make of the separate tables anyway).
    """
    check_errors(errors)
    _, schema = resolve_report(report)
    ids = list(ids) if ids is not None else [(None, None)] * len(paths)

    def one(k: int) -> pa.Table:
        return read_table(paths[k], report=report, errors=errors, instance_id=ids[k][0], segment_id=ids[k][1])

    out: list[pa.Table | None] = [None] * len(paths)
    groups: dict[bytes, list[tuple[int, bytes, int]]] = {}
    for k, path in enumerate(paths):
        body = _small_tab_body(path)
        if body is None:
            out[k] = one(k)
            continue
        header, rest, rows = body
        groups.setdefault(header, []).append((k, rest, rows))
    for header, members in groups.items():
        chunk: list[tuple[int, bytes, int]] = []
        size = 0
        for member in members:  # split a group too big for one call
            if chunk and size + len(member[1]) > _BATCH_BYTES:
                _read_group(header, chunk, schema, one, out)
                chunk, size = [], 0
            chunk.append(member)
            size += len(member[1])
        _read_group(header, chunk, schema, one, out)
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
    if (
        not sep
        or not header.strip()
        or b"\t" not in header
        or b"\r" in data
        or b'"' in header
        or rest.startswith(b"\n")
        or b"\n\n" in rest
    ):
        return None
    if rest and not rest.endswith(b"\n"):
        rest += b"\n"
    return header, rest, rest.count(b"\n")


def _read_group(
    header: bytes,
    members: list[tuple[int, bytes, int]],
    schema: registry.ReportSchema | None,
    one: Callable[[int], pa.Table],
    out: list,
) -> None:
    if len(members) > 1:
        blob = header + b"\n" + b"".join(m[1] for m in members)
        try:
            if schema is None:
                table = _with_notes(
                    _finish(_read(blob, "\t", False, _name_types(pa.timestamp("ns")))), {"typing": "names"}
                )
            else:
                table = _read_typed(blob, "\t", False, schema, "raise")
        except SegmentFormatError:
            table = None
        if table is not None and table.num_rows == sum(m[2] for m in members):
            offset = 0
            for k, _, rows in members:
                out[k] = table.slice(offset, rows)
                offset += rows
            return
    for k, _, _ in members:
        out[k] = one(k)


def _read(
    source: Source, delimiter: str | None, use_threads: bool | None, typer: Typer, *, locate: bool = False
) -> pa.Table:
    """One pyarrow read; ``typer(raw header names, snake names)`` gives the declared column types.

    ``locate=True``: a cell that does not convert raises :class:`_ConversionError` (the caller
    then finds it); otherwise every pyarrow failure is a ``SegmentFormatError``.
    """
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
        column_types = typer(list(raw_names), names)
        threads = streaming if use_threads is None else use_threads
        if streaming:
            body = _Prefixed(head, stream)
        else:
            data = head + stream.read()
            eol = data.find(b"\n")
            if eol < 0 or (len(data) - eol <= 64 and not data[eol + 1 :].strip(b"\r\n")):  # header only
                return pa.table({n: pa.array([], column_types.get(n, pa.null())) for n in names})
            # small inputs: one in-memory buffer, read by Arrow without calling back into Python
            body = pa.BufferReader(data)
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
        except pa.ArrowInvalid as e:
            if locate and "conversion error" in str(e):
                raise _ConversionError(str(e)) from e
            raise SegmentFormatError(f"unreadable segment: {e}") from e
        except _INFLATE_ERRORS as e:
            raise SegmentFormatError(f"unreadable segment: {e}") from e
    finally:
        for c in reversed(closers):
            c.close()
    return table


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


def parse_segment(
    source: Source, *, report: ReportArg = None, errors: Errors = "raise", delimiter: str | None = None
) -> pd.DataFrame:
    """Parse one segment (gzip or plain bytes, a path, a binary file) into a typed DataFrame.

    ``report``: the report's name (or a registry schema) — each column's dtype then comes from
    :mod:`asc_nb.registry`, never from the values; an unknown name raises ``ReportNotFoundError``.
    ``None``: typed by column name, as ``attrs["typing"] == "names"`` says. ``errors="raise"``:
    a value that does not fit its column raises ``SegmentFormatError`` (line, column, value);
    ``"coerce"``: it becomes missing, ``attrs["parse_issues"]`` lists it, one ``ParseIssuesWarning``.
    Header columns the registry does not know, or documented ones absent, give ``SchemaDriftWarning``.
    """
    table = read_table(source, delimiter=delimiter, report=report, errors=errors)
    notes = table_notes(table)
    frame = arrow_to_pandas(strip_notes(table))
    notes_to_attrs([(None, notes)], frame.attrs, report=resolve_report(report)[0], stacklevel=2)
    return frame


# --------------------------------------------------------------------------- combine


def unify_tables(tables: list[pa.Table]) -> pa.Table:
    """Concatenate segment tables by column *name* (Apple may reorder columns between files).

    Missing columns are filled with nulls; int/float promote to float; a column that is a
    number in one segment and text in another becomes text rather than failing (registry-typed
    tables never differ in type). Each table's :func:`table_notes` are dropped.
    """
    tables = [strip_notes(t) for t in tables if t.num_columns]  # notes are per segment: read them first
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
        cols = [
            c.cast(pa.string()) if n in text else c for n, c in zip(t.column_names, t.columns, strict=False)
        ]
        fixed.append(pa.Table.from_arrays(cols, names=t.column_names))
    return pa.concat_tables(fixed, promote_options="permissive")
