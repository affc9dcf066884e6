"""The doctor / imports / stress command line, end to end in a subprocess: exit codes, one-line errors, reports."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from harness.interpreter.children import harness_only_path
from tests.support.markers import FREE_THREADED, needs_free_threading

REPO_ROOT = Path(__file__).resolve().parents[1]
ALLOW = [] if FREE_THREADED else ["--allow-gil-build"]
SMALL = ["--threads", "2", "--rounds", "2", "--iterations", "20", "--timeout", "20", "--seed", "11"]
REPORT_KEYS = {"verdict", "exit_code", "interpreter", "imports", "scenarios", "started", "duration_s"}
SCENARIO_KEYS = {"name", "target", "threads", "rounds", "iterations", "status", "failures", "errors", "seed", "rerun"}


def harness(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m harness ARGS`` in ``tmp_path`` with a clean environment (no PYTHON_GIL, no FT_HARNESS_*)."""
    clean = {k: v for k, v in os.environ.items() if k != "PYTHON_GIL" and not k.startswith("FT_HARNESS_")}
    clean["PYTHONPATH"] = str(REPO_ROOT)
    return subprocess.run(
        [sys.executable, "-m", "harness", *args], cwd=tmp_path, env={**clean, **(env or {})},
        capture_output=True, text=True, timeout=120,
    )


def only_report(tmp_path: Path) -> dict:
    (path,) = (tmp_path / "reports").glob("*.json")
    return json.loads(path.read_text())


@needs_free_threading
def test_doctor_is_fit_on_this_free_threaded_build(tmp_path: Path) -> None:
    proc = harness(tmp_path, "doctor", "--json")
    assert proc.returncode == 0, proc.stderr
    facts = json.loads(proc.stdout)
    assert facts["free_threaded"] is True and facts["gil_enabled"] is False and facts["fit"] is True


@needs_free_threading
@pytest.mark.parametrize("value", ["0", "1"])
def test_python_gil_forced_either_way_is_unfit(tmp_path: Path, value: str) -> None:
    doctor = harness(tmp_path, "doctor", env={"PYTHON_GIL": value})
    assert doctor.returncode == 3
    assert "forced" in doctor.stdout
    stress = harness(tmp_path, "stress", "--target", "tests.support.scenarios:quiet", *SMALL,
                     env={"PYTHON_GIL": value})
    assert stress.returncode == 3
    assert stress.stderr.strip().splitlines()[-1].startswith("ft-harness stress: error: unfit to judge")
    report = only_report(tmp_path)
    assert (report["verdict"], report["exit_code"], report["interpreter"]["gil_forced"]) == ("error", 3, int(value))


def test_stress_lost_update_is_unsafe_with_report_and_rerun(tmp_path: Path) -> None:
    proc = harness(tmp_path, "stress", "--target", "tests.support.scenarios:LostUpdate", *SMALL, *ALLOW)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "seed: 11" in proc.stdout
    assert "rounds: up to 2," in proc.stdout  # a cap: the budget usually ends the run first
    assert "FAILED LostUpdate" in proc.stdout
    assert "rerun: " in proc.stdout and "--seed 11" in proc.stdout
    report = only_report(tmp_path)
    assert set(report) >= REPORT_KEYS
    assert set(report["interpreter"]) >= {"version", "free_threaded", "gil_enabled", "gil_forced"}
    (scenario,) = report["scenarios"]
    assert set(scenario) >= SCENARIO_KEYS
    assert (report["verdict"], report["exit_code"], scenario["status"]) == ("unsafe", 1, "failed")
    assert scenario["errors"][0]["type"] == "AssertionError"
    assert report["imports"][0]["module"] == "tests.support.scenarios"
    assert (tmp_path / "reports" / (Path(proc.stdout.split("report: ")[1].strip()).stem + ".md")).is_file()


