"""Seeded test data and independent oracles for the autobahn scenarios (no autobahn import).

The oracles are written from the specifications, not from autobahn: XOR masking per RFC 6455 section 5.3,
UTF-8 validity per CPython's strict ``utf-8`` codec (``codecs.utf_8_decode``).
"""

from __future__ import annotations

import codecs
import itertools
import random

# Code point ranges giving 1-, 2-, 3- and 4-byte UTF-8 sequences (surrogates excluded).
_RANGES = ((0x20, 0x7E), (0xA0, 0x7FF), (0x800, 0xD7FF), (0xE000, 0xFFFD), (0x10000, 0x10FFFF))
# Byte sequences that make a UTF-8 stream invalid at a known kind of spot.
_CORRUPTIONS = (b"\xff", b"\x80", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe2\x28\xa1", b"\xf0\x28")


def text(rng: random.Random, max_chars: int) -> str:
    """Random text mixing 1- to 4-byte code points."""
    chars = []
    for _ in range(rng.randint(0, max_chars)):
        low, high = _RANGES[rng.randrange(len(_RANGES))]
        chars.append(chr(rng.randint(low, high)))
    return "".join(chars)


def utf8_stream(rng: random.Random, max_chars: int) -> bytes:
    """UTF-8 bytes, valid or (about half the time) corrupted or cut inside a code point."""
    data = text(rng, max_chars).encode("utf-8")
    kind = rng.randrange(4)
    if kind == 1:
        at = rng.randint(0, len(data))
        return data[:at] + _CORRUPTIONS[rng.randrange(len(_CORRUPTIONS))] + data[at:]
    if kind == 2 and data:
        return data[: rng.randint(0, len(data))]
    return data


def ascii_bytes(rng: random.Random, low: int, high: int) -> bytes:
    return bytes(rng.randint(0x20, 0x7E) for _ in range(rng.randint(low, high)))


def chunks(rng: random.Random, data: bytes, max_pieces: int = 6) -> list[bytes]:
    """``data`` cut at random points (empty pieces included: the protocol feeds those too)."""
    cuts = sorted(rng.randint(0, len(data)) for _ in range(rng.randint(0, max_pieces - 1)))
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


def xor_mask(data: bytes, mask: bytes, offset: int = 0) -> bytes:
    """``data`` masked with the 4-byte ``mask`` starting at byte ``offset`` of the mask stream."""
    if not data:
        return b""
    key = (mask[offset % 4 :] + mask[: offset % 4]) * (len(data) // 4 + 1)
    return (int.from_bytes(data, "big") ^ int.from_bytes(key[: len(data)], "big")).to_bytes(len(data), "big")


def utf8_prefix_state(data: bytes) -> tuple[bool, bool]:
    """``(is_valid_prefix, ends_on_codepoint)``: can ``data`` be completed to valid UTF-8, and is it already?

    CPython's incremental decoder waits for a whole sequence before judging it (``ED A0`` passes until its
    third octet), so a pending tail counts as a valid prefix only if some completion of it decodes strictly.
    """
    try:
        _, consumed = codecs.utf_8_decode(data, "strict", False)
    except UnicodeDecodeError:
        return False, False
    pending = data[consumed:]
    if not pending:
        return True, True
    return any(_decodes(pending + completion) for completion in _completions(pending)), False


def _completions(pending: bytes) -> list[bytes]:
    """Candidate tails finishing a sequence that starts with ``pending`` (lead octet and maybe more)."""
    lead = pending[0]
    length = 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4
    missing = length - len(pending)
    if missing <= 0:
        return [b""]
    if len(pending) > 1:
        return [b"\x80" * missing]
    return [bytes([second]) + b"\x80" * (missing - 1) for second in (0x80, 0x90, 0xA0)]


def _decodes(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def utf8_expected(pieces: list[bytes]) -> list[tuple[bool, bool, int, int]]:
    """What an incremental validator must return for each piece, up to and including the first rejection.

    On rejection the indices point at the first octet that cannot extend a valid prefix.
    """
    results: list[tuple[bool, bool, int, int]] = []
    seen = b""
    for piece in pieces:
        valid, ends = utf8_prefix_state(seen + piece)
        if valid:
            seen += piece
            results.append((True, ends, len(piece), len(seen)))
            continue
        bad = next(i for i in range(len(piece)) if not utf8_prefix_state(seen + piece[: i + 1])[0])
        results.append((False, False, bad, len(seen) + bad))
        break
    return results
