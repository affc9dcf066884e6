"""TSan mode without a TSan interpreter: report parsing, attribution, deduplication and the verdict on captured
report text; finding the interpreter; the seeded race that every oracle misses."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from harness import UnfitError
from harness.engine import run_in_process, tsan
from harness.engine.result import ScenarioResult
from harness.interpreter import find
from harness.pipeline.record import RunRecord
from harness.pipeline.tsan_mode import TSanRun, tsan_settings
from harness.pipeline.verdict import decide
from harness.report.gate import render_html
from harness.report.markdown import render_markdown
from harness.settings import StressSettings
from tests.corpus import tsan_race

PY = "/opt/cpython-3.14t-tsan/bin/python3.14t"
EXT = "/tmp/x/_corpus_tsan_race.cpython-314t-x86_64-linux-gnu.so"
LOCK = "pthread_mutex_lock ../../src/libsanitizer/sanitizer_common/interceptors.inc:4481 (libtsan.so.2+0x4a5b6)"
SOCKET = "/opt/cpython-3.14t-tsan/lib/python3.14t/lib-dynload/_socket.cpython-314t-x86_64-linux-gnu.so"

RACE = f"""==================
WARNING: ThreadSanitizer: data race (pid=4242)
  Write of size 1 at 0x7f0000001000 by thread T2:
    #0 memset ../../../../src/libsanitizer/sanitizer_common/sanitizer_common_interceptors.inc:799 (libtsan.so.2+0x63c1b)
    #1 fill_static /tmp/x/tsan_race.c:14:5 ({EXT}+0x1139)
    #2 _cffi_f_fill_static /tmp/x/_corpus_tsan_race_cffi_src.c:230 ({EXT}+0x1520)
    #3 cfunction_call /tmp/cpysrc/Objects/methodobject.c:565 ({PY}+0x1a2b3c)
    #4 _PyObject_MakeTpCall /tmp/cpysrc/Objects/call.c:242 ({PY}+0x1a0000)
    #5 _PyEval_EvalFrameDefault /tmp/cpysrc/Python/generated_cases.c.h:1620 ({PY}+0x2b0000)
    #6 thread_run /tmp/cpysrc/Modules/_threadmodule.c:359 ({PY}+0x3c0000)
    #7 pythread_wrapper /tmp/cpysrc/Python/thread_pthread.h:242 ({PY}+0x3b0000)

  Previous write of size 1 at 0x7f0000001000 by thread T1:
    #0 memset ../../../../src/libsanitizer/sanitizer_common/sanitizer_common_interceptors.inc:799 (libtsan.so.2+0x63c1b)
    #1 fill_static /tmp/x/tsan_race.c:14:5 ({EXT}+0x1139)
    #2 _cffi_f_fill_static /tmp/x/_corpus_tsan_race_cffi_src.c:230 ({EXT}+0x1520)
    #3 cfunction_call /tmp/cpysrc/Objects/methodobject.c:565 ({PY}+0x1a2b3c)

  Location is global 'scratch' of size 256 at 0x7f0000001000 ({EXT}+0x4060)

  Thread T2 (tid=4245, running) created by main thread at:
    #0 pthread_create ../../../../src/libsanitizer/tsan/tsan_interceptors_posix.cpp:1022 (libtsan.so.2+0x5ad75)
    #1 do_start_joinable_thread /tmp/cpysrc/Python/thread_pthread.h:281 ({PY}+0x3b1111)

SUMMARY: ThreadSanitizer: data race /tmp/x/tsan_race.c:14:5 in fill_static
==================
"""

INVERSION = f"""==================
WARNING: ThreadSanitizer: lock-order-inversion (potential deadlock) (pid=4300)
  Cycle in lock order graph: M0 (0x7f0000002000) => M1 (0x7f0000002040) => M0

  Mutex M1 acquired here while holding mutex M0 in thread T1:
    #0 {LOCK}
    #1 lock_ab /tmp/x/tsan_race.c:40 ({EXT}+0x1200)
    #2 _cffi_f_lock_ab /tmp/x/_corpus_tsan_race_cffi_src.c:260 ({EXT}+0x1600)

  Mutex M0 previously acquired by the same thread here:
    #0 {LOCK}
    #1 lock_ab /tmp/x/tsan_race.c:39 ({EXT}+0x11f0)

  Mutex M0 acquired here while holding mutex M1 in thread T2:
    #0 {LOCK}
    #1 lock_ba /tmp/x/tsan_race.c:50 ({EXT}+0x1300)

  Mutex M1 previously acquired by the same thread here:
    #0 {LOCK}
    #1 lock_ba /tmp/x/tsan_race.c:49 ({EXT}+0x12f0)

