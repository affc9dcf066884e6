"""TSan mode: what changes when the judged interpreter is a ThreadSanitizer build.

Every scenario runs in its own child with ``TSAN_OPTIONS`` pointing its reports into its own folder under
``<report-dir>/<run-id>.tsan/`` (so a finding is attributed by where it was written), with the shipped
suppressions plus the user's. Iterations per round are raised to :data:`MIN_ITERATIONS`, with fewer rounds for
the same number of calls: a race shows only once TSan sees two accesses with no happens-before edge between
them, and CPython's atomic reference counting on shared objects makes such edges in most short runs. The
timeout and the stall time grow with TSan's slowdown.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from harness import UsageError
from harness.engine import tsan
from harness.interpreter.children import tsan_env
from harness.settings import StressSettings

# Measured on the static-buffer race (tests/corpus/tsan_race.py): see the README's TSan section.
MIN_ITERATIONS = 5_000
TIMEOUT_FACTOR = 10.0


@dataclass(frozen=True)
class TSanRun:
    """One TSan run's log folder and the suppressions file its children use."""

    log_dir: Path
    suppressions: Path

    @classmethod
    def start(cls, log_dir: Path, extra_suppressions: Path | None = None) -> TSanRun:
        """Make ``log_dir`` and write the shipped suppressions plus ``extra_suppressions`` into it (atomically)."""
        text = tsan.SUPPRESSIONS.read_text(encoding="utf-8")
        if extra_suppressions is not None:
            try:
                text += f"\n# from {extra_suppressions}\n" + extra_suppressions.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise UsageError(f"cannot read --tsan-suppressions {extra_suppressions}: {exc}") from None
        log_dir.mkdir(parents=True, exist_ok=True)
        path = log_dir / "suppressions.txt"
        temp = path.with_suffix(f".tmp{os.getpid()}")
        temp.write_text(text, encoding="utf-8")
        os.replace(temp, path)
        return cls(log_dir, path)

    def folder(self, target: str, scenario: str) -> Path:
        """Where the reports of one scenario's child go."""
        return self.log_dir / re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{target}-{scenario}")

    def env(self, env: Mapping[str, str] | None, target: str, scenario: str) -> dict[str, str]:
        return tsan_env(os.environ if env is None else env, self.folder(target, scenario), self.suppressions)

    def collect(self, findings: tsan.Findings, target: str, scenario: str, on_failure: str) -> None:
        """Add the reports of one scenario's child to ``findings``."""
        findings.add(tsan.read_logs(self.folder(target, scenario)), scenario=scenario, target=target,
                     on_failure=on_failure)


def tsan_settings(settings: StressSettings) -> StressSettings:
    """``settings`` with at least :data:`MIN_ITERATIONS` per round, fewer rounds for the same number of calls,
    and room for TSan's slowdown (the timeout and the stall time: a thread waiting on a lock whose holder the
    instrumented, loaded machine has not scheduled for half a second is no deadlock)."""
    iterations = max(settings.iterations, MIN_ITERATIONS)
    rounds = max(1, math.ceil(settings.rounds * settings.iterations / iterations))
    return settings.replace(iterations=iterations, rounds=rounds, timeout_s=settings.timeout_s * TIMEOUT_FACTOR,
                            stall_s=settings.stall_s * TIMEOUT_FACTOR)
