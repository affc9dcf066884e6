"""The ft-harness pytest plugin: options, session header, GIL check after every test, the ``ft_stress``
marker and fixture, the multi-threaded floor and the session report.

A thin layer: settings come from :mod:`harness.settings`, scenarios run in :mod:`harness.engine`, the GIL
check is :mod:`harness.gil_watch`, reports are :mod:`harness.report`. Hook specs are in :mod:`harness.hooks`.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import shlex
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping

import pytest

from harness import gil_watch, hooks
from harness.engine import load_ref, run_in_process
from harness.errors import EXIT_UNFIT, HarnessError, UsageError
from harness.interpreter import InterpreterFacts, probe
from harness.report import write_reports
from harness.results import ScenarioResult
from harness.settings import FIELDS, Source, StressSettings, env_source, find_pyproject, pyproject_source, resolve_sources

GROUP = "ft-harness"
MARKER = "ft_stress"
PLUGIN_NAME = "ft-harness-session"
RUN_PARALLEL_PLUGIN = "_run-parallel"  # pytest-run-parallel's per-session plugin object (see its plugin.py)
_TRACEBACK_LINES = 30


@dataclass(frozen=True)
class Option:
    """One plugin option: its flag, ini name and help; ``field`` names the StressSettings field it sets."""

    flag: str
    ini: str
    help: str
    field: str | None = None
    ini_type: str = "string"


OPTIONS = (
    Option("--ft-threads", "ft_threads", "threads per scenario run", "threads"),
    Option("--ft-iterations", "ft_iterations", "iterations per thread per round", "iterations"),
    Option("--ft-rounds", "ft_rounds", "rounds per scenario run (a fresh scenario instance each)", "rounds"),
    Option("--ft-seed", "ft_seed", "seed of every scenario run (printed in the header; give it back to reproduce)",
           "seed"),
    Option("--ft-timeout", "ft_timeout", "seconds a scenario run may take before it counts as hung", "timeout_s"),
    Option("--ft-report-dir", "ft_report_dir", "write the session report <dir>/<run-id>.json", "report_dir"),
    Option("--ft-require-free-threading", "ft_require_free_threading",
           "fail the session (exit 3) unless this is a free-threaded build with the GIL off and not forced",
           ini_type="bool"),
    Option("--ft-min-parallel-tests", "ft_min_parallel_tests",
           "fail the session unless at least N tests actually ran multi-threaded (pytest-run-parallel or ft_stress)"),
)


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hooks)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup(GROUP, "ft-harness: free-threading stress scenarios and GIL checks")
    for option in OPTIONS:
        dest = option.ini
        if option.ini_type == "bool":
            group.addoption(option.flag, dest=dest, action="store_true", default=None, help=option.help)
        else:
            group.addoption(option.flag, dest=dest, metavar=option.ini.removeprefix("ft_").upper(), help=option.help)
        parser.addini(option.ini, f"{option.help} (ft-harness; same as {option.flag})", type=option.ini_type,
                      default=None)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(scenario=None, *, threads=None, iterations=None, rounds=None, seed=None, timeout=None): "
        "run a scenario (class, callable, registered name or module:attribute) through the ft-harness engine "
        "after the test body, and/or set those values for the ft_stress fixture in this test",
    )
    try:
        session = HarnessSession.from_config(config)
    except HarnessError as exc:
        raise pytest.UsageError(f"ft-harness: {exc}") from None
    config.pluginmanager.register(session, PLUGIN_NAME)


def _sources(config: pytest.Config) -> tuple[Source, Source]:
    """The command-line and ini layers of the plugin's options, keyed by option name."""
    cli = {o.ini: config.getoption(o.ini) for o in OPTIONS}
    ini = {o.ini: config.getini(o.ini) for o in OPTIONS}
    where = f"in the pytest configuration {config.inipath}" if config.inipath else "in the pytest configuration"
    return (Source("on the command line", cli, {o.ini: o.flag for o in OPTIONS}),
            Source(where, {k: v for k, v in ini.items() if v not in (None, "")}, {o.ini: o.ini for o in OPTIONS}))


