"""NVX UTF-8 validation pinned to ``bytes.decode('utf-8')``: compiled backend at every SIMD level and pure.

The oracle (:func:`harness.targets._oracles.utf8_expected`, shared with the targets' scenarios) turns
``bytes.decode``'s verdict into the expected 4-tuple per chunk; the error index is the first byte that no
valid sequence can continue.
"""

from __future__ import annotations

import array
import itertools
from collections.abc import Callable, Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.targets._oracles import utf8_expected
from nvx import _compiled, _pure

THREAD_UNSAFE_HYPOTHESIS = pytest.mark.thread_unsafe(reason="hypothesis @given is not thread-safe")

LEVELS = [
    pytest.param(
        level,
        marks=pytest.mark.skipif(
            level not in _compiled.AVAILABLE_LEVELS, reason=f"this CPU has no {level} support"
        ),
    )
    for level in _compiled.LEVELS
]


expected_results = utf8_expected


def feed(validator, chunks: Sequence[object]) -> list[tuple[bool, bool, int, int]]:
    return [validator.validate(chunk) for chunk in chunks]


def split(stream: bytes, cuts: Sequence[int]) -> list[bytes]:
    bounds = [0, *sorted(cuts), len(stream)]
    return [stream[a:b] for a, b in itertools.pairwise(bounds)]


def implementations(level: str) -> list[Callable[[], object]]:
    return [lambda: _compiled.Utf8Validator(level=level), _pure.Utf8Validator]


# ---------------------------------------------------------------------------------------- examples

ISSUE_EXAMPLES = [
    (b"\xe2\x82a", (False, False, 2, 2)),
    (b"\xc0\xaf", (False, False, 0, 0)),
    (b"a\xed\xa0\x80", (False, False, 2, 2)),
    (b"\xf4\x90\x80\x80", (False, False, 1, 1)),
    ("h€llo 😀".encode(), (True, True, 12, 12)),
    (b"ok\xe2\x82", (True, False, 4, 4)),
    (b"", (True, True, 0, 0)),
    (b"\xf4\x8f\xbf\xbf", (True, True, 4, 4)),
    (b"\xed\x9f\xbf", (True, True, 3, 3)),
    (b"\xee\x80\x80\xff", (False, False, 3, 3)),
]


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize(("data", "expected"), ISSUE_EXAMPLES)
def test_issue_examples(level: str, data: bytes, expected: tuple) -> None:
    for make in implementations(level):
        assert make().validate(data) == expected


@pytest.mark.parametrize("level", LEVELS)
def test_invalid_stays_invalid_until_reset(level: str) -> None:
    for make in implementations(level):
        validator = make()
        assert validator.validate(b"ab") == (True, True, 2, 2)
        assert validator.validate(b"c\xff") == (False, False, 1, 3)
        assert validator.validate(b"fine") == (False, False, 0, 3)
        assert validator.validate(b"") == (False, False, 0, 3)
        validator.reset()
        assert validator.validate(b"fine") == (True, True, 4, 4)


@pytest.mark.parametrize("level", LEVELS)
def test_code_point_split_across_chunks(level: str) -> None:
    for make in implementations(level):
        validator = make()
        assert feed(validator, [b"\xf0", b"\x9f\x98", b"\x80!"]) == [
            (True, False, 1, 1),
            (True, False, 2, 3),
            (True, True, 2, 5),
        ]


@pytest.mark.parametrize("level", LEVELS)
def test_accepts_bytes_like_objects(level: str) -> None:
    text = "zwölf€".encode()
    strided = memoryview(text * 2)[::2]
    wide = array.array("H", [0x6261, 0xA9C3])  # items of 2 bytes: validated as its raw bytes "abé"
    for make in implementations(level):
        for chunk in (text, bytearray(text), memoryview(text), memoryview(bytearray(text))):
            assert make().validate(chunk) == (True, True, len(text), len(text))
        assert make().validate(strided) == make().validate(bytes(strided))
        assert make().validate(wide) == make().validate(wide.tobytes())


