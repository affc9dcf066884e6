"""``bench NAME [options]``: run one benchmark of :mod:`harness.targets.nvx.bench`, imported only when it is chosen."""

from __future__ import annotations

import argparse
import importlib

from harness import UsageError
from harness.targets.nvx import bench


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    names = bench.available()
    parser = subparsers.add_parser(
        "bench",
        help="run a benchmark (" + ", ".join(names) + ")",
        description="Run a benchmark; 'bench NAME --help' lists its options.",
    )
    parser.add_argument("name", metavar="NAME", help="benchmark to run: " + ", ".join(names))
    parser.add_argument("options", nargs=argparse.REMAINDER, help="options of that benchmark")
    parser.set_defaults(run=run, bench_parser=parser)


def run(args: argparse.Namespace) -> int:
    names = bench.available()
    if args.name not in names:
        raise UsageError(f"unknown benchmark {args.name!r}: expected one of {', '.join(names)}")
    module = importlib.import_module(f"harness.targets.nvx.bench.{args.name}")
    parent = args.bench_parser
    parser = type(parent)(prog=f"{parent.prog} {args.name}", description=module.__doc__)
    module.add_arguments(parser)
    return module.run(parser.parse_args(args.options))
