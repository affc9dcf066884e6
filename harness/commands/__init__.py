"""The ``ft-harness`` / ``python -m harness`` command line: parses arguments and dispatches to a subcommand.

Each subcommand is one module of this package providing ``add_parser(subparsers)``, which registers its
options and sets ``run`` (``args -> exit code``) as the parser default.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from harness import EXIT_USAGE, HarnessError, __version__

PROG = "ft-harness"


class OneLineArgumentParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are a single line and exit 2 (no usage dump)."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineArgumentParser(prog=PROG, description="Free-threading safety gate for Python extensions.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineArgumentParser)
    subparsers.required = True
    from harness.commands import bench, doctor, fileset, gate, imports, release, stress

    for command in (doctor, imports, stress, gate, fileset, release, bench):
        command.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except HarnessError as exc:
        print(f"{PROG} {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"{PROG} {args.command}: interrupted", file=sys.stderr)
        return 130
