"""The autobahn target: it loads without autobahn, its oracles fire on broken code and stay quiet on correct
code, and with autobahn installed (``pip install 'ft-harness[autobahn]'``) every scenario runs."""

from __future__ import annotations

import dataclasses
import importlib.util
import itertools
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.commands.stress import stress_context
from harness.pipeline.judge import run_scenario
from harness.settings import StressSettings
from harness.targets import ScenarioSpec, _oracles, load_target
from harness.targets.autobahn import TARGET, _frames
from harness.targets.autobahn.nvx_scenarios import _check_masking
from harness.targets.autobahn.websocket_scenarios import _check_sent, _multiset_difference

needs_autobahn = pytest.mark.skipif(
    importlib.util.find_spec("autobahn") is None,
    reason="autobahn is not installed (pip install 'ft-harness[autobahn]')",
)
# Child processes and hypothesis: once per test, not once per pytest-run-parallel thread.
once = pytest.mark.thread_unsafe(reason="spawns processes or uses hypothesis")
TINY = StressSettings(threads=2, rounds=2, iterations=3, timeout_s=60.0, seed=11)


@once
def test_target_loads_and_resolves_every_scenario_without_importing_autobahn() -> None:
    code = (
        "import sys\n"
        "from harness.engine import load_ref\n"
        "from harness.targets import load_target\n"
        "target = load_target('autobahn')\n"
        "for spec in target.scenarios: load_ref(spec.ref)\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('autobahn', 'txaio'))\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_target_describes_audit_modules_and_classified_scenarios() -> None:
    assert load_target("autobahn") is TARGET
    assert TARGET.distributions == ("autobahn",)
    assert {"autobahn.websocket.protocol", "autobahn.wamp.serializer", "_nvx_utf8validator", "_nvx_xormasker",
            "msgpack._cmsgpack", "cbor2._cbor2", "ujson"} <= set(TARGET.modules)
    names = [spec.name for spec in TARGET.scenarios]
    assert len(names) == len(set(names))
    assert all(spec.isolate for spec in TARGET.scenarios)
    websocket = [n for n in names if n.startswith("ws-") and n.endswith(("-nvx", "-pure"))]
    assert {n.rsplit("-", 1)[0] for n in websocket if n.endswith("-nvx")} == {
        n.rsplit("-", 1)[0] for n in websocket if n.endswith("-pure")}
    on_failure = {spec.name: spec.on_failure for spec in TARGET.scenarios}
    assert on_failure["ws-per-connection-nvx"] == on_failure["wamp-session-per-thread"] == "unsafe"
    assert on_failure["wamp-session-shared-calls"] == on_failure["nvx-utf8-shared-nvx"] == "shared-use-unsafe"


def test_frame_codec_matches_rfc_6455_examples() -> None:
    # RFC 6455 section 5.7: a single-frame unmasked and masked text message "Hello".
    assert _frames.encode(_frames.TEXT, b"Hello") == bytes.fromhex("810548656c6c6f")
    masked = bytes.fromhex("818537fa213d7f9f4d5158")
    assert _frames.encode(_frames.TEXT, b"Hello", mask=bytes.fromhex("37fa213d")) == masked
    assert _frames.decode(masked) == [_frames.Frame(True, _frames.TEXT, b"Hello", True)]
    long = _frames.encode(_frames.BINARY, bytes(300))
    assert long[1] == 126 and _frames.decode(long)[0].payload == bytes(300)


def test_frame_codec_rejects_truncated_frames() -> None:
    with pytest.raises(ValueError, match="announces"):
        _frames.decode(_frames.encode(_frames.BINARY, b"abcdef")[:-1])


def test_sent_check_fires_on_wrong_payload_or_masking_and_is_quiet_on_the_right_frame() -> None:
    frame = _frames.encode(_frames.BINARY, b"abc", mask=b"\x01\x02\x03\x04")
    assert _check_sent("ok", frame, (True, b"abc"), masked=True) == 1
    with pytest.raises(AssertionError, match="masked"):
        _check_sent("unmasked expected", frame, (True, b"abc"), masked=False)
    with pytest.raises(AssertionError, match="wire carries"):
        _check_sent("other payload", frame, (True, b"abd"), masked=True)


class _ReferenceMasker:
    def __init__(self, mask: bytes, *, advance: bool = True) -> None:
        self.mask, self.advance, self.ptr = mask, advance, 0

    def process(self, data: bytes) -> bytes:
        out = _oracles.xor_mask(data, self.mask, self.ptr)
        if self.advance:
            self.ptr += len(data)
        return out

    def pointer(self) -> int:
        return self.ptr


def test_masking_check_fires_on_a_masker_that_loses_its_place_and_is_quiet_on_a_correct_one() -> None:
    mask, pieces = b"\x11\x22\x33\x44", [b"abc", b"defgh", b"", b"ij"]
    _check_masking("reference", _ReferenceMasker(mask), mask, pieces)
    with pytest.raises(AssertionError, match=r"wrong output|pointer"):
        _check_masking("stuck", _ReferenceMasker(mask, advance=False), mask, pieces)


def until_rejection(pieces: list[bytes]) -> list[tuple[bool, bool, int, int]]:
    """The shared UTF-8 oracle as the autobahn scenarios use it: results up to the first rejection."""
    return _oracles.utf8_expected(pieces, stop_at_rejection=True)


def test_utf8_oracle_points_at_the_first_octet_that_cannot_continue() -> None:
    kosme = bytes.fromhex("cebae1bdb9cf83cebcceb5")  # the classic UTF-8 test word, 2- and 3-octet sequences
    assert until_rejection([kosme]) == [(True, True, 11, 11)]
    assert until_rejection([b"\xf0\x9f", b"\x98\x80"]) == [(True, False, 2, 2), (True, True, 2, 4)]
    # A surrogate's second octet is already wrong, though CPython's decoder only says so at the third.
    assert until_rejection([b"a\xed\xa0\x80"]) == [(False, False, 2, 2)]
    assert until_rejection([b"ab", b"\xff", b"c"]) == [(True, True, 2, 2), (False, False, 0, 2)]


@once
@given(st.binary(max_size=40), st.lists(st.integers(0, 40), max_size=4))
def test_utf8_oracle_final_verdict_is_bytes_decode_for_any_chunking(data: bytes, cuts: list[int]) -> None:
    bounds = [0, *sorted(min(c, len(data)) for c in cuts), len(data)]
    results = until_rejection([data[a:b] for a, b in itertools.pairwise(bounds)])
    try:
        data.decode("utf-8")
        whole = True
    except UnicodeDecodeError:
        whole = False
    assert (results[-1][0] and results[-1][1]) == whole


def test_multiset_difference_counts_repeats() -> None:
    assert _multiset_difference([1, 1, 2], [1, 2]) == [1]
    assert _multiset_difference([1, 2], [2, 1]) == []


@needs_autobahn
@once
def test_backend_choice_is_per_process_and_refuses_a_switch() -> None:
    code = (
        "from harness.targets.autobahn import _backend\n"
        "classes = _backend.pure_classes()\n"
        "assert classes['Utf8Validator'].__module__ == 'autobahn.websocket.utf8validator', classes\n"
        "assert _backend.nvx_classes()['Utf8Validator'].__module__ == 'autobahn.nvx._utf8validator'\n"
        "try:\n"
        "    _backend.use('nvx')\n"
        "except RuntimeError as exc:\n"
        "    assert 'fresh process' in str(exc)\n"
        "else:\n"
        "    raise SystemExit('switching backends was not refused')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


@needs_autobahn
@once
@pytest.mark.parametrize("spec", TARGET.scenarios, ids=lambda spec: spec.name)
def test_every_scenario_runs_isolated_on_installed_autobahn(spec: ScenarioSpec) -> None:
    tiny = dataclasses.replace(spec, threads=TINY.threads, rounds=TINY.rounds, iterations=TINY.iterations)
    result = run_scenario(tiny, "autobahn", stress_context(TINY))
    if spec.on_failure == "unsafe":
        assert result.status == "passed", result.errors
    else:
        assert result.status in ("passed", "failed"), result.errors
    assert "--seed 11 --budget 1" in result.rerun and "--scenario " + spec.name in result.rerun
