"""Scenario classes of the built-in ``nvx`` target (see :mod:`harness.targets.nvx`).

Each class names the backend it stresses (``nvx._compiled`` or ``nvx._pure``) and imports it lazily, inside
``setup()`` or ``step()``, so loading this module never imports the package under judgement. The oracles:

- per-thread instances must give, chunk by chunk, exactly what the reference gives for the same chunks;
- a shared instance must behave as if its calls ran one at a time (NVX documents every call as atomic):
  every returned tuple is internally consistent, each thread sees ``total_index`` never go backwards, an
  invalid stream stays invalid, and no byte is lost or counted twice;
- objects made, used and dropped while another thread runs ``gc.collect()`` give correct results;
- threads whose very first call (of the process, or of fresh instances) happens at the same moment agree.
"""

from __future__ import annotations

import gc
import importlib
import random
import sys
import threading
from collections.abc import Sequence
from types import ModuleType
from typing import Protocol

from harness.engine.scenario import Scenario
from harness.targets._oracles import Result, random_chunks, random_stream, random_text, utf8_expected, xor_mask

COMPILED = "nvx._compiled"
PURE = "nvx._pure"
REFERENCE = PURE

MASK = b"\x9a\x3c\xe1\x07"  # four different bytes, so a masked byte tells the key phase it was masked at


# A valid probe whose every result is known: used where a result must be checked without a reference.
_PROBE = "añ€😀".encode() * 20
_PROBE_RESULT = (True, True, len(_PROBE), len(_PROBE))

def _backend(name: str) -> ModuleType:
    return importlib.import_module(name)


def _levels(module: ModuleType) -> tuple[str | None, ...]:
    """The SIMD levels a backend offers (the compiled one pins instances to each), else just the default."""
    return tuple(getattr(module, "AVAILABLE_LEVELS", (None,)))


class Validator(Protocol):
    """What both backends' ``Utf8Validator`` offer."""

    def validate(self, data: bytes | bytearray | memoryview) -> Result: ...
    def reset(self) -> None: ...


class Masker(Protocol):
    """What both backends' ``XorMasker`` offer."""

    def process(self, data: bytes | bytearray | memoryview) -> bytes: ...
    def pointer(self) -> int: ...
    def reset(self) -> None: ...


def _make(module: ModuleType, level: str | None) -> tuple[Validator, Masker]:
    if level is None:
        return module.Utf8Validator(), module.XorMasker(MASK)
    return module.Utf8Validator(level=level), module.XorMasker(MASK, level=level)


def _mismatch(
    what: str, chunk_index: int, chunks: Sequence[bytes | bytearray | memoryview], got: object, want: object
) -> AssertionError:
    shown = [bytes(c) for c in chunks]
    return AssertionError(f"{what} of chunk {chunk_index}: got {got!r}, expected {want!r}; chunks {shown!r}")


class _Seeded(Scenario):
    """Per-thread random generators derived from the round's seed (the engine sets ``seed`` and ``threads``)."""

    def _rngs(self) -> list[random.Random]:
        return [self.rng(t) for t in range(self.threads)]


class PerThreadReference(_Seeded):
    """Each thread owns its instances (compiled ones pinned to each SIMD level in turn) and must agree with
    fresh reference instances (``nvx._pure``) fed the same random streams in the same random chunks."""

    backend = COMPILED
    max_chars = 60

    def setup(self) -> None:
        module, self.reference = _backend(self.backend), _backend(REFERENCE)
        levels = _levels(module)
        self.rngs = self._rngs()
        self.own = [_make(module, levels[t % len(levels)]) for t in range(self.threads)]

    def step(self, thread_index: int, iteration: int) -> None:
        rng = self.rngs[thread_index]
        validator, masker = self.own[thread_index]
        validator.reset()
        masker.reset()
        ref_validator, ref_masker = self.reference.Utf8Validator(), self.reference.XorMasker(MASK)
        chunks = random_chunks(rng, random_stream(rng, self.max_chars), mixed_buffers=True)
        for index, chunk in enumerate(chunks):
            got, want = validator.validate(chunk), ref_validator.validate(chunk)
            if got != want:
                raise _mismatch("validate", index, chunks, got, want)
            got_mask, want_mask = masker.process(chunk), ref_masker.process(chunk)
            if got_mask != want_mask:
                raise _mismatch("process", index, chunks, got_mask, want_mask)
        if masker.pointer() != ref_masker.pointer():
            raise AssertionError(f"pointer() {masker.pointer()} != reference {ref_masker.pointer()}")


