"""Run one corpus case once, bug or twin, through the real harness, and say whether the harness judged it right.

A bug is *caught* when the harness gives exactly the status the case expects (a crash reported as a mere
failure is not the crash detector working); a twin is judged right only when it passes.
"""

from __future__ import annotations

import inspect
import os
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any, Literal

from harness.audit import audit
from harness.commands.stress import stress_context
from harness.engine import load_ref
from harness.pipeline.judge import run_scenario
from harness.settings import StressSettings
from harness.targets import ScenarioSpec
from tests.corpus import Case, native

Variant = Literal["bug", "twin"]
PASSING = {"stress": "passed", "import-audit": "gil-free"}


@dataclass(frozen=True)
class Outcome:
    """One run of one side of a case.

    ``wall_s`` runs from the start of the run to its result in hand (child start-up included);
    ``first_failure_s`` is the engine's own time to the first failure, when there was one; ``detect_s`` is
    the time from the start of the run to that failure (child start-up included; what came after it: the
    rest of the failing round, the hunt for a schedule, the automatic reruns or the fresh-process replay of
    its schedule, not); ``schedule`` is the
    interleaving controlled exploration recorded for a failure it found (None when free-running found it).
    """

    case: str
    variant: Variant
    status: str
    correct: bool
    wall_s: float
    first_failure_s: float | None
    seed: int | None
    detail: str
    rerun: str
    schedule: Any = None
    detect_s: float | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def prepare(case: Case) -> None:
    """Build the case's C pieces now, so no timed run pays for the compiler."""
    if case.detector == "import-audit":
        native.plain_module(free_threading=False)
        native.plain_module(free_threading=True)
        return
    for ref in (case.bug, case.twin):
        scenario_type = load_ref(ref)
        if not inspect.isclass(scenario_type):  # a Race or plain callable: nothing to build ahead
            continue
        scenario = scenario_type()
        scenario.threads, scenario.iterations, scenario.seed = 1, 1, 0
        if hasattr(scenario, "setup"):
            scenario.setup()


def run_case(case: Case, variant: Variant, settings: StressSettings) -> Outcome:
    """Run the bug or the twin of ``case`` once on this interpreter (the import audit takes no stress settings)."""
    if case.detector == "import-audit":
        return _run_audit(case, variant)
    return _run_stress(case, variant, settings)


def _judged(case: Case, variant: Variant, status: str) -> bool:
    return status == (case.expect if variant == "bug" else PASSING[case.detector])


def _run_stress(case: Case, variant: Variant, settings: StressSettings) -> Outcome:
    ref = case.bug if variant == "bug" else case.twin
    spec = ScenarioSpec(name=ref.partition(":")[2], ref=ref)
    started = time.monotonic()
    result = run_scenario(spec, ref, stress_context(settings))
    wall = time.monotonic() - started
    detail = "; ".join(f"{e.type} x{e.count}" for e in result.errors) or result.detail
    first = result.time_to_first_failure_s
    after = result.duration_s - first + (result.reruns_s or 0.0) if first is not None else None
    return Outcome(
        case.name, variant, result.status, _judged(case, variant, result.status), round(wall, 4),
        first, result.seed, detail, result.rerun, (result.exploration or {}).get("schedule"),
        round(wall - after, 4) if after is not None else None,
    )


def _run_audit(case: Case, variant: Variant) -> Outcome:
    module, folder = native.plain_module(free_threading=variant == "twin")
    path = os.pathsep.join(filter(None, (str(folder), os.environ.get("PYTHONPATH"))))
    started = time.monotonic()
    (result,) = audit([module], python=sys.executable, env={**os.environ, "PYTHONPATH": path})
    wall = time.monotonic() - started
    caught = result.status != PASSING["import-audit"]
    return Outcome(
        case.name, variant, result.status, _judged(case, variant, result.status), round(wall, 4),
        round(wall, 4) if caught else None, None, result.warning or result.error or "",
        f"PYTHONPATH={path} {sys.executable} -m harness imports {module}", detect_s=round(wall, 4) if caught else None,
    )
