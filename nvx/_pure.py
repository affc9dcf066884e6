"""Pure-Python NVX: the reference implementation (the tests' oracle) and the fallback backend.

Same API and semantics as the compiled backend. The validator is a byte-at-a-time automaton over the
well-formed UTF-8 sequences of Unicode (Table 3-7), skipping ASCII runs with one regex search. Each
instance guards its state with a lock, so every call is atomic, as in C.
"""

from __future__ import annotations

import re
import threading

_ACCEPT = 0
_REJECT = 1
# Pending states: (lowest, highest) allowed next byte and the state after it.
_PENDING = {
    2: (0x80, 0xBF, _ACCEPT),  # one continuation due
    3: (0x80, 0xBF, 2),  # two due
    4: (0xA0, 0xBF, 2),  # after E0: no overlongs
    5: (0x80, 0x9F, 2),  # after ED: no surrogates
    6: (0x90, 0xBF, 3),  # after F0: no overlongs
    7: (0x80, 0xBF, 3),  # three due
    8: (0x80, 0x8F, 3),  # after F4: nothing above U+10FFFF
}
_NON_ASCII = re.compile(rb"[\x80-\xff]")


def _lead_state(byte: int) -> int:
    if byte < 0x80:
        return _ACCEPT
    if byte < 0xC2:
        return _REJECT  # a continuation byte, or C0/C1 (always overlong)
    if byte < 0xE0:
        return 2
    if byte < 0xF0:
        return 4 if byte == 0xE0 else 5 if byte == 0xED else 3
    if byte < 0xF5:
        return 6 if byte == 0xF0 else 8 if byte == 0xF4 else 7
    return _REJECT


_LEAD = tuple(_lead_state(byte) for byte in range(256))  # state after each byte from a boundary


def _byte_view(data) -> memoryview:
    view = memoryview(data)
    if not view.c_contiguous:
        view = memoryview(view.tobytes())
    return view.cast("B")


def _scan(view: memoryview, state: int) -> tuple[int, int]:
    """Run the automaton over view from state; returns (final state, bytes consumed before a reject)."""
    length = len(view)
    i = 0
    while i < length:
        if state == _ACCEPT:
            found = _NON_ASCII.search(view, i)
            if found is None:
                return state, length
            i = found.start()
            state = _LEAD[view[i]]
        else:
            low, high, following = _PENDING[state]
            state = following if low <= view[i] <= high else _REJECT
        if state == _REJECT:
            return state, i
        i += 1
    return state, length


class Utf8Validator:
    """Incremental UTF-8 validator with the semantics of autobahn's NVX ``Utf8Validator``."""

    __slots__ = ("_lock", "_state", "_total")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state = _ACCEPT
        self._total = 0

    def reset(self) -> None:
        with self._lock:
            self._state = _ACCEPT
            self._total = 0

    def validate(self, data) -> tuple[bool, bool, int, int]:
        """Feed the next chunk; returns ``(is_valid, ends_on_codepoint, current_index, total_index)``."""
        view = _byte_view(data)
        with self._lock:
            if self._state == _REJECT:
                return (False, False, 0, self._total)
            self._state, current = _scan(view, self._state)
            self._total += current
            valid = self._state != _REJECT
            return (valid, self._state == _ACCEPT, current, self._total)


class XorMasker:
    """RFC 6455 XOR masker with a 4-byte key whose phase continues across ``process`` calls."""

    __slots__ = ("_key", "_lock", "_pointer")

    def __init__(self, mask) -> None:
        key = memoryview(mask).tobytes()
        if len(key) != 4:
            raise ValueError(f"mask must be exactly 4 bytes, got {len(key)}")
        self._key = key
        self._lock = threading.Lock()
        self._pointer = 0

    def pointer(self) -> int:
        """Number of bytes masked since construction or the last ``reset()``."""
        with self._lock:
            return self._pointer

    def reset(self) -> None:
        with self._lock:
            self._pointer = 0

    def process(self, data) -> bytes:
        """Return ``data`` XOR the key, continuing the key phase from the previous call."""
        payload = _byte_view(data).tobytes()
        with self._lock:
            phase = self._pointer & 3
            self._pointer += len(payload)
        return _xor(payload, self._key, phase)


def mask(data, key, offset: int = 0) -> bytes:
    """``data`` XOR the 4-byte ``key``, the key starting at phase ``offset % 4`` (one frame, no masker)."""
    return _xor(_byte_view(data).tobytes(), XorMasker(key)._key, offset & 3)


def _xor(payload: bytes, key: bytes, phase: int) -> bytes:
    length = len(payload)
    stream = (key[phase:] + key[:phase]) * (length // 4 + 1)
    masked = int.from_bytes(payload, "little") ^ int.from_bytes(stream[:length], "little")
    return masked.to_bytes(length, "little")
