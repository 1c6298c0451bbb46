"""``python -m asc_nb mcp --store DIR``: a read-only MCP server over a Store and the metric catalog.

Why: an analyst (Jupyter AI, a desktop MCP client) asks in words and gets the store's exact numbers —
latest vintage per date, unique counts never summed — with where they came from and the Python that
reproduces them. The answers (:mod:`asc_nb.mcp.answers`) and the read-only SQL guard
(:mod:`asc_nb.mcp.sql`) need only the core; the server (:mod:`asc_nb.mcp.server`) needs the ``mcp`` extra
(``pip install "asc-nb[mcp]"``). How to connect a client: docs/mcp.md.
"""

from __future__ import annotations

__all__: list[str] = []
