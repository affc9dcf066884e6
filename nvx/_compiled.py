"""Compiled NVX backend: thin Python wrappers over the cffi extension ``nvx._nvx_cffi``.

Each public call is one C call whose result arrives as a single packed 64-bit integer (see ``nvx.h``),
so the call path is: argument check, one cffi call, a few integer operations, the result.

The cffi functions called on every message use deferred reference counting on a free-threaded build
(see ``nvx._sharing``), so threads with their own instances touch no shared counter per call.
"""

from __future__ import annotations

from nvx._fresh import FRESH_ZERO as _FRESH_ZERO
from nvx._fresh import new_bytes
from nvx._nvx_cffi import ffi, lib
from nvx._sharing import defer_refcounts

LEVELS = ("scalar", "avx2", "avx512")
"""SIMD levels, slowest first; each instance may be pinned to one (tests exercise them all)."""
AVAILABLE_LEVELS = LEVELS[: lib.nvx_cpu_level() + 1]
"""Levels this CPU supports, detected once at import."""
BEST_LEVEL = AVAILABLE_LEVELS[-1]

_validate = lib.nvx_utf8_validate
_process = lib.nvx_xor_process
_mask = lib.nvx_xor_mask
_new = ffi.new
_XOR_STATE = ffi.typeof(f"uint8_t[{lib.NVX_XOR_STATE_SIZE}]")
DEFERRED = defer_refcounts(_validate, _process, _mask, _new, _XOR_STATE, _FRESH_ZERO)
"""How many of the shared objects used per message or per masker have deferred reference counting (6 on a
free-threaded build). Module constants used per call are otherwise immortal (small ints, one-byte bytes) or
written as literals: a shared object that is neither would have its reference count updated atomically by
every thread on every call. A literal is immortal only when the module is loaded from its .pyc, though: the
free-threaded build leaves the constants of a module compiled from source mortal (first import,
PYTHONDONTWRITEBYTECODE, a read-only site-packages; measured on 3.14.7t). The size test below,
``length < 0x10000`` (0x10000 being nvx._fresh.UNINITIALISED_MIN, where results stop being zero-filled),
stays a literal anyway: spelled ``not length >> 15`` (small ints only) it measured 30-40 ns slower per call
on one thread, in process and in mask."""
_from_buffer = ffi.from_buffer
_LEVEL_BYTE = tuple(bytes([number]) for number in range(len(AVAILABLE_LEVELS)))
_BEST_BYTE = _LEVEL_BYTE[-1]
_BEST_HOW = (len(AVAILABLE_LEVELS) - 1) << 2


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


def _key(mask) -> bytes:
    """The 4 key bytes of any bytes-like ``mask``; TypeError if it is not bytes-like, ValueError if not 4."""
    key = memoryview(mask).tobytes()
    if len(key) != 4:
        raise ValueError(f"mask must be exactly 4 bytes, got {len(key)}")
    return key


def mask(data, key, offset: int = 0, level: str | None = None) -> bytes:
    """``data`` XOR the 4-byte ``key``, the key starting at phase ``offset % 4``: one WebSocket frame
    masked in one call, as ``XorMasker(key)`` would after ``offset`` bytes, without building one."""
    if type(key) is not bytes or len(key) != 4:
        key = _key(key)
    how = (offset & 3) | (_BEST_HOW if level is None else _level_number(level) << 2)
    try:  # as in XorMasker.process
        length = len(data)
        out = _FRESH_ZERO * length if length < 0x10000 else new_bytes(length)
        _mask(data, out, length, key, how)
    except TypeError:
        return mask(_as_buffer(data), key, offset, level)
    return out


class Utf8Validator:
    """Incremental UTF-8 validator with the semantics of autobahn's NVX ``Utf8Validator``."""

    __slots__ = ("_state",)

    def __init__(self, level: str | None = None) -> None:
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
        # Decoding of the packed result (see nvx.h), its constants spelled out for the reason given at DEFERRED.
        if result >= 0:
            return (True, True, length, result)
        if result >= -(1 << 62):
            return (True, False, length, -1 - result)
        packed = result + (1 << 63)
        if packed < 1 << 61:
            return (False, False, packed >> 30, packed & ((1 << 30) - 1))
        return (False, False, packed - (1 << 61), lib.nvx_utf8_total(self._state))


class XorMasker:
    """RFC 6455 XOR masker with a 4-byte key whose phase continues across ``process`` calls."""

    __slots__ = ("_state",)

    def __init__(self, mask, level: str | None = None) -> None:
        # One ffi.new makes and fills the whole state (key, level byte, zero pointer: see nvx.h).
        if type(mask) is not bytes or len(mask) != 4 or level is not None:
            self._state = _new(_XOR_STATE, _key(mask) + _LEVEL_BYTE[_level_number(level)])
        else:
            self._state = _new(_XOR_STATE, mask + _BEST_BYTE)

    def pointer(self) -> int:
        """Number of bytes masked since construction or the last ``reset()``."""
        return lib.nvx_xor_pointer(self._state)

    def reset(self) -> None:
        lib.nvx_xor_reset(self._state)

    def process(self, data) -> bytes:
        """Return ``data`` XOR the key, continuing the key phase from the previous call."""
        try:  # as in Utf8Validator.validate
            length = len(data)
            # A fresh bytes object that C fills in place: the only allocation of the call is the result
            # (from 64 KiB on it comes uninitialised from nvx._fresh.new_bytes: see there).
            out = _FRESH_ZERO * length if length < 0x10000 else new_bytes(length)
            _process(self._state, data, out, length)
        except TypeError:  # the unfilled result is dropped here, never returned
            return self.process(_as_buffer(data))
        return out
