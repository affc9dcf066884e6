"""Held-out race: a bounded buffer that checks for room, then appends (check-then-put).

The buffer is a ``deque(maxlen=capacity)``, the maximum kept only as a safety net: ``try_put`` refuses an
item when the buffer is full. Two producers that both see one free slot both append, and the deque quietly
drops its oldest item to make room: an accepted item is lost. ``DroppedItems`` is the broken scenario;
``KeptItems`` is the correct twin (check and append, and every take, under one lock).
"""

from __future__ import annotations

import threading
from collections import deque

CAPACITY = 8
TAKE_EVERY = 2


class BoundedBuffer:
    """A FIFO of at most ``capacity`` items; ``try_put`` says whether the item was accepted."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._items: deque[object] = deque(maxlen=capacity)

    def try_put(self, item: object) -> bool:
        if len(self._items) >= self.capacity:
            return False
        self._items.append(item)
        return True

    def try_take(self) -> object | None:
        try:
            return self._items.popleft()
        except IndexError:
            return None

    def remaining(self) -> list[object]:
        return list(self._items)


class LockedBoundedBuffer(BoundedBuffer):
    """The same buffer with check-and-append and every take under one lock."""

    def __init__(self, capacity: int) -> None:
        super().__init__(capacity)
        self._lock = threading.Lock()

    def try_put(self, item: object) -> bool:
        with self._lock:
            return super().try_put(item)

    def try_take(self) -> object | None:
        with self._lock:
            return super().try_take()


class _BufferScenario:
    """Every thread puts an item each iteration and takes one every other; no accepted item may vanish."""

    buffer_type: type[BoundedBuffer]
    threads: int
    iterations: int

    def setup(self) -> None:
        self.buffer = self.buffer_type(CAPACITY)
        self.accepted: list[list[object]] = [[] for _ in range(self.threads)]
        self.taken: list[list[object]] = [[] for _ in range(self.threads)]

    def step(self, thread_index: int, iteration: int) -> None:
        item = (thread_index, iteration)
        if self.buffer.try_put(item):
            self.accepted[thread_index].append(item)
        if iteration % TAKE_EVERY:
            taken = self.buffer.try_take()
            if taken is not None:
                self.taken[thread_index].append(taken)

    def verify(self) -> None:
        accepted = {item for items in self.accepted for item in items}
        accounted = {item for items in self.taken for item in items} | set(self.buffer.remaining())
        lost = accepted - accounted
        if lost:
            raise AssertionError(f"{len(lost)} accepted items were dropped, e.g. {sorted(lost)[0]}")


class DroppedItems(_BufferScenario):
    """Broken: the unlocked check-then-put."""

    buffer_type = BoundedBuffer


class KeptItems(_BufferScenario):
    """Correct twin: the locked buffer."""

    buffer_type = LockedBoundedBuffer
