"""Threads sharing one NVX instance: every call is atomic (no lost or torn updates of the stream state)."""

from __future__ import annotations

import threading

import pytest

from nvx import _compiled, _pure
from tests.test_nvx_utf8 import LEVELS
from tests.test_nvx_xor import plain_xor

THREADS = 4
CALLS = 300


def hammer(work) -> list:
    barrier = threading.Barrier(THREADS)
    results: list[list] = [[] for _ in range(THREADS)]

    def run(index: int) -> None:
        barrier.wait()
        results[index].extend(work() for _ in range(CALLS))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [result for per_thread in results for result in per_thread]


@pytest.mark.parametrize("level", LEVELS)
def test_shared_validator_counts_every_byte_once(level: str) -> None:
    for validator in (_compiled.Utf8Validator(level=level), _pure.Utf8Validator()):
        chunk = "€".encode() * 30  # 90 bytes: crosses a SIMD block
        results = hammer(lambda: validator.validate(chunk))
        totals = sorted(total for _, _, _, total in results)
        assert totals == [len(chunk) * (i + 1) for i in range(THREADS * CALLS)]
        assert all(result[:3] == (True, True, len(chunk)) for result in results)


@pytest.mark.parametrize("level", LEVELS)
def test_shared_masker_claims_disjoint_ranges(level: str) -> None:
    for masker in (_compiled.XorMasker(b"wxyz", level=level), _pure.XorMasker(b"wxyz")):
        results = hammer(lambda: masker.process(bytes(7)))
        assert masker.pointer() == 7 * THREADS * CALLS
        # Call i of the serial order starts at byte 7 * i: the phases seen must be exactly those.
        phase_of = {plain_xor(bytes(7), b"wxyz", phase): phase for phase in range(4)}
        assert sorted(phase_of[out] for out in results) == sorted(7 * i % 4 for i in range(THREADS * CALLS))
