"""Scenario children forked by a fork server: one server serves the process, each child starts in the caller's
folder and environment, a hung child is killed at its deadline, a child dies with its server, and a dead
server costs no run."""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from harness.commands.stress import stress_context
from harness.engine import forkserver
from harness.engine.result import ScenarioResult
from harness.interpreter.children import child_env
from harness.pipeline.judge import run_scenario
from harness.settings import StressSettings
from harness.targets import ScenarioSpec

pytestmark = pytest.mark.skipif(not forkserver.usable(), reason="scenario children are forked on Linux only")

SMALL = StressSettings(threads=2, rounds=2, iterations=5, timeout_s=10.0, seed=7)
REF = "tests.support.scenarios:"


def isolated(name: str) -> ScenarioResult:
    return run_scenario(ScenarioSpec(name=name, ref=REF + name), "tests-target", stress_context(SMALL))


def parent_folder_and_marker() -> tuple[int, str, str]:
    """Which process started a scenario child, in which folder the child ran and its FT_HARNESS_TEST_MARKER."""
    result = isolated("reports_its_parent")
    assert result.status == "failed", result.detail
    found = re.search(r"parent pid (\d+) in (\S+) marked (\S*)", result.errors[0].first_traceback)
    assert found, result.errors[0].first_traceback
    return int(found[1]), found[2], found[3]


def test_scenario_children_are_forked_by_one_server_in_the_callers_folder_and_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, _, _ = parent_folder_and_marker()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PYTEST_CURRENT_TEST", "another test")  # changes per test: the same server serves
    second, folder, _ = parent_folder_and_marker()
    assert first == second != os.getpid()
    assert Path(folder) == tmp_path
    monkeypatch.setenv("FT_HARNESS_TEST_MARKER", "set-later")  # another environment: another server
    third, _, marker = parent_folder_and_marker()
    assert marker == "set-later" and third not in (first, os.getpid())


def test_a_dead_fork_server_costs_no_run_and_is_replaced() -> None:
    old, _, _ = parent_folder_and_marker()
    assert old != os.getpid()
    os.kill(old, signal.SIGKILL)
    assert isolated("LostUpdate").status == "failed"
    assert isolated("LockedCounter").status == "passed"
    new, _, _ = parent_folder_and_marker()
    assert new not in (old, os.getpid())


def hanging_request(folder: Path) -> Path:
    """A request whose child writes its pid to ``folder/child.pid`` and then hangs (no watchdog for 600 s)."""
    files = {"result_path": "result.json", "dump_path": "dump", "stdout_path": "stdout", "stderr_path": "stderr"}
    request = {
        "ref": REF + "RecordsItsPidAndHangs", "name": "hangs", "target": "t", "on_failure": "unsafe",
        "settings": SMALL.replace(timeout_s=600.0, stall_s=600.0).to_json(), "watchdog_s": 600.0,
        "cwd": str(folder), "env": child_env(sys.executable), **{key: str(folder / f) for key, f in files.items()},
    }
    (folder / "request.json").write_text(json.dumps(request))
    return folder / "request.json"


def wait_for_pid(path: Path) -> int:
    deadline = time.monotonic() + 30
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return int(path.read_text())


def gone(pid: int, within_s: float) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def test_a_forked_child_that_outlives_its_deadline_is_killed_and_reaped(tmp_path: Path) -> None:
    server = forkserver.ForkServer(sys.executable, child_env(sys.executable))
    try:
        started = time.monotonic()
        assert server.run(str(hanging_request(tmp_path)), kill_after_s=3.0) is None
        assert time.monotonic() - started < 15
    finally:
        server.close()
    assert gone(int((tmp_path / "child.pid").read_text()), within_s=1.0)
    assert not (tmp_path / "result.json").exists()


def test_a_forked_child_dies_with_its_server(tmp_path: Path) -> None:
    server = forkserver.ForkServer(sys.executable, child_env(sys.executable))
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(server.run(str(hanging_request(tmp_path)), kill_after_s=60.0))
        except forkserver.ForkServerGone as exc:
            outcome.append(exc)

    runner = threading.Thread(target=run)
    runner.start()
    child = wait_for_pid(tmp_path / "child.pid")
    server_pid = int(Path(f"/proc/{child}/stat").read_text().rpartition(")")[2].split()[1])
    assert server_pid not in (os.getpid(), child)
    os.kill(server_pid, signal.SIGKILL)
    runner.join(15)
    server.close()
    assert len(outcome) == 1 and isinstance(outcome[0], forkserver.ForkServerGone)
    assert gone(child, within_s=5.0)
