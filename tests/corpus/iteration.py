"""Seeded bug: an event bus whose subscriber dict is mutated while another thread iterates it to publish.

``MutatedWhilePublishing`` is the broken scenario (``RuntimeError: dictionary changed size during iteration``
or events missed); ``SnapshotPublishing`` is its correct twin (mutations and the snapshot under one lock).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

Callback = Callable[[int], None]

STANDING_SUBSCRIBERS = 32
HANDLERS_PER_CLIENT = 8


class EventBus:
    """Calls every subscribed callback for each published event."""

    def __init__(self) -> None:
        self._callbacks: dict[object, Callback] = {}

    def subscribe(self, key: object, callback: Callback) -> None:
        self._callbacks[key] = callback

    def unsubscribe(self, key: object) -> None:
        self._callbacks.pop(key, None)

    def publish(self, event: int) -> None:
        for callback in self._callbacks.values():
            callback(event)


class LockedEventBus(EventBus):
    """The same bus; publishing iterates a snapshot taken under the lock that guards every mutation."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def subscribe(self, key: object, callback: Callback) -> None:
        with self._lock:
            super().subscribe(key, callback)

    def unsubscribe(self, key: object) -> None:
        with self._lock:
            super().unsubscribe(key)

    def publish(self, event: int) -> None:
        with self._lock:
            callbacks = list(self._callbacks.values())
        for callback in callbacks:
            callback(event)


def _ignore(event: int) -> None:
    """A transient client's handler."""


class _BusScenario:
    """Publishers race clients that come and go; every standing subscriber must see every event.

    A churner thread connects a client (subscribing its handlers) on even iterations and disconnects it on
    odd ones, so the subscriber table changes size under any publish in flight.
    """

    bus_type: type[EventBus]
    roles = ("publisher", "churner")
    threads: int
    iterations: int

    def setup(self) -> None:
        self.bus = self.bus_type()
        self.received: list[list[int]] = [[] for _ in range(STANDING_SUBSCRIBERS)]
        for n, inbox in enumerate(self.received):
            self.bus.subscribe(("standing", n), inbox.append)

    def publisher(self, thread_index: int, iteration: int) -> None:
        self.bus.publish(iteration)

    def churner(self, thread_index: int, iteration: int) -> None:
        client = (thread_index, iteration - iteration % 2)
        for handler in range(HANDLERS_PER_CLIENT):
            if iteration % 2:
                self.bus.unsubscribe((client, handler))
            else:
                self.bus.subscribe((client, handler), _ignore)

    def verify(self) -> None:
        publishers = len(range(0, self.threads, len(self.roles)))
        expected = publishers * self.iterations
        short = [n for n, inbox in enumerate(self.received) if len(inbox) != expected]
        if short:
            raise AssertionError(f"{len(short)} standing subscribers missed events (expected {expected} each)")


class MutatedWhilePublishing(_BusScenario):
    """Broken: the unlocked bus."""

    bus_type = EventBus


class SnapshotPublishing(_BusScenario):
    """Correct twin: the locked bus that publishes from a snapshot."""

    bus_type = LockedEventBus
