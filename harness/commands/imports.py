"""``imports``: audit modules, each alone in a fresh interpreter (exit 0 GIL-free, 1 culprit, 2 not found, 3 unfit)."""

from __future__ import annotations

import argparse
import json

from harness.audit import audit, import_summary
from harness.commands._options import add_common, python_of
from harness.interpreter.facts import probe
from harness.pipeline.record import RunRecord
from harness.pipeline.verdict import decide


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "imports", help="check that importing each module keeps the GIL off",
        description="Import each module alone in a fresh interpreter and check the GIL stays off. Exit 0 every "
                    "module GIL-free, 1 a module turned the GIL on or failed to import, 2 a module not found or bad "
                    "input, 3 unfit interpreter.",
    )
    add_common(parser)
    parser.add_argument("modules", nargs="+", metavar="MODULE", help="dotted module names to import")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    python = python_of(args)
    facts = probe(python)
    facts.fitness().require()
    record = RunRecord.start("imports", ", ".join(args.modules), slug="modules")
    record.interpreter = facts
    results = record.imports = audit(args.modules, python=python)
    verdict, exit_code = decide(record)
    if args.json:
        print(json.dumps(record.to_json(), indent=2))
        return exit_code
    for result in results:
        cause = f", caused by {result.caused_by}" if result.caused_by and result.caused_by != result.module else ""
        print(f"{result.module}: {result.status}{cause}")
        detail = result.error or result.warning
        if detail:
            print("    " + detail.replace("\n", "\n    "))
    print(f"{verdict}: {import_summary([r.to_json() for r in results])}")
    return exit_code
