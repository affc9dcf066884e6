"""``fileset DIR --expect CELL [CELL ...]``: the exact release fileset check (exit 0 only if every cell is right)."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness import EXIT_SAFE, EXIT_UNSAFE, UsageError
from harness.wheel.fileset import CELL_EXAMPLES, check, parse_cell, render


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "fileset",
        help="check that a folder of wheels fills every expected interpreter x platform cell with the exact ABI",
        description="Exit 0 only if every expected cell holds a wheel with exactly the right ABI; 1 otherwise; "
                    "2 bad input (a bad cell, an unreadable folder).",
    )
    parser.add_argument(
        "directory", type=Path, nargs="?", metavar="DIR", help="folder with the release wheels (and sdist)"
    )
    parser.add_argument(
        "--expect", nargs="+", required=True, metavar="CELL", help=f"expected cells, e.g. {CELL_EXAMPLES}"
    )
    parser.set_defaults(run=run)


def _split_directory(directory: Path | None, expect: list[str]) -> tuple[Path, list[str]]:
    """Both ``fileset DIR --expect CELL...`` and ``fileset --expect CELL... DIR``: in the second order
    ``--expect`` swallows DIR as its last value."""
    if directory is not None:
        return directory, expect
    if len(expect) < 2:
        raise UsageError("fileset: give the folder of wheels: fileset DIR --expect CELL [CELL ...]")
    return Path(expect[-1]), expect[:-1]


def run(args: argparse.Namespace) -> int:
    directory, expect = _split_directory(args.directory, args.expect)
    cells = [parse_cell(text) for text in expect]
    report = check(directory, cells)
    print(render(report))
    return EXIT_SAFE if report.ok else EXIT_UNSAFE
