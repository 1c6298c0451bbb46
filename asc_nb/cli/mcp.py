"""``python -m asc_nb mcp --store DIR``: serve a store read-only to an MCP client over stdio.

The client (Jupyter AI, a desktop assistant) starts this command and talks JSON-RPC on its
stdin/stdout; nothing else is ever written to stdout. Exit status: 0 when the client closed the
connection, 2 for a bad store path or a missing ``mcp`` package (``pip install "asc-nb[mcp]"``).
The server never calls Apple and drops the ``ASC_*`` key variables from its environment.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def run(args: argparse.Namespace) -> int:
    """Serve until the client disconnects; the exit status (see the module docstring)."""
    from asc_nb.errors import ASCError

    try:
        import mcp  # noqa: F401
    except ImportError:
        print('asc_nb mcp: the MCP SDK is not installed: pip install "asc-nb[mcp]"', file=sys.stderr)
        return 2
    from asc_nb.mcp.server import serve_stdio

    try:
        serve_stdio(args.store, max_rows=args.max_rows, sql_timeout=args.timeout)
    except ASCError as err:
        print(f"asc_nb mcp: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    return 0


def add_parser(sub: Any) -> None:
    """The ``mcp`` subcommand's arguments."""
    p = sub.add_parser(
        "mcp",
        help="serve a store read-only to an MCP client (stdio)",
        description="A read-only Model Context Protocol server over a local store (asc_nb.Store) and the "
        "metric catalog, on stdin/stdout. See docs/mcp.md to connect Jupyter AI or a desktop client.",
    )
    p.add_argument("--store", required=True, metavar="DIR", help="the store's directory (made by a sync)")
    p.add_argument(
        "--max-rows",
        type=int,
        default=1000,
        metavar="N",
        help="most rows one answer (sql, metrics, health) may carry",
    )
    p.add_argument(
        "--timeout", type=float, default=10.0, metavar="S", help="longest a sql query may run (seconds)"
    )
    p.set_defaults(run=run)
