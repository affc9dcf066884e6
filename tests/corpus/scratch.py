"""Seeded bug: a CFFI encoder whose C code stages every call in one static scratch buffer (wrong results under load).

``SharedScratch`` is the broken scenario, ``LocalScratch`` its correct twin (same algorithm, stack buffer);
each call is checked against a pure-Python reference.
"""

from __future__ import annotations

from tests.corpus import native

CDEF = """
size_t encode_shared_scratch(const unsigned char *in, size_t n, unsigned char key, unsigned char *out);
size_t encode_local_scratch(const unsigned char *in, size_t n, unsigned char key, unsigned char *out);
"""

MESSAGE_SIZE = 1024
_XOR_TABLES = tuple(bytes(b ^ key for b in range(256)) for key in range(256))


def reference(data: bytes, key: int) -> bytes:
    """What both C encoders must return: ``data`` reversed, each byte XORed with ``key``."""
    return data[::-1].translate(_XOR_TABLES[key])


class _EncodeScenario:
    """Every thread encodes its own messages; each result must match the reference."""

    function_name: str

    def setup(self) -> None:
        ffi, lib = native.cffi_module("scratch", CDEF)
        self.ffi = ffi
        self.encode = getattr(lib, self.function_name)
        self.messages = [bytes((t + i) & 0xFF for i in range(MESSAGE_SIZE)) for t in range(self.threads)]

    def step(self, thread_index: int, iteration: int) -> None:
        key = (thread_index * 31 + iteration) & 0xFF
        data = self.messages[thread_index]
        out = self.ffi.new("unsigned char[]", len(data))
        written = self.encode(data, len(data), key, out)
        got = bytes(self.ffi.buffer(out, written))
        if got != reference(data, key):
            raise AssertionError(
                f"thread {thread_index} iteration {iteration}: encoded bytes differ from the reference"
            )


class SharedScratch(_EncodeScenario):
    """Broken: the encoder with the static scratch buffer."""

    function_name = "encode_shared_scratch"


class LocalScratch(_EncodeScenario):
    """Correct twin: the encoder with a stack buffer."""

    function_name = "encode_local_scratch"
