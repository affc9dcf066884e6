"""Seeded bug: C code that clears a shared pointer during a refill, so a concurrent reader dereferences NULL.

``RacyRefill`` crashes the process (the harness must report "crashed" and carry on); ``LockedRefill`` is its
correct twin (the C side guards the pointer with a mutex). All threads refill and read one shared holder.
"""

from __future__ import annotations

from tests.corpus import native

CDEF = """
typedef struct holder holder;
holder *holder_new(size_t size);
void holder_free(holder *h);
int holder_refill_racy(holder *h, unsigned char value);
unsigned long holder_sum_racy(holder *h);
int holder_refill_locked(holder *h, unsigned char value);
unsigned long holder_sum_locked(holder *h);
"""

HOLDER_SIZE = 4096


class _HolderScenario:
    """Every thread refills one shared holder and reads it back; the oracle is that nothing crashes.

    (Another thread may refill between the two calls, so the sum read back is not checked.)
    """

    variant: str

    def setup(self) -> None:
        ffi, lib = native.cffi_module("crash", CDEF)
        self.holder = ffi.gc(lib.holder_new(HOLDER_SIZE), lib.holder_free)
        if self.holder == ffi.NULL:
            raise MemoryError("holder_new failed")
        self.refill = getattr(lib, f"holder_refill_{self.variant}")
        self.sum = getattr(lib, f"holder_sum_{self.variant}")

    def step(self, thread_index: int, iteration: int) -> None:
        if self.refill(self.holder, iteration & 0xFF) != 0:
            raise MemoryError("holder refill failed")
        self.sum(self.holder)


class RacyRefill(_HolderScenario):
    """Broken: the refill that publishes NULL."""

    variant = "racy"


class LockedRefill(_HolderScenario):
    """Correct twin: the mutex-guarded refill."""

    variant = "locked"
