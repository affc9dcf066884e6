"""Options shared by the engine's subcommands: ``--python SPEC`` and ``--json``."""

from __future__ import annotations

import argparse

from harness import interpreter_request


def add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--python",
        metavar="SPEC",
        help="interpreter to judge: a path or a version request such as 3.14t (default: this interpreter)",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON on stdout")


def python_of(args: argparse.Namespace) -> str:
    """The absolute path of the interpreter ``--python`` asks for (this one when not given)."""
    return interpreter_request.resolve(args.python)
