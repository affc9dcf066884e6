"""Scenarios for autobahn's NVX (cffi) UTF-8 validator and XOR maskers, next to autobahn's pure-Python ones.

Per-thread mode (one object per thread, as autobahn uses them: one validator per connection, one masker per
frame) must match autobahn's pure-Python implementation and the independent oracles exactly. Shared mode
(one object for all threads) is outside autobahn's contract; those scenarios document what breaks.
These processes run with the pure backend selected, so both implementations are loaded side by side.
"""

from __future__ import annotations

import gc
from collections.abc import Sequence
from typing import Any

from harness.engine.scenario import Scenario
from harness.targets._oracles import Buffer, random_ascii, random_chunks, random_stream, utf8_expected, xor_mask
from harness.targets.autobahn import _backend

_ASCII_CHUNK = (1, 64)


class _BothImplementations(Scenario):
    """Setup shared by the differential scenarios: autobahn's NVX and pure classes, by role."""

    threads: int
    iterations: int
    seed: int

    def setup(self) -> None:
        self.pure = _backend.pure_classes()
        self.nvx = _backend.nvx_classes()


class Utf8PerThread(_BothImplementations):
    """Each thread validates random chunked streams with its own NVX and pure validator; all three agree."""

    def step(self, thread_index: int, iteration: int) -> None:
        rng = self.rng(thread_index, iteration)
        pieces = random_chunks(rng, random_stream(rng, 40))
        expected = utf8_expected(pieces, stop_at_rejection=True)
        for impl in ("nvx", "pure"):
            validator = self.nvx["Utf8Validator"]() if impl == "nvx" else self.pure["Utf8Validator"]()
            got = [validator.validate(piece) for piece in pieces[: len(expected)]]
            if got != expected:
                raise AssertionError(f"{impl} Utf8Validator over {pieces!r}: got {got}, expected {expected}")


class XorPerThread(_BothImplementations):
    """Each thread masks random chunked payloads with its own NVX and pure maskers; all agree with RFC 6455."""

    def step(self, thread_index: int, iteration: int) -> None:
        rng = self.rng(thread_index, iteration)
        mask = rng.randbytes(4)
        pieces = random_chunks(rng, rng.randbytes(rng.randint(0, 300)))
        for impl, classes in (("nvx", self.nvx), ("pure", self.pure)):
            for kind in ("XorMaskerSimple", "XorMaskerShifted1"):
                _check_masking(f"{impl} {kind}", classes[kind](mask), mask, pieces)


def _check_masking(label: str, masker: Any, mask: bytes, pieces: Sequence[Buffer]) -> None:
    offset = 0
    for piece in pieces:
        out = masker.process(piece)
        if out != xor_mask(piece, mask, offset):
            raise AssertionError(f"{label}: wrong output for a {len(piece)}-byte piece at offset {offset}")
        offset += len(piece)
        if masker.pointer() != offset:
            raise AssertionError(f"{label}: pointer() is {masker.pointer()}, expected {offset}")


class _SharedUtf8(Scenario):
    """One validator for all threads; every chunk is complete ASCII, so every call must say valid and whole."""

    backend: _backend.Backend = "nvx"

    def setup(self) -> None:
        classes = _backend.nvx_classes() if self.backend == "nvx" else _backend.pure_classes()
        self.validator = classes["Utf8Validator"]()
        self.lengths = [0] * self.threads

    def step(self, thread_index: int, iteration: int) -> None:
        chunk = random_ascii(self.rng(thread_index, iteration), *_ASCII_CHUNK)
        valid, ends, current, _total = self.validator.validate(chunk)
        self.lengths[thread_index] += len(chunk)
        if not (valid and ends and current == len(chunk)):
            raise AssertionError(
                f"shared {self.backend} Utf8Validator: validate(<{len(chunk)} ASCII bytes>) returned "
                f"{(valid, ends, current, _total)}; expected (True, True, {len(chunk)}, <running total>)"
            )

    def verify(self) -> None:
        total = self.validator.validate(b"")[3]
        expected = sum(self.lengths)
        if total != expected:
            raise AssertionError(f"shared {self.backend} Utf8Validator: total index {total}, expected {expected} "
                                 f"({expected - total} octets lost)")