SUMMARY: ThreadSanitizer: lock-order-inversion (potential deadlock) /tmp/x/tsan_race.c:40 in lock_ab
==================
"""

INTERPRETER_ONLY = f"""==================
WARNING: ThreadSanitizer: data race (pid=4400)
  Read of size 8 at 0x7f0000003000 by thread T3:
    #0 _Py_qsbr_poll /tmp/cpysrc/Python/qsbr.c:200 ({PY}+0x300000)
    #1 _PyMem_ProcessDelayed /tmp/cpysrc/Objects/obmalloc.c:1200 ({PY}+0x200000)

  Previous write of size 8 at 0x7f0000003000 by thread T1:
    #0 _Py_qsbr_advance /tmp/cpysrc/Python/qsbr.c:150 ({PY}+0x300100)
    #1 free ../../../../src/libsanitizer/tsan/tsan_interceptors_posix.cpp:800 (libtsan.so.2+0x1000)
    #2 _socket_recv /tmp/cpysrc/Modules/socketmodule.c:3000 ({SOCKET}+0x2000)

SUMMARY: ThreadSanitizer: data race /tmp/cpysrc/Python/qsbr.c:200 in _Py_qsbr_poll
==================
"""

UNRELATED = """==================
WARNING: ThreadSanitizer: signal-unsafe call inside of a signal (pid=4500)
    #0 malloc ../../../../src/libsanitizer/tsan/tsan_interceptors_posix.cpp:666 (libtsan.so.2+0x3ee69)
