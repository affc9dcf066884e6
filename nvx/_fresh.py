"""Fresh ``bytes`` objects for C to fill: the result buffers of masking, allocated without a zero-fill pass.

cffi hands C the inside of a ``bytes`` passed as ``char *``; NVX passes a brand-new object that no other
code has seen yet, C writes every byte of it, and only then does Python code get it. Every pure-Python
way to make such an object initialises its contents (``b"\\0" * n`` writes n zeros), which for a large
buffer is a whole extra pass over memory. ``PyBytes_FromStringAndSize(NULL, n)`` leaves them as the
allocator returned them; it is reached through ctypes, whose call costs about as much as zero-filling
24-32 KiB. Yet zero-filling also brings the buffer into cache just before C writes it: allocation and
masking together measured the same both ways at 48 KiB and faster uninitialised only from 56-64 KiB
(cp314t), so it is used only from ``UNINITIALISED_MIN`` bytes (64 KiB) on.
"""

from __future__ import annotations

import ctypes

UNINITIALISED_MIN = 0x10000
"""Results of this many bytes or more are allocated uninitialised (smaller ones are zero-filled)."""

_from_string_and_size = ctypes.PYFUNCTYPE(ctypes.py_object, ctypes.c_void_p, ctypes.c_ssize_t)(
    ("PyBytes_FromStringAndSize", ctypes.pythonapi)
)


class _ZeroByte(bytes):
    """``bytes`` returns an exact ``bytes`` itself when asked to repeat it once; a subclass it never returns:
    its repetitions are always new exact ``bytes`` objects, whatever the count (0 and 1 included)."""

    __slots__ = ()


FRESH_ZERO = _ZeroByte(b"\0")
"""One zero byte whose every repetition ``FRESH_ZERO * n`` is a new, zero-filled ``bytes`` of n bytes."""


def new_bytes(length: int) -> bytes:
    """A new ``bytes`` of ``length`` bytes that no one else references, for C to overwrite completely.

    Below ``UNINITIALISED_MIN`` it is zero-filled; above, its contents are undefined until C writes them,
    so the caller must fill it before anything else sees it, and drop it if filling fails.
    """
    if length >= UNINITIALISED_MIN:
        return _from_string_and_size(None, length)
    return FRESH_ZERO * length
