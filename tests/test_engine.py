"""The in-process stress engine: each detector fires on a broken scenario and stays quiet on a correct one."""

from __future__ import annotations

import time

import pytest

from harness import UsageError
from harness.commands._options import stress_rerun
from harness.engine import (
    BarrierTimeout,
    ConditionBarrier,
    Race,
    SpinBarrier,
    load_ref,
    round_seed,
    run_in_process,
)
from harness.settings import StressSettings
from tests.support import scenarios

SMALL = StressSettings(threads=4, rounds=5, iterations=50, timeout_s=10.0, seed=1234)


def run(obj: object, settings: StressSettings = SMALL, name: str = "s"):
    """The free-running engine alone (controlled exploration has its own tests, in test_explore.py)."""
    target = f"tests.support.scenarios:{name}"
    settings = settings.replace(explore=False)
    return run_in_process(obj, name=name, target=target, settings=settings,
                          rerun=stress_rerun()(target, name, settings))


def test_lost_update_is_caught_by_verify() -> None:
    result = run(scenarios.LostUpdate, name="LostUpdate")
    assert result.status == "failed"
    assert [e.type for e in result.errors] == ["AssertionError"]
    assert "lost updates" in result.errors[0].first_traceback
    assert "verify()" in result.errors[0].first_traceback
    assert result.time_to_first_failure_s is not None


@pytest.mark.parametrize("barrier", ["spin", "condition"])
def test_both_barriers_catch_the_lost_update(barrier: str) -> None:
    assert run(scenarios.LostUpdate, SMALL.replace(barrier=barrier)).status == "failed"


def test_locked_counter_passes() -> None:
    result = run(scenarios.LockedCounter, name="LockedCounter")
    assert result.status == "passed", result.errors
    assert result.failures == 0 and result.time_to_first_failure_s is None
    assert result.ops_per_s and result.ops_per_s > 0


def test_failure_in_one_thread_is_reported_with_thread_and_traceback() -> None:
    result = run(scenarios.raises_in_one_thread, name="raises_in_one_thread")
    assert result.status == "failed"
    assert result.failures == 1
    (error,) = result.errors
    assert error.type == "KeyError" and error.count == 1
    assert error.first_traceback.startswith("thread 1, round 0, iteration 3")
    assert "raises_in_one_thread" in error.first_traceback
    assert "engine.py" not in error.first_traceback


def test_every_failure_from_every_thread_is_counted() -> None:
    def always(thread_index: int, iteration: int) -> None:
        raise ValueError(thread_index) if thread_index % 2 else TypeError(thread_index)

    result = run(always, StressSettings(threads=4, rounds=3, iterations=10, seed=1))
    assert result.failures == 40  # the failing round runs to its end, then the run stops
    assert sorted((e.type, e.count) for e in result.errors) == [("TypeError", 20), ("ValueError", 20)]


def test_quiet_callable_passes_with_throughput() -> None:
    result = run(scenarios.quiet, name="quiet")
    assert (result.status, result.failures, result.errors) == ("passed", 0, [])
    assert result.rounds == 5 and result.threads == 4 and result.iterations == 50


def test_hang_ends_at_timeout_with_every_thread_stack() -> None:
    started = time.monotonic()
    result = run(scenarios.hangs, StressSettings(threads=3, rounds=2, iterations=5, timeout_s=0.5, seed=1), "hangs")
    assert time.monotonic() - started < 5
    assert result.status == "timeout"
    (error,) = result.errors
    assert error.type == "Timeout"
    assert error.first_traceback.count("Thread ft-harness-worker-") == 3
    assert "in hangs" in error.first_traceback


def test_deadlock_is_called_stalled_long_before_the_timeout() -> None:
    from tests.corpus.deadlock import OppositeTransfers

    settings = StressSettings(threads=2, rounds=100, iterations=400, timeout_s=30.0, stall_s=0.3, seed=5)
    for _ in range(3):  # a lucky schedule may finish without deadlocking; three in a row never did
        started = time.monotonic()
        result = run(OppositeTransfers, settings, "OppositeTransfers")
        if result.status != "passed":
            break
    assert result.status == "timeout"
    assert "stalled" in result.detail
    assert time.monotonic() - started < 10
    # Both deadlocked workers' stacks (threads left hung by other in-process runs may be listed too).
    assert result.errors[0].first_traceback.count("in transfer_source_first") >= 2


