"""The verdict: from import-audit and scenario results to "safe" / "unsafe" / "error" and an exit code.

Any import that raised, any module that turned the GIL on (when judging free-threading), any crash or
timeout, and any failed scenario classified ``unsafe`` make the verdict unsafe (exit 1), also when another
module could not be found; otherwise a module that cannot be found makes the run bad input (exit 2). A
failed ``shared-use-unsafe`` scenario is reported as a finding but does not fail the verdict: the object is
documented as unshareable.
"""

from __future__ import annotations

from typing import Sequence

from harness.errors import EXIT_SAFE, EXIT_UNSAFE, EXIT_USAGE
from harness.results import ImportResult, ScenarioResult


def unsafe_import(result: ImportResult, *, free_threading: bool = True) -> bool:
    return result.status == "error" or (free_threading and result.status == "gil-enabled")


def unsafe_scenario(result: ScenarioResult) -> bool:
    if result.status in ("crashed", "timeout"):
        return True
    return result.status == "failed" and result.on_failure == "unsafe"


def decide(
    imports: Sequence[ImportResult], scenarios: Sequence[ScenarioResult], *, free_threading: bool = True
) -> tuple[str, int]:
    """``(verdict, exit_code)``; ``free_threading=False`` (an allowed GIL-build run) ignores GIL re-enabling."""
    if any(unsafe_import(r, free_threading=free_threading) for r in imports) or any(
        unsafe_scenario(r) for r in scenarios
    ):
        return "unsafe", EXIT_UNSAFE
    if any(r.status == "not-found" for r in imports):
        return "error", EXIT_USAGE
    return "safe", EXIT_SAFE
