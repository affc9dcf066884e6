"""``gate --wheel WHEEL``: may this wheel ship? Tags, install, import audit, stress, report (JSON/MD/HTML).

Exit 0 safe, 1 unsafe, 2 bad input (wrong ABI, corrupt wheel, unknown target), 3 unfit interpreter or
environment (GIL forced, uv missing, install failed).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from harness.commands._options import add_common, add_settings, python_of, settings_of
from harness.errors import UsageError
from harness.gate import DEFAULT_THROUGHPUT_THREADS, GateOptions, run_gate
from harness.gate_report import write_gate_reports


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "gate", help="judge a wheel: exact ABI tags, fresh-venv install, import audit, stress, report"
    )
    parser.add_argument("--wheel", required=True, type=Path, help="the wheel file to judge")
    add_common(parser)
    parser.add_argument(
        "--expect-abi", metavar="ABI", help="the ABI tag the wheel must carry exactly (default: the interpreter's own)"
    )
    parser.add_argument(
        "--target",
        action="append",
        default=[],
        metavar="TARGET",
        help="target whose scenarios to run, repeatable (default: the registered target for the wheel's package)",
    )
    parser.add_argument("--scenario", action="append", default=[], metavar="NAME", help="run only this scenario")
    add_settings(parser)
    parser.add_argument(
        "--throughput-threads",
        default=",".join(map(str, DEFAULT_THROUGHPUT_THREADS)),
        metavar="N,N,...",
        help="thread counts for the throughput chart; 'none' skips it (default: %(default)s)",
    )
    parser.add_argument(
        "--allow-gil-build", action="store_true", help="judge on a GIL build; the report then gives no FT verdict"
    )
    parser.add_argument("--keep-venv", action="store_true", help="keep the venv the wheel was installed into")
    parser.add_argument(
        "--exclude-module",
        action="append",
        default=[],
        metavar="PATTERN",
        help="leave the wheel's modules matching this fnmatch pattern (dotted name, e.g. 'pkg.tests.*') out of "
        "the import audit, repeatable",
    )
    parser.add_argument(
        "--include-tests",
        action="store_true",
        help="judge the wheel's test-only modules (*/tests/*, */testing/*, *_test*, test_*) like the others "
        "(default: audited apart, their failures are findings, not the verdict)",
    )
    parser.set_defaults(run=run)


def parse_thread_counts(text: str) -> tuple[int, ...]:
    """``"1,2,4"`` -> (1, 2, 4); ``"none"`` -> (); anything else is a one-line usage error."""
    if text.strip().lower() == "none":
        return ()
    try:
        counts = tuple(dict.fromkeys(int(part) for part in text.split(",")))
    except ValueError:
        counts = ()
    if not counts or min(counts) < 1:
        raise UsageError(f"bad --throughput-threads {text!r}: expected positive integers like 1,2,4 or 'none'")
    return counts


def run(args: argparse.Namespace) -> int:
    options = GateOptions(
        wheel=args.wheel,
        python=python_of(args),
        settings=settings_of(args),
        expect_abi=args.expect_abi,
        targets=tuple(args.target),
        scenarios=tuple(args.scenario),
        throughput_threads=parse_thread_counts(args.throughput_threads),
        allow_gil_build=args.allow_gil_build,
        keep_venv=args.keep_venv,
        exclude_modules=tuple(args.exclude_module),
        include_tests=args.include_tests,
    )
    out = sys.stderr if args.json else sys.stdout
    print(f"interpreter: {options.python}; seed: {options.settings.seed}", file=out, flush=True)
    record = run_gate(options, progress=lambda line: print(line, file=out, flush=True))
    paths = write_gate_reports(record, options.settings.report_dir)
    if args.json:
        print(json.dumps(record, indent=2))
    if record["note"]:
        print(record["note"], file=out)
    print(f"verdict: {record['verdict']} (exit {record['exit_code']})", file=out)
    print("report: " + ", ".join(str(path) for path in paths), file=out)
    if record["verdict"] == "error":
        print(f"ft-harness gate: error: {record['note']}", file=sys.stderr)
    return record["exit_code"]
