"""``stress``: judge a target under thread stress and write ``<report-dir>/<run-id>.json`` (+ ``.md``).

Exit 0 safe, 1 unsafe (any failure, crash or timeout), 2 bad usage or unknown target, 3 unfit interpreter.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

from harness.commands._options import add_common, add_settings, python_of, settings_of
from harness.errors import EXIT_UNFIT
from harness.interpreter import probe
from harness.report import head_lines, run_sizes, status_label, write_reports
from harness.stress_run import resolve_target, run_stress, select_scenarios

REPORT_FORMATS = ("json", "md")
_TRACEBACK_LINES = 25


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("stress", help="stress a target's scenarios with many threads")
    parser.add_argument("--target", required=True, help="built-in target name (e.g. nvx) or module:attribute")
    add_common(parser)
    add_settings(parser)
    parser.add_argument("--scenario", action="append", metavar="NAME", help="run only this scenario (repeatable)")
    parser.add_argument("--no-import-audit", action="store_true",
                        help="skip the import audit and judge the scenarios only (what rerun commands use)")
    parser.add_argument("--allow-gil-build", action="store_true",
                        help="run on a GIL build or with the GIL on; the report then gives no free-threading verdict")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    python = python_of(args)
    settings = settings_of(args)
    target = resolve_target(args.target)
    specs = select_scenarios(target, args.scenario)
    facts = probe(python)
    out = sys.stderr if args.json else sys.stdout
    header = [
        f"interpreter: {facts.label}",
        f"target: {target.name} ({len(specs)} scenarios)",
        f"threads: {settings.threads}, iterations: {settings.iterations}, rounds: {settings.rounds}, "
        f"timeout: {settings.timeout_s:g} s, seed: {settings.seed}",
        f"budget: {settings.budget_s:g} s per scenario; "
        + (f"replaying a schedule" if settings.replay else
           f"exploration: {'on, ' + settings.strategy if settings.explore else 'off'}"),
    ]
    print("\n".join(header), file=out, flush=True)
    record = run_stress(
        target,
        settings,
        python=python,
        facts=facts,
        allow_gil_build=args.allow_gil_build,
        scenarios=args.scenario,
        progress=lambda line: print(line, file=out, flush=True),
        import_audit=not args.no_import_audit,
    )
    paths = write_reports(record, settings.report_dir, record["run_id"], REPORT_FORMATS)
    if args.json:
        print(json.dumps(record, indent=2))
    else:
        _print_summary(record, out)
    print(f"report: {paths[0]}", file=out)
    if record["exit_code"] == EXIT_UNFIT or record["verdict"] == "error":
        print(f"ft-harness stress: error: {record['note']}", file=sys.stderr)
    return record["exit_code"]


def _print_summary(record: dict[str, Any], out: TextIO) -> None:
    for scenario in record["scenarios"]:
        rate = f", {scenario['ops_per_s']:.0f} ops/s" if scenario.get("ops_per_s") else ""
        print(f"{status_label(scenario).upper()} {scenario['name']} ({run_sizes(scenario)}) in "
              f"{scenario['duration_s']:.2f} s{rate}", file=out)
        if scenario["status"] == "passed":
            continue
        print(f"    {scenario['detail']}", file=out)
        if scenario.get("reproduced"):
            print(f"    reproduced by {scenario['reproduced']} automatic reruns with the same seed", file=out)
        for error in scenario["errors"]:
            print(f"    {error['type']} x {error['count']}; first traceback:", file=out)
            for line in head_lines(error["first_traceback"].rstrip().splitlines(), _TRACEBACK_LINES):
                print(f"        {line}", file=out)
        print(f"    rerun: {scenario['rerun']}", file=out)
    if record["note"] and record["verdict"] != "error":
        print(record["note"], file=out)
    print(f"verdict: {record['verdict']} (exit {record['exit_code']})", file=out)
