"""NVX XOR masking pinned to a plain XOR: compiled backend at every SIMD level and pure, any split."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.targets._oracles import xor_mask
from nvx import _compiled, _fresh, _pure
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


# ------------------------------------------------------------------------- one-shot nvx.mask


@THREAD_UNSAFE_HYPOTHESIS
@pytest.mark.parametrize("level", LEVELS)
@given(
    payload=st.binary(max_size=700),
    key=st.binary(min_size=4, max_size=4),
    offset=st.integers(-(1 << 40), 1 << 40),
    kind=st.sampled_from([bytes, bytearray, memoryview]),
)
def test_one_shot_mask_is_a_masker_after_offset_bytes(level, payload, key, offset, kind) -> None:
    expected = plain_xor(payload, key, offset % 4)
    out = _compiled.mask(kind(payload), kind(key), offset, level)
    assert type(out) is bytes and out == expected
    assert _pure.mask(kind(payload), kind(key), offset) == expected
    masker = _compiled.XorMasker(key, level)
    masker.process(bytes(offset % 4))
    assert masker.process(payload) == expected


def test_nvx_exports_the_one_shot_mask() -> None:
    import nvx

    assert nvx.mask(b"Hello", b"\x37\xfa\x21\x3d") == bytes.fromhex("7f9f4d5158")
    assert nvx.mask(b"ello", b"\x37\xfa\x21\x3d", 1) == bytes.fromhex("9f4d5158")


@pytest.mark.parametrize("mask_function", [_compiled.mask, _pure.mask])
def test_one_shot_mask_checks_its_arguments_as_the_masker_does(mask_function) -> None:
    for key in (b"", b"abc", b"abcde"):
        with pytest.raises(ValueError, match=f"got {len(key)}"):
            mask_function(b"data", key)
    for key in ("abcd", 4, [b"a", b"b", b"c", b"d"]):
        with pytest.raises(TypeError):
            mask_function(b"data", key)
    with pytest.raises(TypeError):
        mask_function("text", b"abcd")
    with pytest.raises(TypeError):
        mask_function(b"data", b"abcd", "1")


# ------------------------------------------------------- construction and result buffers


@pytest.mark.parametrize("level", LEVELS)
def test_every_way_to_give_key_and_level_builds_the_same_masker(level: str) -> None:
    payload = bytes(range(37))
    expected = plain_xor(payload, b"\x01\x02\x03\x04")
    makers = [
        lambda: _compiled.XorMasker(b"\x01\x02\x03\x04", level),
        lambda: _compiled.XorMasker(b"\x01\x02\x03\x04", level=level),
        lambda: _compiled.XorMasker(bytearray(b"\x01\x02\x03\x04"), level=level),
        lambda: _compiled.XorMasker(memoryview(b"\0\x01\x02\x03\x04")[1:], level=level),
    ]
    if level == _compiled.BEST_LEVEL:
        makers.append(lambda: _compiled.XorMasker(b"\x01\x02\x03\x04"))
    for make in makers:
        assert make().process(payload) == expected


def test_a_list_of_one_byte_strings_is_not_a_mask() -> None:
    # cffi itself would accept it as the initialiser of a char array; NVX takes bytes-like objects only.
    with pytest.raises(TypeError):
        _compiled.XorMasker([b"a", b"b", b"c", b"d"])


LARGE = _fresh.UNINITIALISED_MIN


@THREAD_UNSAFE_HYPOTHESIS
@pytest.mark.parametrize("level", LEVELS)
@given(
    length=st.one_of(st.integers(LARGE - 70, LARGE + 70), st.integers(LARGE, 4 * LARGE)),
    seed=st.integers(0, 1 << 32),
    phase=st.integers(0, 3),
    kind=st.sampled_from([bytes, bytearray, memoryview]),
)
def test_large_results_from_uninitialised_buffers_are_filled(level, length, seed, phase, kind) -> None:
    """Results from UNINITIALISED_MIN bytes on come from an uninitialised allocation: every byte must be
    written (pinned to the plain XOR), for the masker and for nvx.mask, across the threshold."""
    payload = random.Random(seed).randbytes(length)
    key = random.Random(~seed).randbytes(4)
    expected = plain_xor(payload, key, phase)
    masker = _compiled.XorMasker(key, level)
    masker.process(bytes(phase))
    assert masker.process(kind(payload)) == expected
    assert _compiled.mask(kind(payload), key, phase, level) == expected


@pytest.mark.parametrize("level", LEVELS)
def test_a_refused_large_payload_leaves_the_stream_untouched(level: str) -> None:
    masker = _compiled.XorMasker(b"abcd", level)
    for bad in ("x" * (2 * LARGE), 2 * LARGE):
        with pytest.raises(TypeError):
            masker.process(bad)
        with pytest.raises(TypeError):
            _compiled.mask(bad, b"abcd")
    assert masker.pointer() == 0


@pytest.mark.parametrize("length", [0, 1, 2, LARGE - 1, LARGE, LARGE + 1])
def test_new_bytes_are_fresh_objects_of_the_asked_length(length: int) -> None:
    first, second = _fresh.new_bytes(length), _fresh.new_bytes(length)
    assert type(first) is bytes and len(first) == len(second) == length
    if length:
        assert first is not second  # C writes into them: never a shared object
    assert (b"\0" * 1)[0] == 0 and bytes(1)[0] == 0


@pytest.mark.parametrize("length", [0, 1, 2, 128])
def test_repetitions_of_the_fresh_zero_are_new_zero_filled_bytes(length: int) -> None:
    # process and mask hand C `FRESH_ZERO * length` to write into: never a shared object, even for 0 or 1 bytes
    first, second = _fresh.FRESH_ZERO * length, _fresh.FRESH_ZERO * length
    assert type(first) is bytes and first == bytes(length) and first is not second
    assert first is not _fresh.FRESH_ZERO and _fresh.FRESH_ZERO == b"\0"


def test_the_per_call_threshold_is_the_one_of_nvx_fresh() -> None:
    # process and mask spell the threshold as a literal (see nvx._compiled.DEFERRED for why).
    for function in (_compiled.XorMasker.process, _compiled.mask):
        assert _fresh.UNINITIALISED_MIN in function.__code__.co_consts, function


@pytest.mark.parametrize("level", LEVELS)
def test_every_alignment_of_the_result_buffer(level: str) -> None:
    """Long buffers are masked with the stores aligned to 64 bytes of the result: every start address,
    key phase and a few lengths around the point where that begins."""
    ffi, lib = _compiled.ffi, _compiled.lib
    level_bits = _compiled.AVAILABLE_LEVELS.index(level) << 2
    payload, key = random.Random(7).randbytes(1100), b"\x01\x80\xfe\x33"
    for length in (255, 256, 257, 300, 1029):
        for phase in range(4):
            expected = plain_xor(payload[:length], key, phase)
            for offset in range(64):
                out = bytearray(length + 64)
                lib.nvx_xor_mask(payload, ffi.from_buffer(out) + offset, length, key, phase | level_bits)
                assert out[offset : offset + length] == expected, (length, phase, offset)
