"""Timing for benchmarks: candidates measured in interleaved rounds, reported as best-of-k with the spread.

Interleaving (every round times each candidate once, in turn) spreads a noisy neighbour's bursts over all
candidates instead of charging them to whichever happened to run then; the best of k rounds is the
figure least disturbed by other processes, and the spread says how much they disturbed the rest.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Timing:
    """Seconds per unit of work over k rounds: the best, the median and the worst."""

    best_s: float
    median_s: float
    worst_s: float
    rounds: int

    @property
    def spread_pct(self) -> float:
        """How far the median lies above the best, in percent (a noise gauge)."""
        return 100.0 * (self.median_s - self.best_s) / self.best_s if self.best_s else 0.0


def interleaved(candidates: Mapping[str, Callable[[], object]], *, rounds: int, units: int = 1) -> dict[str, Timing]:
    """Time each candidate ``rounds`` times, round-robin; every call does ``units`` units of work."""
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(rounds):
        for name, work in candidates.items():
            start = time.perf_counter()
            work()
            samples[name].append((time.perf_counter() - start) / units)
    return {name: _summary(times) for name, times in samples.items()}


def _summary(times: list[float]) -> Timing:
    return Timing(min(times), statistics.median(times), max(times), len(times))
