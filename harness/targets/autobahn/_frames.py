"""An independent RFC 6455 frame codec: the oracle that builds input for and checks output of autobahn.

Written from RFC 6455 section 5.2, not from autobahn; it handles exactly what the scenarios send (no
extensions, no compression).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from harness.targets._oracles import xor_mask

TEXT, BINARY, CONTINUATION, PING, PONG = 1, 2, 0, 9, 10


@dataclass(frozen=True)
class Frame:
    fin: bool
    opcode: int
    payload: bytes
    masked: bool


def encode(opcode: int, payload: bytes, *, fin: bool = True, mask: bytes | None = None) -> bytes:
    """One frame; masked when ``mask`` (4 bytes) is given."""
    first = (0x80 if fin else 0) | opcode
    mask_bit = 0x80 if mask is not None else 0
    size = len(payload)
    if size < 126:
        header = bytes((first, mask_bit | size))
    elif size < 65536:
        header = bytes((first, mask_bit | 126)) + size.to_bytes(2, "big")
    else:
        header = bytes((first, mask_bit | 127)) + size.to_bytes(8, "big")
    if mask is None:
        return header + payload
    return header + mask + xor_mask(payload, mask)


def decode(data: bytes) -> list[Frame]:
    """Every frame in ``data``, unmasked; raises ValueError unless ``data`` is whole frames exactly."""
    frames = []
    at = 0
    while at < len(data):
        if len(data) - at < 2:
            raise ValueError(f"truncated frame header at octet {at}")
        first, second = data[at], data[at + 1]
        if first & 0x70:
            raise ValueError(f"reserved bits set in frame at octet {at}")
        size = second & 0x7F
        at += 2
        if size >= 126:
            width = 2 if size == 126 else 8
            size = int.from_bytes(data[at : at + width], "big")
            at += width
        mask = None
        if second & 0x80:
            mask = data[at : at + 4]
            at += 4
        payload = data[at : at + size]
        if len(payload) != size:
            raise ValueError(f"frame at octet {at} announces {size} payload octets, {len(payload)} present")
        at += size
        frames.append(Frame(bool(first & 0x80), first & 0x0F, xor_mask(payload, mask) if mask else payload,
                            mask is not None))
    return frames


def messages(frames: list[Frame]) -> list[tuple[bool, bytes]]:
    """Data messages ``(is_binary, payload)`` reassembled from fragments (control frames skipped)."""
    result = []
    parts: list[bytes] = []
    binary = False
    for frame in frames:
        if frame.opcode >= 8:
            continue
        if frame.opcode != CONTINUATION:
            if parts:
                raise ValueError("new data message started inside a fragmented one")
            binary = frame.opcode == BINARY
        parts.append(frame.payload)
        if frame.fin:
            result.append((binary, b"".join(parts)))
            parts = []
    if parts:
        raise ValueError("stream ends inside a fragmented message")
    return result


def fragmented(rng, is_binary: bool, payload: bytes, *, masked: bool, pings: list[bytes]) -> bytes:
    """``payload`` as a message cut into 1-3 frames, maybe with a ping between fragments (appended to pings)."""
    pieces = min(rng.randint(1, 3), max(1, len(payload)))
    cuts = sorted(rng.sample(range(1, len(payload)), pieces - 1))
    bounds = [0, *cuts, len(payload)]
    out = []
    for index, (a, b) in enumerate(itertools.pairwise(bounds)):
        opcode = (BINARY if is_binary else TEXT) if index == 0 else CONTINUATION
        out.append(encode(opcode, payload[a:b], fin=b == len(payload), mask=rng.randbytes(4) if masked else None))
        if rng.random() < 0.25:
            ping = rng.randbytes(rng.randint(0, 20))
            pings.append(ping)
            out.append(encode(PING, ping, mask=rng.randbytes(4) if masked else None))
    return b"".join(out)
