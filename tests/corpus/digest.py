"""Seeded bug: a CFFI wrapper that needs three C calls (reset, update, read back) per result, on one shared context.

``SharedDigest`` is the broken scenario (one instance used by every thread, results mix callers' data);
``LockedSharedDigest`` is its correct twin (the same wrapper holding a lock across the calls).
"""

from __future__ import annotations

import threading

from tests.corpus import native

CDEF = """
typedef struct { uint32_t state; size_t length; } digest_ctx;
void digest_reset(digest_ctx *ctx);
void digest_update(digest_ctx *ctx, const unsigned char *data, size_t n);
uint32_t digest_value(const digest_ctx *ctx);
size_t digest_length(const digest_ctx *ctx);
"""


def fnv1a(data: bytes) -> int:
    """The reference digest (32-bit FNV-1a)."""
    state = 2166136261
    for byte in data:
        state = ((state ^ byte) * 16777619) & 0xFFFFFFFF
    return state


class Digest:
    """One C digest context; ``digest(data)`` returns ``(value, length)`` read back after reset and update."""

    def __init__(self) -> None:
        self._ffi, self._lib = native.cffi_module("digest", CDEF)
        self._ctx = self._ffi.new("digest_ctx *")

    def digest(self, data: bytes) -> tuple[int, int]:
        self._lib.digest_reset(self._ctx)
        self._lib.digest_update(self._ctx, data, len(data))
        return self._lib.digest_value(self._ctx), self._lib.digest_length(self._ctx)


class LockedDigest(Digest):
    """The same wrapper; the reset, update and read-back happen under one lock."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def digest(self, data: bytes) -> tuple[int, int]:
        with self._lock:
            return super().digest(data)


class _SharedDigestScenario:
    """All threads share one wrapper instance; every digest must match the reference for the caller's data."""

    digest_type: type[Digest]

    def setup(self) -> None:
        self.shared = self.digest_type()

    def step(self, thread_index: int, iteration: int) -> None:
        data = f"thread {thread_index} message {iteration} ".encode() * (1 + thread_index % 3)
        got = self.shared.digest(data)
        if got != (fnv1a(data), len(data)):
            raise AssertionError(f"thread {thread_index} got digest {got}, expected {(fnv1a(data), len(data))}")


class SharedDigest(_SharedDigestScenario):
    """Broken: the unlocked wrapper, shared."""

    digest_type = Digest


class LockedSharedDigest(_SharedDigestScenario):
    """Correct twin: the locked wrapper, shared."""

    digest_type = LockedDigest
