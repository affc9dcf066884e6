"""Compiled NVX backend: thin Python wrappers over the cffi extension ``nvx._nvx_cffi``.

Each public call is one C call whose result arrives as a single packed 64-bit integer (see ``nvx.h``),
so the call path is: argument check, one cffi call, a few integer operations, the result.

The cffi functions called on every message use deferred reference counting on a free-threaded build
(see ``nvx._sharing``), so threads with their own instances touch no shared counter per call.
"""

from __future__ import annotations

from nvx._nvx_cffi import ffi, lib
from nvx._sharing import defer_refcounts

LEVELS = ("scalar", "avx2", "avx512")
"""SIMD levels, slowest first; each instance may be pinned to one (tests exercise them all)."""
AVAILABLE_LEVELS = LEVELS[: lib.nvx_cpu_level() + 1]
"""Levels this CPU supports, detected once at import."""
BEST_LEVEL = AVAILABLE_LEVELS[-1]

_validate = lib.nvx_utf8_validate
_process = lib.nvx_xor_process
DEFERRED = defer_refcounts(_validate, _process)
"""How many of the per-message cffi functions use deferred reference counting (2 on a free-threaded build)."""
_from_buffer = ffi.from_buffer
_ZERO = b"\0"
# Decoding of nvx_utf8_validate's packed int64 result (see nvx.h).
_PARTIAL_MIN = -(1 << 62)
_INVALID_BASE = -(1 << 63)
_BIG = 1 << 61
_LOW30 = (1 << 30) - 1


def _level_number(level: str | None) -> int:
    if level is None:
        return len(AVAILABLE_LEVELS) - 1
    if level not in AVAILABLE_LEVELS:
        raise ValueError(f"SIMD level {level!r} is not available here; expected one of {AVAILABLE_LEVELS}")
    return AVAILABLE_LEVELS.index(level)


def _as_buffer(data):
    """A view cffi can pass as ``char *`` of any bytes-like object (a copy only if non-contiguous)."""
    try:
        return _from_buffer(data)
    except (ValueError, BufferError):
        return memoryview(data).tobytes()


class Utf8Validator:
    """Incremental UTF-8 validator with the semantics of autobahn's NVX ``Utf8Validator``."""

    __slots__ = ("_state",)

    def __init__(self, *, level: str | None = None) -> None:
        self._state = ffi.new("nvx_utf8 *")
        lib.nvx_utf8_init(self._state, _level_number(level))

    def reset(self) -> None:
        lib.nvx_utf8_reset(self._state)

    def validate(self, data) -> tuple[bool, bool, int, int]:
        """Feed the next chunk; returns ``(is_valid, ends_on_codepoint, current_index, total_index)``."""
        try:  # bytes go straight to C; other bytes-like objects are refused by cffi and wrapped below
            length = len(data)
            result = _validate(self._state, data, length)
        except TypeError:
            return self.validate(_as_buffer(data))
        if result >= 0:
            return (True, True, length, result)
        if result >= _PARTIAL_MIN:
            return (True, False, length, -1 - result)
        packed = result - _INVALID_BASE
        if packed < _BIG:
            return (False, False, packed >> 30, packed & _LOW30)
        return (False, False, packed - _BIG, lib.nvx_utf8_total(self._state))


class XorMasker:
    """RFC 6455 XOR masker with a 4-byte key whose phase continues across ``process`` calls."""

    __slots__ = ("_state",)

    def __init__(self, mask, *, level: str | None = None) -> None:
        key = memoryview(mask).tobytes()
        if len(key) != 4:
            raise ValueError(f"mask must be exactly 4 bytes, got {len(key)}")
        self._state = ffi.new("nvx_xor *")
        lib.nvx_xor_init(self._state, key, _level_number(level))

    def pointer(self) -> int:
        """Number of bytes masked since construction or the last ``reset()``."""
        return lib.nvx_xor_pointer(self._state)

    def reset(self) -> None:
        lib.nvx_xor_reset(self._state)

    def process(self, data) -> bytes:
        """Return ``data`` XOR the key, continuing the key phase from the previous call."""
        try:  # as in Utf8Validator.validate
            length = len(data)
            # A fresh bytes object that C fills in place: the only allocation of the call is the result.
            # (b"\0" * 1 would be the shared constant itself, hence bytes(1); repeating is the cheaper way.)
            out = _ZERO * length if length > 1 else bytes(length)
            _process(self._state, data, out, length)
        except TypeError:
            return self.process(_as_buffer(data))
        return out
