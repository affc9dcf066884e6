"""Held-out race: a list of watchers iterated by a dispatcher while another thread inserts and removes entries.

Watchers are kept sorted by priority, so an urgent one goes to the front; the janitor adds an urgent watcher
and removes it again. A removal in front of the dispatcher's position makes its loop skip a watcher, an
insertion makes it notify one twice. ``ShiftedWhileDispatching`` is the broken scenario (a standing watcher
misses or repeats an event); ``SnapshotDispatching`` is the correct twin (mutations and the snapshot that is
iterated taken under one lock).
"""

from __future__ import annotations

import bisect
import threading
from dataclasses import dataclass, field

STANDING_WATCHERS = 4


@dataclass(eq=False)
class Watcher:
    priority: int
    name: str
    events: list[int] = field(default_factory=list)

    def notify(self, event: int) -> None:
        self.events.append(event)


class Dispatcher:
    """Notifies its watchers in priority order (lowest first)."""

    def __init__(self) -> None:
        self._watchers: list[Watcher] = []

    def add(self, watcher: Watcher) -> None:
        bisect.insort(self._watchers, watcher, key=lambda w: w.priority)

    def remove(self, watcher: Watcher) -> None:
        self._watchers.remove(watcher)

    def dispatch(self, event: int) -> None:
        for watcher in self._watchers:
            watcher.notify(event)


class LockedDispatcher(Dispatcher):
    """The same dispatcher; changes and the snapshot it dispatches over are taken under one lock."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def add(self, watcher: Watcher) -> None:
        with self._lock:
            super().add(watcher)

    def remove(self, watcher: Watcher) -> None:
        with self._lock:
            super().remove(watcher)

    def dispatch(self, event: int) -> None:
        with self._lock:
            watchers = list(self._watchers)
        for watcher in watchers:
            watcher.notify(event)


class _DispatchScenario:
    """A dispatcher thread sends one event per iteration; a janitor adds an urgent watcher and removes it again."""

    dispatcher_type: type[Dispatcher]
    roles = ("dispatcher", "janitor")
    threads: int
    iterations: int

    def setup(self) -> None:
        self.hub = self.dispatcher_type()
        self.standing = [Watcher(10 + n, f"standing-{n}") for n in range(STANDING_WATCHERS)]
        for watcher in self.standing:
            self.hub.add(watcher)
        self.urgent: dict[int, Watcher] = {}

    def dispatcher(self, thread_index: int, iteration: int) -> None:
        self.hub.dispatch(iteration)

    def janitor(self, thread_index: int, iteration: int) -> None:
        if iteration % 2 == 0:
            self.urgent[thread_index] = Watcher(0, f"urgent-{thread_index}-{iteration}")
            self.hub.add(self.urgent[thread_index])
        else:
            self.hub.remove(self.urgent.pop(thread_index))

    def verify(self) -> None:
        dispatchers = len(range(0, self.threads, len(self.roles)))
        expected = dispatchers * self.iterations
        wrong = [w.name for w in self.standing if len(w.events) != expected]
        if wrong:
            raise AssertionError(f"{wrong} saw a wrong number of events (expected {expected} each)")


class ShiftedWhileDispatching(_DispatchScenario):
    """Broken: the dispatcher iterates the live list."""

    dispatcher_type = Dispatcher


class SnapshotDispatching(_DispatchScenario):
    """Correct twin: the locked dispatcher iterating a snapshot."""

    dispatcher_type = LockedDispatcher