class PurePerThreadReference(_Seeded):
    """The pure backend on per-thread instances, checked against ``bytes.decode`` and an obvious XOR."""

    backend = PURE
    max_chars = 30

    def setup(self) -> None:
        module = _backend(self.backend)
        self.rngs = self._rngs()
        self.own = [_make(module, None) for _ in range(self.threads)]

    def step(self, thread_index: int, iteration: int) -> None:
        rng = self.rngs[thread_index]
        validator, masker = self.own[thread_index]
        validator.reset()
        masker.reset()
        chunks = random_chunks(rng, random_stream(rng, self.max_chars), mixed_buffers=True)
        pointer = 0
        for index, (chunk, want) in enumerate(zip(chunks, utf8_expected(chunks), strict=True)):
            got = validator.validate(chunk)
            if got != want:
                raise _mismatch("validate", index, chunks, got, want)
            got_mask, want_mask = masker.process(chunk), xor_mask(bytes(chunk), MASK, pointer)
            if got_mask != want_mask:
                raise _mismatch("process", index, chunks, got_mask, want_mask)
            pointer += len(chunk)


def check_tuple(result: object, chunk_length: int, upper_total: int) -> Result:
    """A ``validate`` result must be internally consistent whatever else ran concurrently; returns it typed.

    Consistent means: four fields of the right types; ``0 <= current_index <= len(chunk)``; a valid result
    consumed the whole chunk; an invalid one does not end on a code point; ``current_index <= total_index``
    and the total never exceeds the bytes fed to the instance.
    """
    if not (isinstance(result, tuple) and len(result) == 4):
        raise AssertionError(f"validate returned {result!r}, expected a 4-tuple")
    is_valid, ends, current, total = result
    if not (type(is_valid) is bool and type(ends) is bool and type(current) is int and type(total) is int):
        raise AssertionError(f"validate returned {result!r}, expected (bool, bool, int, int)")
    problems = []
    if not 0 <= current <= chunk_length:
        problems.append(f"current_index outside 0..{chunk_length}")
    if is_valid and current != chunk_length:
        problems.append("valid but did not consume the whole chunk")
    if not is_valid and ends:
        problems.append("invalid but ends on a code point")
    if not current <= total <= upper_total:
        problems.append(f"total_index outside current_index..{upper_total}")
    if problems:
        raise AssertionError(f"inconsistent validate result {result!r} for a {chunk_length}-byte chunk: "
                             + "; ".join(problems))
    return is_valid, ends, current, total


class SharedInstance(_Seeded):
    """All threads feed one validator and one masker at once, in chunks of whole code points.

    Any interleaving of whole code points is valid UTF-8, so until a thread injects an ill-formed chunk
    (in about half the rounds) every call must return valid and on a code point, and at the end the
    validator's total and the masker's pointer must equal every byte fed. Each masked chunk must be the
    chunk XOR the key at some phase. After the injection every thread must keep seeing invalid, all with
    the same frozen total.
    """

    backend = COMPILED
    max_chars = 12

    def setup(self) -> None:
        module = _backend(self.backend)
        self.validator, self.masker = _make(module, _levels(module)[-1])
        round_rng = random.Random(self.seed)
        self.inject_at = round_rng.randrange(self.iterations) if round_rng.random() < 0.5 else None
        self.rngs = self._rngs()
        self.chunks = [
            [random_text(rng, self.max_chars).encode() or b"a" for _ in range(self.iterations)] for rng in self.rngs
        ]
        if self.inject_at is not None:
            self.chunks[0][self.inject_at] = b"\xff"
        self.fed = sum(len(c) for per_thread in self.chunks for c in per_thread)
        self.last_total = [0] * self.threads
        self.frozen_total: list[int | None] = [None] * self.threads

    def step(self, thread_index: int, iteration: int) -> None:
        chunk = self.chunks[thread_index][iteration]
        self._check_validate(thread_index, chunk, self.validator.validate(chunk))
        masked = self.masker.process(chunk)
        phase = MASK.find(masked[0] ^ chunk[0])  # the key's bytes differ, so the first byte names the phase
        if phase < 0 or masked != xor_mask(chunk, MASK, phase):
            raise AssertionError(f"process({chunk!r}) returned {masked!r}: not the chunk XOR the key at any phase")

    def _check_validate(self, thread_index: int, chunk: bytes, result: object) -> None:
        is_valid, ends, _, total = check_tuple(result, len(chunk), self.fed)
        if total < self.last_total[thread_index]:
            raise AssertionError(f"total_index went back from {self.last_total[thread_index]} to {total}")
        self.last_total[thread_index] = total
        frozen = self.frozen_total[thread_index]
        if frozen is not None and (is_valid or total != frozen):
            raise AssertionError(f"after an invalid result with total {frozen}, got {result!r}")
        if not is_valid:
            self.frozen_total[thread_index] = total
        elif not ends:
            raise AssertionError(f"whole code points fed, but {result!r} does not end on a code point")

    def verify(self) -> None:
        fed = self.fed
        if self.masker.pointer() != fed:
            raise AssertionError(f"masker pointer {self.masker.pointer()} after {fed} bytes masked by all threads")
        final = self.validator.validate(b"")
        if self.inject_at is None:
            if final != (True, True, 0, fed):
                raise AssertionError(f"after {fed} valid bytes from all threads, validate(b'') gave {final!r}")
            return
        frozen = {t for t in self.frozen_total if t is not None}
        if final[0] or not frozen <= {final[3]}:
            raise AssertionError(f"threads saw frozen totals {sorted(frozen)}, the validator ends with {final!r}")


