"""Seeded bugs only TSan mode catches: every call returns the right answer, the C code still races.

``StaticBuffer`` fills one static buffer from every thread (a data race; the sums are always right),
``LocalBuffer`` is its clean twin (per-call buffer); ``LockOrder`` takes two C mutexes in opposite orders
(a lock-order inversion that never deadlocks here, a guard mutex serialises it).
"""

from __future__ import annotations

from tests.corpus import native

CDEF = """
unsigned long fill_static(unsigned char value, size_t n);
unsigned long fill_local(unsigned char value, size_t n);
unsigned long lock_ab(void);
unsigned long lock_ba(void);
"""

SIZE = 64
VALUE = 7


class _Fill:
    """Every thread fills a buffer with the same value and checks the sum it reads back (always right)."""

    function_name: str

    def setup(self) -> None:
        _, lib = native.cffi_module("tsan_race", CDEF)
        self.fill = getattr(lib, self.function_name)

    def step(self, thread_index: int, iteration: int) -> None:
        got = self.fill(VALUE, SIZE)
        if got != VALUE * SIZE:
            raise AssertionError(f"thread {thread_index} iteration {iteration}: sum {got}, expected {VALUE * SIZE}")


class StaticBuffer(_Fill):
    """Racy: the static buffer (right results, caught by TSan only)."""

    function_name = "fill_static"


class LocalBuffer(_Fill):
    """Clean: the per-call buffer."""

    function_name = "fill_local"


class LockOrder:
    """Even threads lock A then B, odd threads B then A; the counter only grows."""

    def setup(self) -> None:
        _, self.lib = native.cffi_module("tsan_race", CDEF)

    def step(self, thread_index: int, iteration: int) -> None:
        take = self.lib.lock_ab if thread_index % 2 == 0 else self.lib.lock_ba
        if take() <= 0:
            raise AssertionError("the locked counter did not grow")
