"""The verdict: the one place a run record becomes "safe" / "imports-only" / "unsafe" / "error" / "interrupted"
and an exit code.

A run stopped by SIGINT or SIGTERM is "interrupted" (exit 130 or 143), whatever it had found so far.
A usage or environment problem met mid-run decides by itself (its exit code), and so does an unfit
interpreter (exit 3). Otherwise any import that raised, any module that turned the GIL on (when judging
free-threading), any crash or timeout, any failed scenario or throughput run classified ``unsafe``, (TSan mode)
any ThreadSanitizer report in the package's own code (reports only in the interpreter do not count), and a race,
a GIL culprit or too little multi-threaded coverage in the package's own test suite make the verdict unsafe
(exit 1), also when another module could not be found; else a module not found is bad input (exit 2).
A failed ``shared-use-unsafe`` scenario is a finding that does not fail the verdict: the object is documented
as unshareable.

"safe" needs something to have really run multi-threaded (a scenario at two threads or more, or a test of the
package's own suite); a run with nothing stressed and nothing wrong is ``imports-only``: exit 0,
or exit 4 ("nothing was stressed") when the run requires stress.
"""

from __future__ import annotations

from typing import NamedTuple

from harness import EXIT_INTERRUPTED, EXIT_NOT_GATED, EXIT_SAFE, EXIT_UNFIT, EXIT_UNSAFE, EXIT_USAGE
from harness.pipeline.record import RunRecord, SuiteSection


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


def unsafe_suite(tests: SuiteSection, *, free_threading: bool = True) -> bool:
    """Whether the package's own suite counts against the verdict: a race (a test failing threaded that passes
    alone), a GIL culprit its watch found (when judging free threading), or too few multi-threaded tests."""
    return bool(tests.races) or (free_threading and bool(tests.gil_culprits)) or tests.below_floor


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
    free_threading = record.free_threading
    if (
        any(unsafe_import(r.status, free_threading=free_threading) for r in record.imports)
        or any(unsafe_status(s.status, s.on_failure) for s in record.scenarios)
        or any(unsafe_status(p.status, p.on_failure) for p in record.throughput)
        or (record.tsan is not None and any(f.on_failure == "unsafe" for f in record.tsan.package))
        or (record.tests is not None and unsafe_suite(record.tests, free_threading=free_threading))
    ):
        return Verdict("unsafe", EXIT_UNSAFE)
    if any(r.status == "not-found" for r in record.imports):
        return Verdict("error", EXIT_USAGE)
    if not stressed(record):
        return Verdict("imports-only", EXIT_NOT_GATED if record.require_stress else EXIT_SAFE)
    return Verdict("safe", EXIT_SAFE)


def stressed(record: RunRecord) -> bool:
    """Whether anything really ran multi-threaded: a scenario at two threads or more, or a test."""
    return any(s.threads >= 2 for s in record.scenarios) or (
        record.tests is not None and record.tests.multi_threaded > 0
    )
