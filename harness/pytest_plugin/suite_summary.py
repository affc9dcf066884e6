"""``-p harness.pytest_plugin.suite_summary --ft-suite-summary FILE``: what the gate reads back from a run of a
package's own test suite, as one JSON file written at the end of the session.

Per test its outcome and the first lines of a failure; the tests pytest-run-parallel ran multi-threaded and
those it kept single-threaded, with why; the GIL findings of the ft-harness session (its watch after every
test). Loaded beside :mod:`harness.pytest_plugin` by :mod:`harness.pipeline.suite`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.pytest_plugin.session import RUN_PARALLEL_PLUGIN

OPTION = "--ft-suite-summary"
FIRST_LINES = 3


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(OPTION, dest="ft_suite_summary", metavar="FILE",
                     help="write the outcome of every test and the multi-threaded counts as JSON to FILE (the gate)")


def pytest_configure(config: pytest.Config) -> None:
    path = config.getoption("ft_suite_summary")
    if path:
        config.pluginmanager.register(SuiteSummary(config, Path(path)), "ft-harness-suite-summary")


def first_lines(text: str) -> str:
    """The error lines of a failure (pytest's ``E`` lines), else its first lines; at most :data:`FIRST_LINES`."""
    lines = [line for line in text.splitlines() if line.strip()]
    errors = [line[1:].strip() for line in lines if line.startswith("E ")]
    return "\n".join((errors or lines)[:FIRST_LINES])


class SuiteSummary:
    """Collects every test's outcome and writes the summary at the end of the session."""

    def __init__(self, config: pytest.Config, path: Path) -> None:
        self.config, self.path = config, path
        self.tests: dict[str, dict[str, str]] = {}

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.tests[report.nodeid] = {"outcome": "failed", "first_lines": first_lines(report.longreprtext)}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.failed:
            self.tests[report.nodeid] = {"outcome": "failed", "first_lines": first_lines(report.longreprtext)}
        elif report.nodeid not in self.tests and (report.when == "call" or report.skipped):
            self.tests[report.nodeid] = {"outcome": "skipped" if report.skipped else "passed", "first_lines": ""}

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        run_parallel: Any = self.config.pluginmanager.get_plugin(RUN_PARALLEL_PLUGIN)
        harness_session: Any = self.config.pluginmanager.get_plugin("ft-harness-session")
        summary = {
            "exit_status": int(exitstatus),
            "tests": self.tests,
            "multi_threaded": sorted(harness_session.multi_threaded()) if harness_session else [],
            "thread_unsafe": dict(getattr(run_parallel, "thread_unsafe", {})),
            "gil_findings": [f.to_json() for f in harness_session.watch.findings] if harness_session else [],
        }
        temp = self.path.with_name(self.path.name + ".part")
        temp.write_text(json.dumps(summary), encoding="utf-8")
        temp.replace(self.path)
