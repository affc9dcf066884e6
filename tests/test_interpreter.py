"""Interpreter facts and fitness: unfit unless free-threaded, GIL off at start and not forced either way."""

from __future__ import annotations

import dataclasses
import os
import sys
import sysconfig

import pytest

from harness import UnfitError
from harness.interpreter.facts import InterpreterFacts, probe
from tests.support.markers import needs_free_threading

GOOD = InterpreterFacts(
    executable="/x/python3.14t", version="3.14.7", implementation="cpython", free_threaded=True,
    gil_enabled=False, gil_forced=None, cpu_count=2, cffi_version="2.0.0",
)


def test_probe_reports_this_interpreter() -> None:
    facts = probe(sys.executable)
    assert facts.free_threaded is bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
    assert facts.version == sys.version.split()[0]
    assert facts.cpu_count >= 1


def test_probe_of_a_non_python_is_unfit() -> None:
    with pytest.raises(UnfitError):
        probe("/bin/false")


def test_fit_build_is_fit() -> None:
    fitness = GOOD.fitness()
    assert fitness.fit and fitness.free_threading_verdict and fitness.reasons == ()
    fitness.require()


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"free_threaded": False, "gil_enabled": True}, "not a free-threaded build"),
        ({"gil_forced": 0}, "forced off"),
        ({"gil_forced": 1, "gil_enabled": True}, "forced on"),
        ({"gil_enabled": True}, "already enabled"),
    ],
)
def test_unfit_cases_name_their_reason(changes: dict, reason: str) -> None:
    fitness = dataclasses.replace(GOOD, **changes).fitness()
    assert not fitness.fit and reason in " ".join(fitness.reasons)
    with pytest.raises(UnfitError, match=reason):
        fitness.require()


def test_allowed_gil_build_runs_without_a_free_threading_verdict() -> None:
    fitness = dataclasses.replace(GOOD, free_threaded=False, gil_enabled=True).fitness(allow_gil_build=True)
    assert fitness.fit and not fitness.free_threading_verdict
    assert "no free-threading verdict" in fitness.note


def test_gil_forced_off_is_never_allowed() -> None:
    assert not dataclasses.replace(GOOD, gil_forced=0).fitness(allow_gil_build=True).fit


def test_gil_build_names_only_its_build() -> None:
    # sys.flags.gil is 1 on every GIL build; that is not "forced on".
    gil_build = dataclasses.replace(GOOD, free_threaded=False, gil_enabled=True, gil_forced=1)
    (reason,) = gil_build.problems()
    assert "not a free-threaded build" in reason


@needs_free_threading
@pytest.mark.parametrize(("value", "forced", "enabled"), [("0", 0, False), ("1", 1, True)])
def test_probe_sees_python_gil_in_the_environment(value: str, forced: int, enabled: bool) -> None:
    facts = probe(sys.executable, env={**os.environ, "PYTHON_GIL": value})
    assert (facts.gil_forced, facts.gil_enabled) == (forced, enabled)
    assert not facts.fitness().fit


@needs_free_threading
def test_probe_of_this_free_threaded_interpreter_is_fit() -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHON_GIL"}
    assert probe(sys.executable, env=env).fitness().fit
