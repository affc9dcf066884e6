"""Held-out race: a shared buffer whose reference count is kept in Python; the last release frees it.

``acquire`` and ``release`` update ``_refs`` with ``+=``/``-=``: two threads updating at once lose one
update, and the count reaches zero while the owner (and maybe a user) still holds the buffer, which is
freed under them (``RuntimeError`` on use, or ``verify()`` finds it freed); a lost release leaks it instead.
``FreedWhileHeld`` is the broken scenario; ``CountedUnderLock`` is the correct twin (count and free under one
lock).
"""

from __future__ import annotations

import threading

SIZE = 64


class SharedBuffer:
    """A buffer handed to several users; its owner holds the first reference."""

    def __init__(self) -> None:
        self._refs = 1
        self._data: bytearray | None = bytearray(SIZE)

    @property
    def refs(self) -> int:
        return self._refs

    def acquire(self) -> None:
        if self._data is None:
            raise RuntimeError("acquire after free")
        self._refs += 1

    def release(self) -> None:
        self._refs -= 1
        if self._refs == 0:
            self._free()

    def read(self, offset: int) -> int:
        data = self._data
        if data is None:
            raise RuntimeError("read after free")
        return data[offset % SIZE]

    def freed(self) -> bool:
        return self._data is None

    def _free(self) -> None:
        if self._data is None:
            raise RuntimeError("double free")
        self._data = None


class LockedSharedBuffer(SharedBuffer):
    """The same buffer with counting (and the free it may trigger) under one lock."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        with self._lock:
            super().acquire()

    def release(self) -> None:
        with self._lock:
            super().release()


class _BufferUsers:
    """The owner holds one reference all round; every thread acquires, reads and releases each iteration."""

    buffer_type: type[SharedBuffer]

    def setup(self) -> None:
        self.buffer = self.buffer_type()

    def step(self, thread_index: int, iteration: int) -> None:
        self.buffer.acquire()
        try:
            self.buffer.read(iteration)
        finally:
            self.buffer.release()

    def verify(self) -> None:
        if self.buffer.freed() or self.buffer.refs != 1:
            raise AssertionError(f"after the round: freed {self.buffer.freed()}, {self.buffer.refs} references "
                                 "(expected the owner's one)")


class FreedWhileHeld(_BufferUsers):
    """Broken: the unlocked count."""

    buffer_type = SharedBuffer


class CountedUnderLock(_BufferUsers):
    """Correct twin: the locked count."""

    buffer_type = LockedSharedBuffer
