"""Hook specifications of the ft-harness pytest plugin, so other plugins can add scenarios and reporters.

Registered by ``harness.pytest_plugin.pytest_addhooks``; implement them in a ``conftest.py`` or a plugin module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from harness.engine.result import ScenarioResult


@pytest.hookspec
def pytest_ft_harness_scenarios(config: pytest.Config) -> dict[str, Any] | None:
    """Return scenarios by name, so a test can run one with ``ft_stress("name")`` or
    ``@pytest.mark.ft_stress("name")``.

    A value is anything the engine runs in process: a scenario class or a callable (see ``harness.engine``).
    Names from all implementations are merged; a name given twice fails the test that looks one up.
    """


@pytest.hookspec
def pytest_ft_harness_scenario_result(item: pytest.Item, result: ScenarioResult) -> None:
    """Called after the engine ran a scenario for ``item`` (through the marker or the fixture), passed or not."""


@pytest.hookspec
def pytest_ft_harness_session_report(config: pytest.Config, record: dict[str, Any]) -> None:
    """Called once at the end of the session with the JSON-ready session record (interpreter facts,
    settings, scenario results, GIL findings, multi-threaded test counts), before ft-harness writes it
    to the report directory (when one was asked for). Reporters may add keys or write their own formats.
    """
