"""The verdict: the one place a run record becomes "safe" / "unsafe" / "error" / "interrupted" and an exit code.

A run stopped by SIGINT or SIGTERM is "interrupted" (exit 130 or 143), whatever it had found so far.
A usage or environment problem met mid-run decides by itself (its exit code), and so does an unfit
interpreter (exit 3). A module that cannot be found makes the run bad input (exit 2) whatever else happened.
Otherwise any import that raised, any module that turned the GIL on (when judging free-threading), any crash
or timeout, any failed scenario or throughput run classified ``unsafe``, and (TSan mode) any ThreadSanitizer report
in the package's own code make the verdict unsafe (exit 1); reports only in the interpreter do not.
A failed ``shared-use-unsafe`` scenario is a finding that does not fail the verdict: the object is documented
as unshareable.
"""

from __future__ import annotations

from typing import NamedTuple

from harness import EXIT_INTERRUPTED, EXIT_SAFE, EXIT_UNFIT, EXIT_UNSAFE, EXIT_USAGE
from harness.pipeline.record import RunRecord


class Verdict(NamedTuple):
    """A verdict and the exit code that goes with it."""

    verdict: str
    exit_code: int


def unsafe_import(status: str, *, free_threading: bool = True) -> bool:
    """Whether an import with this status counts against the verdict (``gil-enabled`` only when judging
    free threading)."""
    return status == "error" or (free_threading and status == "gil-enabled")


def unsafe_status(status: str, on_failure: str) -> bool:
    """Whether a scenario run with this status counts against the verdict."""
    return status in ("crashed", "timeout") or (status == "failed" and on_failure == "unsafe")


def decide(record: RunRecord) -> Verdict:
    """The verdict of a record; also stored on it (``record.verdict``, ``record.exit_code``)."""
    verdict = _decide(record)
    record.verdict, record.exit_code = verdict
    return verdict


def _decide(record: RunRecord) -> Verdict:
    if record.interrupted is not None:
        return Verdict("interrupted", EXIT_INTERRUPTED[record.interrupted.signal])
    if record.failure is not None:
        return Verdict("error", record.failure.exit_code)
    if not record.fit:
        return Verdict("error", EXIT_UNFIT)
    if any(r.status == "not-found" for r in record.imports):
        return Verdict("error", EXIT_USAGE)
    free_threading = record.free_threading
    if (
        any(unsafe_import(r.status, free_threading=free_threading) for r in record.imports)
        or any(unsafe_status(s.status, s.on_failure) for s in record.scenarios)
        or any(unsafe_status(p.status, p.on_failure) for p in record.throughput)
        or (record.tsan is not None and any(f.on_failure == "unsafe" for f in record.tsan.package))
    ):
        return Verdict("unsafe", EXIT_UNSAFE)
    return Verdict("safe", EXIT_SAFE)
