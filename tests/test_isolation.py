"""Scenarios in child processes: a crash or a hard hang is a result, and the session goes on."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from harness import UsageError
from harness.commands.stress import stress_context
from harness.engine.isolation import _run_child
from harness.interpreter.children import child_env, harness_only_path
from harness.pipeline.judge import run_scenario
from harness.settings import StressSettings
from harness.targets import ScenarioSpec

SMALL = StressSettings(threads=2, rounds=2, iterations=20, timeout_s=10.0, seed=7)
REF = "tests.support.scenarios:"


def isolated(name: str, settings: StressSettings = SMALL):
    return run_scenario(ScenarioSpec(name=name, ref=REF + name), "tests-target", stress_context(settings))


def test_segfault_is_crashed_with_dump_and_session_continues() -> None:
    crashed = isolated("segfault")
    assert crashed.status == "crashed"
    (error,) = crashed.errors
    assert error.type == "SIGSEGV"
    assert "Segmentation fault" in error.first_traceback and "segfault" in error.first_traceback
    assert "--seed 7" in crashed.rerun
    after = isolated("quiet")
    assert after.status == "passed"


def test_isolated_failures_come_back_intact() -> None:
    result = isolated("LostUpdate")
    assert result.status == "failed" and result.errors[0].type == "AssertionError"
    assert isolated("LockedCounter").status == "passed"


def test_a_schedule_that_fails_only_after_earlier_rounds_is_not_offered_for_replay() -> None:
    kept = isolated("LostUpdate", SMALL.replace(rounds=100, budget_s=1.0))
    assert kept.status == "failed" and "schedule" in kept.exploration and "--replay" in kept.rerun
    assert kept.reruns_s is not None and kept.reruns_s > 0  # the fresh-process replay came after the failure
    result = isolated("RacyOnlyAfterEarlierRounds", SMALL.replace(rounds=100, budget_s=1.0))
    assert result.status == "failed", result.detail
    assert "schedule" not in result.exploration and "fresh_replay" in result.exploration, result.exploration
    assert "--replay" not in result.rerun and "does not fail in a fresh process" in result.detail


def test_hang_in_engine_thread_is_ended_by_the_child_watchdog() -> None:
    result = isolated("HangsInSetup", SMALL.replace(timeout_s=0.5))
    assert result.status == "timeout"
    assert "in setup" in result.errors[0].first_traceback


def test_missing_attribute_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="no attribute"):
        isolated("no_such_scenario")


def test_module_raising_on_import_is_a_failed_scenario(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "raises_at_import.py").write_text("raise ValueError('broken module')\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    result = run_scenario(ScenarioSpec(name="x", ref="raises_at_import:x"), "t", stress_context(SMALL))
    assert result.status == "failed"
    assert "broken module" in result.errors[0].first_traceback


def test_harness_only_path_exposes_only_the_harness_package() -> None:
    folder = Path(harness_only_path())
    assert [p.name for p in folder.iterdir()] == ["harness"]
    assert (folder / "harness").resolve() == Path(__file__).resolve().parents[1] / "harness"


def test_child_env_of_another_interpreter_does_not_expose_the_repo_root() -> None:
    repo_root = str(Path(__file__).resolve().parents[1])
    env = child_env("/nonexistent/other/python", {"PYTHONPATH": "/user/path"})
    entries = env["PYTHONPATH"].split(os.pathsep)
    assert entries == [harness_only_path(), "/user/path"]
    assert repo_root not in entries


def test_child_env_of_this_interpreter_mirrors_sys_path() -> None:
    entries = child_env(sys.executable, {})["PYTHONPATH"].split(os.pathsep)
    assert {p for p in sys.path if p and os.path.exists(p)} <= set(entries)
    assert os.getcwd() in entries


@pytest.mark.parametrize(("code", "expected"), [("import sys; sys.exit(3)", 3), ("import time; time.sleep(60)", None)])
def test_a_child_is_reaped_when_it_ends_and_killed_at_the_deadline(
    tmp_path: Path, code: str, expected: int | None
) -> None:
    started = time.monotonic()
    with open(tmp_path / "out", "w+b") as out, open(tmp_path / "err", "w+b") as err:
        returncode = _run_child([sys.executable, "-c", code], dict(os.environ), out, err, kill_after_s=1.0)
    assert returncode == expected
    assert time.monotonic() - started < 20