SUMMARY: ThreadSanitizer: signal-unsafe call inside of a signal in malloc
==================
"""


def test_data_race_keeps_the_package_frames_and_cuts_the_interpreter_to_a_tail() -> None:
    (report,) = tsan.parse(RACE)
    assert report.kind == "data race" and report.in_package
    assert report.summary == "data race /tmp/x/tsan_race.c:14:5 in fill_static"
    first, second = report.stacks
    assert first.header.startswith("Write of size 1") and second.header.startswith("Previous write of size 1")
    shown = first.shown()
    assert any("fill_static /tmp/x/tsan_race.c:14:5" in line for line in shown)
    # memset, fill_static, the cffi wrapper, then a tail of 3 interpreter frames; the other 2 are cut
    assert len([line for line in shown if line.startswith("  #")]) == 3 + tsan.TAIL_FRAMES
    assert shown[-1] == "  ... 2 more frames in the interpreter and libraries"
    assert not any("thread_run" in line for line in shown)


def test_lock_order_inversion_keeps_the_two_acquisitions_under_held_locks() -> None:
    (report,) = tsan.parse(INVERSION)
    assert report.kind == "lock-order-inversion"
    assert [s.header.split(" in thread")[0] for s in report.stacks] == [
        "Mutex M1 acquired here while holding mutex M0", "Mutex M0 acquired here while holding mutex M1"]
    # the stack top skips the sanitizer's pthread_mutex_lock interceptor
    assert [s.top for s in report.stacks] == ["lock_ab /tmp/x/tsan_race.c:40", "lock_ba /tmp/x/tsan_race.c:50"]


def test_reports_of_other_kinds_are_skipped() -> None:
    assert tsan.parse(UNRELATED) == []
    assert [r.kind for r in tsan.parse(UNRELATED + RACE + INVERSION)] == ["data race", "lock-order-inversion"]


def test_same_stack_tops_are_one_finding_with_a_count_per_scenario() -> None:
    findings = tsan.Findings()
    findings.add(tsan.parse(RACE * 3 + INVERSION), scenario="shared", target="t")
    assert [(f.kind, f.count) for f in findings.package] == [("data race", 3), ("lock-order-inversion", 1)]


def test_report_only_in_cpython_frames_goes_to_the_interpreter_list() -> None:
    findings = tsan.Findings()
    findings.add(tsan.parse(INTERPRETER_ONLY), scenario="shared", target="t")
    assert findings.package == [] and [f.kind for f in findings.interpreter] == ["data race"]


def test_two_findings_are_attributed_to_the_two_scenarios_whose_logs_hold_them(tmp_path: Path) -> None:
    run = TSanRun.start(tmp_path / "run.tsan")
    for scenario, text in (("racy", RACE), ("locks", INVERSION)):
        folder = run.folder("t", scenario)
        folder.mkdir()
        (folder / "tsan.1234").write_text("noise before\n" + text, encoding="utf-8")
    findings = tsan.Findings()
    for scenario in ("racy", "locks", "quiet"):
        run.collect(findings, "t", scenario, "unsafe")
    assert [(f.scenario, f.kind) for f in findings.package] == [("racy", "data race"),
                                                                ("locks", "lock-order-inversion")]


def test_tsan_env_sends_each_child_to_its_own_log_and_keeps_going(tmp_path: Path) -> None:
    extra = tmp_path / "mine.txt"
    extra.write_text("race:my_known_race\n", encoding="utf-8")
    run = TSanRun.start(tmp_path / "run.tsan", extra)
    options = dict(item.split("=", 1) for item in run.env({}, "t", "racy")["TSAN_OPTIONS"].split())
    assert options["log_path"] == str(run.folder("t", "racy") / "tsan")
    assert options["halt_on_error"] == "0" and options["exitcode"] == "0" and int(options["history_size"]) > 2
    suppressions = Path(options["suppressions"]).read_text(encoding="utf-8")
    assert tsan.SUPPRESSIONS.read_text(encoding="utf-8") in suppressions and "race:my_known_race" in suppressions


def test_tsan_settings_raise_iterations_for_the_same_number_of_calls() -> None:
    plain = StressSettings(threads=2, rounds=100, iterations=400, timeout_s=60)
    raised = tsan_settings(plain)
    assert raised.iterations >= max(400, 1000) and raised.timeout_s > plain.timeout_s
    assert raised.stall_s > plain.stall_s
    calls = plain.rounds * plain.iterations
    assert raised.rounds * raised.iterations >= calls > (raised.rounds - 1) * raised.iterations


def _record(*texts: tuple[str, str], on_failure: str = "unsafe") -> RunRecord:
    record = RunRecord(run_id="r", kind="stress", target="t", started=datetime.now(UTC))
    record.tsan = tsan.Findings(log_dir="/tmp/r.tsan")
    for scenario, text in texts:
        # Each scenario passed its oracles at two threads (stressed: not imports-only); TSan alone reported.
        record.scenarios.append(ScenarioResult(scenario, "t", 2, 3, 4, "passed", 5, "ft-harness stress --seed 5",
                                               on_failure=on_failure))
        record.tsan.add(tsan.parse(text), scenario=scenario, target="t", on_failure=on_failure)
    return record


def test_a_race_in_the_package_makes_the_verdict_unsafe_and_the_reports_show_it() -> None:
    record = _record(("racy", RACE))
    assert decide(record) == ("unsafe", 1)
    data = record.to_json()
    markdown = render_markdown(data)
    assert "data race x 1 in scenario t:racy" in markdown and "tsan_race.c:14:5" in markdown
    assert "Previous write of size 1" in markdown
    assert "tsan_race.c:14:5" in render_html(data)


def test_interpreter_only_findings_and_shared_use_unsafe_scenarios_keep_the_verdict_safe() -> None:
    assert decide(_record(("shared", INTERPRETER_ONLY))) == ("safe", 0)
    assert decide(_record(("documented", RACE), on_failure="shared-use-unsafe")) == ("safe", 0)


def test_the_static_buffer_race_passes_every_oracle_without_tsan() -> None:
    settings = StressSettings(threads=2, rounds=2, iterations=200, seed=11)
    result = run_in_process(tsan_race.StaticBuffer, name="StaticBuffer", target="t", settings=settings)
    assert result.status == "passed" and result.failures == 0


def test_find_tsan_rejects_an_interpreter_that_is_not_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(find.TSAN_ENV, sys.executable)
    with pytest.raises(UnfitError, match="not built --with-thread-sanitizer"):
        find.find_tsan()


def test_stress_tsan_without_one_is_a_one_line_exit_3(tmp_path: Path) -> None:
    env = {**os.environ, find.TSAN_ENV: str(tmp_path / "missing-python")}
    done = subprocess.run([sys.executable, "-m", "harness", "stress", "--tsan", "--target", "nvx"],
                          capture_output=True, text=True, env=env, cwd=tmp_path)
    assert done.returncode == 3
    assert done.stderr.strip().count("\n") == 0 and "--with-thread-sanitizer" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_version_request_never_picks_a_tsan_build() -> None:
    request = find.parse("3.14t")
    assert isinstance(request, find.VersionRequest)
    tsan_build = find.Build(3, 14, 7, None, True, "cpython", thread_sanitizer=True)
    assert not request.matches(tsan_build) and request.matches(find.Build(3, 14, 7, None, True, "cpython"))

