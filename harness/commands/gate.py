"""``gate --wheel WHEEL``: may this wheel ship? Tags, install, import audit, stress, report (JSON/MD/HTML).

``--sdist FILE`` or ``--project DIR`` build the wheel first, with the judged interpreter: TSan mode (a
ThreadSanitizer interpreter, ``--tsan``) needs that, since it cannot run a prebuilt wheel's binaries.

Exit 0 safe (or imports-only: nothing failed, nothing was stressed), 1 unsafe, 2 bad input (wrong ABI, corrupt
wheel, unknown target), 3 unfit interpreter or environment (GIL forced, uv missing, install failed), 4 nothing
was stressed under ``--require-stress``, 130/143 interrupted by SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shlex
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness import UsageError
from harness.commands._options import (
    add_ci_formats,
    add_common,
    add_settings,
    add_tsan,
    check_outputs,
    print_ending,
    python_of,
    rerun_with,
    settings_of,
    tsan_suppressions_of,
    write_ci_formats,
    write_or_say,
)
from harness.pipeline.context import RunContext
from harness.pipeline.gate import DEFAULT_THROUGHPUT_THREADS, GateOptions, check_scenario_paths, run_gate
from harness.pipeline.record import SuiteFailure
from harness.pipeline.suite import SuiteOptions, default_threads
from harness.report import append_step_summary, junit, write_reports
from harness.report.gate import FORMATS, render_gate_markdown
from harness.report.terminal import failures_and_table, suite_summary, verdict_line
from harness.settings import StressSettings
from harness.wheel.build import build_wheel, check_buildable


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "gate", help="judge a wheel: exact ABI tags, fresh-venv install, import audit, stress, report",
        description="Judge a wheel (or one built from --sdist/--project) in a fresh venv: its tags, the import "
                    "audit of every module, the targets' scenarios, the package's own tests (--tests). Exit 0 safe "
                    "or imports-only, 1 unsafe, 2 bad input, 3 unfit interpreter or environment, 4 nothing stressed "
                    "under --require-stress, 130/143 interrupted.",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--wheel", type=Path, help="the wheel file to judge")
    source.add_argument("--sdist", type=Path, metavar="FILE",
                        help="build the wheel from this sdist with the judged interpreter, then judge it")
    source.add_argument("--project", type=Path, metavar="DIR",
                        help="build the wheel from this project directory with the judged interpreter, then judge it")
    add_common(parser)
    add_tsan(parser)
    parser.add_argument(
        "--expect-abi", metavar="ABI", help="the ABI tag the wheel must carry exactly (default: the interpreter's own)"
    )
    parser.add_argument(
        "--target",
        action="append",
        default=[],
        metavar="TARGET",
        help="target whose scenarios to run (repeatable; default: the registered target for the wheel's package)",
    )
    parser.add_argument("--scenario", action="append", default=[], metavar="NAME",
                        help="run only this scenario (repeatable)")
    parser.add_argument(
        "--scenario-path", action="append", default=[], type=Path, metavar="DIR",
        help="folder made importable in the gate venv (only there) for --target module:attribute (repeatable)",
    )
    parser.add_argument(
        "--with", dest="requirements", action="append", default=[], metavar="REQ",
        help="extra requirement installed into the gate venv, e.g. a target package or 'mypkg[test]' (repeatable)",
    )
    parser.add_argument("--tests", type=Path, metavar="DIR",
                        help="the package's own test folder: run it multi-threaded against the installed wheel")
    parser.add_argument("--parallel-threads", type=int, metavar="N",
                        help=f"threads per test with --tests (default: the CPU count, at least 2: {default_threads()})")
    parser.add_argument("--pytest-args", default="", metavar="ARGS", help="more pytest arguments with --tests")
    parser.add_argument("--only-test", action="append", default=[], metavar="NODEID",
                        help="with --tests: run only this test, a node id relative to DIR as reports print it "
                             "(repeatable; each failed test's rerun uses it)")
    parser.add_argument("--min-parallel-tests", type=int, metavar="N",
                        help="with --tests: fewer than N tests run multi-threaded is a failed gate")
    parser.add_argument("--require-stress", action="store_true",
                        help="exit 4 when nothing was stressed (no scenario and no test ran multi-threaded)")
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
    add_ci_formats(parser)
    parser.add_argument(
        "--exclude-module",
        action="append",
        default=[],
        metavar="PATTERN",
        help="leave the wheel's modules matching this fnmatch pattern (dotted name, e.g. 'pkg.tests.*') out of "
        "the import audit (repeatable)",
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


def suite_options(args: argparse.Namespace) -> SuiteOptions | None:
    """The ``--tests`` run asked for (None without ``--tests``); its other flags alone are a usage error."""
    if args.tests is None:
        if (args.parallel_threads is not None or args.pytest_args or args.min_parallel_tests is not None
                or args.only_test):
            raise UsageError("--parallel-threads, --pytest-args, --min-parallel-tests and --only-test need --tests DIR")
        return None
    if not args.tests.is_dir():  # before the venv, the install and the audit
        raise UsageError(f"--tests {args.tests}: not a folder")
    threads = default_threads() if args.parallel_threads is None else args.parallel_threads
    if threads < 1 or (args.min_parallel_tests is not None and args.min_parallel_tests < 0):
        raise UsageError("--parallel-threads must be at least 1 and --min-parallel-tests at least 0")
    try:
        pytest_args = tuple(shlex.split(args.pytest_args))
    except ValueError as exc:
        raise UsageError(f"bad --pytest-args {args.pytest_args!r}: {exc}") from None
    return SuiteOptions(args.tests, threads, pytest_args, args.min_parallel_tests, tuple(args.only_test))


def run(args: argparse.Namespace) -> int:
    python = python_of(args)
    settings = settings_of(args)
    check_outputs(args, settings.report_dir)
    source: Path | None = args.sdist or args.project
    if source is None:
        return _run(args, python, settings, args.wheel, None)
    check_buildable(source)
    check_scenario_paths(python, args.scenario_path, args.target, os.environ)  # not only after a long build
    with tempfile.TemporaryDirectory(prefix="ft-harness-build-") as out_dir:
        print(f"building a wheel from {source} with {python}", file=sys.stderr if args.json else sys.stdout,
              flush=True)
        return _run(args, python, settings, build_wheel(python, source, Path(out_dir)), source)


def _run(args: argparse.Namespace, python: str, settings: StressSettings, wheel: Path, source: Path | None) -> int:
    options = GateOptions(
        wheel=wheel,
        built_from=source,
        expect_abi=args.expect_abi,
        targets=tuple(args.target),
        scenarios=tuple(args.scenario),
        throughput_threads=parse_thread_counts(args.throughput_threads),
        keep_venv=args.keep_venv,
        scenario_paths=tuple(args.scenario_path),
        requirements=tuple(args.requirements),
        suite=suite_options(args),
        require_stress=args.require_stress,
        exclude_modules=tuple(args.exclude_module),
        include_tests=args.include_tests,
    )
    out = sys.stderr if args.json else sys.stdout
    given = ["--wheel", str(wheel)] if source is None else ["--sdist" if args.sdist else "--project", str(source)]
    rerun_prefix = [sys.executable, "-m", "harness", "gate", *given, "--python", python,
                    *(["--expect-abi", options.expect_abi] if options.expect_abi else []),
                    *(word for folder in options.scenario_paths for word in ("--scenario-path", str(folder.resolve()))),
                    *(word for req in options.requirements for word in ("--with", req)),
                    *(word for pattern in options.exclude_modules for word in ("--exclude-module", pattern)),
                    *(["--include-tests"] if options.include_tests else [])]
    header = [f"interpreter: {python}; seed: {settings.seed}"]

    def progress(line: str) -> None:  # the header comes with the first line of work: a usage error is its one line
        while header:
            print(header.pop(), file=out, flush=True)
        print(line, file=out, flush=True)

    ctx = RunContext(
        python=python,
        settings=settings,
        rerun=rerun_with(*rerun_prefix),
        progress=progress,
        allow_gil_build=args.allow_gil_build,
        tsan_suppressions=tsan_suppressions_of(args),
    )
    record = run_gate(ctx, options)
    if record.tests is not None and options.suite is not None:
        record.tests.failures = [dataclasses.replace(failure, rerun=_test_rerun(rerun_prefix, options.suite, failure))
                                 for failure in record.tests.failures]
    data = record.to_json()
    paths = write_or_say("gate", lambda: [*write_gate_reports(data, settings.report_dir),
                                          *write_ci_formats(args, data, junit.gate_suites(data))])
    if args.json:
        print(json.dumps(data, indent=2))
    for line in failures_and_table(record.scenarios):
        print(line, file=out)
    judged = record.verdict != "error"  # an error's notes are its one line on stderr; no evidence of an unjudged wheel
    if record.notes and judged:
        print(record.note_text, file=out)
    if record.wheel is not None and judged:
        for item in record.wheel.metadata_findings:
            print(f"metadata {item.level}: {item.message}; change: {item.change}", file=out)
        for hint in record.wheel.fix_hints:
            print(f"fix hint {hint.module} ({hint.builder}): {hint.change}. {hint.warning}", file=out)
    if record.tests is not None:
        print("\n".join(suite_summary(record.tests)), file=out)
    print(verdict_line(record.verdict, record.exit_code, record.scenarios), file=out)
    return print_ending("gate", record, paths, out)


def _test_rerun(rerun_prefix: list[str], suite: SuiteOptions, failure: SuiteFailure) -> str:
    """The gate again on the one failed test (``--only-test``), with the threads it failed with (a race) or one (a
    test failing without threads), and no throughput runs."""
    threads = suite.threads if failure.race else 1
    more = ["--pytest-args", shlex.join(suite.pytest_args)] if suite.pytest_args else []
    return shlex.join([*rerun_prefix, "--tests", str(suite.folder.resolve()), "--only-test", failure.nodeid,
                       "--parallel-threads", str(threads), *more, "--throughput-threads", "none"])


def write_gate_reports(record: Mapping[str, Any], report_dir: Path) -> list[Path]:
    """Write ``<run_id>.json``, ``.md`` and ``.html`` atomically; append the Markdown to ``$GITHUB_STEP_SUMMARY``
    when it is set (a warning, not a failure, when it cannot be written)."""
    paths = write_reports(record, report_dir, str(record["run_id"]), FORMATS)
    append_step_summary(render_gate_markdown(record), "gate")
    return paths
