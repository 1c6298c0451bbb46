"""Read-only SQL over a store's lake for the MCP ``sql`` tool: one SELECT, the lake's views, bounded.

Why a guard of its own: a model writes the SQL, so the query is untrusted input. Four layers, each
enough for what it stops:

1. **One SELECT.** :func:`duckdb.extract_statements` must find exactly one statement, of type
   SELECT (``DESCRIBE``/``SHOW``/``SUMMARIZE`` are SELECTs too). ``INSERT``, ``CREATE``, ``COPY``,
   ``ATTACH``, ``INSTALL``/``LOAD``, ``PRAGMA``, ``SET``, ``CALL``, ``EXPORT`` … are refused before
   DuckDB runs anything.
2. **Views, not files.** The statement's syntax tree (``json_serialize_sql``) may call only the
   table functions in :data:`TABLE_FUNCTIONS` (``range``, ``unnest``…): ``read_csv``,
   ``read_parquet``, ``glob``, ``read_text``, ``query`` and every other reader are refused by name.
3. **The engine itself.** The connection is built by :meth:`asc_nb.Store.duckdb` (its views are the
   store's own), then ``allowed_directories`` is the lake alone, ``enable_external_access`` is off
   (no other file, no network, no extension), no spill directory, and ``lock_configuration`` is on
   so no later statement can undo any of it. The in-memory catalog holds only views.
4. **Limits.** A query runs at most ``timeout`` seconds (then ``interrupt()``), may return at most
   ``max_rows`` rows (more is an error that says to aggregate or add ``LIMIT``), and DuckDB's
   ``memory_limit`` bounds what it may hold.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

from asc_nb.errors import QueryError

__all__ = ["TABLE_FUNCTIONS", "ReadOnlySQL", "check_query"]

#: table functions a query may call: none of them reads a file or the network
TABLE_FUNCTIONS = frozenset({"range", "generate_series", "unnest"})
#: the longest query text accepted (a question, not a data dump)
MAX_QUERY_CHARS = 20_000


def _nodes(tree: Any) -> Iterator[dict[str, Any]]:
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            yield node
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def check_query(query: str) -> str:
    """The query, stripped, if it is one SELECT over views; else :class:`QueryError` saying why."""
    import duckdb

    if not isinstance(query, str) or not query.strip():
        raise QueryError(
            "the query is empty: write one SELECT over the store's views (list_reports names them)"
        )
    if len(query) > MAX_QUERY_CHARS:
        raise QueryError(f"the query is {len(query)} characters long; the limit is {MAX_QUERY_CHARS}")
    try:
        statements = duckdb.extract_statements(query)
    except duckdb.Error as err:
        raise QueryError(f"the query does not parse: {_first_line(err)}") from None
    if len(statements) != 1:
        raise QueryError(f"the query holds {len(statements)} statements; send exactly one SELECT")
    kind = statements[0].type
    if kind != duckdb.StatementType.SELECT:
        raise QueryError(
            f"only SELECT is allowed (this is {kind.name}): the MCP server is read-only — it never "
            "writes, attaches, copies, installs, loads or changes settings"
        )
    with duckdb.connect() as con:
        text = con.execute("select json_serialize_sql(?)", [query]).fetchone()[0]
    tree = json.loads(text)
    if tree.get("error"):
        raise QueryError(f"the query cannot be checked: {tree.get('error_message')}")
    for node in _nodes(tree):
        if node.get("type") == "TABLE_FUNCTION":
            name = str((node.get("function") or {}).get("function_name", "")).lower()
            if name not in TABLE_FUNCTIONS:
                raise QueryError(
                    f"the table function {name}() is not allowed: the sql tool reads only the store's views "
                    f"(one per report × granularity, e.g. app_sessions_standard_daily; list_reports names them), "
                    f"never files. Allowed table functions: {', '.join(sorted(TABLE_FUNCTIONS))}"
                )
    return query.strip()


def _first_line(err: BaseException) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__


class ReadOnlySQL:
    """A locked-down DuckDB connection over one store's views (see the module docstring)."""

    def __init__(
        self,
        store: Any,
        *,
        max_rows: int = 1000,
        timeout: float = 10.0,
        memory_limit: str = "1GB",
        threads: int = 2,
    ) -> None:
        self.store = store
        self.max_rows = int(max_rows)
        self.timeout = float(timeout)
        self.memory_limit = memory_limit
        self.threads = int(threads)
        self._lock = threading.Lock()
        self._held: frozenset[str] = frozenset()
        self.con: Any = None
        self.connection()

    def _connect(self) -> Any:
        con = self.store.duckdb()
        lake = str(self.store.lake.resolve()).rstrip("/") + "/"
        for setting in (
            "set autoinstall_known_extensions = false",
            "set autoload_known_extensions = false",
            f"set memory_limit = '{self.memory_limit}'",
            f"set threads = {self.threads}",
            "set temp_directory = ''",
            f"set allowed_directories = ['{lake.replace(chr(39), chr(39) * 2)}']",
            "set enable_external_access = false",
            "set lock_configuration = true",
        ):
            con.execute(setting)
        return con

    def connection(self) -> Any:
        """The locked connection, rebuilt when the store holds other views than it has (a sync running beside
        a long-lived server adds reports; dates added to a known view are read anyway: views glob at query time)."""
        held = frozenset(self.store.views())
        if self.con is None or held != self._held:
            if self.con is not None:
                self.con.close()
            self.con, self._held = self._connect(), held
        return self.con

    def close(self) -> None:
        if self.con is not None:
            self.con.close()
            self.con = None

    def views(self) -> list[str]:
        """The view names the connection holds (the only things a query may read)."""
        return sorted(
            r[0]
            for r in self.connection()
            .execute("select view_name from duckdb_views() where not internal")
            .fetchall()
        )

    def run(
        self, query: str, *, max_rows: int | None = None
    ) -> tuple[list[str], list[str], list[tuple[Any, ...]]]:
        """(column names, DuckDB types, rows) of one checked SELECT, within the limits."""
        import duckdb

        limit = self.max_rows if max_rows is None else min(int(max_rows), self.max_rows)
        if limit < 1:
            raise QueryError(f"max_rows must be at least 1 (the server allows up to {self.max_rows})")
        text = check_query(query)
        con = self.connection()
        box: dict[str, Any] = {}

        def work() -> None:
            try:
                cur = con.cursor()
                try:
                    res = cur.execute(text)
                    box["columns"] = [d[0] for d in res.description or []]
                    box["types"] = [str(d[1]) for d in res.description or []]
                    box["rows"] = res.fetchmany(limit + 1)
                finally:
                    cur.close()
            except BaseException as err:  # handed to the caller's thread
                box["error"] = err

        with self._lock:
            worker = threading.Thread(target=work, name="asc-nb-mcp-sql", daemon=True)
            worker.start()
            worker.join(self.timeout)
            if worker.is_alive():
                con.interrupt()
                worker.join(5)
                raise QueryError(
                    f"the query ran longer than {self.timeout:g} s and was stopped: aggregate more, "
                    "narrow the dates, or add LIMIT"
                )
        err = box.get("error")
        if err is not None:
            if isinstance(err, duckdb.CatalogException) and "does not exist" in str(err):
                raise QueryError(
                    f"{_first_line(err)} The store's views: {', '.join(self.views()) or 'none yet'} "
                    "(one per report × granularity: snake_case name plus _daily/_weekly/_monthly)"
                ) from None
            if isinstance(err, duckdb.PermissionException):
                raise QueryError(
                    f"refused: {_first_line(err)} (the sql tool reads only the store's lake)"
                ) from None
            if isinstance(err, duckdb.Error):
                raise QueryError(f"DuckDB: {_first_line(err)}") from None
            raise err
        rows = box["rows"]
        if len(rows) > limit:
            raise QueryError(
                f"the query returns more than {limit} rows (the limit): aggregate (GROUP BY), narrow "
                "the dates or apps, or add LIMIT"
            )
        return box["columns"], box["types"], rows
