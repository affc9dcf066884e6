"""Payloads for the NVX benchmark: text corpora of a given size and small WebSocket-like frames."""

from __future__ import annotations

# Kinds of text; every corpus is valid UTF-8 except "error", which is "mixed" with its last byte broken.
PATTERNS = {
    "ascii": "The quick brown fox jumps over the lazy dog; 0123456789 (plain ASCII). ",
    "mixed": "Grüße aus München, ça va? Ελληνικά. 日本語のテキストと中文文本。 Русский текст. ",
    "emoji": "😀🚀🎉👍🏽🔥💯🌍✨🧪🐍",
}
CORPORA = ("ascii", "mixed", "emoji", "error")


def text(kind: str, size: int) -> bytes:
    """About ``size`` bytes of the given corpus kind, cut on a code point boundary."""
    base = "mixed" if kind == "error" else kind
    pattern = PATTERNS[base].encode()
    data = (pattern * (size // len(pattern) + 1))[:size].decode("utf-8", "ignore").encode()
    return data[:-1] + b"\xff" if kind == "error" else data


def frame(size: int) -> bytes:
    """Exactly ``size`` bytes of mixed text that end on a code point boundary (so a stream of them stays valid)."""
    data = text("mixed", size)
    return data + b" " * (size - len(data))
