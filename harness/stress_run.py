"""One stress run of a target, end to end: interpreter facts -> import audit -> scenarios -> verdict record.

The record is a plain dict (the JSON report). When ``python`` is another interpreter, everything runs in its
subprocesses (every scenario isolated), so the harness never has to be installed there.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
import time
from datetime import datetime, timezone
from typing import Any, Callable, Mapping, Sequence

from harness.engine import run_scenario, stress_rerun_prefix
from harness.errors import EXIT_UNFIT, HarnessError, UsageError
from harness.import_audit import audit
from harness.interpreter import InterpreterFacts, probe, same_interpreter
from harness.report import import_summary
from harness.results import ImportResult
from harness.settings import StressSettings
from harness.targets import ScenarioSpec, Target, load_target
from harness.verdict import decide

Progress = Callable[[str], None]
SKIPPED_AUDIT = "import audit skipped (--no-import-audit): this verdict covers the scenarios only"


def join_notes(*notes: str) -> str:
    """The non-empty notes of a record, in order, as one line."""
    return "; ".join(note for note in notes if note)


def import_line(result: ImportResult, prefix: str = "import") -> str:
    """``import m: gil-enabled, caused by c (warning)``: one audited module on the terminal."""
    cause = f", caused by {result.caused_by}" if result.caused_by and result.caused_by != result.module else ""
    detail = result.error or result.warning
    return f"{prefix} {result.module}: {result.status}{cause}" + (f" ({detail})" if detail else "")


def resolve_target(name: str) -> Target:
    """A built-in target by name, or ``module:attribute`` (a callable or scenario class) as a one-scenario target."""
    if ":" not in name:
        return load_target(name)
    module, _, attribute = name.partition(":")
    if not module or not attribute:
        raise UsageError(f"bad target {name!r}: expected a target name or module:attribute")
    return Target(
        name=name,
        description=f"user scenario {name}",
        modules=(module,),
        scenarios=(ScenarioSpec(name=attribute, ref=name),),
    )


def select_scenarios(target: Target, names: Sequence[str] | None) -> tuple[ScenarioSpec, ...]:
    """The target's scenarios, or only those named (an unknown name is a usage error)."""
    if not names:
        return target.scenarios
    known = {s.name: s for s in target.scenarios}
    for name in names:
        if name not in known:
            raise UsageError(f"unknown scenario {name!r} of target {target.name}: expected one of {', '.join(known)}")
    return tuple(known[n] for n in dict.fromkeys(names))


def new_run_id(target_name: str, started: datetime) -> str:
    """``stress-<target>-<UTC time>-<random>``: sortable by time, unique across concurrent runs."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", target_name).strip("_") or "target"
    return f"stress-{slug}-{started.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(3)}"


def run_stress(
    target: Target,
    settings: StressSettings,
    *,
    python: str,
    facts: InterpreterFacts | None = None,
    allow_gil_build: bool = False,
    scenarios: Sequence[str] | None = None,
    rerun_prefix: str | None = None,
    progress: Progress | None = None,
    env: Mapping[str, str] | None = None,
    import_audit: bool = True,
) -> dict[str, Any]:
    """Judge ``target`` on ``python``; never raises for an unfit interpreter or a failing scenario.

    Every child process (probe, import audit, scenarios) starts from ``env`` (default: this process's).
    ``import_audit=False`` (reruns of one scenario) judges the scenarios only, and the record says so.

    An unfit interpreter gives verdict "error" with exit 3, a usage problem met mid-run (a scenario that
    cannot be found) verdict "error" with its exit code; both still give a complete record to write.
    """
    say = progress or (lambda line: None)
    started = datetime.now(timezone.utc)
    clock = time.monotonic()
    specs = select_scenarios(target, scenarios)
    facts = facts or probe(python, env=env)
    fitness = facts.fitness(allow_gil_build=allow_gil_build)
    record: dict[str, Any] = {
        "run_id": new_run_id(target.name, started),
        "target": target.name,
        "verdict": "error",
        "exit_code": EXIT_UNFIT,
        "free_threading_verdict": fitness.fit and fitness.free_threading_verdict,
        "note": "" if fitness.fit and fitness.free_threading_verdict else fitness.note,
        "interpreter": facts.to_json(),
        "settings": {**settings.__dict__, "report_dir": str(settings.report_dir)},
        "imports": [],
        "scenarios": [],
        "started": started.isoformat(timespec="seconds"),
        "duration_s": 0.0,
    }
    if fitness.fit:
        try:
            judged = target if import_audit else dataclasses.replace(target, modules=())
            _judge(record, judged, specs, settings, python, fitness.free_threading_verdict, rerun_prefix, say, env)
            if not import_audit:
                record["note"] = join_notes(record["note"], SKIPPED_AUDIT)
        except HarnessError as exc:
            record["verdict"], record["exit_code"], record["note"] = "error", exc.exit_code, str(exc)
    record["duration_s"] = round(time.monotonic() - clock, 3)
    return record


def _judge(
    record: dict[str, Any],
    target: Target,
    specs: Sequence[ScenarioSpec],
    settings: StressSettings,
    python: str,
    free_threading: bool,
    rerun_prefix: str | None,
    say: Progress,
    env: Mapping[str, str] | None,
) -> None:
    imports = audit(target.modules, python=python, env=env)
    record["imports"] = [r.to_json() for r in imports]
    for result in imports:
        say(import_line(result))
    if imports:
        say("import audit: " + import_summary(record["imports"]))
    results = []
    missing = [r.module for r in imports if r.status == "not-found"]
    if missing:
        record["note"] = f"module not found by {python}: {', '.join(missing)} (check its PYTHONPATH)"
    else:
        local = same_interpreter(python)
        if rerun_prefix is None:
            rerun_prefix = stress_rerun_prefix(None if local else python)
        for spec in specs:
            if not local:
                spec = dataclasses.replace(spec, isolate=True)
            say(f"scenario {spec.name}: running")
            result = run_scenario(spec, target.name, settings, python=python, rerun_prefix=rerun_prefix, env=env)
            results.append(result)
            record["scenarios"].append(result.to_json())
            say(f"scenario {spec.name}: {result.status}")
    record["verdict"], record["exit_code"] = decide(imports, results, free_threading=free_threading)
