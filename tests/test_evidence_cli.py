"""No failure loses its evidence (issue 15), end to end in a subprocess: output folders checked before any work,
findings printed when the report cannot be written at the end, interrupted runs leaving a partial report, the
gate's terminal output, crash dumps and the small things a new user meets."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.markers import needs_free_threading
from tests.support.scenarios import LOST_UPDATE_SOURCE
from tests.test_cli_core import ALLOW, REPO_ROOT, SMALL, harness, only_report
from tests.test_gate import tiny_wheel

SLOW = ["--threads", "2", "--rounds", "100000", "--iterations", "20", "--timeout", "30", "--seed", "5",
        "--budget", "60"]


def test_a_report_dir_under_a_file_is_exit_2_before_any_stress(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    started = time.monotonic()
    proc = harness(tmp_path, "stress", "--target", "tests.support.scenarios:LockedCounter", *SLOW, *ALLOW,
                   "--report-dir", "file/reports")
    elapsed = time.monotonic() - started
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.strip() == "ft-harness stress: error: cannot write report to file/reports: Not a directory"
    assert "scenario" not in proc.stdout and "interpreter" not in proc.stdout
    assert elapsed < 2.0, f"took {elapsed:.1f} s (measured while other work ran)"


def test_a_tests_folder_that_does_not_exist_is_exit_2_before_the_venv(tmp_path: Path) -> None:
    wheel = tiny_wheel(tmp_path, {"demo/__init__.py": b""})
    proc = harness(tmp_path, "gate", "--wheel", str(wheel), "--tests", "nosuchdir")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.strip() == "ft-harness gate: error: --tests nosuchdir: not a folder"
    assert proc.stdout == "" and not list(tmp_path.glob("reports/*.json"))  # nothing ran, nothing was judged


def test_a_junit_file_in_an_unwritable_place_is_exit_2_before_the_gate_reads_the_wheel(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    proc = harness(tmp_path, "gate", "--wheel", "missing.whl", "--junit", "file/junit.xml")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.strip() == "ft-harness gate: error: cannot write report to file: it is a file, not a folder"


def test_a_report_that_cannot_be_written_at_the_end_keeps_the_findings_and_the_verdict(tmp_path: Path) -> None:
    proc = harness(tmp_path, "stress", "--target", "tests.support.scenarios:LostUpdateLosingItsReportDir",
                   *SMALL, *ALLOW)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "FAILED LostUpdateLosingItsReportDir" in proc.stdout and "rerun: " in proc.stdout
    assert "AssertionError" in proc.stdout and "verdict: unsafe (exit 1)" in proc.stdout
    assert "ft-harness stress: error: report not written: cannot write report to reports" in proc.stderr
    assert "report: " not in proc.stdout


@needs_free_threading
def test_the_gate_prints_each_failure_with_its_rerun_and_a_summary_table(tmp_path: Path) -> None:
    wheel = tiny_wheel(tmp_path, {"demo/__init__.py": b"", "demo/racy.py": LOST_UPDATE_SOURCE.encode()})
    proc = harness(tmp_path, "gate", "--wheel", str(wheel), "--target", "demo.racy:LostUpdate", *SMALL)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert any(line.startswith("FAILED LostUpdate (2 threads x 20 iterations x ") for line in lines)
    assert any("AssertionError: lost updates: counted" in line for line in lines)
    (rerun,) = [line for line in lines if line.startswith("    rerun: ")]
    assert "-m harness gate --wheel" in rerun and "--scenario LostUpdate" in rerun and "--seed 11" in rerun
    header = next(i for i, line in enumerate(lines) if line.startswith("scenario  "))
    assert lines[header].split() == ["scenario", "status", "threads", "x", "iterations", "x", "rounds", "time", "ops/s"]
    assert lines[header + 1].split()[:2] == ["LostUpdate", "failed"]


def _start(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHON_GIL" and not k.startswith("FT_HARNESS_")}
    return subprocess.Popen([sys.executable, "-m", "harness", *args], cwd=tmp_path,
                            env={**env, "PYTHONPATH": str(REPO_ROOT)}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize(("signum", "exit_code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_after_2_s_leaves_a_json_report_marked_interrupted(
    tmp_path: Path, signum: signal.Signals, exit_code: int
) -> None:
    proc = _start(tmp_path, "stress", "--target", "tests.support.scenarios:LockedCounter", *SLOW, *ALLOW)
    time.sleep(2.0)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == exit_code, out + err
    assert err.strip().splitlines()[-1] == f"ft-harness stress: interrupted by {signum.name}"
    report = only_report(tmp_path)
    assert (report["verdict"], report["exit_code"]) == ("interrupted", exit_code)
    assert report["interrupted"]["signal"] == signum.name
    # Under load the signal may land in the import audit or in the scenario: either is named as unfinished.
    assert report["interrupted"]["unfinished"] in (["LockedCounter"], ["import audit", "LockedCounter"])
    assert report["interrupted"]["finished"] == [] and "interrupted by" in report["note"]


def test_sigterm_ends_the_isolated_scenario_child_too(tmp_path: Path) -> None:
    marker = tmp_path / "child.pid"
    proc = _start(tmp_path, "stress", "--target", "tests.support.scenarios:RecordsItsPidAndHangs",
                  "--threads", "2", "--rounds", "1", "--iterations", "1", "--timeout", "60", "--stall", "60",
                  *ALLOW)
    deadline = time.monotonic() + 30
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 143, out + err
    child = int(marker.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(child, 0)


def test_a_segfault_report_carries_the_dump_from_its_file_and_says_which_threads_it_shows(tmp_path: Path) -> None:
    proc = harness(tmp_path, "stress", "--target", "tests.support.scenarios:segfault", *SMALL, *ALLOW)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    (scenario,) = only_report(tmp_path)["scenarios"]
    dump = scenario["errors"][0]["first_traceback"]
    assert scenario["status"] == "crashed" and dump.startswith("Fatal Python error: Segmentation fault")
    assert " in segfault\n" in dump  # the crashing thread's Python stack
    if "<Cannot show all threads while the GIL is disabled>" in dump:
        assert scenario["detail"].endswith("faulthandler dump of the crashing thread in errors "
                                           "(with the GIL disabled it cannot show the others)")
    else:
        assert scenario["detail"].endswith("faulthandler dump of every thread in errors")
        # the crashing worker and the other live threads (the other worker may have finished its round already)
        assert dump.count("Thread 0x") + dump.count("Current thread 0x") >= 2


def test_an_empty_dump_says_so_and_why(tmp_path: Path) -> None:
    proc = harness(tmp_path, "stress", "--target", "tests.support.scenarios:exits_quietly", *SMALL, *ALLOW)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    (scenario,) = only_report(tmp_path)["scenarios"]
    assert scenario["status"] == "crashed"
    assert scenario["detail"].startswith("the scenario's process exited with status 0 before writing its result; "
                                         "no faulthandler dump: ")
    assert "os._exit()" in scenario["detail"] and "os._exit()" in proc.stdout
    assert scenario["errors"][0]["first_traceback"].startswith("(no faulthandler dump: ")


def test_stress_writes_html_too_and_says_1_thread_not_1_threads(tmp_path: Path) -> None:
    proc = harness(tmp_path, "stress", "--target", "tests.support.scenarios:quiet", "--threads", "1", "--rounds", "1",
                   "--iterations", "1", *ALLOW)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "(1 scenario)" in proc.stdout and "PASSED quiet (1 thread x 1 iteration x 1 round" in proc.stdout
    written = {path.suffix for path in (tmp_path / "reports").iterdir()}
    assert written == {".json", ".md", ".html"}
    (markdown,) = (tmp_path / "reports").glob("*.md")
    assert "GIL forced: no" in markdown.read_text() and "None" not in markdown.read_text()
    (page,) = (tmp_path / "reports").glob("*.html")
    assert "<h1>ft-harness stress: tests.support.scenarios:quiet</h1>" in page.read_text()
    assert "Wheel" not in page.read_text()


def test_another_interpreters_harness_path_is_removed_at_exit(tmp_path: Path) -> None:
    (tmp_path / "tmp").mkdir()
    (tmp_path / "python").symlink_to(sys.executable)  # another path: children see only the harness package
    proc = harness(tmp_path, "stress", "--target", "tests.support.scenarios:quiet", "--python",
                   str(tmp_path / "python"), *SMALL, *ALLOW, env={"TMPDIR": str(tmp_path / "tmp")})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "PASSED quiet" in proc.stdout
    assert list((tmp_path / "tmp").iterdir()) == []


@pytest.mark.skipif(importlib.util.find_spec("autobahn") is not None, reason="autobahn is installed here")
@needs_free_threading
def test_a_built_in_target_whose_package_is_missing_is_one_line_saying_how_to_install_it(tmp_path: Path) -> None:
    proc = harness(tmp_path, "stress", "--target", "autobahn")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.strip() == (
        "ft-harness stress: error: target autobahn needs autobahn, which the interpreter cannot import: install it "
        "with pip install 'ft-harness[autobahn]' (from a checkout: uv sync --extra autobahn, or "
        "pip install '.[autobahn]')")
    assert "not-found" not in proc.stdout


def test_json_callers_get_input_errors_on_stdout(tmp_path: Path) -> None:
    proc = harness(tmp_path, "stress", "--target", "nope", "--json")
    assert proc.returncode == 2
    answer = json.loads(proc.stdout)
    assert answer["exit_code"] == 2 and answer["command"] == "stress" and "unknown target 'nope'" in answer["error"]


def test_extra_arguments_are_blamed_on_the_subcommand(tmp_path: Path) -> None:
    proc = harness(tmp_path, "gate", "--wheel", "a.whl", "b.whl")
    assert proc.returncode == 2
    assert proc.stderr.strip() == "ft-harness gate: error: unrecognized arguments: b.whl"


def test_a_deadlock_is_still_stalled_and_the_message_names_stall(tmp_path: Path) -> None:
    started = time.monotonic()
    proc = harness(tmp_path, "stress", "--target", "tests.support.scenarios:hangs", "--timeout", "60", *SMALL[:6],
                   *ALLOW)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    (scenario,) = only_report(tmp_path)["scenarios"]
    assert scenario["status"] == "timeout" and "parked on" in scenario["detail"]
    assert "raise --stall if a step legitimately waits on a lock longer" in scenario["detail"]
    assert time.monotonic() - started < 30, "the stall check, not the 60 s timeout, ended the run"


def test_help_shows_each_settings_default(tmp_path: Path) -> None:
    proc = harness(tmp_path, "stress", "--help")
    text = " ".join(proc.stdout.split())
    for fragment in ("default: 2 (env FT_HARNESS_THREADS", "default: 0.5 (env FT_HARNESS_STALL",
                     "default: a random seed, printed", "default: reports (env"):
        assert fragment in text
def test_a_step_sleeping_2_s_passes_at_the_default_settings(tmp_path: Path) -> None:
    proc = harness(tmp_path, "stress", "--target", "tests.support.scenarios:sleeps_2_s_once", "--seed", "3", *ALLOW)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert only_report(tmp_path)["scenarios"][0]["status"] == "passed"




def test_a_correct_scenario_of_10_ms_steps_at_timeout_5_stops_at_the_budget_and_is_safe(tmp_path: Path) -> None:
    proc = harness(tmp_path, "stress", "--target", "tests.support.scenarios:steps_of_10_ms", "--timeout", "5",
                   "--seed", "3", *ALLOW)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (scenario,) = only_report(tmp_path)["scenarios"]
    assert scenario["status"] == "passed"
    assert re.fullmatch(r"stopped at the budget after \d+ rounds?", scenario["detail"]), scenario["detail"]
    assert scenario["detail"] in proc.stdout


def test_a_round_past_its_own_limit_is_the_hang(tmp_path: Path) -> None:
    proc = harness(tmp_path, "stress", "--target", "tests.support.scenarios:sleeps_2_s_once", "--timeout", "1",
                   "--no-explore", *SMALL[:6], *ALLOW)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    (scenario,) = only_report(tmp_path)["scenarios"]
    assert scenario["status"] == "timeout"
    assert "round 0 did not finish within its limit of 1 s (--timeout)" in scenario["detail"]


def test_a_ctrl_c_while_the_command_line_loads_is_one_line_and_exit_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The subcommands' modules take about half a second to load: a Ctrl-C then printed a traceback."""
    import harness.commands

    def interrupted_while_loading() -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(harness.commands, "build_parser", interrupted_while_loading)
    assert harness.commands.main(["stress"]) == 130
    assert capsys.readouterr().err == "ft-harness: interrupted by SIGINT\n"
