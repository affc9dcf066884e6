"""TSan mode end to end: seeded C races whose results are always right are unsafe under a ThreadSanitizer
interpreter (with the C file and line), their clean twins safe, findings attributed to their scenarios; and
without a TSan interpreter the mode says how to get one.

The end-to-end tests need a TSan build ($HARNESS_TSAN_PYTHON or /opt/cpython-3.14t-tsan) and skip, saying so,
without one. They take minutes (instrumented builds and runs), so they run only when asked with
``FT_HARNESS_E2E_TSAN=1``; `.ci/run` asks whenever a TSan interpreter is present.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from harness import UnfitError
from harness.engine.tsan import Findings
from harness.interpreter import find
from harness.interpreter.children import TIMEOUT_S
from harness.pipeline.context import RunContext
from harness.pipeline.judge import judge
from harness.pipeline.record import RunRecord
from harness.settings import StressSettings
from harness.targets import ScenarioSpec, Target
from harness.wheel.venv import create_venv, uv_step
from tests.support.wheels import make_wheel

ROOT = Path(__file__).resolve().parent.parent
OPT_IN = "FT_HARNESS_E2E_TSAN"

pytestmark = [
    pytest.mark.skipif(os.environ.get(OPT_IN) != "1", reason=f"slow ThreadSanitizer end-to-end tests: set {OPT_IN}=1"),
    pytest.mark.thread_unsafe(reason="builds instrumented extensions and runs the harness in subprocesses"),
]
REF = "tests.corpus.tsan_race:"
SMALL = StressSettings(threads=2, rounds=2, iterations=200, timeout_s=60.0, seed=11)


def _target(*names: str) -> Target:
    return Target("tsan-corpus", "seeded TSan-only races", ("tests.corpus.tsan_race",),
                  tuple(ScenarioSpec(name=name, ref=REF + name) for name in names))


@pytest.fixture(scope="module")
def tsan_base() -> str:
    """The TSan interpreter, or a skip saying where it was looked for and how to build one."""
    try:
        return find.find_tsan()
    except UnfitError as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def tsan_python(tsan_base: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A venv of the TSan interpreter with cffi (the corpus builds its C there, instrumented)."""
    python = create_venv(tsan_base, tmp_path_factory.mktemp("tsan") / "venv")
    uv_step(["pip", "install", "--python", python, "cffi", "packaging", "pytest"], TIMEOUT_S["uv install"],
            "install cffi and pytest")
    return python


def _judge(python: str, report_dir: Path, *names: str) -> RunRecord:
    ctx = RunContext(python=python, settings=SMALL.replace(report_dir=report_dir),
                     env={**os.environ, "PYTHONPATH": str(ROOT)})
    return judge(ctx, RunRecord.start("stress", "tsan-corpus"), [_target(*names)])


def test_static_buffer_race_and_lock_inversion_are_unsafe_and_attributed(tsan_python: str, tmp_path: Path) -> None:
    record = _judge(tsan_python, tmp_path, "StaticBuffer", "LocalBuffer", "LockOrder")
    assert record.tsan is not None, record.note_text
    assert [s.status for s in record.scenarios] == ["passed"] * 3  # every result was right
    found = {(f.scenario, f.kind) for f in record.tsan.package}
    assert found == {("StaticBuffer", "data race"), ("LockOrder", "lock-order-inversion")}
    race = next(f for f in record.tsan.package if f.kind == "data race")
    # cffi compiles tests/corpus/tsan_race.c inside its generated source: the file and line are that C code's.
    # The access TSan reports first is fill_static's write or the read in sum(), which fill_static calls.
    assert re.search(r"_corpus_tsan_race_cffi_src\.c:\d+ in (fill_static|sum)$", race.summary), race.summary
    assert all(any(re.search(r"fill_static \S+\.c:\d+", line) for line in stack) for stack in race.stacks)
    assert (record.verdict, record.exit_code) == ("unsafe", 1)


def test_the_per_call_buffer_twin_is_safe(tsan_python: str, tmp_path: Path) -> None:
    record = _judge(tsan_python, tmp_path, "LocalBuffer")
    assert isinstance(record.tsan, Findings) and record.tsan.package == []
    assert (record.verdict, record.exit_code) == ("safe", 0), record.note_text


PLUGIN_TESTS = """
import threading

from tests.corpus import tsan_race


def _hammer(scenario_class):
    scenario = scenario_class()
    scenario.setup()
    start = threading.Barrier(2)

    def work(index):
        start.wait()
        for iteration in range(5000):
            scenario.step(index, iteration)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_static_buffer():
    _hammer(tsan_race.StaticBuffer)


def test_local_buffer():
    _hammer(tsan_race.LocalBuffer)
"""


def test_the_plugin_fails_the_test_during_which_a_race_appeared(tsan_python: str, tmp_path: Path) -> None:
    (tmp_path / "test_races.py").write_text(PLUGIN_TESTS, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",  # only the -p plugin
           "TSAN_OPTIONS": f"log_path={tmp_path / 'tsan'} halt_on_error=0 exitcode=0"}
    done = subprocess.run([tsan_python, "-m", "pytest", "-p", "harness.pytest_plugin", "-p", "no:cacheprovider",
                           "-v", "test_races.py"], capture_output=True, text=True, env=env, cwd=tmp_path)
    out = done.stdout
    assert "TSan findings per test" in out, out[-3000:]
    assert re.search(r"test_races.py::test_static_buffer FAILED", out), out[-3000:]
    assert re.search(r"test_races.py::test_local_buffer PASSED", out), out[-3000:]
    assert "ThreadSanitizer found a race in the package's code during test_races.py::test_static_buffer" in out
    assert re.search(r"data race x \d+ in scenario pytest:test_races.py::test_static_buffer", out)
    assert done.returncode == 1


def test_the_gate_refuses_a_prebuilt_wheels_binaries_under_tsan(tsan_base: str, tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, "demo-1.0-cp314-cp314t-linux_x86_64.whl",
                       files={"demo/__init__.py": b"", "demo/_speed.cpython-314t-x86_64-linux-gnu.so": b"\0"})
    done = subprocess.run([sys.executable, "-m", "harness", "gate", "--tsan", "--wheel", str(wheel),
                           "--report-dir", str(tmp_path / "reports")],
                          capture_output=True, text=True, env={**os.environ, find.TSAN_ENV: tsan_base}, cwd=ROOT)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "cannot judge the prebuilt binaries of demo-1.0-cp314-cp314t-linux_x86_64.whl" in done.stderr
    assert "--sdist FILE" in done.stderr and "--project DIR" in done.stderr and "Traceback" not in done.stderr
