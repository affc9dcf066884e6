"""Held-out race: an LRU cache that moves an entry to the end on every read, while another reader's miss evicts.

``get`` checks that the key is cached, then moves it to the most-recent end and returns it; a miss in another
thread loads a key and evicts the least recently used one. An eviction between the check and the move raises
``KeyError``. ``EvictedWhileRead`` is the broken scenario; ``ReadUnderLock`` is the correct twin (every
``get`` under one lock). Both are :class:`harness.engine.Race` scenarios over one module-level cache each: a
hot reader cycling over a few keys and a cold reader over all of them.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

from harness.engine import Race

CAPACITY = 4
HOT_KEYS = (0, 1, 2)
ALL_KEYS = tuple(range(7))


def square(key: int) -> int:
    """The value a key loads to (cheap, so the cache is all there is to race on)."""
    return key * key


class LruCache:
    """At most ``capacity`` loaded values, least recently used evicted first."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[int, int] = OrderedDict()

    def get(self, key: int, load: Callable[[int], int]) -> int:
        if key in self._entries:
            self._entries.move_to_end(key)
            return self._entries[key]
        value = load(key)
        self._entries[key] = value
        if len(self._entries) > self.capacity:
            self._entries.popitem(last=False)
        return value


class LockedLruCache(LruCache):
    """The same cache with every ``get`` under one lock."""

    def __init__(self, capacity: int) -> None:
        super().__init__(capacity)
        self._lock = threading.Lock()

    def get(self, key: int, load: Callable[[int], int]) -> int:
        with self._lock:
            return super().get(key, load)


def reader(cache: LruCache, keys: tuple[int, ...]) -> Callable[[int, int], None]:
    """A step that reads ``keys`` in turn through ``cache`` and checks each value."""

    def read(thread_index: int, iteration: int) -> None:
        key = keys[iteration % len(keys)]
        value = cache.get(key, square)
        if value != square(key):
            raise AssertionError(f"cache returned {value} for key {key}, expected {square(key)}")

    return read


_CACHE = LruCache(CAPACITY)
_LOCKED_CACHE = LockedLruCache(CAPACITY)

EvictedWhileRead = Race(reader(_CACHE, HOT_KEYS), reader(_CACHE, ALL_KEYS))
ReadUnderLock = Race(reader(_LOCKED_CACHE, HOT_KEYS), reader(_LOCKED_CACHE, ALL_KEYS))
