"""What a terminal shows of scenario results: the status label, a failed scenario's errors with their first
tracebacks (one length limit for every text), the stress command's per-scenario summary and the ``ft_stress``
fixture's failure message, and the gate's lines for a package's own test suite."""

from __future__ import annotations

from collections.abc import Sequence

from harness.engine.result import ScenarioResult
from harness.pipeline.record import SuiteSection

TRACEBACK_LINES = 30


def head_lines(lines: Sequence[str], limit: int = TRACEBACK_LINES) -> list[str]:
    """The first ``limit`` lines, and a ``...`` line when some were left out (tracebacks in summaries)."""
    return [*lines[:limit], *(["..."] if len(lines) > limit else [])]


def status_label(status: str, on_failure: str | None) -> str:
    """The status, saying when a failure is a shared-use finding (an unshareable object) that keeps the verdict."""
    if status == "failed" and on_failure == "shared-use-unsafe":
        return "failed (shared use unsafe: finding, not verdict)"
    return status


def error_lines(result: ScenarioResult, indent: str) -> list[str]:
    """Each distinct error of a scenario with its count and the head of its first traceback."""
    lines = []
    for error in result.errors:
        lines.append(f"{indent}{error.type} x {error.count}; first traceback:")
        lines += [f"{indent}    {line}" for line in head_lines(error.first_traceback.rstrip().splitlines())]
    return lines


def scenario_summary(result: ScenarioResult) -> list[str]:
    """The stress command's lines for one scenario: status, sizes, time; for a failure its errors and rerun."""
    rate = f", {result.ops_per_s:.0f} ops/s" if result.ops_per_s else ""
    sizes = f"{result.threads} threads x {result.iterations} iterations x {result.rounds} rounds"
    label = status_label(result.status, result.on_failure)
    lines = [f"{label.upper()} {result.name} ({sizes}) in {result.duration_s:.2f} s{rate}"]
    if result.status != "passed":
        lines += [f"    {result.detail}", *error_lines(result, "    "), f"    rerun: {result.rerun}"]
    return lines


def fixture_failure(result: ScenarioResult, *, test_rerun: str, runs_alone: bool) -> str:
    """The ``ft_stress`` fixture's message for a scenario that did not pass: the engine's summary, then the
    commands that rerun the test and (when it can run alone, ``result.rerun``) the scenario."""
    lines = [
        f"ft-harness: scenario {result.name} {result.status} ({result.threads} threads x {result.iterations} "
        f"iterations x {result.rounds} rounds, seed {result.seed}): {result.failures} failures; {result.detail}",
        *error_lines(result, "  "),
        f"rerun this test: {test_rerun}",
    ]
    if runs_alone:
        lines.append(f"rerun the scenario alone: {result.rerun}")
    return "\n".join(lines)


def suite_summary(tests: SuiteSection) -> list[str]:
    """The gate's lines for the package's own test suite: counts, each failure with its single-threaded rerun's
    finding and first lines, the tests kept single-threaded and why, and the GIL culprits."""
    floor = "" if tests.min_parallel_tests is None else f" (floor {tests.min_parallel_tests}" + (
        ": below it)" if tests.below_floor else ")")
    lines = [f"tests: {tests.run} run, {tests.multi_threaded} multi-threaded at {tests.threads} threads{floor}, "
             f"{tests.passed} passed, {tests.skipped} skipped, {len(tests.races)} races, "
             f"{len(tests.failures) - len(tests.races)} failing without threads, in {tests.wall_s:.1f} s"]
    for failure in tests.failures:
        label = "RACE (passes alone)" if failure.race else "fails without threads (not a race)"
        lines.append(f"    {label}: {failure.nodeid}")
        lines += [f"        {line}" for line in failure.first_lines.splitlines()]
    lines += [f"    kept single-threaded: {nodeid}: {reason}" for nodeid, reason in tests.thread_unsafe.items()]
    lines += [f"    GIL re-enabled by: {culprit}" for culprit in tests.gil_culprits]
    return lines
