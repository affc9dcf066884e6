"""What a terminal shows of scenario results: the status label, a failed scenario's errors with their first
tracebacks (one length limit for every text), the stress command's per-scenario summary and the ``ft_stress``
fixture's failure message."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from harness.engine.result import ScenarioResult

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


def run_sizes(threads: int, iterations: int, rounds_run: int | None, exploration: Mapping[str, Any] | None) -> str:
    """``2 threads x 400 iterations x 812 rounds; 96 explored trials``: what a scenario's run actually did
    (``rounds_run`` None: exploration ended the run before any free-running round)."""
    sizes = f"{threads} threads x {iterations} iterations x {rounds_run or 0} rounds"
    explored = exploration or {}
    if explored.get("skipped"):
        return f"{sizes}; not explored: {explored['skipped']}"
    return f"{sizes}; {explored['trials']} explored trials" if explored.get("trials") else sizes


def reproduced_line(reproduced: str | None) -> list[str]:
    """For a free-running failure, how many automatic reruns with the same seed showed it again."""
    return [f"reproduced by {reproduced} automatic reruns with the same seed"] if reproduced else []


def scenario_summary(result: ScenarioResult) -> list[str]:
    """The stress command's lines for one scenario: status, what ran, time; for a failure its errors and rerun."""
    rate = f", {result.ops_per_s:.0f} ops/s" if result.ops_per_s else ""
    sizes = run_sizes(result.threads, result.iterations, result.rounds_run, result.exploration)
    label = status_label(result.status, result.on_failure)
    lines = [f"{label.upper()} {result.name} ({sizes}) in {result.duration_s:.2f} s{rate}"]
    if result.status != "passed":
        lines += [f"    {result.detail}", *(f"    {line}" for line in reproduced_line(result.reproduced)),
                  *error_lines(result, "    "), f"    rerun: {result.rerun}"]
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
