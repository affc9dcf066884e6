"""What a terminal shows of scenario results: the status label, a failed scenario's errors with their first
tracebacks (one length limit for every text), the stress command's per-scenario summary, the gate's failures and
summary table and its lines for a package's own test suite, and the ``ft_stress`` fixture's failure message."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from harness.engine.result import ScenarioResult
from harness.pipeline.record import SuiteSection

TRACEBACK_LINES = 30


def plural(count: int, noun: str) -> str:
    """``1 thread``, ``2 threads``."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def sizes(threads: int, iterations: int, rounds: int) -> str:
    """``2 threads x 400 iterations x 1 round``."""
    counts = ((threads, "thread"), (iterations, "iteration"), (rounds, "round"))
    return " x ".join(plural(count, noun) for count, noun in counts)


def head_lines(lines: Sequence[str], limit: int = TRACEBACK_LINES) -> list[str]:
    """The first ``limit`` lines, and a ``...`` line when some were left out (tracebacks in summaries)."""
    return [*lines[:limit], *(["..."] if len(lines) > limit else [])]


def status_label(status: str, on_failure: str | None) -> str:
    """The status, saying when a failure is a shared-use finding (an unshareable object) that keeps the verdict."""
    if status == "failed" and on_failure == "shared-use-unsafe":
        return "failed (shared use unsafe: finding, not verdict)"
    return status


def verdict_line(verdict: str, exit_code: int, scenarios: Sequence[ScenarioResult]) -> str:
    """``verdict: safe (exit 0)``, and how many shared-use findings it leaves out (they are printed above it)."""
    findings = sum(1 for s in scenarios if s.status == "failed" and s.on_failure == "shared-use-unsafe")
    kept = f"; {plural(findings, 'shared-use finding')} above (not the verdict)" if findings else ""
    return f"verdict: {verdict} (exit {exit_code}){kept}"


def error_lines(result: ScenarioResult, indent: str) -> list[str]:
    """Each distinct error of a scenario with its count and the head of its first traceback."""
    lines = []
    for error in result.errors:
        lines.append(f"{indent}{error.type} x {error.count}; first traceback:")
        lines += [f"{indent}    {line}" for line in head_lines(error.first_traceback.rstrip().splitlines())]
    return lines


def run_sizes(threads: int, iterations: int, rounds_run: int | None, exploration: Mapping[str, Any] | None) -> str:
    """``2 threads x 400 iterations x 812 rounds; 96 explored trials``: what a scenario's run actually did
    (``rounds_run`` None: not known, the run's process was stopped)."""
    shape = sizes(threads, iterations, rounds_run) if rounds_run is not None else (
        f"{plural(threads, 'thread')} x {plural(iterations, 'iteration')} x ? rounds")
    explored = exploration or {}
    if explored.get("skipped"):
        return f"{shape}; not explored: {explored['skipped']}"
    return f"{shape}; {plural(explored['trials'], 'explored trial')}" if explored.get("trials") else shape


def reproduced_line(reproduced: str | None) -> list[str]:
    """For a free-running failure, how many automatic reruns with the same seed showed it again."""
    return [f"reproduced by {reproduced} automatic reruns with the same seed"] if reproduced else []


def scenario_summary(result: ScenarioResult) -> list[str]:
    """The stress command's lines for one scenario: status, what ran, time; for a failure its errors and rerun."""
    rate = f", {result.ops_per_s:.0f} ops/s" if result.ops_per_s else ""
    label = status_label(result.status, result.on_failure)
    shape = run_sizes(result.threads, result.iterations, result.rounds_run, result.exploration)
    lines = [f"{label.upper()} {result.name} ({shape}) in {result.duration_s:.2f} s{rate}"]
    if result.status != "passed":
        lines += [f"    {result.detail}", *(f"    {line}" for line in reproduced_line(result.reproduced)),
                  *error_lines(result, "    "), f"    rerun: {result.rerun}"]
    elif result.detail:  # "stopped at the budget after N rounds"
        lines.append(f"    {result.detail}")
    return lines


def failures_and_table(results: Sequence[ScenarioResult]) -> list[str]:
    """What the gate prints at the end: each scenario that did not pass as ``stress`` prints it (its errors, first
    traceback lines, rerun command), then one table row per scenario."""
    lines = [line for result in results if result.status != "passed" for line in scenario_summary(result)]
    if not results:
        return lines
    rows = [("scenario", "status", "threads x iterations x rounds", "time", "ops/s")]
    rows += [
        (r.name, status_label(r.status, r.on_failure),
         f"{r.threads} x {r.iterations} x {'?' if r.rounds_run is None else r.rounds_run}",
         f"{r.duration_s:.2f} s", f"{r.ops_per_s:.0f}" if r.ops_per_s else "-")
        for r in results
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return [*lines, *("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
                      for row in rows)]


def fixture_failure(result: ScenarioResult, *, test_rerun: str, runs_alone: bool) -> str:
    """The ``ft_stress`` fixture's message for a scenario that did not pass: the engine's summary, then the
    commands that rerun the test and (when it can run alone, ``result.rerun``) the scenario."""
    lines = [
        f"ft-harness: scenario {result.name} {result.status} ({sizes(result.threads, result.iterations, result.rounds)}"
        f", seed {result.seed}): {plural(result.failures, 'failure')}; {result.detail}",
        *error_lines(result, "  "),
        f"rerun this test: {test_rerun}",
    ]
    if runs_alone:
        lines.append(f"rerun the scenario alone: {result.rerun}")
    return "\n".join(lines)


RACE_HINT = ("a race is a test that fails only with its threads at once: the package races, or the test shares "
             "state on purpose (a module-level cache or switch it asserts on); mark the latter "
             "@pytest.mark.thread_unsafe to run it single-threaded")


def suite_summary(tests: SuiteSection) -> list[str]:
    """The gate's lines for the package's own test suite: counts, each failure with its single-threaded rerun's
    finding and first lines, the tests kept single-threaded and why, and the GIL culprits."""
    floor = "" if tests.min_parallel_tests is None else f" (floor {tests.min_parallel_tests}" + (
        ": below it)" if tests.below_floor else ")")
    lines = [f"tests: {tests.run} run, {tests.multi_threaded} multi-threaded at {tests.threads} threads{floor}, "
             f"{tests.passed} passed, {tests.skipped} skipped, {plural(len(tests.races), 'race')}, "
             f"{len(tests.failures) - len(tests.races)} failing without threads, in {tests.wall_s:.1f} s"]
    for failure in tests.failures:
        label = "RACE (passes alone)" if failure.race else "fails without threads (not a race)"
        lines.append(f"    {label}: {failure.nodeid}")
        lines += [f"        {line}" for line in failure.first_lines.splitlines()]
        lines += [f"        rerun: {failure.rerun}"] if failure.rerun else []
    if tests.races:
        lines.append(f"    {RACE_HINT}")
    lines += [f"    kept single-threaded: {nodeid}: {reason}" for nodeid, reason in tests.thread_unsafe.items()]
    lines += [f"    GIL re-enabled by: {culprit}" for culprit in tests.gil_culprits]
    return lines
