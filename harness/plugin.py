"""The ft-harness pytest plugin: declares the options (each also an ini setting), the ``ft_stress`` marker,
the ``ft_stress`` and ``ft_settings`` fixtures and the hook specs, and registers the session object.

A thin layer: options resolve into the engine's :class:`~harness.settings.StressSettings`; the session's
hooks are in :mod:`harness.pytest_session`, the fixture's work in :mod:`harness.pytest_stress`, the hook
specs in :mod:`harness.hooks`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable

import pytest

from harness import hooks
from harness.errors import HarnessError, UsageError
from harness.pytest_session import HarnessSession
from harness.pytest_stress import MARKER, ScenarioRunner
from harness.settings import Source, StressSettings, env_source, find_pyproject, pyproject_source, resolve_sources

GROUP = "ft-harness"
PLUGIN_NAME = "ft-harness-session"


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
    Option("--ft-budget", "ft_budget", "seconds each scenario runs: explored interleavings, then free threads "
           "(rounds are the cap)", "budget_s"),
    Option("--ft-explore", "ft_explore", "explore controlled interleavings before free-running threads: yes or no",
           "explore"),
    Option("--ft-replay", "ft_replay", "replay a schedule an explored failure printed (JSON text or file)", "replay"),
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
        if option.ini_type == "bool":
            group.addoption(option.flag, dest=option.ini, action="store_true", default=None, help=option.help)
        else:
            group.addoption(option.flag, dest=option.ini, metavar=option.ini.removeprefix("ft_").upper(),
                            help=option.help)
        parser.addini(option.ini, f"{option.help} (ft-harness; same as {option.flag})", type=option.ini_type,
                      default=None)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(scenario=None, *, threads=None, iterations=None, rounds=None, seed=None, timeout=None, "
        "budget=None, explore=None): "
        "after the test body, run a scenario through the ft-harness engine (a registered name or "
        "module:attribute, or scenario=ClassOrCallable), and/or set those values for the ft_stress fixture",
    )
    try:
        session = session_from_config(config)
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


def session_from_config(config: pytest.Config) -> HarnessSession:
    """Resolve the options: command line > environment > ini > ``[tool.ft-harness]`` > defaults."""
    cli, ini = _sources(config)
    layers = [_stress_layer(cli), env_source(os.environ), _stress_layer(ini)]
    pyproject = find_pyproject(config.rootpath)
    if pyproject is not None:
        layers.append(pyproject_source(pyproject))
    settings = resolve_sources(layers)
    return HarnessSession(
        config,
        settings,
        report_dir_asked=any(layer.values.get("report_dir") is not None for layer in layers),
        require_free_threading=bool(_plugin_value((cli, ini), "ft_require_free_threading", _flag, "true or false")),
        min_parallel_tests=_plugin_value((cli, ini), "ft_min_parallel_tests", _count, "a count of tests (0 or more)"),
    )


def _flag(raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(raw)


@pytest.fixture
def ft_stress(request: pytest.FixtureRequest) -> ScenarioRunner:
    """Stress a scenario through the ft-harness engine: ``ft_stress(ScenarioClass, threads=8)``."""
    return ScenarioRunner(request.config.pluginmanager.getplugin(PLUGIN_NAME), request.node)


@pytest.fixture
def ft_settings(request: pytest.FixtureRequest) -> StressSettings:
    """The session's resolved ft-harness settings (threads, iterations, rounds, timeout, seed, report dir)."""
    return request.config.pluginmanager.getplugin(PLUGIN_NAME).settings