def test_printed_rerun_reproduces_the_failure_without_the_import_audit(tmp_path: Path) -> None:
    (tmp_path / "first").mkdir()
    (tmp_path / "again").mkdir()
    first = harness(tmp_path / "first", "stress", "--target", "tests.support.scenarios:LostUpdate", *SMALL, *ALLOW)
    assert first.returncode == 1, first.stdout + first.stderr
    (scenario,) = only_report(tmp_path / "first")["scenarios"]
    assert "-m harness stress --no-import-audit --target" in scenario["rerun"]
    words = shlex.split(scenario["rerun"])  # a shell command: an explored failure's schedule is quoted JSON
    again = harness(tmp_path / "again", *words[words.index("stress"):], *ALLOW)
    assert again.returncode == 1, again.stdout + again.stderr
    report = only_report(tmp_path / "again")
    assert report["imports"] == [] and "import audit skipped" in report["note"]
    assert [(s["name"], s["status"], s["seed"]) for s in report["scenarios"]] == [("LostUpdate", "failed", 11)]


def test_stress_correct_scenario_is_safe_as_json(tmp_path: Path) -> None:
    proc = harness(tmp_path, "stress", "--target", "tests.support.scenarios:LockedCounter", *SMALL, *ALLOW,
                   "--json", "--report-dir", "out")
    assert proc.returncode == 0, proc.stderr
    record = json.loads(proc.stdout)
    assert (record["verdict"], record["scenarios"][0]["status"]) == ("safe", "passed")
    assert record["free_threading_verdict"] is FREE_THREADED
    assert (tmp_path / "out" / f"{record['run_id']}.json").is_file()


def test_stress_segfault_is_crashed_and_reported(tmp_path: Path) -> None:
    proc = harness(tmp_path, "stress", "--target", "tests.support.scenarios:segfault", *SMALL, *ALLOW)
    assert proc.returncode == 1
    assert "CRASHED segfault" in proc.stdout and "SIGSEGV" in proc.stdout
    assert only_report(tmp_path)["scenarios"][0]["status"] == "crashed"


def test_stress_python_option_accepts_this_interpreter(tmp_path: Path) -> None:
    proc = harness(tmp_path, "stress", "--target", "tests.support.scenarios:quiet", "--python", sys.executable,
                   *SMALL, *ALLOW)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize(
    ("args", "env", "fragment"),
    [
        (["--threads", "0"], {}, "bad --threads on the command line: '0'"),
        (["--timeout", "-3"], {}, "bad --timeout"),
        (["--seed", "abc"], {}, "bad --seed"),
        (["--iterations", "1.5"], {}, "bad --iterations"),
        (["--barrier", "fast"], {}, "bad --barrier on the command line: 'fast', expected one of spin, condition"),
        ([], {"FT_HARNESS_THREADS": "many"}, "bad FT_HARNESS_THREADS in the environment"),
        (["--python", "/no/such/python"], {}, "/no/such/python"),
        (["--scenario", "nope"], {}, "unknown scenario 'nope'"),
        (["--bogus-flag"], {}, "unrecognized arguments"),
    ],
)
def test_bad_values_are_one_line_exit_2(tmp_path: Path, args: list[str], env: dict, fragment: str) -> None:
    proc = harness(tmp_path, "stress", "--target", "tests.support.scenarios:quiet", *args, env=env)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert fragment in proc.stderr
    assert proc.stdout == ""  # no header before a usage error


@pytest.mark.parametrize(("target", "fragment"), [
    ("no_such_builtin_target", "unknown target 'no_such_builtin_target'"),
    ("tests.support.scenarios:nothing_here", "module 'tests.support.scenarios' ("),
    ("tests.support.no_such_module:LostUpdate", "module 'tests.support.no_such_module' not found"),
    ("misspelt_scenarios:Nope", "has no attribute 'Nope'"),
])
def test_unknown_targets_exit_2_before_any_work(tmp_path: Path, target: str, fragment: str) -> None:
    (tmp_path / "misspelt_scenarios.py").write_text("import threading\n\nclass Yes:\n    pass\n")
    proc = harness(tmp_path, "stress", "--target", target, "--scenario-path", str(tmp_path), *SMALL, *ALLOW)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stdout == "" and len(proc.stderr.strip().splitlines()) == 1, proc.stdout + proc.stderr
    assert fragment in proc.stderr
    assert not list((tmp_path / "reports").glob("*"))  # before the import audit: nothing judged, nothing written


