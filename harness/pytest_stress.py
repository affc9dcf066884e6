"""What the ``ft_stress`` fixture and marker do: stress a scenario through the engine for one test, and fail
the test with the engine's summary and the commands that rerun it.
"""

from __future__ import annotations

import shlex
import sys
from typing import TYPE_CHECKING, Mapping

import pytest

from harness.engine import load_ref, run_in_process
from harness.errors import HarnessError
from harness.schedules import Schedule
from harness.report import head_lines
from harness.results import ScenarioResult
from harness.settings import FIELDS, Source, StressSettings, resolve_sources

if TYPE_CHECKING:
    from harness.pytest_session import HarnessSession

MARKER = "ft_stress"
_TRACEBACK_LINES = 30
_MARKER_KEYS = {"threads": "threads", "iterations": "iterations", "rounds": "rounds", "seed": "seed",
                "timeout": "timeout_s", "budget": "budget_s", "explore": "explore"}


class ScenarioRunner:
    """What the ``ft_stress`` fixture returns: call it with a scenario to stress it through the engine.

    ``ft_stress(scenario, threads=..., iterations=..., rounds=..., seed=..., timeout=..., budget=..., explore=...,
    check=True)``;
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
        obj, name, ref = self._resolve(scenario)
        settings = self._settings(overrides)
        try:  # the engine's rerun command needs an importable module:attribute; otherwise rerun the test
            result = run_in_process(obj, name=name, target=ref or self._item.nodeid, settings=settings,
                                    rerun=None if ref else self._pytest_rerun(settings), replay_flag="--ft-replay")
        except HarnessError as exc:
            pytest.fail(f"ft-harness: {exc}", pytrace=False)
        self._session.record_result(self._item, result)
        if check and result.status != "passed":
            pytest.fail(self._failure_text(result, settings, ref is not None), pytrace=False)
        return result

    def _resolve(self, scenario: object) -> tuple[object, str, str | None]:
        """The object to run, its name, and ``module:attribute`` naming it if a fresh process can import it."""
        if isinstance(scenario, str):
            registered = self._session.registry()
            if scenario in registered:
                return self._resolve_object(registered[scenario])
            if ":" in scenario:
                try:
                    return load_ref(scenario), scenario.partition(":")[2], scenario
                except HarnessError as exc:
                    pytest.fail(f"ft-harness: {exc}", pytrace=False)
            known = ", ".join(sorted(registered)) or "none registered"
            pytest.fail(f"ft-harness: unknown scenario {scenario!r}: expected module:attribute, a scenario class "
                        f"or callable, or a registered name ({known})", pytrace=False)
        return self._resolve_object(scenario)

    def _resolve_object(self, obj: object) -> tuple[object, str, str | None]:
        """Objects of an installed module get a ``module:attribute`` reference; test-file objects none."""
        qualname = getattr(obj, "__qualname__", None) or type(obj).__qualname__
        module = getattr(obj, "__module__", None)
        test_module = getattr(getattr(self._item, "module", None), "__name__", None)
        importable = module not in (None, test_module, "__main__") and "<" not in qualname \
            and not module.rpartition(".")[2].startswith(("conftest", "test_"))
        return obj, qualname, f"{module}:{qualname}" if importable else None

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
                pytest.fail(f"ft-harness: unknown setting {unknown[0]!r} {label}: expected one of "
                            f"{', '.join(_MARKER_KEYS)}", pytrace=False)
            sources.append(Source(label, {_MARKER_KEYS[k]: v for k, v in values.items()},
                                  {v: k for k, v in _MARKER_KEYS.items()}))
        session = self._session.settings
        sources.append(Source("in the session settings", {f.name: getattr(session, f.name) for f in FIELDS}))
        try:
            return resolve_sources(sources)
        except HarnessError as exc:
            pytest.fail(f"ft-harness: {exc}", pytrace=False)

    def _pytest_rerun(self, settings: StressSettings) -> str:
        return (f"{shlex.quote(sys.executable)} -m pytest {shlex.quote(self._item.nodeid)}"
                f" --ft-threads={settings.threads} --ft-iterations={settings.iterations}"
                f" --ft-rounds={settings.rounds} --ft-timeout={settings.timeout_s:g} --ft-seed={settings.seed}"
                f" --ft-budget={settings.budget_s:g}" + ("" if settings.explore else " --ft-explore=no")
                + (f" --ft-replay={shlex.quote(settings.replay)}" if settings.replay else ""))

    def _failure_text(self, result: ScenarioResult, settings: StressSettings, engine_rerun: bool) -> str:
        lines = [
            f"ft-harness: scenario {result.name} {result.status} ({result.threads} threads x {result.iterations} "
            f"iterations x {result.rounds} rounds, seed {result.seed}): {result.failures} failures; {result.detail}"
        ]
        for error in result.errors:
            lines.append(f"  {error.type} x {error.count}; first traceback:")
            tb = error.first_traceback.rstrip().splitlines()
            lines += [f"    {line}" for line in head_lines(tb, _TRACEBACK_LINES)]
        schedule = (result.exploration or {}).get("schedule")
        replay = "" if not schedule or settings.replay else \
            f" --ft-replay={shlex.quote(Schedule(**schedule).to_text())}"
        lines.append(f"rerun this test: {self._pytest_rerun(settings)}{replay}")
        if engine_rerun:
            lines.append(f"rerun the scenario alone: {result.rerun}")
        return "\n".join(lines)
