"""What the ``ft_stress`` fixture and marker do: stress a scenario through the engine for one test, and fail
the test with the engine's summary and the commands that rerun it.

A scenario given as ``module:attribute`` runs in a child process, as the CLI runs it
(:func:`harness.engine.isolation.run_isolated`): a crash fails the test with the faulthandler dump, and the
session goes on. A scenario object runs in this process (a test file's objects cannot be imported by a child).
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from harness import HarnessError
from harness.commands._options import stress_rerun
from harness.engine import ScenarioResult, run_in_process
from harness.engine.isolation import run_isolated
from harness.report.terminal import fixture_failure
from harness.settings import FIELDS, Source, StressSettings, rerun_words, resolve_sources

MARKER = "ft_stress"
_PYTEST_RERUN_ORDER = ("threads", "iterations", "rounds", "timeout_s", "seed", "budget_s")
# The marker's and the fixture call's keys (``threads``, ``timeout``, ...): every engine setting but where
# reports go, which is the session's.
_MARKER_FIELDS = {f.marker_key: f for f in FIELDS if f.name != "report_dir"}
MARKER_SIGNATURE = ", ".join(f"{key}=None" for key in _MARKER_FIELDS)


class ScenarioRunner:
    """What the ``ft_stress`` fixture returns: call it with a scenario to stress it through the engine.

    ``ft_stress(scenario, threads=..., iterations=..., rounds=..., seed=..., timeout=..., budget=..., explore=...,
    check=True)``;
    ``scenario`` is a scenario class, a callable, a name registered with ``pytest_ft_harness_scenarios`` or
    ``module:attribute`` (run in a child process). Values come from the call, then the test's ``ft_stress``
    marker, then the session. With ``check`` (the default) a run that did not pass fails the test with the
    engine's summary and the commands that rerun it; the :class:`~harness.engine.result.ScenarioResult` is
    returned either way.
    """

    def __init__(
        self,
        item: pytest.Item,
        *,
        settings: StressSettings,
        registry: Callable[[], Mapping[str, Any]],
        record: Callable[[pytest.Item, ScenarioResult], None],
    ) -> None:
        """``settings``: the session's; ``registry()``: the scenarios registered by name; ``record(item,
        result)``: hands each result back to the session."""
        self._item = item
        self._session_settings = settings
        self._registry = registry
        self._record = record

    def __call__(self, scenario: object, *, check: bool = True, **overrides: object) -> ScenarioResult:
        __tracebackhide__ = True
        obj, name, ref = self._resolve(scenario)
        settings = self._settings(overrides)
        try:
            if obj is None and ref is not None:
                result = run_isolated(ref, name=name, target_name=ref, settings=settings, on_failure="unsafe",
                                      python=sys.executable)
            else:
                result = run_in_process(obj, name=name, target=ref or self._item.nodeid, settings=settings)
        except HarnessError as exc:
            pytest.fail(f"ft-harness: {exc}", pytrace=False)
        # Rerunning the scenario alone needs an importable module:attribute; otherwise rerun the test. Either
        # replays the schedule of a failure that exploration found.
        rerun_settings = result.rerun_settings(settings)
        test_rerun = self._pytest_rerun(rerun_settings)
        result.rerun = stress_rerun()(ref, name, rerun_settings) if ref else test_rerun
        self._record(self._item, result)
        if check and result.status != "passed":
            message = fixture_failure(result, test_rerun=test_rerun, runs_alone=ref is not None)
            pytest.fail(message, pytrace=False)
        return result

    def _resolve(self, scenario: object) -> tuple[object, str, str | None]:
        """The object to run (``None``: only a child process loads it), its name, and ``module:attribute`` naming
        it if a fresh process can import it."""
        if isinstance(scenario, str):
            registered = self._registry()
            if scenario in registered:
                return self._resolve_object(registered[scenario])
            if ":" in scenario:
                return None, scenario.partition(":")[2], scenario
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
            unknown = sorted(set(values) - set(_MARKER_FIELDS))
            if unknown:
                pytest.fail(f"ft-harness: unknown setting {unknown[0]!r} {label}: expected one of "
                            f"{', '.join(_MARKER_FIELDS)}", pytrace=False)
            sources.append(Source(label, {_MARKER_FIELDS[k].name: v for k, v in values.items()},
                                  {f.name: key for key, f in _MARKER_FIELDS.items()}))
        session = self._session_settings
        sources.append(Source("in the session settings", {f.name: getattr(session, f.name) for f in FIELDS}))
        try:
            settings = resolve_sources(sources)
        except HarnessError as exc:
            pytest.fail(f"ft-harness: {exc}", pytrace=False)
        return settings

    def _pytest_rerun(self, settings: StressSettings) -> str:
        words = rerun_words(settings, _PYTEST_RERUN_ORDER, plugin=True)
        return shlex.join([sys.executable, "-m", "pytest", self._item.nodeid, *words])
