"""The package's own test suite, run by the gate against the installed wheel, multi-threaded.

The folder is copied out of its source tree first (so the tree can never shadow the installed wheel), pytest,
pytest-run-parallel and pytest-timeout are installed into the gate venv, and this harness's pytest plugin is
loaded there the way the gate's other children see the harness: the folder holding only a ``harness`` link
on PYTHONPATH, and ``-p harness.pytest_plugin``. pytest runs with ``-P`` from a scratch folder, so nothing but
the copy and the venv is importable. Each test that fails multi-threaded is rerun once, single-threaded: one
that passes alone is a race; one that fails alone too is reported as failing without threads, not a race.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import UnfitError, UsageError
from harness.interpreter.children import child_env, exit_description, harness_command
from harness.pipeline.context import RunContext
from harness.pipeline.record import SuiteFailure, SuiteSection
from harness.wheel.venv import install_requirements

SUITE_REQUIREMENTS = ("pytest", "pytest-run-parallel", "pytest-timeout")
TEST_TIMEOUT_S = 300  # pytest-timeout, per test
SUITE_TIMEOUT_S = 3600.0  # the whole pytest run
_OUTPUT_TAIL_LINES = 5


@dataclass(frozen=True)
class SuiteOptions:
    """Which folder of tests, how many threads, extra pytest arguments, the multi-threaded floor, and the only
    tests to run (node ids relative to the folder; all when empty)."""

    folder: Path
    threads: int
    pytest_args: tuple[str, ...] = ()
    min_parallel_tests: int | None = None
    only: tuple[str, ...] = ()


def default_threads() -> int:
    """The CPU count, at least 2 (one thread stresses nothing)."""
    return max(2, os.cpu_count() or 2)


def run_suite(ctx: RunContext, options: SuiteOptions) -> SuiteSection:
    """Run the suite in ``ctx.python`` (the gate venv's) and read back what it found."""
    if not options.folder.is_dir():
        raise UsageError(f"--tests {options.folder}: not a folder")
    ctx.progress(f"tests: installing {', '.join(SUITE_REQUIREMENTS)} into the venv")
    install_requirements(ctx.python, SUITE_REQUIREMENTS)
    section = SuiteSection(source=str(options.folder), threads=options.threads,
                               min_parallel_tests=options.min_parallel_tests)
    clock = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="ft-harness-tests-") as tmp:
        copy = Path(tmp) / "tests" / options.folder.resolve().name
        shutil.copytree(options.folder, copy, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache", "*.pyc"))
        ctx.progress(f"tests: running {copy} with {options.threads} threads per test")
        args = [*options.pytest_args, *([str(copy / nodeid) for nodeid in options.only] or [str(copy)])]
        threaded, section.command = _pytest(ctx, copy, options.threads, args)
        failed = [nodeid for nodeid, test in threaded["tests"].items() if test["outcome"] == "failed"]
        if failed:
            ctx.progress(f"tests: {len(failed)} failed multi-threaded; rerunning them single-threaded")
            alone, _ = _pytest(ctx, copy, 1, [*options.pytest_args, *(str(copy / nodeid) for nodeid in failed)])
    section.wall_s = round(time.monotonic() - clock, 3)
    tests = threaded["tests"]
    section.run = sum(1 for t in tests.values() if t["outcome"] != "skipped")
    section.passed = sum(1 for t in tests.values() if t["outcome"] == "passed")
    section.skipped = len(tests) - section.run
    section.multi_threaded = len(threaded["multi_threaded"])
    section.thread_unsafe = threaded["thread_unsafe"]
    section.gil_culprits = sorted({s for f in threaded["gil_findings"] for s in f["suspects"]}
                                  or {f["where"] for f in threaded["gil_findings"]})
    for nodeid in failed:
        again = alone["tests"].get(nodeid, {}).get("outcome", "failed")
        section.failures.append(SuiteFailure(nodeid, tests[nodeid]["first_lines"],
                                            "fails without threads" if again == "failed" else "race"))
    return section


def _pytest(ctx: RunContext, root: Path, threads: int, args: Sequence[str]) -> tuple[dict[str, Any], str]:
    """One pytest run in the venv over the copied suite at ``root`` (node ids are relative to it); its summary
    and the command line. A run that leaves no summary (it crashed, hung or could not start pytest) raises: the
    gate cannot judge what it could not read."""
    workdir = root.parent.parent
    summary_path = workdir / f"summary-{threads}.json"
    summary_path.unlink(missing_ok=True)
    cmd = harness_command(
        ctx.python, "pytest", "-p", "harness.pytest_plugin", "-p", "harness.pytest_plugin.suite_summary",
        "--ft-suite-summary", str(summary_path), "-p", "no:cacheprovider", "-q", f"--parallel-threads={threads}",
        f"--timeout={TEST_TIMEOUT_S}", "--continue-on-collection-errors", "--rootdir", str(root), *args,
    )
    try:
        done = subprocess.run(cmd, cwd=workdir, env=child_env(ctx.python, ctx.env), capture_output=True, text=True,
                              errors="replace", timeout=SUITE_TIMEOUT_S, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise UnfitError(f"the test suite did not finish within {SUITE_TIMEOUT_S:g} s") from None
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise UsageError(f"the test suite's pytest {exit_description(done.returncode)} without a summary: "
                         f"{_last_words(done)}") from None
    if summary["exit_status"] not in (0, 1, 5):  # ok, tests failed, no tests collected
        raise UsageError(f"the test suite's pytest {exit_description(done.returncode)}: {_last_words(done)}")
    return summary, shlex.join(cmd)


def _last_words(done: subprocess.CompletedProcess[str]) -> str:
    """The last lines pytest printed, on one line, and what to do when the tests import what is not installed."""
    output = done.stdout + done.stderr
    tail = " | ".join(output.strip().splitlines()[-_OUTPUT_TAIL_LINES:])
    return tail + ("; install what the tests import with --with REQ" if "No module named" in output else "")
