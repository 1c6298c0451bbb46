"""The command line's subcommands: one module each, with ``add_parser(sub)`` and ``run(args) -> int``.

``python -m asc_nb <command>`` (see :mod:`asc_nb.__main__`) builds one parser from :data:`COMMANDS`;
a new subcommand is a new module here plus one line in that tuple.
"""

from __future__ import annotations

from asc_nb.cli import check, mcp, report, sync

#: every subcommand module, in the order ``--help`` lists them
COMMANDS = (sync, check, report, mcp)
