"""The stress engine: scenarios (:mod:`~harness.engine.scenario`), the threaded runner
(:mod:`~harness.engine.runner`) and running one in a child process (:mod:`~harness.engine.isolation`).
No pytest import."""

from harness.engine.result import ErrorSummary, ScenarioResult, ScenarioStatus
from harness.engine.runner import BARRIERS, BarrierTimeout, ConditionBarrier, SpinBarrier, run_in_process
from harness.engine.scenario import Race, Scenario, ScenarioAdapter, Step, load_ref, round_seed, stateful

__all__ = [
    "BARRIERS",
    "BarrierTimeout",
    "ConditionBarrier",
    "ErrorSummary",
    "Race",
    "Scenario",
    "ScenarioAdapter",
    "ScenarioResult",
    "ScenarioStatus",
    "SpinBarrier",
    "Step",
    "load_ref",
    "round_seed",
    "run_in_process",
    "stateful",
]
