"""``stress``: judge a target under thread stress and write ``<report-dir>/<run-id>.json`` (+ ``.md``, ``.html``).

Exit 0 safe, 1 unsafe (any failure, crash or timeout), 2 bad usage or unknown target, 3 unfit interpreter.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from harness import UsageError
from harness.commands._options import (
    add_common,
    add_settings,
    add_tsan,
    check_outputs,
    print_ending,
    python_of,
    settings_of,
    stress_rerun,
    tsan_suppressions_of,
    write_or_say,
)
from harness.interpreter.facts import InterpreterFacts, probe
from harness.pipeline.context import Progress, RunContext
from harness.pipeline.judge import judge
from harness.pipeline.record import RunRecord
from harness.report import tsan as tsan_report
from harness.report import write_reports
from harness.report.terminal import plural, scenario_summary, verdict_line
from harness.settings import StressSettings
from harness.targets import Target, resolve_target, select_scenarios
from harness.targets.ref_check import check_refs

REPORT_FORMATS = ("json", "md", "html")
SKIPPED_AUDIT = "import audit skipped (--no-import-audit): this verdict covers the scenarios only"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "stress", help="stress a target's scenarios with many threads",
        description="Audit a target's imports, then run each of its scenarios under controlled interleavings and "
                    "free-running threads for a time budget; write a report. Exit 0 safe, 1 unsafe (a failure, "
                    "crash or hang), 2 bad input or unknown target, 3 unfit interpreter, 130/143 interrupted.",
    )
    parser.add_argument("--target", required=True, help="built-in target name (e.g. nvx) or module:attribute")
    add_common(parser)
    add_settings(parser)
    add_tsan(parser)
    parser.add_argument("--scenario", action="append", metavar="NAME", help="run only this scenario (repeatable)")
    parser.add_argument("--scenario-path", action="append", default=[], type=Path, metavar="DIR",
                        help="folder importable for the target's modules (repeatable); the current directory is not")
    parser.add_argument("--no-import-audit", action="store_true",
                        help="skip the import audit and judge the scenarios only (what rerun commands use)")
    parser.add_argument("--allow-gil-build", action="store_true",
                        help="run on a GIL build or with the GIL on; the report then gives no free-threading verdict")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    python = python_of(args)
    settings = settings_of(args)
    check_outputs(args, settings.report_dir)
    target = resolve_target(args.target)
    target = dataclasses.replace(target, scenarios=select_scenarios(target, args.scenario))
    facts = probe(python)
    out = sys.stderr if args.json else sys.stdout
    ctx = stress_context(settings, python=python, allow_gil_build=args.allow_gil_build, facts=facts,
                         progress=lambda line: print(line, file=out, flush=True), scenario_paths=args.scenario_path)
    ctx = ctx.replace(tsan_suppressions=tsan_suppressions_of(args))
    check_refs([args.target], python=python, env=ctx.env)  # a misspelt module:attribute: one line, no report
    header = [
        f"interpreter: {facts.label}",
        f"target: {target.name} ({plural(len(target.scenarios), 'scenario')})",
        f"threads: {settings.threads}, iterations: {settings.iterations}, rounds: up to {settings.rounds}, "
        f"timeout: {settings.timeout_s:g} s, seed: {settings.seed}",
        f"budget: {settings.budget_s:g} s per scenario; "
        + ("replaying a schedule" if settings.replay else
           f"exploration: {'on, ' + settings.strategy if settings.explore else 'off'}"),
    ]
    print("\n".join(header), file=out, flush=True)
    record = run_stress(ctx, target, import_audit=not args.no_import_audit)
    data = record.to_json()
    paths = write_or_say("stress", lambda: write_reports(data, settings.report_dir, record.run_id, REPORT_FORMATS))
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        _print_summary(record, out)
    return print_ending("stress", record, paths, out)


def stress_context(
    settings: StressSettings,
    *,
    python: str | None = None,
    allow_gil_build: bool = False,
    facts: InterpreterFacts | None = None,
    progress: Progress | None = None,
    scenario_paths: Sequence[Path] = (),
) -> RunContext:
    """The run context of a stress run: its reruns are ``stress`` command lines (default: this interpreter).

    ``scenario_paths`` go first on the PYTHONPATH of every child, whichever the interpreter, and into the rerun.
    """
    python = python or sys.executable
    folders = [str(folder.resolve()) for folder in scenario_paths]
    for folder in folders:
        if not Path(folder).is_dir():
            raise UsageError(f"--scenario-path {folder}: not a folder")
    env = None
    if folders:
        inherited = os.environ.get("PYTHONPATH", "")
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([*folders, *filter(None, [inherited])])}
    ctx = RunContext(python=python, settings=settings, rerun=stress_rerun(python, folders),
                     allow_gil_build=allow_gil_build, facts=facts, env=env)
    return ctx.replace(progress=progress) if progress else ctx


def run_stress(ctx: RunContext, target: Target, *, import_audit: bool = True) -> RunRecord:
    """Judge one target; without the import audit the record says that its verdict covers the scenarios only."""
    record = judge(ctx, RunRecord.start("stress", target.name), [target], import_audit=import_audit)
    if not import_audit and record.verdict != "error":
        record.note(SKIPPED_AUDIT)
    return record


def _print_summary(record: RunRecord, out: TextIO) -> None:
    for scenario in record.scenarios:
        print("\n".join(scenario_summary(scenario)), file=out)
    if record.tsan is not None:
        print("\n".join(tsan_report.terminal_lines(record.tsan.to_json())), file=out)
    if record.notes and record.verdict != "error":
        print(record.note_text, file=out)
    print(verdict_line(record.verdict, record.exit_code, record.scenarios), file=out)