def test_a_long_step_that_keeps_running_is_not_stalled() -> None:
    def busy_for_a_while() -> None:
        until = time.monotonic() + 0.6
        while time.monotonic() < until:
            pass

    settings = StressSettings(threads=2, rounds=1, iterations=1, timeout_s=30.0, stall_s=0.2, seed=5)
    result = run(busy_for_a_while, settings, "busy")
    assert result.status == "passed", result.detail


def test_roles_race_different_methods() -> None:
    seen: list[scenarios.ReaderWriter] = []

    class Recorded(scenarios.ReaderWriter):
        def verify(self) -> None:
            super().verify()
            seen.append(self)

    result = run(Recorded, StressSettings(threads=4, rounds=2, iterations=20, seed=1))
    assert result.status == "passed", result.errors
    assert seen[0].readers == {0, 2} and seen[0].writers == {1, 3}


def test_race_of_callables_assigns_thread_i_to_callable_i_mod_n() -> None:
    result = run(scenarios.RaceQuietAndRaise)
    assert result.status == "failed"  # only thread 1 runs raises_in_one_thread, and it raises once
    assert result.failures == 1


def test_shared_instance_of_unsafe_object_fails_per_thread_passes() -> None:
    assert run(scenarios.SharedTally, name="SharedTally").status == "failed"
    per_thread = run(scenarios.PerThreadTally, name="PerThreadTally")
    assert per_thread.status == "passed", per_thread.errors


def test_class_instance_gets_threads_iterations_and_round_seed() -> None:
    seen: list[tuple[int, int, int]] = []

    class Probe:
        def step(self, thread_index: int, iteration: int) -> None:
            pass

        def verify(self) -> None:
            seen.append((self.threads, self.iterations, self.seed))

    run(Probe, StressSettings(threads=2, rounds=3, iterations=7, seed=99))
    assert seen == [(2, 7, round_seed(99, r)) for r in range(3)]
    assert len({s for _, _, s in seen}) == 3


def test_rerun_command_carries_seed_sizes_and_changed_knobs() -> None:
    result = run(scenarios.raises_in_one_thread, name="raises_in_one_thread")
    assert "--seed 1234" in result.rerun
    assert "--threads 4 --rounds 5 --iterations 50 --timeout 10" in result.rerun
    assert "--target tests.support.scenarios:raises_in_one_thread" in result.rerun
    assert "--barrier" not in result.rerun and "--report-dir" not in result.rerun
    assert "--budget 1 --no-explore" in result.rerun  # the budget always, a switch as --no-<flag>
    changed = stress_rerun()("t", "s", SMALL.replace(barrier="condition", switch_interval_s=0.001))
    assert changed.endswith("--budget 1 --switch-interval 0.001 --barrier condition")


def test_setup_failure_is_a_failure() -> None:
    class BadSetup:
        def setup(self) -> None:
            raise RuntimeError("no")

        def step(self, thread_index: int, iteration: int) -> None:
            pass

    result = run(BadSetup)
    assert result.status == "failed" and result.errors[0].type == "RuntimeError"


@pytest.mark.parametrize("bad", [lambda a: None, lambda a, b, c: None, 42, type("NoStep", (), {})])
def test_unusable_scenarios_are_usage_errors(bad: object) -> None:
    with pytest.raises(UsageError):
        run(bad)


def test_load_ref_errors_are_usage_errors() -> None:
    assert load_ref("tests.support.scenarios:quiet") is scenarios.quiet
    for ref in ("nope", "tests.support.no_such_module:x", "tests.support.scenarios:missing"):
        with pytest.raises(UsageError):
            load_ref(ref)


def test_race_needs_callables() -> None:
    with pytest.raises(UsageError):
        Race()


@pytest.mark.parametrize("kind", [SpinBarrier, ConditionBarrier])
def test_barrier_passes_a_full_party_and_times_out_alone(kind: type) -> None:
    barrier = kind(1)
    barrier.wait(time.monotonic() + 1)  # a single party passes straight through, repeatedly
    barrier.wait(time.monotonic() + 1)
    lonely = kind(2)
    with pytest.raises(BarrierTimeout):
        lonely.wait(time.monotonic() + 0.05)
