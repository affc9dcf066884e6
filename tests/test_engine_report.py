"""Verdict rules and the atomic JSON/Markdown report writers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.errors import UsageError
from harness.report import render_markdown, write_reports
from harness.results import ErrorSummary, ImportResult, ScenarioResult
from harness.verdict import decide


def scenario(status: str, on_failure: str = "unsafe") -> ScenarioResult:
    errors = [] if status == "passed" else [ErrorSummary("KeyError", 2, "Traceback ...\nKeyError: 1")]
    return ScenarioResult("s", "t", 2, 3, 4, status, 5, "ft-harness stress --seed 5", failures=len(errors),
                          errors=errors, on_failure=on_failure)


OK_IMPORT = ImportResult("m", "gil-free", False)


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
    ],
)
def test_decide(imports: list, scenarios: list, expected: tuple[str, int]) -> None:
    assert decide(imports, scenarios) == expected


def test_gil_build_run_ignores_gil_enabled_imports() -> None:
    assert decide([ImportResult("m", "gil-enabled", True)], [], free_threading=False) == ("safe", 0)


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
