"""Held-out race: a double-checked singleton that forgot the second check.

``instance()`` tests ``cls._instance`` without the lock, then takes the lock and creates the instance, but
does not test again inside: two first callers that both saw ``None`` create two instances one after the
other, and the first caller keeps one nobody else sees. ``TwoInstances`` is the broken scenario;
``OneInstance`` is the correct twin (the test repeated under the lock). Each round uses a fresh subclass
with its own lock, so every round has a first use.
"""

from __future__ import annotations

import threading
from typing import ClassVar

SINKS = ("stdout", "file", "metrics")


class Telemetry:
    """Process-wide telemetry: one instance, made on first use."""

    _instance: ClassVar[Telemetry | None] = None
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self) -> None:
        self.sinks = {name: [] for name in SINKS}

    @classmethod
    def instance(cls) -> Telemetry:
        if cls._instance is None:
            with cls._lock:
                cls._instance = cls()
        return cls._instance


class CheckedTelemetry(Telemetry):
    """The same singleton with the test repeated under the lock."""

    @classmethod
    def instance(cls) -> Telemetry:
        if cls._instance is None:
            with cls._lock:
                if cls._instance is None:
                    cls._instance = cls()
        return cls._instance


class _FirstUse:
    """Every thread asks for the instance of a fresh subclass on every iteration; all must get the same one."""

    base: type[Telemetry]
    threads: int

    def setup(self) -> None:
        self.service = type(f"Round{self.base.__name__}", (self.base,), {"_lock": threading.Lock()})
        self.seen: list[list[Telemetry]] = [[] for _ in range(self.threads)]

    def step(self, thread_index: int, iteration: int) -> None:
        self.seen[thread_index].append(self.service.instance())

    def verify(self) -> None:
        distinct = {id(instance) for per_thread in self.seen for instance in per_thread}
        if len(distinct) != 1:
            raise AssertionError(f"{len(distinct)} distinct instances of the singleton")


class TwoInstances(_FirstUse):
    """Broken: no second check."""

    base = Telemetry


class OneInstance(_FirstUse):
    """Correct twin: checked again under the lock."""

    base = CheckedTelemetry
