"""The ``ft-harness`` / ``python -m harness`` command line: parses arguments and dispatches to a subcommand.

Each subcommand lives in ``harness.commands.<name>`` and provides ``add_parser(subparsers)``, which
registers its options and sets ``run`` (``args -> exit code``) as the parser default.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import NoReturn, Sequence

from harness import __version__
from harness.errors import EXIT_USAGE, HarnessError

PROG = "ft-harness"
SUBCOMMANDS = ("doctor", "imports", "stress", "gate", "fileset", "release", "bench")


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
    for name in SUBCOMMANDS:
        importlib.import_module(f"harness.commands.{name}").add_parser(subparsers)
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
