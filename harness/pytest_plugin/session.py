"""The ft-harness plugin's per-session object: header, require-free-threading, the GIL check after every
test, TSan findings per test on a ThreadSanitizer build, the ``ft_stress`` marker, the multi-threaded floor,
and the session report.

Registered by :mod:`harness.pytest_plugin` once the options are resolved; the logic it wires up lives in
:mod:`harness.pytest_plugin.gil_watch`, :mod:`harness.pytest_plugin.stress_fixture` and the engine.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from harness import EXIT_UNFIT, HarnessError
from harness.engine.result import ScenarioResult
from harness.interpreter.facts import InterpreterFacts, probe
from harness.pipeline.record import new_run_id
from harness.pytest_plugin import gil_watch
from harness.pytest_plugin.stress_fixture import MARKER, ScenarioRunner
from harness.pytest_plugin.tsan_watch import HINT, TSanWatch
from harness.report import tsan as tsan_report
from harness.report import write_reports
from harness.settings import StressSettings

RUN_PARALLEL_PLUGIN = "_run-parallel"  # pytest-run-parallel's per-session plugin object (see its plugin.py)
_SNAPSHOT = pytest.StashKey["gil_watch.Snapshot | None"]()


class HarnessSession:
    """The plugin's state and hooks for one pytest session (registered by the plugin's ``pytest_configure``)."""

    def __init__(self, config: pytest.Config, settings: StressSettings, *, report_dir_asked: bool,
                 require_free_threading: bool, min_parallel_tests: int | None) -> None:
        self.config = config
        self.settings = settings
        self.report_dir_asked = report_dir_asked
        self.require_free_threading = require_free_threading
        self.min_parallel_tests = min_parallel_tests
        self.gil_at_start = gil_watch.gil_enabled()
        self.watching = not self.gil_at_start
        self.gil_findings: list[dict[str, Any]] = []
        self.results: list[tuple[str, ScenarioResult]] = []
        self.ran_parallel: set[str] = set()
        self.ran_scenarios: set[str] = set()
        self.problems: list[str] = []
        self.report_paths: list[Path] = []
        self._facts: InterpreterFacts | None = None
        self._registry: dict[str, Any] | None = None
        self._tsan: TSanWatch | None = None

    @property
    def facts(self) -> InterpreterFacts:
        """This interpreter's facts, with the GIL state this process had at the start of the session (a plugin
        imported before it may already have turned the GIL on, which a fresh probe would not see)."""
        if self._facts is None:
            self._facts = dataclasses.replace(probe(sys.executable), gil_enabled=self.gil_at_start)
        return self._facts

    # --- header, fitness ---

    def pytest_report_header(self, config: pytest.Config) -> list[str]:
        s = self.settings
        check = "GIL check after every test: " + ("on" if self.watching else "off (the GIL is on at start)")
        floor = "" if self.min_parallel_tests is None else f"; at least {self.min_parallel_tests} multi-threaded tests"
        lines = [
            f"ft-harness: {self.facts.label}",
            f"ft-harness: threads={s.threads} iterations={s.iterations} rounds={s.rounds} timeout={s.timeout_s:g}s "
            f"seed={s.seed} (reproduce with --ft-seed={s.seed}); {check}{floor}",
        ]
        if self.facts.thread_sanitizer:
            self._tsan = TSanWatch.from_env(os.environ)
            lines.append("ft-harness: " + (HINT if self._tsan is None else
                                           f"TSan findings per test, from {self._tsan.path}"))
        return lines

    @pytest.hookimpl(wrapper=True)
    def pytest_sessionstart(self, session: pytest.Session) -> Any:
        result = yield  # after the terminal reporter's header
        if self.require_free_threading:
            fitness = self.facts.fitness()
            if not fitness.fit:
                pytest.exit(f"ft-harness: --ft-require-free-threading: {fitness.note}", returncode=EXIT_UNFIT)
        return result

    # --- GIL check ---

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_make_collect_report(self, collector: pytest.Collector) -> Any:
        before = gil_watch.Snapshot.take() if self.watching else None
        report = yield
        if before is not None and self.watching:
            self._check_gil(before, f"the collection of {collector.nodeid}", collector.nodeid, report)
        return report

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Any:
        item.stash[_SNAPSHOT] = gil_watch.Snapshot.take() if self.watching else None
        return (yield)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
        report = yield  # the final report (after xfail handling), which a finding turns into a failure
        before = item.stash.get(_SNAPSHOT, None)
        if before is not None and self.watching:
            self._check_gil(before, f"test {item.nodeid} ({call.when})", item.nodeid, report)
        self._note_parallel(item, call)
        if self._tsan is not None:
            self._check_tsan(item.nodeid, report)
        return report

    def _check_tsan(self, nodeid: str, report: Any) -> None:
        """A TSan report in the package's code during this test phase fails it; interpreter-only ones are shown."""
        found = self._tsan.collect(nodeid) if self._tsan is not None else None
        if found is None or not (found.package or found.interpreter):
            return
        text = "\n".join(tsan_report.terminal_lines(found.to_json()))
        if found.package:
            _fail(report, "ft-harness: ThreadSanitizer",
                  f"ft-harness: ThreadSanitizer found a race in the package's code during {nodeid}\n{text}")
        else:
            report.sections.append(("ft-harness: ThreadSanitizer", text))

    def _check_gil(self, before: gil_watch.Snapshot, where: str, nodeid: str, report: Any) -> None:
        finding = gil_watch.check(before)
        if finding is None:
            return
        self.watching = False  # the GIL stays on for good: later tests cannot be judged
        message = "ft-harness: " + finding.message(where)
        self.gil_findings.append({"nodeid": nodeid, "where": where, "suspects": list(finding.suspects),
                                  "audit": [r.to_json() for r in finding.audit]})
        _fail(report, "ft-harness: GIL re-enabled", message)

    # --- multi-threaded floor ---

    def _note_parallel(self, item: pytest.Item, call: pytest.CallInfo[None]) -> None:
        """Count a test whose body ran under pytest-run-parallel with more than one thread."""
        if call.when != "call" or (call.excinfo is not None and call.excinfo.errisinstance(pytest.skip.Exception)):
            return
        run_parallel = self.config.pluginmanager.get_plugin(RUN_PARALLEL_PLUGIN)
        if item.nodeid in getattr(run_parallel, "run_in_parallel", ()):
            self.ran_parallel.add(item.nodeid)

    def multi_threaded(self) -> set[str]:
        return self.ran_parallel | self.ran_scenarios

    # --- scenarios (marker and fixture) ---

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        """Tests using the ft_stress fixture run their own threads: pytest-run-parallel must not multiply them."""
        if self.config.pluginmanager.get_plugin(RUN_PARALLEL_PLUGIN) is None:
            return
        for item in items:
            if "ft_stress" in getattr(item, "fixturenames", ()):
                item.add_marker(pytest.mark.thread_unsafe(reason="ft_stress runs its own threads"))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Any:
        result = yield  # the test body passed (else this raised)
        marker = item.get_closest_marker(MARKER)
        if marker is not None and (marker.args or "scenario" in marker.kwargs):
            self.runner(item)(marker.args[0] if marker.args else marker.kwargs["scenario"])
        return result

    def runner(self, item: pytest.Item) -> ScenarioRunner:
        """The ``ft_stress`` fixture's callable for ``item``, wired to this session."""
        return ScenarioRunner(item, settings=self.settings, registry=self.registry, record=self.record_result)

    def registry(self) -> dict[str, Any]:
        """Scenarios other plugins registered by name (``pytest_ft_harness_scenarios``), merged once."""
        if self._registry is None:
            merged: dict[str, Any] = {}
            for contribution in self.config.hook.pytest_ft_harness_scenarios(config=self.config):
                for name, scenario in (contribution or {}).items():
                    if name in merged:
                        pytest.fail(f"ft-harness: scenario name {name!r} registered twice "
                                    "(pytest_ft_harness_scenarios)", pytrace=False)
                    merged[name] = scenario
            self._registry = merged
        return self._registry

    def record_result(self, item: pytest.Item, result: ScenarioResult) -> None:
        self.results.append((item.nodeid, result))
        if result.threads > 1:
            self.ran_scenarios.add(item.nodeid)
        item.ihook.pytest_ft_harness_scenario_result(item=item, result=result)

    # --- end of session ---

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
            if self.watching and gil_watch.gil_enabled():
                self.gil_findings.append({"nodeid": "", "where": "outside any test", "suspects": [], "audit": []})
                self._fail_session(session, "the GIL was re-enabled outside any test (in a hook or a session "
                                            "fixture's teardown)")
            counted = len(self.multi_threaded())
            if self.min_parallel_tests is not None and counted < self.min_parallel_tests:
                self._fail_session(session, f"only {counted} tests ran multi-threaded, fewer than the floor of "
                                            f"{self.min_parallel_tests} (--ft-min-parallel-tests)")
        record = self._session_record(session)
        self.config.hook.pytest_ft_harness_session_report(config=self.config, record=record)
        if self.report_dir_asked:
            try:
                self.report_paths = write_reports(record, self.settings.report_dir, record["run_id"])
            except HarnessError as exc:
                raise pytest.UsageError(f"ft-harness: {exc}") from None

    def _fail_session(self, session: pytest.Session, problem: str) -> None:
        self.problems.append(f"ft-harness: {problem}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def _session_record(self, session: pytest.Session) -> dict[str, Any]:
        finished = datetime.now(UTC)
        return {
            "run_id": new_run_id("pytest", None, finished),
            "kind": "pytest",
            "exit_code": int(session.exitstatus),
            "interpreter": self.facts.to_json(),
            "settings": self.settings.to_json(),
            "gil_findings": self.gil_findings,
            **({"tsan": self._tsan.findings.to_json()} if self._tsan is not None else {}),
            "multi_threaded": {"tests": len(self.multi_threaded()), "run_parallel": len(self.ran_parallel),
                               "scenarios": len(self.ran_scenarios), "floor": self.min_parallel_tests},
            "scenarios": [{"nodeid": nodeid, **result.to_json()} for nodeid, result in self.results],
            "finished": finished.isoformat(timespec="seconds"),
        }

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        lines = []
        if self.min_parallel_tests is not None or self.ran_parallel or self.ran_scenarios:
            lines.append(f"{len(self.multi_threaded())} tests ran multi-threaded ({len(self.ran_parallel)} under "
                         f"pytest-run-parallel, {len(self.ran_scenarios)} through ft_stress scenarios)")
        lines += self.problems
        lines += [f"report: {path}" for path in self.report_paths]
        if lines:
            terminalreporter.section("ft-harness")
            for line in lines:
                terminalreporter.line(line)


def _fail(report: Any, title: str, message: str) -> None:
    """Turn a passing report into a failure carrying ``message``; a failed one gets it as a section."""
    if report.failed:
        report.sections.append((title, message))
        return
    report.outcome = "failed"
    report.longrepr = message
    if hasattr(report, "wasxfail"):
        del report.wasxfail
