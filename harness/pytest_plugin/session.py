"""The ft-harness plugin's per-session object: header, require-free-threading, the GIL watch (a checkpoint
at each phase from plugin load to the session's end), TSan findings per test on a ThreadSanitizer build, the
``ft_stress`` marker, the multi-threaded floor, and the session report.

Registered by :mod:`harness.pytest_plugin` once the options are resolved; the logic it wires up lives in
:mod:`harness.pytest_plugin.gil_watch`, :mod:`harness.pytest_plugin.stress_fixture` and the engine.
"""

from __future__ import annotations

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
# The phases between checkpoints that are not a test or a collector (see GilWatch.checkpoint).
LOADING = "the loading of plugins and conftest files (before collection)"  # and of the interpreter, see at_plugin_load
RESOLVING = "the resolution of the command-line arguments (--pyargs imports the packages it names)"
COLLECTING = "the collection, between collectors"
OUTSIDE = "no test (a hook, or between tests)"
NOT_JUDGED_SHOWN = 10  # node ids listed in the summary without -v


class HarnessSession:
    """The plugin's state and hooks for one pytest session (registered by the plugin's ``pytest_configure``)."""

    def __init__(self, config: pytest.Config, settings: StressSettings, *, loaded: gil_watch.Snapshot,
                 report_dir_asked: bool, require_free_threading: bool, min_parallel_tests: int | None) -> None:
        """``loaded``: the GIL state and imported modules when the plugin was loaded, before conftest files."""
        self.config = config
        self.settings = settings
        self.report_dir_asked = report_dir_asked
        self.require_free_threading = require_free_threading
        self.min_parallel_tests = min_parallel_tests
        self.watch = gil_watch.GilWatch(loaded)
        self.not_judged: list[str] = []
        self.took_over_run_parallel = False
        self.culprits: list[gil_watch.Culprit] = []
        self._phase = [LOADING]
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
        """This interpreter's facts, probed in a fresh process: the GIL state it starts with (an import in this
        one may have turned it on since, which the GIL watch reports)."""
        if self._facts is None:
            self._facts = probe(sys.executable)
        return self._facts

    # --- header, fitness, pytest-run-parallel ---

    def take_over_run_parallel_gil_check(self) -> None:
        """Turn pytest-run-parallel's GIL check off (its ``--ignore-gil-enabled``) when ours runs: it ends the
        session at the first culprit with ``pytest.exit``, before ours has named them all and the suite ran.
        Called before its ``pytest_configure``, which reads the option."""
        if self.watch.started_off and getattr(self.config.option, "ignore_gil_enabled", True) is False:
            self.config.option.ignore_gil_enabled = True
            self.took_over_run_parallel = True

    def pytest_report_header(self, config: pytest.Config) -> list[str]:
        s = self.settings
        check = "GIL check after every test: " + ("on" if self.watch.started_off else "off (the GIL is on at start)")
        floor = "" if self.min_parallel_tests is None else f"; at least {self.min_parallel_tests} multi-threaded tests"
        lines = [
            f"ft-harness: {self.facts.label}",
            f"ft-harness: threads={s.threads} iterations={s.iterations} rounds={s.rounds} timeout={s.timeout_s:g}s "
            f"seed={s.seed} (reproduce with --ft-seed={s.seed}) budget={s.budget_s:g}s "
            f"explore={'yes' if s.explore else 'no'}; {check}{floor}",
        ]
        if self.took_over_run_parallel:
            lines.append("ft-harness: pytest-run-parallel's GIL check is off (--ignore-gil-enabled set by ft-harness): "
                         "ft-harness names every culprit and the suite runs to its end")
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

    # --- GIL watch: checkpoints from plugin load to the session's end ---

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_collection(self, session: pytest.Session) -> Any:
        self._checkpoint(LOADING)
        self._phase = [RESOLVING]  # until the Session's own collect report starts
        result = yield
        self._phase = [OUTSIDE]
        return result

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_make_collect_report(self, collector: pytest.Collector) -> Any:
        self._checkpoint(self._phase[-1])
        if isinstance(collector, pytest.Session):
            self._phase[0] = COLLECTING
        self._phase.append(f"the collection of {collector.nodeid or 'the session (conftest files)'}")
        try:
            return (yield)
        finally:
            self._checkpoint(self._phase.pop())

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Any:
        self._checkpoint(self._phase[-1])
        if self.watch.gil_came_back:
            self.not_judged.append(item.nodeid)
        return (yield)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
        report = yield  # the final report (after xfail handling), which a finding turns into a failure
        finding = self._checkpoint(f"test {item.nodeid} ({call.when})", in_test=True)
        if finding is not None:
            _fail(report, "ft-harness: GIL re-enabled", "ft-harness: " + finding.message())
        self._note_parallel(item, call)
        if self._tsan is not None:
            self._check_tsan(item.nodeid, report)
        return report

    def _checkpoint(self, phase: str, *, in_test: bool = False) -> gil_watch.GilFinding | None:
        """Close the interval since the last checkpoint as ``phase``; a finding in a test is the caller's to
        report, one elsewhere goes to the session's summary."""
        if not self.watch.started_off:
            return None
        finding = self.watch.checkpoint(phase)
        if finding is not None and not in_test:
            self.problems.append("ft-harness: " + finding.message())
        return finding

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

    # --- multi-threaded floor ---

    def _note_parallel(self, item: pytest.Item, call: pytest.CallInfo[None]) -> None:
        """Count a test whose body ran under pytest-run-parallel with more than one thread."""
        if call.when != "call" or (call.excinfo is not None and call.excinfo.errisinstance(pytest.skip.Exception)):
            return
        run_parallel = self.config.pluginmanager.get_plugin(RUN_PARALLEL_PLUGIN)
        if item.nodeid in getattr(run_parallel, "run_in_parallel", ()):
            self.ran_parallel.add(item.nodeid)

    def multi_threaded(self) -> set[str]:
        """The tests that ran multi-threaded with the GIL off (or on a GIL build, where nothing is judged)."""
        return (self.ran_parallel | self.ran_scenarios) - set(self.not_judged)

    # --- scenarios (marker and fixture) ---

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        """Tests using the ft_stress fixture run their own threads: pytest-run-parallel must not multiply them."""
        if self.config.pluginmanager.get_plugin(RUN_PARALLEL_PLUGIN) is None:
            return
        for item in items:
            if "ft_stress" in getattr(item, "fixturenames", ()) or _marker_scenario(item) is not None:
                item.add_marker(pytest.mark.thread_unsafe(reason="ft_stress runs its own threads"))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Any:
        result = yield  # the test body passed (else this raised)
        scenario = _marker_scenario(item)
        if scenario is not None:
            self.runner(item)(scenario)
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
        if self.watch.started_off:
            self._checkpoint(OUTSIDE)
            self.culprits = self.watch.audit_the_rest()
            if self.watch.findings or self.culprits:
                self._fail_session(session, *self._gil_summary())
        if exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
            counted = len(self.multi_threaded())
            if self.min_parallel_tests is not None and counted < self.min_parallel_tests:
                self._fail_session(session, f"ft-harness: only {counted} tests ran multi-threaded, fewer than the "
                                            f"floor of {self.min_parallel_tests} (--ft-min-parallel-tests)")
        record = self._session_record(session)
        self.config.hook.pytest_ft_harness_session_report(config=self.config, record=record)
        if self.report_dir_asked:
            try:
                self.report_paths = write_reports(record, self.settings.report_dir, record["run_id"])
            except HarnessError as exc:
                raise pytest.UsageError(f"ft-harness: {exc}") from None

    def _gil_summary(self) -> list[str]:
        """Every culprit with the phase that imported it, and the tests that ran after the GIL came back on."""
        lines = []
        if self.culprits:
            lines.append(f"ft-harness: {len(self.culprits)} extension module(s) re-enable the GIL (each imported alone "
                         "in a fresh interpreter):")
            lines += [f"  {c.module}: first imported during {c.imported_during}" for c in self.culprits]
        if self.not_judged:
            shown = self.not_judged if self.config.get_verbosity() > 0 else self.not_judged[:NOT_JUDGED_SHOWN]
            lines.append(f"ft-harness: {len(self.not_judged)} tests ran with the GIL on: not judged")
            lines += [f"  {nodeid}" for nodeid in shown]
            if len(shown) < len(self.not_judged):
                lines.append(f"  ... and {len(self.not_judged) - len(shown)} more (all with -v, and in the report)")
        return lines

    def _fail_session(self, session: pytest.Session, *lines: str) -> None:
        """Fail a session that would otherwise pass (an interrupted or broken one keeps its status)."""
        self.problems += lines
        if session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def _session_record(self, session: pytest.Session) -> dict[str, Any]:
        finished = datetime.now(UTC)
        judged = self.multi_threaded()
        return {
            "run_id": new_run_id("pytest", None, finished),
            "kind": "pytest",
            "exit_code": int(session.exitstatus),
            "interpreter": self.facts.to_json(),
            "settings": self.settings.to_json(),
            "gil_findings": [finding.to_json() for finding in self.watch.findings],
            "culprits": [{"module": c.module, "imported_during": c.imported_during, **c.result.to_json()}
                         for c in self.culprits],
            "not_judged": self.not_judged,
            "multi_threaded": {"tests": len(judged), "run_parallel": len(self.ran_parallel & judged),
                               "scenarios": len(self.ran_scenarios & judged), "floor": self.min_parallel_tests},
            **({"tsan": self._tsan.findings.to_json()} if self._tsan is not None else {}),
            "scenarios": [{"nodeid": nodeid, **result.to_json()} for nodeid, result in self.results],
            "finished": finished.isoformat(timespec="seconds"),
        }

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        lines = []
        if self.min_parallel_tests is not None or self.ran_parallel or self.ran_scenarios:
            judged = self.multi_threaded()
            lines.append(f"{len(judged)} tests ran multi-threaded ({len(self.ran_parallel & judged)} under "
                         f"pytest-run-parallel, {len(self.ran_scenarios & judged)} through ft_stress scenarios)")
        lines += self.problems
        lines += [f"report: {path}" for path in self.report_paths]
        if lines:
            terminalreporter.section("ft-harness")
            for line in lines:
                terminalreporter.line(line)


def _marker_scenario(item: pytest.Item) -> object | None:
    """The scenario the test's ``ft_stress`` marker names, if it names one (else it only gives values)."""
    marker = item.get_closest_marker(MARKER)
    if marker is None:
        return None
    return marker.args[0] if marker.args else marker.kwargs.get("scenario")


def _fail(report: Any, title: str, message: str) -> None:
    """Turn a passing report into a failure carrying ``message``; a failed one gets it as a section."""
    if report.failed:
        report.sections.append((title, message))
        return
    report.outcome = "failed"
    report.longrepr = message
    if hasattr(report, "wasxfail"):
        del report.wasxfail
