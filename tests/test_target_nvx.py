"""The built-in ``nvx`` target: its data, its scenarios passing on our NVX, and each oracle firing on a
deliberately broken backend (small modules written to a temporary folder and put on ``sys.path``)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from harness.audit import audit
from harness.commands.stress import stress_context
from harness.engine import load_ref, run_in_process
from harness.pipeline.judge import run_scenario
from harness.settings import StressSettings
from harness.targets import _oracles, load_target
from harness.targets.nvx import scenarios
from tests.support.markers import needs_free_threading

SMALL = StressSettings(threads=4, rounds=3, iterations=8, timeout_s=60.0, seed=20261120)

# Each broken backend subclasses the pure one (``nvx._pure``) and breaks one thing.
BROKEN = {
    # Forgets a code point left open at the end of the previous chunk: wrong across chunk borders.
    "nvx_forgets_pending": """
        from nvx import _pure

        class Utf8Validator(_pure.Utf8Validator):
            def validate(self, data):
                if self._state > 1:
                    self._state = 0
                return super().validate(data)

        XorMasker = _pure.XorMasker
    """,
    # No lock: read state, yield, write state back (lost updates when shared).
    "nvx_unlocked": """
        import time
        from nvx import _pure

        class Utf8Validator(_pure.Utf8Validator):
            def validate(self, data):
                view = _pure._byte_view(data)
                state, total = self._state, self._total
                time.sleep(0)
                if state == _pure._REJECT:
                    return (False, False, 0, total)
                state, current = _pure._scan(view, state)
                self._state, self._total = state, total + current
                return (state != _pure._REJECT, state == _pure._ACCEPT, current, total + current)

        class XorMasker(_pure.XorMasker):
            def process(self, data):
                payload = bytes(data)
                pointer = self._pointer
                time.sleep(0)
                self._pointer = pointer + len(payload)
                key = (self._key[pointer & 3:] + self._key[:pointer & 3]) * (len(payload) // 4 + 1)
                return bytes(a ^ b for a, b in zip(payload, key))
    """,
    # Every instance counts into one module-wide total (writable global state).
    "nvx_global_total": """
        from nvx import _pure

        _TOTAL = [0]

        class Utf8Validator(_pure.Utf8Validator):
            def validate(self, data):
                is_valid, ends, current, _ = super().validate(data)
                _TOTAL[0] += current
                return (is_valid, ends, current, _TOTAL[0])

        XorMasker = _pure.XorMasker
    """,
    # A lookup table built lazily on first use, published before it is filled.
    "nvx_lazy_table": """
        import time
        from nvx import _pure

        _TABLE = None

        def _table():
            global _TABLE
            if _TABLE is None:
                _TABLE = {}
                for byte in range(256):
                    time.sleep(0.0005)
                    _TABLE[byte] = byte < 0x80
            return _TABLE

        class Utf8Validator(_pure.Utf8Validator):
            def validate(self, data):
                head = bytes(data)[:1]
                if head and _table()[head[0]] != (head[0] < 0x80):
                    raise AssertionError("wrong table entry")
                return super().validate(data)

        XorMasker = _pure.XorMasker
    """,
}


@pytest.fixture
def broken(tmp_path, monkeypatch):
    """Write the broken backends to a temporary folder on sys.path; each is imported afresh by its test."""
    for name, source in BROKEN.items():
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source), encoding="utf-8")
        monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.syspath_prepend(str(tmp_path))


def on_backend(cls: type, backend: str) -> type:
    """``cls`` stressing ``backend`` instead of NVX."""
    return type(f"{cls.__name__}On_{backend}", (cls,), {"backend": backend})


def stress(cls: type):
    # A full collection of this (large) test process takes long: few rounds of few for the gc churn.
    settings = SMALL.replace(rounds=2, iterations=2) if issubclass(cls, scenarios.Churn) else SMALL
    return run_in_process(cls, name=cls.__name__, target="nvx-test", settings=settings)


def test_target_describes_nvx() -> None:
    target = load_target("nvx")
    assert target.distributions == ("ft-harness",)
    assert {"nvx", "nvx._compiled", "nvx._nvx_cffi", "nvx._pure"} <= set(target.modules)
    assert len({s.name for s in target.scenarios}) == len(target.scenarios)
    for spec in target.scenarios:
        assert spec.on_failure == "unsafe" and spec.isolate, spec.name
        load_ref(spec.ref)


@needs_free_threading
def test_every_module_of_the_target_keeps_the_gil_off() -> None:
    results = audit(load_target("nvx").modules, python=sys.executable)
    assert [(r.module, r.status) for r in results] == [(r.module, "gil-free") for r in results]


def test_cold_start_in_a_fresh_process() -> None:
    """Isolated, the first round is the process's first import and first call of the compiled backend."""
    spec = next(s for s in load_target("nvx").scenarios if s.name == "cold-start")
    result = run_scenario(spec, "nvx", stress_context(SMALL))
    assert (result.status, result.iterations, result.rounds) == ("passed", 1, SMALL.rounds), result.errors


def test_loading_the_target_does_not_import_nvx() -> None:
    code = "import sys, harness.targets.nvx, harness.targets.nvx.scenarios; print('nvx' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


@pytest.mark.parametrize("spec", load_target("nvx").scenarios, ids=lambda s: s.name)
def test_scenario_passes_on_nvx(spec) -> None:
    result = stress(load_ref(spec.ref))
    assert result.status == "passed", [e.first_traceback for e in result.errors]


@pytest.mark.parametrize("chunks", [[b"a\xc3", b"\xa9z"], [b"\xf0\x9f", b"", b"\x98\x80"], [b"ab\xed", b"\xa0\x80"],
                                    [b"\xe2\x82A", b"b"], [b"\xff", b"abc"], [b"\xe0\x80\xaf"], [b""]])
def test_decode_oracle_matches_the_reference(chunks) -> None:
    from nvx import _pure

    validator = _pure.Utf8Validator()
    assert [validator.validate(c) for c in chunks] == _oracles.utf8_expected(chunks)


def test_check_tuple_rejects_inconsistent_results() -> None:
    assert scenarios.check_tuple((True, True, 3, 10), 3, 10) == (True, True, 3, 10)
    for bad in [(True, True, 2, 10), (False, True, 1, 10), (True, True, 3, 2), (True, True, 3, 11),
                (False, False, 4, 10), (1, True, 3, 3), (True, True, 3)]:
        with pytest.raises(AssertionError):
            scenarios.check_tuple(bad, 3, 10)


@pytest.mark.parametrize(
    ("scenario", "backend", "message"),
    [
        (scenarios.PerThreadReference, "nvx_forgets_pending", "validate of chunk"),
        (scenarios.PurePerThreadReference, "nvx_forgets_pending", "validate of chunk"),
        (scenarios.SharedInstance, "nvx_unlocked", "AssertionError"),
        (scenarios.Churn, "nvx_global_total", "fresh validator returned"),
        (scenarios.ColdStart, "nvx_lazy_table", "KeyError"),
    ],
    ids=["per-thread-reference", "pure-per-thread-reference", "shared-instance", "churn-gc", "cold-start"],
)
def test_scenario_fires_on_broken_backend(broken, scenario, backend, message) -> None:
    result = stress(on_backend(scenario, backend))
    assert result.status == "failed"
    assert message in "".join(e.type + e.first_traceback for e in result.errors)


@pytest.mark.parametrize("cls", [scenarios.Churn, scenarios.PureChurn], ids=["churn-gc", "pure-churn-gc"])
def test_the_gc_churn_passes_under_every_thread_count_the_gate_uses(cls: type) -> None:
    """The makers poll for the collector's end in a loop: exploration's PCT trials once ran a maker until the
    trial's deadline (a correct scenario reported as a hang: the gate's 4-thread throughput run of NVX)."""
    for threads in (3, 4):
        settings = SMALL.replace(threads=threads, rounds=4, iterations=4, strategy="pct", timeout_s=10.0)
        result = run_in_process(cls, name=cls.__name__, target="nvx-test", settings=settings)
        assert result.status == "passed", (threads, result.detail)
