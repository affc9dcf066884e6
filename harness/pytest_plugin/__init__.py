"""The ft-harness pytest plugin: declares the options (each also an ini setting), the ``ft_stress`` marker,
the ``ft_stress`` and ``ft_settings`` fixtures and the hook specs, and registers the session object.

A thin layer: options (generated from :data:`harness.settings.ALL_FIELDS`) resolve into the engine's
:class:`~harness.settings.StressSettings`; the session's hooks are in :mod:`~.session`, the fixture's work in
:mod:`~.stress_fixture`, the hook specs in :mod:`~.hookspecs`, the GIL check in :mod:`~.gil_watch`.
"""

from __future__ import annotations

import os
import weakref
from typing import Literal

import pytest

from harness import HarnessError
from harness.pytest_plugin import gil_watch, hookspecs
from harness.pytest_plugin.session import HarnessSession
from harness.pytest_plugin.stress_fixture import MARKER, MARKER_SIGNATURE, ScenarioRunner
from harness.settings import (
    ALL_FIELDS,
    PLUGIN_FIELDS,
    Source,
    StressSettings,
    env_source,
    find_pyproject,
    pyproject_source,
    resolve_fields,
    resolve_sources,
)

GROUP = "ft-harness"
PLUGIN_NAME = "ft-harness-session"
# The GIL state and imported modules when this plugin was registered with a plugin manager: before conftest
# files and --pyargs, so a culprit they import is named (the module itself stays imported across in-process runs).
_LOADED: weakref.WeakKeyDictionary[pytest.PytestPluginManager, gil_watch.Snapshot] = weakref.WeakKeyDictionary()


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    _LOADED[pluginmanager] = gil_watch.Snapshot.at_plugin_load()
    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    """One flag and one ini key per setting of :data:`~harness.settings.ALL_FIELDS` (``--ft-threads``,
    ``ft_threads``)."""
    group = parser.getgroup(GROUP, "ft-harness: free-threading stress scenarios and GIL checks")
    for field in ALL_FIELDS:
        ini_help = f"{field.help} (ft-harness; same as {field.plugin_flag})"
        group.addoption(field.plugin_flag, **field.argument(field.ini_key), help=field.help)
        ini_type: Literal["bool", "string"] = "bool" if field.switch else "string"
        parser.addini(field.ini_key, ini_help, type=ini_type, default=None)


@pytest.hookimpl(tryfirst=True)  # before pytest-run-parallel's, which replays the warnings recorded so far
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(scenario=None, *, {MARKER_SIGNATURE}): "
        "after the test body, run a scenario through the ft-harness engine (a registered name or "
        "module:attribute, or scenario=ClassOrCallable), and/or set those values for the ft_stress fixture",
    )
    try:
        session = session_from_config(config)
    except HarnessError as exc:
        raise pytest.UsageError(f"ft-harness: {exc}") from None
    session.take_over_run_parallel_gil_check()
    config.pluginmanager.register(session, PLUGIN_NAME)


def _plugin_sources(config: pytest.Config) -> tuple[Source, Source]:
    """The command-line and ini layers of the plugin's options, keyed by field name."""
    cli = {f.name: config.getoption(f.ini_key) for f in ALL_FIELDS}
    ini = {f.name: config.getini(f.ini_key) for f in ALL_FIELDS}
    where = f"in the pytest configuration {config.inipath}" if config.inipath else "in the pytest configuration"
    return (Source("on the command line", cli, {f.name: f.plugin_flag for f in ALL_FIELDS}),
            Source(where, {k: v for k, v in ini.items() if v not in (None, "")},
                   {f.name: f.ini_key for f in ALL_FIELDS}))


def session_from_config(config: pytest.Config) -> HarnessSession:
    """Resolve the options: command line > environment > ini > ``[tool.ft-harness]`` > defaults."""
    cli, ini = _plugin_sources(config)
    layers = [cli, env_source(os.environ), ini]
    pyproject = find_pyproject(config.rootpath)
    if pyproject is not None:
        layers.append(pyproject_source(pyproject))
    session = resolve_fields(layers, PLUGIN_FIELDS)
    min_parallel_tests = session.get("min_parallel_tests")
    return HarnessSession(
        config,
        resolve_sources(layers),
        loaded=_LOADED.pop(config.pluginmanager) if config.pluginmanager in _LOADED else
        gil_watch.Snapshot.at_plugin_load(),
        report_dir_asked=any(layer.values.get("report_dir") is not None for layer in layers),
        require_free_threading=bool(session.get("require_free_threading")),
        min_parallel_tests=min_parallel_tests if isinstance(min_parallel_tests, int) else None,
    )


@pytest.fixture
def ft_stress(request: pytest.FixtureRequest) -> ScenarioRunner:
    """Stress a scenario through the ft-harness engine: ``ft_stress(ScenarioClass, threads=8)``."""
    return request.config.pluginmanager.getplugin(PLUGIN_NAME).runner(request.node)


@pytest.fixture
def ft_settings(request: pytest.FixtureRequest) -> StressSettings:
    """The session's resolved ft-harness settings (threads, iterations, rounds, timeout, seed, report dir)."""
    return request.config.pluginmanager.getplugin(PLUGIN_NAME).settings
