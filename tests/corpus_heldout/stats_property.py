"""Held-out race: a hit counter behind a property, incremented with ``stats.hits += 1`` from several threads.

The property makes the counter look like a plain attribute, but ``+=`` on it is a getter call, an addition
and a setter call: two threads read the same value and one increment is lost. ``LostHits`` is the broken
scenario; ``CountedHits`` is the correct twin (the increment is one method holding the stats' lock).
Both are built with :func:`harness.engine.stateful`.
"""

from __future__ import annotations

import threading

from harness.engine import stateful


class CacheStats:
    """Cache statistics; ``hits`` is validated on write, so it is a property over ``_hits``."""

    def __init__(self) -> None:
        self._hits = 0
        self._lock = threading.Lock()

    @property
    def hits(self) -> int:
        return self._hits

    @hits.setter
    def hits(self, value: int) -> None:
        if value < 0:
            raise ValueError(f"hits cannot be negative: {value}")
        self._hits = value

    def add_hit(self) -> None:
        with self._lock:
            self.hits += 1


def _record_hit(stats: CacheStats, thread_index: int, iteration: int) -> None:
    stats.hits += 1


def _add_hit(stats: CacheStats, thread_index: int, iteration: int) -> None:
    stats.add_hit()


def _check_hits(objects: list[CacheStats], threads: int, iterations: int) -> None:
    (stats,) = objects
    if stats.hits != threads * iterations:
        raise AssertionError(f"{stats.hits} hits counted, expected {threads * iterations}")


LostHits = stateful(CacheStats, _record_hit, shared=True, check=_check_hits)
CountedHits = stateful(CacheStats, _add_hit, shared=True, check=_check_hits)
