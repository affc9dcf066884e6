"""Seeded bug: an ID generator whose read-modify-write is not atomic, so threads get duplicate IDs.

``DuplicateIds`` is the broken scenario, ``UniqueIds`` its correct twin (same generator, with a lock).
"""

from __future__ import annotations

import threading


class IdGenerator:
    """Hands out ``<prefix>-<n>`` IDs; reading, formatting and storing the counter are separate steps (the bug)."""

    def __init__(self, prefix: str = "req") -> None:
        self._prefix = prefix
        self._last = 0

    def next_id(self) -> str:
        number = self._last + 1
        ident = self._format(number)
        self._last = number
        return ident

    def issued(self) -> int:
        return self._last

    def _format(self, number: int) -> str:
        return f"{self._prefix}-{number:08d}"


class LockedIdGenerator(IdGenerator):
    """The same generator with the whole read-modify-write under one lock."""

    def __init__(self, prefix: str = "req") -> None:
        super().__init__(prefix)
        self._lock = threading.Lock()

    def next_id(self) -> str:
        with self._lock:
            return super().next_id()


class _IdScenario:
    """Every thread draws IDs from one shared generator; verify wants them all distinct and none lost."""

    generator_type: type[IdGenerator]
    threads: int
    iterations: int

    def setup(self) -> None:
        self.generator = self.generator_type()
        self.drawn: list[list[str]] = [[] for _ in range(self.threads)]

    def step(self, thread_index: int, iteration: int) -> None:
        self.drawn[thread_index].append(self.generator.next_id())

    def verify(self) -> None:
        ids = [ident for per_thread in self.drawn for ident in per_thread]
        expected = self.threads * self.iterations
        duplicates = len(ids) - len(set(ids))
        if duplicates or self.generator.issued() != expected:
            raise AssertionError(
                f"{duplicates} duplicate ids among {len(ids)}; counter at {self.generator.issued()}, "
                f"expected {expected}"
            )


class DuplicateIds(_IdScenario):
    """Broken: the unlocked generator."""

    generator_type = IdGenerator


class UniqueIds(_IdScenario):
    """Correct twin: the locked generator."""

    generator_type = LockedIdGenerator
