"""``doctor``: show the interpreter facts and whether it is fit to give a free-threading verdict (exit 0/3)."""

from __future__ import annotations

import argparse
import json

from harness import EXIT_SAFE, EXIT_UNFIT
from harness.commands._options import add_common, python_of
from harness.interpreter import find as interpreter_find
from harness.interpreter.facts import probe


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "doctor", help="interpreter facts and fitness to judge free-threading",
        description="Show the interpreter's facts and whether it can give a free-threading verdict. Exit 0 fit, "
                    "2 bad input, 3 unfit (a GIL build, or the GIL forced on).",
    )
    add_common(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    facts = probe(python_of(args))
    fitness = facts.fitness()
    request = interpreter_find.normalise(args.python) if args.python else None
    if args.json:
        record = {"request": request, **facts.to_json(), "fit": fitness.fit, "reasons": list(fitness.reasons)}
        print(json.dumps(record, indent=2))
    else:
        if request:
            print(f"request: {request}")
        print("\n".join(facts.describe()))
        print(f"verdict: {fitness.note}")
    return EXIT_SAFE if fitness.fit else EXIT_UNFIT
