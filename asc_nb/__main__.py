"""``python -m asc_nb <command>``: the command line (``sync`` for cron; see :mod:`asc_nb.cli`)."""

from __future__ import annotations

import argparse
import sys

from asc_nb.cli import COMMANDS
from asc_nb.cli.sync import EX_TEMPFAIL

__all__ = ["EX_TEMPFAIL", "main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m asc_nb", description="asc-nb command line")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(sub)
    args = parser.parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
