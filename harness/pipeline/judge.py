"""Judge targets on an interpreter: interpreter fitness -> one import audit of every module -> every target's
scenarios -> the verdict, all into one :class:`~harness.pipeline.record.RunRecord`.

Shared by the ``stress`` command and the gate. When the judged interpreter is another one, every scenario
runs in its subprocess (isolated), so the harness never has to be installed there.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence

from harness import HarnessError
from harness.audit import audit, import_line, import_summary
from harness.engine import load_ref, run_in_process
from harness.engine.isolation import run_isolated
from harness.engine.result import ScenarioResult
from harness.interpreter.children import same_interpreter
from harness.interpreter.facts import probe
from harness.pipeline.context import RunContext
from harness.pipeline.record import RunRecord
from harness.pipeline.verdict import decide
from harness.targets import ScenarioSpec, Target


def check_fitness(ctx: RunContext, record: RunRecord) -> bool:
    """Probe the interpreter (unless the context or record already knows it) and note why it is unfit."""
    if record.interpreter is None:
        record.interpreter = ctx.facts or probe(ctx.python, env=ctx.env)
    fitness = record.interpreter.fitness(allow_gil_build=ctx.allow_gil_build)
    record.fit, record.free_threading = fitness.fit, fitness.free_threading_verdict
    if not (fitness.fit and fitness.free_threading_verdict):
        record.note(fitness.note)
    return fitness.fit


def judge(
    ctx: RunContext,
    record: RunRecord,
    targets: Sequence[Target],
    *,
    extra_modules: Sequence[str] = (),
    import_audit: bool = True,
) -> RunRecord:
    """Fill ``record`` for ``targets`` and decide it; never raises for an unfit interpreter or a failing
    scenario. ``extra_modules`` are audited too (the gate: what the wheel installed); ``import_audit=False``
    judges the scenarios only (reruns of one scenario)."""
    clock = time.monotonic()
    record.settings = ctx.settings
    record.targets = [t.name for t in targets]
    try:
        if check_fitness(ctx, record):
            modules = [*extra_modules, *(m for t in targets for m in t.modules)] if import_audit else []
            if _audit(ctx, record, list(dict.fromkeys(modules))):
                for target in targets:
                    for spec in target.scenarios:
                        ctx.progress(f"scenario {spec.name}: running")
                        result = run_scenario(spec, target.name, ctx)
                        record.scenarios.append(result)
                        ctx.progress(f"scenario {spec.name}: {result.status}")
    except HarnessError as exc:
        record.fail(exc.exit_code, str(exc))
    record.duration_s = round(record.duration_s + time.monotonic() - clock, 3)
    decide(record)
    return record


def _audit(ctx: RunContext, record: RunRecord, modules: list[str]) -> bool:
    """Audit ``modules`` into the record; False when one of them cannot be found (no scenario can run)."""
    results = audit(modules, python=ctx.python, env=ctx.env)
    record.imports += results
    for result in results:
        ctx.progress(import_line(result))
    if results:
        ctx.progress("import audit: " + import_summary([r.to_json() for r in results]))
    missing = [r.module for r in results if r.status == "not-found"]
    if missing:
        record.note(f"module not found by {ctx.python}: {', '.join(missing)} (check its PYTHONPATH)")
    return not missing


def run_scenario(spec: ScenarioSpec, target_name: str, ctx: RunContext) -> ScenarioResult:
    """Run one scenario: in a child of ``ctx.python`` when the spec asks for isolation or the interpreter is
    another one, else in this process; the front end's rerun command is added to the result.

    The spec's sizes (threads, rounds, iterations) replace the run's settings for this scenario.
    """
    settings = ctx.settings.overridden(spec.threads, spec.rounds, spec.iterations)
    if spec.isolate or not same_interpreter(ctx.python):
        result = run_isolated(
            spec.ref, name=spec.name, target_name=target_name, settings=settings, on_failure=spec.on_failure,
            python=ctx.python, env=ctx.env,
        )
    else:
        result = run_in_process(
            load_ref(spec.ref), name=spec.name, target=target_name, settings=settings, on_failure=spec.on_failure
        )
    return dataclasses.replace(result, rerun=ctx.rerun(target_name, spec.name, settings))