def _stress_layer(source: Source) -> Source:
    """A plugin layer renamed to StressSettings fields, for :func:`harness.settings.resolve_sources`."""
    fields = {o.ini: o.field for o in OPTIONS if o.field}
    return Source(source.label, {fields[k]: v for k, v in source.values.items() if k in fields},
                  {fields[k]: v for k, v in source.names.items() if k in fields})


def _plugin_value(sources: tuple[Source, ...], key: str, parse: Callable[[object], Any], expected: str) -> Any:
    for source in sources:
        raw = source.values.get(key)
        if raw is not None:
            try:
                return parse(raw)
            except (TypeError, ValueError):
                raise UsageError(f"bad {source.names[key]} {source.label}: {raw!r}, expected {expected}") from None
    return None


def _count(raw: object) -> int:
    value = int(str(raw).strip())
    if value < 0:
        raise ValueError(raw)
    return value


class HarnessSession:
    """The plugin's state for one pytest session, registered as a plugin object in ``pytest_configure``."""

    def __init__(self, config: pytest.Config, settings: StressSettings, *, report_dir_asked: bool,
                 require_free_threading: bool, min_parallel_tests: int | None) -> None:
        self.config = config
        self.settings = settings
        self.report_dir_asked = report_dir_asked
        self.require_free_threading = require_free_threading
        self.min_parallel_tests = min_parallel_tests
        self.watching = not gil_watch.gil_enabled()
        self.gil_findings: list[dict[str, Any]] = []
        self.results: list[tuple[str, ScenarioResult]] = []
        self.ran_parallel: set[str] = set()
        self.ran_scenarios: set[str] = set()
        self.problems: list[str] = []
        self.report_paths: list[Path] = []
        self._facts: InterpreterFacts | None = None
        self._registry: dict[str, Any] | None = None

    @classmethod
    def from_config(cls, config: pytest.Config) -> HarnessSession:
        cli, ini = _sources(config)
        layers = [_stress_layer(cli), env_source(os.environ), _stress_layer(ini)]
        pyproject = find_pyproject(config.rootpath)
        if pyproject is not None:
            layers.append(pyproject_source(pyproject))
        settings = resolve_sources(layers)
        return cls(
            config,
            settings,
            report_dir_asked=any(layer.values.get("report_dir") is not None for layer in layers),
            require_free_threading=bool(_plugin_value((cli, ini), "ft_require_free_threading", _flag, "true or false")),
            min_parallel_tests=_plugin_value((cli, ini), "ft_min_parallel_tests", _count, "a count of tests (0 or more)"),
        )

    @property
    def facts(self) -> InterpreterFacts:
        """This interpreter's facts, with the GIL state as it is in this process now (plugins may have turned it on)."""
        if self._facts is None:
            self._facts = dataclasses.replace(probe(sys.executable), gil_enabled=gil_watch.gil_enabled())
        return self._facts

    # --- header, fitness ---

    def pytest_report_header(self, config: pytest.Config) -> list[str]:
        s = self.settings
        check = "GIL check after every test: " + ("on" if self.watching else "off (the GIL is on at start)")
        floor = "" if self.min_parallel_tests is None else f"; at least {self.min_parallel_tests} multi-threaded tests"
        return [
            f"ft-harness: {self.facts.label}",
            f"ft-harness: threads={s.threads} iterations={s.iterations} rounds={s.rounds} timeout={s.timeout_s:g}s "
            f"seed={s.seed} (reproduce with --ft-seed={s.seed}); {check}{floor}",
        ]

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
        before = gil_watch.Snapshot.take() if self.watching and isinstance(collector, pytest.Module) else None
        report = yield
        if before is not None:
            self._check_gil(before, f"collection of {collector.nodeid}", collector.nodeid, report)
        return report

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Any:
        item.stash[_SNAPSHOT] = gil_watch.Snapshot.take() if self.watching else None
        return (yield)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
        report = yield
        before = item.stash.get(_SNAPSHOT, None)
        if before is not None:
            self._check_gil(before, f"the {call.when} of test {item.nodeid}", item.nodeid, report)
        self._note_parallel(item, call)
        return report

    def _check_gil(self, before: gil_watch.Snapshot, where: str, nodeid: str, report: Any) -> None:
        finding = gil_watch.check(before)
        if finding is None:
            return
        self.watching = False  # the GIL stays on for good: later tests cannot be judged
        message = "ft-harness: " + finding.message(where)
        self.gil_findings.append({"nodeid": nodeid, "where": where, "suspects": list(finding.suspects),
                                  "audit": [r.to_json() for r in finding.audit]})
        if report.failed:
            report.sections.append(("ft-harness: GIL re-enabled", message))
        else:
            report.outcome = "failed"
            report.longrepr = message
            if hasattr(report, "wasxfail"):
                del report.wasxfail

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

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Any:
        result = yield  # the test body passed (else this raised)
        marker = item.get_closest_marker(MARKER)
        if marker is not None and (marker.args or "scenario" in marker.kwargs):
            ScenarioRunner(self, item)(marker.args[0] if marker.args else marker.kwargs["scenario"])
        return result

    def registry(self) -> dict[str, Any]:
        """Scenarios other plugins registered by name (``pytest_ft_harness_scenarios``), merged once."""
        if self._registry is None:
            merged: dict[str, Any] = {}
            for contribution in self.config.hook.pytest_ft_harness_scenarios(config=self.config):
                for name, scenario in (contribution or {}).items():
                    if name in merged:
                        raise pytest.UsageError(f"ft-harness: scenario name {name!r} registered twice")
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
        started = datetime.now(timezone.utc)
        return {
            "run_id": f"pytest-{started.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(3)}",
            "kind": "pytest",
            "exit_code": int(session.exitstatus),
            "interpreter": self.facts.to_json(),
            "settings": {**self.settings.__dict__, "report_dir": str(self.settings.report_dir)},
            "gil_findings": self.gil_findings,
            "multi_threaded": {"tests": len(self.multi_threaded()), "run_parallel": len(self.ran_parallel),
                               "scenarios": len(self.ran_scenarios), "floor": self.min_parallel_tests},
            "scenarios": [{"nodeid": nodeid, **result.to_json()} for nodeid, result in self.results],
            "finished": started.isoformat(timespec="seconds"),
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


_SNAPSHOT = pytest.StashKey["gil_watch.Snapshot | None"]()


def _flag(raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(raw)


_MARKER_KEYS = {"threads": "threads", "iterations": "iterations", "rounds": "rounds", "seed": "seed",
                "timeout": "timeout_s"}


class ScenarioRunner:
    """What the ``ft_stress`` fixture returns: call it with a scenario to stress it through the engine.

    ``ft_stress(scenario, threads=..., iterations=..., rounds=..., seed=..., timeout=..., check=True)``;
    ``scenario`` is a scenario class, a callable, a name registered with ``pytest_ft_harness_scenarios`` or
    ``module:attribute``. Values come from the call, then the test's ``ft_stress`` marker, then the session.
    With ``check`` (the default) a run that did not pass fails the test with the engine's summary and the
    commands that rerun it; the :class:`~harness.results.ScenarioResult` is returned either way.
    """

    def __init__(self, session: HarnessSession, item: pytest.Item) -> None:
        self._session = session
        self._item = item

    def __call__(self, scenario: object, *, check: bool = True, **overrides: object) -> ScenarioResult:
        __tracebackhide__ = True
        obj, name, target = self._resolve(scenario)
        settings = self._settings(overrides)
        importable = ":" in target
        try:  # the engine's rerun command needs an importable module:attribute; else rerun the test
            result = run_in_process(obj, name=name, target=target, settings=settings,
                                    rerun=None if importable else self._pytest_rerun(settings))
        except HarnessError as exc:
            raise pytest.UsageError(f"ft-harness: {exc}") from None
        self._session.record_result(self._item, result)
        if check and result.status != "passed":
            pytest.fail(self._failure_text(result, settings, importable), pytrace=False)
        return result

    def _resolve(self, scenario: object) -> tuple[object, str, str]:
        """The object to run, its name, and the engine target that names it (``module:attribute`` if importable)."""
        if isinstance(scenario, str):
            registered = self._session.registry()
            if scenario in registered:
                return self._resolve_object(registered[scenario])
            if ":" in scenario:
                try:
                    return load_ref(scenario), scenario.partition(":")[2], scenario
                except HarnessError as exc:
                    raise pytest.UsageError(f"ft-harness: {exc}") from None
            known = ", ".join(sorted(registered)) or "none registered"
            raise pytest.UsageError(f"ft-harness: unknown scenario {scenario!r}: expected module:attribute, a "
                                    f"scenario class or callable, or a registered name ({known})")
        return self._resolve_object(scenario)

    def _resolve_object(self, obj: object) -> tuple[object, str, str]:
        """Objects of an installed module get a ``module:attribute`` target; test-file objects the test's id."""
        qualname = getattr(obj, "__qualname__", None) or type(obj).__qualname__
        module = getattr(obj, "__module__", None)
        test_module = getattr(getattr(self._item, "module", None), "__name__", None)
        importable = module not in (None, test_module, "__main__") and "<" not in qualname \
            and not module.rpartition(".")[2].startswith(("conftest", "test_"))
        return obj, qualname, f"{module}:{qualname}" if importable else self._item.nodeid

    def _settings(self, overrides: Mapping[str, object]) -> StressSettings:
        marker = self._item.get_closest_marker(MARKER)
        layers = [("in the ft_stress() call", dict(overrides))]
        if marker is not None:
            layers.append((f"in the {MARKER} marker of {self._item.nodeid}",
                           {k: v for k, v in marker.kwargs.items() if k != "scenario"}))
        sources = []
        for label, values in layers:
            unknown = sorted(set(values) - set(_MARKER_KEYS))
            if unknown:
                raise pytest.UsageError(f"ft-harness: unknown setting {unknown[0]!r} {label}: expected one of "
                                        f"{', '.join(_MARKER_KEYS)}")
            sources.append(Source(label, {_MARKER_KEYS[k]: v for k, v in values.items()},
                                  {v: k for k, v in _MARKER_KEYS.items()}))
        session = self._session.settings
        sources.append(Source("in the session settings", {f.name: getattr(session, f.name) for f in FIELDS}))
        try:
            return resolve_sources(sources)
        except HarnessError as exc:
            raise pytest.UsageError(f"ft-harness: {exc}") from None

    def _pytest_rerun(self, settings: StressSettings) -> str:
        return (f"{shlex.quote(sys.executable)} -m pytest {shlex.quote(self._item.nodeid)}"
                f" --ft-threads={settings.threads} --ft-iterations={settings.iterations}"
                f" --ft-rounds={settings.rounds} --ft-timeout={settings.timeout_s:g} --ft-seed={settings.seed}")

    def _failure_text(self, result: ScenarioResult, settings: StressSettings, engine_rerun: bool) -> str:
        lines = [
            f"ft-harness: scenario {result.name} {result.status} ({result.threads} threads x {result.iterations} "
            f"iterations x {result.rounds} rounds, seed {result.seed}): {result.failures} failures; {result.detail}"
        ]
        for error in result.errors:
            lines.append(f"  {error.type} x {error.count}; first traceback:")
            tb = error.first_traceback.rstrip().splitlines()
            lines += [f"    {line}" for line in tb[:_TRACEBACK_LINES]] + (["    ..."] if len(tb) > _TRACEBACK_LINES
                                                                            else [])
        lines.append(f"rerun this test: {self._pytest_rerun(settings)}")
        if engine_rerun:
            lines.append(f"rerun the scenario alone: {result.rerun}")
        return "\n".join(lines)


@pytest.fixture
def ft_stress(request: pytest.FixtureRequest) -> ScenarioRunner:
    """Stress a scenario through the ft-harness engine: ``ft_stress(ScenarioClass, threads=8)``."""
    return ScenarioRunner(request.config.pluginmanager.getplugin(PLUGIN_NAME), request.node)


@pytest.fixture
def ft_settings(request: pytest.FixtureRequest) -> StressSettings:
    """The session's resolved ft-harness settings (threads, iterations, rounds, timeout, seed, report dir)."""
    return request.config.pluginmanager.getplugin(PLUGIN_NAME).settings
