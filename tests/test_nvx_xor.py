"""NVX XOR masking pinned to a plain XOR: compiled backend at every SIMD level and pure, any split."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.targets._oracles import xor_mask
from nvx import _compiled, _pure
from tests.test_nvx_utf8 import LEVELS, THREAD_UNSAFE_HYPOTHESIS, split

plain_xor = xor_mask


def implementations(level: str):
    return [lambda mask: _compiled.XorMasker(mask, level=level), _pure.XorMasker]


@pytest.mark.parametrize("level", LEVELS)
def test_rfc6455_example(level: str) -> None:
    # RFC 6455 section 5.7: "Hello" masked with 37 fa 21 3d.
    for make in implementations(level):
        assert make(b"\x37\xfa\x21\x3d").process(b"Hello") == bytes.fromhex("7f9f4d5158")


@pytest.mark.parametrize("level", LEVELS)
def test_phase_pointer_and_reset(level: str) -> None:
    for make in implementations(level):
        masker = make(bytearray(b"abcd"))
        assert masker.pointer() == 0
        assert masker.process(b"\0" * 3) == b"abc"
        assert masker.process(memoryview(b"\0" * 6)) == b"dabcda"
        assert masker.pointer() == 9
        masker.reset()
        assert masker.pointer() == 0
        assert masker.process(bytearray(2)) == b"ab"
        assert masker.process(b"") == b""
        assert masker.pointer() == 2


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("mask", [b"", b"abc", b"abcde", bytes(8)])
def test_wrong_mask_length_is_value_error(level: str, mask: bytes) -> None:
    for make in implementations(level):
        with pytest.raises(ValueError, match=f"got {len(mask)}"):
            make(mask)


@pytest.mark.parametrize("level", LEVELS)
def test_mask_and_payload_must_be_bytes_like(level: str) -> None:
    for make in implementations(level):
        for bad_mask in ("abcd", 4):
            with pytest.raises(TypeError):
                make(bad_mask)
        with pytest.raises(TypeError):
            make(b"abcd").process("text")


@pytest.mark.parametrize("level", LEVELS)
def test_every_length_and_phase_up_to_300(level: str) -> None:
    payload = bytes(range(256)) + bytes(range(44))
    for phase in range(4):
        for length in range(301):
            masker = _compiled.XorMasker(b"\x01\x80\xfe\x33", level=level)
            masker.process(bytes(phase))
            assert masker.process(payload[:length]) == plain_xor(payload[:length], b"\x01\x80\xfe\x33", phase)


@THREAD_UNSAFE_HYPOTHESIS
@pytest.mark.parametrize("level", LEVELS)
@given(
    payload=st.binary(max_size=700),
    mask=st.binary(min_size=4, max_size=4),
    cuts=st.lists(st.integers(0, 700), max_size=6),
    kind=st.sampled_from([bytes, bytearray, memoryview]),
)
def test_masking_matches_plain_xor_for_any_split(level, payload, mask, cuts, kind) -> None:
    chunks = split(payload, [cut for cut in cuts if cut <= len(payload)])
    expected = plain_xor(payload, mask)
    compiled = _compiled.XorMasker(mask, level=level)
    pure = _pure.XorMasker(mask)
    compiled_out = [compiled.process(kind(chunk)) for chunk in chunks]
    pure_out = [pure.process(kind(chunk)) for chunk in chunks]
    assert all(type(out) is bytes for out in compiled_out + pure_out)
    assert b"".join(compiled_out) == expected
    assert compiled_out == pure_out
    assert compiled.pointer() == pure.pointer() == len(payload)


@pytest.mark.parametrize("level", LEVELS)
def test_results_are_fresh_objects_and_shared_constants_stay_intact(level: str) -> None:
    masker = _compiled.XorMasker(b"\xff\xfe\xfd\xfc", level=level)
    outputs = [masker.process(bytes(length)) for length in range(4)]
    assert outputs == [b"", b"\xff", b"\xfe\xfd", b"\xfc\xff\xfe"]
    # The C code writes into the bytes object it returns; CPython's shared one-byte and empty objects
    # must never be that object.
    assert bytes([0])[0] == 0 and (b"\0" * 1)[0] == 0 and bytes(1)[0] == 0 and b"" == b""
