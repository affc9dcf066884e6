"""Seeded test data and independent oracles for UTF-8 validation and WebSocket masking, shared by the
built-in targets' scenarios and the test suite (one copy; no target's own code).

The oracles are written from the specifications, not from any implementation under test: UTF-8 validity per
CPython's strict ``utf-8`` codec (``bytes.decode``), XOR masking per RFC 6455 section 5.3.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence

# What an incremental UTF-8 validator returns per chunk: (valid so far, ends on a code point, bytes of this
# chunk accepted, bytes of the stream accepted); on rejection the last two point at the offending byte.
Result = tuple[bool, bool, int, int]
Buffer = bytes | bytearray | memoryview


def _pool() -> tuple[str, ...]:
    """Pieces of text to draw from: code points of every UTF-8 length (so chunk borders fall inside 2-, 3-
    and 4-byte sequences), and ASCII runs long enough for SIMD paths. Fixed, so runs are reproducible."""
    rng = random.Random(0)
    ranges = ((0x20, 0x7E), (0x80, 0x7FF), (0x800, 0xD7FF), (0xE000, 0xFFFD), (0x10000, 0x10FFFF))
    pieces = [chr(rng.randint(low, high)) for low, high in ranges for _ in range(64)]
    return (*pieces, *("x" * n for n in range(1, 41, 3)))


_POOL = _pool()
# Ill-formed sequences of each kind a validator must reject: stray continuation, bad lead, overlong,
# surrogate, above U+10FFFF, truncated sequence followed by ASCII.
_INVALID = (b"\x80", b"\xff", b"\xc0\xaf", b"\xe0\x80\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe2\x82A",
            b"\xe2\x28\xa1", b"\xf0\x28")


def random_text(rng: random.Random, max_pieces: int) -> str:
    """Text of up to ``max_pieces`` pieces of the pool (code points of every UTF-8 length, ASCII runs)."""
    return "".join(rng.choices(_POOL, k=rng.randrange(max_pieces + 1)))


def random_stream(rng: random.Random, max_pieces: int) -> bytes:
    """UTF-8 bytes of random text: ill-formed at one random place in about a third of the streams, cut
    inside a code point in about one in six, else well formed."""
    data = random_text(rng, max_pieces).encode()
    kind = rng.random()
    if kind < 0.35:
        at = rng.randrange(len(data) + 1)
        return data[:at] + rng.choice(_INVALID) + data[at:]
    if kind < 0.5 and data:
        return data[: rng.randrange(len(data) + 1)]
    return data


def random_ascii(rng: random.Random, low: int, high: int) -> bytes:
    """``low`` to ``high`` printable ASCII bytes."""
    return bytes(rng.randint(0x20, 0x7E) for _ in range(rng.randint(low, high)))


def random_chunks(rng: random.Random, data: bytes, *, mixed_buffers: bool = False) -> list[Buffer]:
    """``data`` cut at up to five random places (inside code points too, empty chunks included); with
    ``mixed_buffers`` each chunk is randomly bytes, a bytearray or a memoryview."""
    cuts = sorted(rng.randrange(len(data) + 1) for _ in range(rng.randrange(6)))
    chunks: list[Buffer] = []
    for start, end in itertools.pairwise([0, *cuts, len(data)]):
        piece = data[start:end]
        kind = rng.randrange(3) if mixed_buffers else 0
        chunks.append(piece if kind == 0 else bytearray(piece) if kind == 1 else memoryview(piece))
    return chunks


def utf8_expected(chunks: Sequence[Buffer], *, stop_at_rejection: bool = False) -> list[Result]:
    """What an incremental validator must return for each chunk of a fresh stream, from ``bytes.decode``.

    The error position is the first byte no well-formed sequence can continue: the start of the maximal
    invalid subpart for an invalid start byte, its end for an invalid continuation byte. After a rejection
    every chunk gets ``(False, False, 0, error position)``, unless ``stop_at_rejection`` ends the list there.
    """
    stream = b"".join(bytes(c) for c in chunks)
    bad = None
    try:
        stream.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.reason != "unexpected end of data":
            bad = exc.start if exc.reason == "invalid start byte" else exc.end
    results: list[Result] = []
    offset = 0
    for chunk in chunks:
        end = offset + len(chunk)
        if bad is not None and bad < offset:
            if stop_at_rejection:
                break
            results.append((False, False, 0, bad))
        elif bad is not None and bad < end:
            results.append((False, False, bad - offset, bad))
        else:
            results.append((True, _ends_on_codepoint(stream, end), len(chunk), end))
        offset = end
    return results


def _ends_on_codepoint(stream: bytes, end: int) -> bool:
    """Whether the valid prefix ``stream[:end]`` does not stop inside a multi-byte sequence."""
    for back in range(1, min(3, end) + 1):
        byte = stream[end - back]
        if byte < 0x80:
            return True
        if byte >= 0xC0:
            return back >= (4 if byte >= 0xF0 else 3 if byte >= 0xE0 else 2)
    return True


def xor_mask(data: Buffer, mask: bytes, offset: int = 0) -> bytes:
    """``data`` masked with the 4-byte ``mask`` (RFC 6455), starting at byte ``offset`` of the mask stream."""
    return bytes(byte ^ mask[(offset + i) % 4] for i, byte in enumerate(data))