Utf8SharedNvx, Utf8SharedPure = _backend.variants(_SharedUtf8)


class _SharedXor(Scenario):
    """One masker for all threads: each output must still be the input masked at some single offset."""

    backend: _backend.Backend = "nvx"

    def setup(self) -> None:
        classes = _backend.nvx_classes() if self.backend == "nvx" else _backend.pure_classes()
        self.mask = self.rng(-1).randbytes(4)
        kind = "XorMaskerShifted1" if self.seed % 2 else "XorMaskerSimple"
        self.label = f"shared {self.backend} {kind}"
        self.masker = classes[kind](self.mask)
        self.lengths = [0] * self.threads

    def step(self, thread_index: int, iteration: int) -> None:
        rng = self.rng(thread_index, iteration)
        piece = rng.randbytes(rng.randint(1, 64))
        out = self.masker.process(piece)
        self.lengths[thread_index] += len(piece)
        if not any(out == xor_mask(piece, self.mask, offset) for offset in range(4)):
            raise AssertionError(f"{self.label}: a {len(piece)}-byte output is not masked at any single offset "
                                 "(bytes masked with different mask positions)")

    def verify(self) -> None:
        expected = sum(self.lengths)
        if self.masker.pointer() != expected:
            raise AssertionError(f"{self.label}: pointer() is {self.masker.pointer()}, expected {expected} "
                                 f"({expected - self.masker.pointer()} octets lost)")


XorSharedNvx, XorSharedPure = _backend.variants(_SharedXor)


class NvxChurn(_BothImplementations):
    """Create, use and drop NVX objects on some threads while others run ``gc.collect()`` (cffi finalizers)."""

    roles = ("churn", "collect")
    _COLLECT_EVERY = 16

    def churn(self, thread_index: int, iteration: int) -> None:
        rng = self.rng(thread_index, iteration)
        pieces = random_chunks(rng, random_stream(rng, 20))
        expected = utf8_expected(pieces, stop_at_rejection=True)
        validator = self.nvx["Utf8Validator"]()
        got = [validator.validate(piece) for piece in pieces[: len(expected)]]
        if got != expected:
            raise AssertionError(f"fresh NVX Utf8Validator over {pieces!r}: got {got}, expected {expected}")
        mask = rng.randbytes(4)
        kind = "XorMaskerShifted1" if iteration % 2 else "XorMaskerSimple"
        _check_masking(f"fresh NVX {kind}", self.nvx[kind](mask), mask, random_chunks(rng, rng.randbytes(200)))

    def collect(self, thread_index: int, iteration: int) -> None:
        if iteration % self._COLLECT_EVERY == 0:
            gc.collect()
        else:
            self.churn(thread_index, iteration)


class NvxColdStart(Scenario):
    """Threads make the process's very first autobahn WebSocket imports and NVX calls at the same moment.

    Only the first round of a run is cold (imports are cached); setup deliberately loads nothing. The
    default configuration is used (``AUTOBAHN_USE_NVX`` unset: NVX when built), as in an application.
    """

    def step(self, thread_index: int, iteration: int) -> None:
        from autobahn.websocket import USES_NVX
        from autobahn.websocket.utf8validator import Utf8Validator
        from autobahn.websocket.xormasker import create_xor_masker

        if not USES_NVX:
            raise AssertionError("autobahn did not select NVX by default (not built, or AUTOBAHN_USE_NVX=0 set)")
        rng = self.rng(thread_index, iteration)
        pieces = random_chunks(rng, random_stream(rng, 20))
        expected = utf8_expected(pieces, stop_at_rejection=True)
        validator = Utf8Validator()
        got = [validator.validate(piece) for piece in pieces[: len(expected)]]
        if got != expected:
            raise AssertionError(f"Utf8Validator over {pieces!r}: got {got}, expected {expected}")
        mask, payload = rng.randbytes(4), rng.randbytes(rng.randint(1, 300))
        _check_masking("create_xor_masker()", create_xor_masker(mask, len(payload)), mask, [payload])