class PureSharedInstance(SharedInstance):
    """:class:`SharedInstance` on the pure backend (whose instances take a lock per call)."""

    backend = PURE


class Churn(Scenario):
    """Create/use/drop validators and maskers in reference cycles while another thread runs ``gc.collect()``.

    Thread 0 (and every fourth thread) makes ``iterations`` full collections; the others make objects, check
    a known result on each and drop them in cycles, and keep doing so until the collections are over, so
    objects are finalised on the collecting thread all the while the makers run.
    """

    backend = COMPILED
    roles = ("collect", "churn", "churn", "churn")
    iterations: int

    def setup(self) -> None:
        self.module = _backend(self.backend)
        self.levels = _levels(self.module)
        self.collected = threading.Event()

    def collect(self, thread_index: int, iteration: int) -> None:
        try:
            gc.collect()
        finally:
            if iteration == self.iterations - 1:
                self.collected.set()

    def churn(self, thread_index: int, iteration: int) -> None:
        self._churn_once(iteration)
        if iteration == self.iterations - 1:
            while not self.collected.is_set():
                self._churn_once(iteration)

    def _churn_once(self, iteration: int) -> None:
        validator, masker = _make(self.module, self.levels[iteration % len(self.levels)])
        cycle: list[object] = [validator, masker]
        cycle.append(cycle)
        got = validator.validate(_PROBE)
        if got != _PROBE_RESULT:
            raise AssertionError(f"fresh validator returned {got!r} for the probe, expected {_PROBE_RESULT!r}")
        if masker.process(_PROBE[:9]) != xor_mask(_PROBE[:9], MASK, 0):
            raise AssertionError("fresh masker gave a wrong mask for the probe")


class PureChurn(Churn):
    """:class:`Churn` on the pure backend."""

    backend = PURE


class ColdStart(Scenario):
    """Every thread makes its first call at the same moment.

    The threads import the backend themselves, so in a fresh (isolated) process the first round races the
    import and the library's first use; every round also races the first call on fresh shared instances
    (made in ``setup`` once the backend is loaded) and on each thread's own fresh instances.
    """

    backend = COMPILED
    threads: int
    iterations: int

    def setup(self) -> None:
        module = sys.modules.get(self.backend)
        self.shared = None if module is None else _make(module, None)
        self.lock = threading.Lock()
        self.masked: list[bytes] = []

    def step(self, thread_index: int, iteration: int) -> None:
        module = _backend(self.backend)
        validator, masker = _make(module, None)
        got = validator.validate(_PROBE)
        if got != _PROBE_RESULT:
            raise AssertionError(f"first call on a fresh validator returned {got!r}, expected {_PROBE_RESULT!r}")
        if masker.process(_PROBE[:8]) != xor_mask(_PROBE[:8], MASK, 0):
            raise AssertionError("first call on a fresh masker gave a wrong mask")
        if self.shared is not None:
            shared_validator, shared_masker = self.shared
            check_tuple(shared_validator.validate(_PROBE), len(_PROBE), len(_PROBE) * self.threads * self.iterations)
            masked = shared_masker.process(_PROBE[:4])
            with self.lock:
                self.masked.append(masked)

    def verify(self) -> None:
        if self.shared is None:
            return
        validator, masker = self.shared
        calls = self.threads * self.iterations
        final = validator.validate(b"")
        if final != (True, True, 0, len(_PROBE) * calls):
            raise AssertionError(f"shared validator ends with {final!r} after {calls} probes of {len(_PROBE)} bytes")
        # Each 4-byte call starts at a multiple of 4, so every thread gets the same masked bytes.
        if set(self.masked) != {xor_mask(_PROBE[:4], MASK, 0)} or masker.pointer() != 4 * calls:
            raise AssertionError(f"shared masker: {self.masked!r}, pointer {masker.pointer()}")


class PureColdStart(ColdStart):
    """:class:`ColdStart` on the pure backend."""

    backend = PURE
