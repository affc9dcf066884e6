"""``fileset DIR --expect CELL [CELL ...]``: the exact release fileset check (exit 0 only if every cell is right)."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness import EXIT_SAFE, EXIT_UNSAFE
from harness.wheel.fileset import CELL_EXAMPLES, check, parse_cell, render


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "fileset",
        help="check that a folder of wheels fills every expected interpreter x platform cell with the exact ABI",
        description="Exit 0 only if every expected cell holds a wheel with exactly the right ABI; 1 otherwise.",
    )
    parser.add_argument("directory", type=Path, metavar="DIR", help="folder with the release wheels (and sdist)")
    parser.add_argument(
        "--expect", nargs="+", required=True, metavar="CELL", help=f"expected cells, e.g. {CELL_EXAMPLES}"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    cells = [parse_cell(text) for text in args.expect]
    report = check(args.directory, cells)
    print(render(report))
    return EXIT_SAFE if report.ok else EXIT_UNSAFE