@pytest.mark.parametrize("level", LEVELS)
def test_rejects_text(level: str) -> None:
    for make in implementations(level):
        with pytest.raises(TypeError):
            make().validate("not bytes")


def test_unknown_or_missing_level_is_value_error() -> None:
    with pytest.raises(ValueError, match="'sse9'"):
        _compiled.Utf8Validator(level="sse9")
    missing = [level for level in _compiled.LEVELS if level not in _compiled.AVAILABLE_LEVELS]
    for level in missing:
        with pytest.raises(ValueError):
            _compiled.Utf8Validator(level=level)


def test_best_level_is_default() -> None:
    assert _compiled.AVAILABLE_LEVELS[-1] == _compiled.BEST_LEVEL
    assert _compiled.AVAILABLE_LEVELS[0] == "scalar"


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("bad", [b"\x80", b"\xc1", b"\xe2", b"\xe0\x9f", b"\xed\xa0", b"\xf4\x90", b"\xf8"])
def test_error_at_every_offset_of_several_blocks(level: str, bad: bytes) -> None:
    """Plant an error at each offset of the first 200 bytes (crossing the 64-byte SIMD blocks)."""
    base = ("aé€😀" * 40).encode()
    for position in range(200):
        stream = base[:position] + bad + base[position:]
        for chunks in ([stream], split(stream, [position]), split(stream, [position + 1, 130])):
            expected = expected_results(chunks)
            assert feed(_compiled.Utf8Validator(level=level), chunks) == expected, (position, chunks)


@pytest.mark.parametrize("level", LEVELS)
def test_truncated_at_every_offset(level: str) -> None:
    base = ("€😀é-" * 40).encode()
    for end in range(len(base) + 1):
        chunks = [base[:end]]
        assert feed(_compiled.Utf8Validator(level=level), chunks) == expected_results(chunks), end


def test_indices_beyond_one_gibibyte() -> None:
    """Past 2**30 bytes the result no longer fits the compact packing; the wide form must agree."""
    validator = _compiled.Utf8Validator()
    block = b"a" * (1 << 22)
    for _ in range(256):
        validator.validate(block)
    total = 1 << 30
    assert validator.validate(b"\xe2\x82") == (True, False, 2, total + 2)
    assert validator.validate(b"\xacx\xff") == (False, False, 2, total + 4)
    assert validator.validate(b"x") == (False, False, 0, total + 4)


# ------------------------------------------------------------------------------- property tests

TRICKY = [
    b"\x7f", b"\x80", b"\xbf", b"\xc0", b"\xc1", b"\xc2", b"\xdf", b"\xe0", b"\xe0\xa0", b"\xed",
    b"\xed\x9f", b"\xed\xa0", b"\xef", b"\xf0", b"\xf0\x90", b"\xf4", b"\xf4\x8f", b"\xf4\x90", b"\xf5",
    b"\xff",
]
encoded_text = st.text(st.characters(codec="utf-8"), max_size=120).map(str.encode)
ascii_run = st.integers(0, 200).map(lambda n: b"w" * n)
piece = st.one_of(encoded_text, encoded_text, ascii_run, st.binary(max_size=6), st.sampled_from(TRICKY))
streams = st.lists(piece, max_size=6).map(b"".join)
chunk_type = st.sampled_from([bytes, bytearray, memoryview])


@st.composite
def chunked_streams(draw) -> list[object]:
    stream = draw(streams)
    cuts = draw(st.lists(st.integers(0, len(stream)), max_size=6))
    return [draw(chunk_type)(chunk) for chunk in split(stream, cuts)]


@THREAD_UNSAFE_HYPOTHESIS
@pytest.mark.parametrize("level", LEVELS)
@given(chunks=chunked_streams())
def test_matches_bytes_decode_for_any_chunking_and_after_reset(level: str, chunks: list[object]) -> None:
    expected = expected_results([bytes(chunk) for chunk in chunks])
    validator = _compiled.Utf8Validator(level=level)
    compiled = feed(validator, chunks)
    pure = feed(_pure.Utf8Validator(), chunks)
    assert compiled == expected
    assert pure == expected
    assert compiled == pure
    validator.reset()
    assert feed(validator, chunks) == expected