def test_every_repeatable_flag_says_so_and_timeout_is_not_the_budget() -> None:
    from harness.commands import build_parser

    subcommands = next(a for a in build_parser()._actions if a.dest == "command").choices
    repeatable = [(name, action.option_strings[0], action.help or "") for name, sub in subcommands.items()
                  for action in sub._actions if action.__class__.__name__ == "_AppendAction"]
    assert len(repeatable) >= 7
    assert [flag for flag in repeatable if "(repeatable" not in flag[2]] == []
    timeout = next(a for a in subcommands["stress"]._actions if "--timeout" in a.option_strings)
    assert "budget" not in (timeout.help or "") and "each round's own limit" in (timeout.help or "")


def test_bad_pyproject_value_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.ft-harness]\nrounds = 0\n")
    proc = harness(tmp_path, "stress", "--target", "tests.support.scenarios:quiet")
    assert proc.returncode == 2
    assert "bad rounds in [tool.ft-harness] of" in proc.stderr


@needs_free_threading
def test_imports_exit_codes(tmp_path: Path) -> None:
    (tmp_path / "raises_on_import.py").write_text("raise ValueError('no')\n")
    assert harness(tmp_path, "imports", "json", "os").returncode == 0
    failing = harness(tmp_path, "imports", "json", "raises_on_import")
    assert failing.returncode == 1 and "raises_on_import: error" in failing.stdout
    missing = harness(tmp_path, "imports", "--json", "json", "no_such_module_abc")
    assert missing.returncode == 2
    assert [r["status"] for r in json.loads(missing.stdout)["imports"]] == ["gil-free", "not-found"]


@needs_free_threading
def test_imports_unfit_interpreter_exits_3(tmp_path: Path) -> None:
    proc = harness(tmp_path, "imports", "json", env={"PYTHON_GIL": "0"})
    assert proc.returncode == 3
    assert len(proc.stderr.strip().splitlines()) == 1


@needs_free_threading
def test_gil_enabled_at_start_is_unfit(tmp_path: Path) -> None:
    from tests.support.cbuild import build_plain_module

    build_plain_module("undeclared_at_start", tmp_path, free_threading=False)
    (tmp_path / "sitecustomize.py").write_text("import undeclared_at_start\n")
    proc = harness(tmp_path, "doctor", env={"PYTHONPATH": f"{tmp_path}{os.pathsep}{REPO_ROOT}"})
    assert proc.returncode == 3
    assert "already enabled at start-up" in proc.stdout


BASE_PYTHON = getattr(sys, "_base_executable", sys.executable)


@pytest.mark.skipif(os.path.abspath(BASE_PYTHON) == os.path.abspath(sys.executable), reason="not running in a venv")
def test_stress_in_another_interpreter_sees_only_the_harness_package(tmp_path: Path) -> None:
    (tmp_path / "paths_check.py").write_text(
        "import sys\n"
        "def check():\n"
        "    import harness\n"
        f"    assert {str(REPO_ROOT)!r} not in sys.path, sys.path\n"
        "    assert '/ft-harness-path-' in harness.__file__, harness.__file__\n"
    )
    parent_path = os.pathsep.join([harness_only_path(), str(tmp_path)])  # the repo root on no path at all
    proc = harness(tmp_path, "stress", "--target", "paths_check:check", "--python", BASE_PYTHON, *SMALL, *ALLOW,
                   env={"PYTHONPATH": parent_path})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (scenario,) = only_report(tmp_path)["scenarios"]
    assert f"--python {BASE_PYTHON}" in scenario["rerun"]
