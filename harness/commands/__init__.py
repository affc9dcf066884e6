"""The ``ft-harness`` / ``python -m harness`` command line: parses arguments and dispatches to a subcommand.

Each subcommand is one module of this package providing ``add_parser(subparsers)``, which registers its
options and sets ``run`` (``args -> exit code``) as the parser default.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from types import FrameType
from typing import NoReturn

from harness import EXIT_USAGE, HarnessError, Interrupted, __version__

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


@contextlib.contextmanager
def signals_interrupt() -> Iterator[None]:
    """SIGINT and SIGTERM raise :class:`~harness.Interrupted` in the main thread while a command runs, so the
    run can write a partial report; the previous handlers come back afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def raise_interrupted(signum: int, frame: FrameType | None) -> None:
        raise Interrupted(signal.Signals(signum).name)

    previous = {signum: signal.signal(signum, raise_interrupted) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def main(argv: Sequence[str] | None = None) -> int:
    try:  # the subcommands' modules load here, about half a second: a Ctrl-C in it is an interrupt like any other
        args, extras = build_parser().parse_known_args(argv)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted by SIGINT", file=sys.stderr)
        return Interrupted("SIGINT").exit_code
    if extras:  # argparse would blame "ft-harness", not the subcommand whose arguments these are
        print(f"{PROG} {args.command}: error: unrecognized arguments: {' '.join(extras)}", file=sys.stderr)
        return EXIT_USAGE
    try:
        with signals_interrupt():
            return args.run(args)
    except HarnessError as exc:
        print(f"{PROG} {args.command}: error: {exc}", file=sys.stderr)
        if getattr(args, "json", False):  # a --json caller reads stdout: it gets the error there too
            print(json.dumps({"command": args.command, "error": str(exc), "exit_code": exc.exit_code}))
        return exc.exit_code
    except (Interrupted, KeyboardInterrupt) as exc:
        signal_name = getattr(exc, "signal_name", "SIGINT")
        print(f"{PROG} {args.command}: interrupted by {signal_name}", file=sys.stderr)
        return Interrupted(signal_name).exit_code
