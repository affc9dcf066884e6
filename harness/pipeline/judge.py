"""Judge targets on an interpreter: interpreter fitness -> one import audit of every module -> every target's
scenarios -> the verdict, all into one :class:`~harness.pipeline.record.RunRecord`.

Shared by the ``stress`` command and the gate. When the judged interpreter is another one, every scenario
runs in its subprocess (isolated), so the harness never has to be installed there.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence

from harness import HarnessError, Interrupted, UsageError
from harness.audit import audit, import_line, import_summary
from harness.engine import load_ref, run_in_process
from harness.engine.isolation import run_isolated
from harness.engine.result import ScenarioResult
from harness.engine.tsan import Findings
from harness.interpreter.children import same_interpreter
from harness.interpreter.facts import probe
from harness.pipeline.context import RunContext
from harness.pipeline.record import RunRecord
from harness.pipeline.tsan_mode import TSanRun, tsan_settings
from harness.pipeline.verdict import decide
from harness.targets import ScenarioSpec, Target

AUDIT = "import-audit"  # the TSan log folder (and finding "scenario") of the import audit's children


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
    later: Sequence[str] = (),
) -> RunRecord:
    """Fill ``record`` for ``targets`` and decide it; never raises for an unfit interpreter or a failing
    scenario. ``extra_modules`` are audited too (the gate: what the wheel installed); ``import_audit=False``
    judges the scenarios only (reruns of one scenario); ``later``: the caller's steps after it, unfinished
    too when a signal stops it."""
    clock = time.monotonic()
    record.settings = ctx.settings
    record.targets = [t.name for t in targets]
    try:
        if check_fitness(ctx, record):
            ctx = _tsan_mode(ctx, record)
            modules = [*extra_modules, *(m for t in targets for m in t.modules)] if import_audit else []
            if import_audit:
                modules = _require_packages(ctx, record, targets, modules)
            audited = _audit(ctx, record, list(dict.fromkeys(modules)))
            _collect_tsan(ctx, record, AUDIT, AUDIT, "unsafe")
            if audited:
                for target in targets:
                    for spec in target.scenarios:
                        ctx.progress(f"scenario {spec.name}: running")
                        result = run_scenario(spec, target.name, ctx)
                        record.scenarios.append(result)
                        _collect_tsan(ctx, record, target.name, spec.name, spec.on_failure)
                        ctx.progress(f"scenario {spec.name}: {result.status}")
    except HarnessError as exc:
        record.fail(exc.exit_code, str(exc))
    except (Interrupted, KeyboardInterrupt) as exc:
        interrupted(record, exc, targets, import_audit=import_audit, later=later)
    record.duration_s = round(record.duration_s + time.monotonic() - clock, 3)
    decide(record)
    return record


def interrupted(
    record: RunRecord, exc: Interrupted | KeyboardInterrupt, targets: Sequence[Target], *, import_audit: bool = True,
    later: Sequence[str] = (),
) -> None:
    """Mark ``record`` interrupted by ``exc``'s signal: the scenarios of ``targets`` without a result are the
    unfinished ones (and the import audit, when it was under way, and the ``later`` steps not done)."""
    finished = {(s.target, s.name) for s in record.scenarios}
    unfinished = [spec.name for t in targets for spec in t.scenarios if (t.name, spec.name) not in finished]
    if import_audit and not record.imports and record.fit:
        unfinished.insert(0, "import audit")
    record.interrupt(getattr(exc, "signal_name", "SIGINT"), [*unfinished, *later])


def _require_packages(ctx: RunContext, record: RunRecord, targets: Sequence[Target], modules: list[str]) -> list[str]:
    """Audit the package of each built-in target with an ``extra`` first: when it is missing, one line saying
    how to install it (``UsageError``) instead of a not-found line for each of its modules. Returns the
    modules still to audit."""
    packages = list(dict.fromkeys(t.modules[0] for t in targets if t.extra and t.modules))
    results = audit(packages, python=ctx.python, env=ctx.env)
    for target in targets:
        if any(r.module == target.modules[0] and r.status == "not-found" for r in results):
            raise UsageError(target.install_hint())
    record.imports += results
    for result in results:
        ctx.progress(import_line(result))
    return [m for m in modules if m not in packages]


def _tsan_mode(ctx: RunContext, record: RunRecord) -> RunContext:
    """On a ThreadSanitizer build: a log folder for the run, findings on the record, the mode on the context."""
    if record.interpreter is None or not record.interpreter.thread_sanitizer:
        return ctx
    run = ctx.tsan
    if run is None:
        run = TSanRun.start(ctx.settings.report_dir / f"{record.run_id}.tsan", ctx.tsan_suppressions)
        ctx = ctx.replace(tsan=run, env=run.env(ctx.env, AUDIT, AUDIT))  # the import audit's children log there
    if record.tsan is None:
        record.tsan = Findings(log_dir=str(run.log_dir))
        ctx.progress(f"TSan mode: reports under {run.log_dir}")
    return ctx


def _collect_tsan(ctx: RunContext, record: RunRecord, target: str, scenario: str, on_failure: str) -> None:
    if ctx.tsan is not None and record.tsan is not None:
        ctx.tsan.collect(record.tsan, target, scenario, on_failure)


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
    another one, else in this process; the front end's rerun command is added to the result (replaying the
    schedule of a failure that exploration found).

    The spec's sizes (threads, rounds, iterations) replace the run's settings for this scenario. In TSan mode
    it always runs in a child, with the TSan environment and sizes (:mod:`harness.pipeline.tsan_mode`).
    """
    asked = ctx.settings.overridden(spec.threads, spec.rounds, spec.iterations)
    settings = asked if ctx.tsan is None else tsan_settings(asked)
    if spec.isolate or ctx.tsan is not None or not same_interpreter(ctx.python):
        env = ctx.env if ctx.tsan is None else ctx.tsan.env(ctx.env, target_name, spec.name)
        result = run_isolated(
            spec.ref, name=spec.name, target_name=target_name, settings=settings, on_failure=spec.on_failure,
            python=ctx.python, env=env, fork=ctx.tsan is None,  # TSan reads its options at start-up, not at fork
        )
    else:
        result = run_in_process(
            load_ref(spec.ref), name=spec.name, target=target_name, settings=settings, on_failure=spec.on_failure
        )
    return dataclasses.replace(result, rerun=ctx.rerun(target_name, spec.name, result.rerun_settings(asked)))
