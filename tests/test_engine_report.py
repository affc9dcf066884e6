"""Verdict rules and the atomic JSON/Markdown report writers."""

from __future__ import annotations

import dataclasses
import json
import os
import stat
from pathlib import Path

import pytest

from harness import UsageError
from harness.audit import ImportResult
from harness.engine.result import ErrorSummary, ScenarioResult
from harness.pipeline.record import RunRecord, SuiteFailure, SuiteSection
from harness.pipeline.verdict import decide
from harness.report import render_markdown, write_reports
from harness.report.terminal import verdict_line


def scenario(status: str, on_failure: str = "unsafe") -> ScenarioResult:
    errors = [] if status == "passed" else [ErrorSummary("KeyError", 2, "Traceback ...\nKeyError: 1")]
    return ScenarioResult("s", "t", 2, 3, 4, status, 5, "ft-harness stress --seed 5", failures=len(errors),
                          errors=errors, on_failure=on_failure)


OK_IMPORT = ImportResult("m", "gil-free", False)


def judged(imports: list, scenarios: list, *, free_threading: bool = True) -> RunRecord:
    record = RunRecord.start("stress", "t")
    record.imports, record.scenarios, record.free_threading = imports, scenarios, free_threading
    return record


@pytest.mark.parametrize(
    ("imports", "scenarios", "expected"),
    [
        ([OK_IMPORT], [scenario("passed")], ("safe", 0)),
        ([ImportResult("m", "gil-enabled", True, warning="w")], [], ("unsafe", 1)),
        ([ImportResult("m", "error", None, error="boom")], [], ("unsafe", 1)),
        ([OK_IMPORT, ImportResult("x", "not-found", None)], [scenario("passed")], ("error", 2)),
        ([ImportResult("c", "gil-enabled", True, warning="w"), ImportResult("x", "not-found", None)], [],
         ("unsafe", 1)),  # a real culprit is not hidden by a module that was not found
        ([], [scenario("failed")], ("unsafe", 1)),
        ([], [scenario("crashed")], ("unsafe", 1)),
        ([], [scenario("timeout")], ("unsafe", 1)),
        ([], [scenario("failed", "shared-use-unsafe")], ("safe", 0)),
        ([], [scenario("crashed", "shared-use-unsafe")], ("unsafe", 1)),
        ([OK_IMPORT], [], ("imports-only", 0)),  # nothing ran multi-threaded: not "safe"
        ([OK_IMPORT], [dataclasses.replace(scenario("passed"), threads=1)], ("imports-only", 0)),
    ],
)
def test_decide(imports: list, scenarios: list, expected: tuple[str, int]) -> None:
    assert decide(judged(imports, scenarios)) == expected


def suite(**counts: object) -> SuiteSection:
    return SuiteSection(**{"source": "tests", "threads": 4, "run": 10, "multi_threaded": 8, **counts})


@pytest.mark.parametrize(
    ("tests", "require_stress", "expected"),
    [
        (None, True, ("imports-only", 4)),  # --require-stress: nothing was stressed
        (suite(), True, ("safe", 0)),
        (suite(multi_threaded=0), False, ("imports-only", 0)),
        (suite(failures=[SuiteFailure("t::a", "E", "race")]), False, ("unsafe", 1)),
        (suite(failures=[SuiteFailure("t::a", "E", "fails without threads")]), False, ("safe", 0)),
        (suite(gil_culprits=["ext"]), False, ("unsafe", 1)),
        (suite(min_parallel_tests=9), False, ("unsafe", 1)),
        (suite(min_parallel_tests=8), False, ("safe", 0)),
    ],
)
def test_decide_own_tests_and_required_stress(
    tests: SuiteSection | None, require_stress: bool, expected: tuple[str, int]
) -> None:
    record = judged([OK_IMPORT], [])
    record.tests, record.require_stress = tests, require_stress
    assert decide(record) == expected


def test_gil_build_run_ignores_gil_enabled_imports() -> None:
    gil_build_run = judged([ImportResult("m", "gil-enabled", True)], [scenario("passed")], free_threading=False)
    assert decide(gil_build_run) == ("safe", 0)


def record() -> dict:
    return {
        "run_id": "r", "target": "t", "verdict": "unsafe", "exit_code": 1, "note": "",
        "interpreter": {"version": "3.14.7", "executable": "/p", "free_threaded": True, "gil_enabled": False,
                        "gil_forced": None},
        "imports": [OK_IMPORT.to_json()],
        "scenarios": [scenario("failed").to_json(), scenario("passed").to_json()],
        "started": "2025-01-01T00:00:00+00:00", "duration_s": 1.5,
    }


def test_write_reports_is_atomic_and_complete(tmp_path: Path) -> None:
    paths = write_reports(record(), tmp_path / "reports", "run-1", ("json", "md"))
    assert [p.name for p in paths] == ["run-1.json", "run-1.md"]
    assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == ["run-1.json", "run-1.md"]
    assert json.loads(paths[0].read_text()) == record()


def test_markdown_shows_failures_with_rerun() -> None:
    text = render_markdown(record())
    assert text.startswith("# ft-harness: unsafe (exit 1)")
    assert "`ft-harness stress --seed 5`" in text and "`KeyError` x 2" in text
    assert "| m | gil-free |" in text


def test_unknown_format_and_unwritable_dir_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="unknown report format"):
        write_reports(record(), tmp_path, "x", ("pdf",))
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(UsageError, match="cannot write report"):
        write_reports(record(), blocker / "sub", "x")


def test_report_files_are_readable_as_the_umask_allows(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        paths = write_reports(record(), tmp_path, "run-1", ("json", "md"))
    finally:
        os.umask(old)
    assert [stat.S_IMODE(p.stat().st_mode) for p in paths] == [0o644, 0o644]


def test_the_verdict_line_counts_the_shared_use_findings_it_leaves_out() -> None:
    findings = [scenario("failed", "shared-use-unsafe"), scenario("failed", "shared-use-unsafe"), scenario("passed")]
    assert verdict_line("safe", 0, findings) == "verdict: safe (exit 0); 2 shared-use findings above (not the verdict)"
    assert verdict_line("unsafe", 1, [scenario("failed")]) == "verdict: unsafe (exit 1)"
