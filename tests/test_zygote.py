"""Scenario children forked from a warm zygote: one zygote serves the process, each child starts in the caller's
folder, a hung child is killed at its deadline, and a dead zygote costs no run."""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import time
from pathlib import Path

import pytest

from harness.commands.stress import stress_context
from harness.engine import zygote
from harness.engine.result import ScenarioResult
from harness.interpreter.children import child_env
from harness.pipeline.judge import run_scenario
from harness.settings import StressSettings
from harness.targets import ScenarioSpec

pytestmark = pytest.mark.skipif(not zygote.available(), reason="scenario children are forked on Linux only")

SMALL = StressSettings(threads=2, rounds=2, iterations=5, timeout_s=10.0, seed=7)
REF = "tests.support.scenarios:"


def isolated(name: str) -> ScenarioResult:
    return run_scenario(ScenarioSpec(name=name, ref=REF + name), "tests-target", stress_context(SMALL))


def parent_and_folder() -> tuple[int, str]:
    """Which process started a scenario child, and in which folder the child ran."""
    result = isolated("reports_its_parent")
    assert result.status == "failed", result.detail
    found = re.search(r"parent pid (\d+) in (\S+)", result.errors[0].first_traceback)
    assert found, result.errors[0].first_traceback
    return int(found[1]), found[2]


def test_scenario_children_are_forked_from_one_zygote_and_run_in_the_callers_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, _ = parent_and_folder()
    monkeypatch.chdir(tmp_path)
    second, folder = parent_and_folder()
    assert first == second != os.getpid()
    assert Path(folder) == tmp_path


def test_a_dead_zygote_costs_no_run_and_is_replaced() -> None:
    old, _ = parent_and_folder()
    os.kill(old, signal.SIGKILL)
    assert isolated("LostUpdate").status == "failed"
    assert isolated("LockedCounter").status == "passed"
    new, _ = parent_and_folder()
    assert new not in (old, os.getpid())


def test_a_forked_child_that_outlives_its_deadline_is_killed_and_reaped(tmp_path: Path) -> None:
    request = {
        "ref": REF + "RecordsItsPidAndHangs", "name": "hangs", "target": "t", "on_failure": "unsafe",
        "settings": SMALL.replace(timeout_s=600.0, stall_s=600.0).to_json(), "watchdog_s": 600.0, "cwd": str(tmp_path),
        "result_path": str(tmp_path / "result.json"), "dump_path": str(tmp_path / "dump"),
        "stdout_path": str(tmp_path / "stdout"), "stderr_path": str(tmp_path / "stderr"),
    }
    (tmp_path / "request.json").write_text(json.dumps(request))
    forks = zygote.Zygote(sys.executable, child_env(sys.executable))
    try:
        started = time.monotonic()
        assert forks.run(str(tmp_path / "request.json"), kill_after_s=3.0) is None
        assert time.monotonic() - started < 15
    finally:
        forks.close()
    child = int((tmp_path / "child.pid").read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(child, 0)
    assert not (tmp_path / "result.json").exists()
