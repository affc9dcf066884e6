"""The release gate: a wheel in, a verdict record out.

Pipeline: read and cross-check the wheel's tags (bad input: exit 2) -> interpreter fitness (exit 3) -> a fresh
venv with the wheel, its dependencies and any ``--with`` requirements installed (uv), the user's scenario
folders made importable there -> :func:`~harness.pipeline.judge.judge` the matching targets against the
installed code (one import audit of every extension module and top-level module the wheel installed and every
target module, then the scenarios) -> the package's own test suite, multi-threaded (``--tests``) -> throughput
at a few thread counts -> the record, decided once -> the release evidence (the wheel's identity, its metadata
findings against what was measured, a fix hint per module that re-enabled the GIL), which never changes the
verdict. The venv lives in a temporary directory that is removed afterwards unless kept. The caller's
PYTHONPATH is not passed on to any of the gate's child processes: it could put a source tree in front of the
installed wheel, and the gate would then judge that tree instead.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness import EXIT_USAGE, HarnessError, Interrupted, UsageError
from harness.audit import audit, import_line
from harness.audit.module_filter import split_modules
from harness.pipeline.context import RunContext
from harness.pipeline.judge import check_fitness, interrupted, judge, run_scenario
from harness.pipeline.record import ArtifactIdentity, RunRecord, ThroughputPoint, WheelSection
from harness.pipeline.suite import SuiteOptions, run_suite
from harness.pipeline.verdict import decide, unsafe_status
from harness.targets import Target, only_scenarios, targets_for
from harness.targets.ref_check import check_refs
from harness.wheel.fix_hints import hints_for_wheel
from harness.wheel.metadata import Measured, read_metadata
from harness.wheel.metadata import check_wheel as check_metadata
from harness.wheel.tags import ask_interpreter, check_wheel, read_wheel
from harness.wheel.venv import add_import_paths, create_venv, install, installed_distribution, registered_targets

THROUGHPUT_ROUNDS = 3
DEFAULT_THROUGHPUT_THREADS = (1, 2, 4)
SUITE_STEP = "the package's own tests"  # the --tests step, as a report names it (unfinished, judged by)


@dataclass(frozen=True)
class GateOptions:
    """What the gate judges beyond the run context: the wheel, the ABI it must carry, which targets and
    scenarios, the throughput thread counts, whether to keep the venv; the user's scenario folders (importable
    in the venv only) and extra requirements installed beside the wheel (whose registered targets count like
    built-in ones); the package's own test suite; whether a run that stressed nothing fails (exit 4); and which
    of the wheel's modules to leave out of the audit (patterns) or to judge although test-only."""

    wheel: Path
    expect_abi: str | None = None
    targets: tuple[str, ...] = ()
    scenarios: tuple[str, ...] = ()
    throughput_threads: tuple[int, ...] = DEFAULT_THROUGHPUT_THREADS
    keep_venv: bool = False
    built_from: Path | None = None  # the sdist or project the wheel was built from here (TSan mode needs one)
    scenario_paths: tuple[Path, ...] = ()
    requirements: tuple[str, ...] = ()
    suite: SuiteOptions | None = None
    require_stress: bool = False
    exclude_modules: tuple[str, ...] = ()
    include_tests: bool = False


def _judged_by(target_names: list[str], options: GateOptions) -> str:
    """What decides the verdict beyond the import audit: the targets' scenarios and the package's own tests."""
    judged = [*target_names, *([SUITE_STEP] if options.suite is not None else [])]
    return ", ".join(judged) or "(import audit only)"


def run_gate(ctx: RunContext, options: GateOptions) -> RunRecord:
    """Judge a wheel; raises ``UsageError`` only for bad input found before any work (wheel, ABI, target).

    Every later problem (unfit interpreter, failed install, unsafe code) ends up in the returned record.
    """
    clock = time.monotonic()
    info = read_wheel(options.wheel)
    abi = check_wheel(info, python=ctx.python, expected_abi=options.expect_abi)
    inherited = os.environ if ctx.env is None else ctx.env
    check_scenario_paths(ctx.python, options.scenario_paths, options.targets, inherited)
    # With --with, targets may be registered by what is installed beside the wheel: resolved in the venv.
    targets = [] if options.requirements else _targets(ctx, options, info.distribution, {})
    ctx.progress(f"wheel: {info.path.name} (ABI {abi}, tags {info.tag_text})")
    if "PYTHONPATH" in inherited:
        ctx.progress("PYTHONPATH is not passed on: the gate judges only what the wheel installs")
    ctx = ctx.replace(env=without_pythonpath(inherited))
    names = [t.name for t in targets]
    record = RunRecord.start("gate", _judged_by(names, options), slug=info.distribution)
    record.targets, record.settings, record.require_stress = names, ctx.settings, options.require_stress
    record.wheel = wheel = WheelSection(info, abi, audit_only=not targets and options.suite is None,
                                        ignored_pythonpath=inherited.get("PYTHONPATH") or None)
    fit = check_fitness(ctx, record)
    if fit and record.interpreter is not None and record.interpreter.thread_sanitizer:
        fit = _tsan_can_run(record, options)
    if fit:
        try:
            _judge_installed(ctx, record, wheel, options, targets)
        except HarnessError as exc:
            record.fail(exc.exit_code, str(exc))
        except (Interrupted, KeyboardInterrupt) as exc:
            if record.interrupted is None:
                suite_left = options.suite is not None and record.tests is None
                interrupted(record, exc, targets, later=[SUITE_STEP] if suite_left else [])
    decide(record)
    if record.verdict == "imports-only":
        wheel.audit_only = True
        record.note(f"nothing was stressed: no target judges {info.distribution} and no test ran multi-threaded "
                    "(bring scenarios with --target/--scenario-path or tests with --tests)"
                    + ("; --require-stress: exit 4" if options.require_stress else ""))
    _record_release_evidence(ctx, record, wheel)
    record.duration_s = round(time.monotonic() - clock, 3)
    return record


def check_scenario_paths(
    python: str, scenario_paths: Sequence[Path], targets: Sequence[str], env: Mapping[str, str]
) -> None:
    """Before any work (a build, the venv): each ``--scenario-path`` is a folder, and each ``module:attribute``
    target found in one names an attribute its source binds (``UsageError``, exit 2)."""
    for folder in scenario_paths:
        if not folder.is_dir():
            raise UsageError(f"--scenario-path {folder}: not a folder")
    if scenario_paths:
        folders = os.pathsep.join(str(folder.resolve()) for folder in scenario_paths)
        check_refs(targets, python=python, env={**without_pythonpath(env), "PYTHONPATH": folders},
                   within=scenario_paths)


def _record_release_evidence(ctx: RunContext, record: RunRecord, wheel: WheelSection) -> None:
    """What ``release`` matches this report by and checks, read after the verdict (which it never changes).
    A failure here keeps the verdict and says so in a note; release will then not match the report."""
    measured = Measured(
        verdict=record.verdict,
        gil_enabled_modules=tuple(r.module for r in record.imports if r.status == "gil-enabled"),
        interpreter_version=record.interpreter.version if record.interpreter else "",
    )
    info = wheel.info
    try:
        platform = ask_interpreter(ctx.python, info.tags).platform
        artifact = ArtifactIdentity.of(info, wheel.expected_abi, platform, measured.interpreter_version)
        findings = check_metadata(read_metadata(info), measured)
        hints = hints_for_wheel(info.path, measured.gil_enabled_modules)
    except (HarnessError, OSError) as exc:
        record.note(f"no release evidence recorded: {exc}")
        return
    wheel.artifact, wheel.metadata_findings, wheel.fix_hints = artifact, findings, hints


def _tsan_can_run(record: RunRecord, options: GateOptions) -> bool:
    """A TSan interpreter judges only binaries compiled against it: a prebuilt wheel with extension modules is
    bad input there (exit 2)."""
    info = record.wheel.info if record.wheel else None
    if options.built_from is not None or info is None or not info.extension_modules:
        return True
    record.fail(EXIT_USAGE, f"a ThreadSanitizer interpreter cannot judge the prebuilt binaries of {info.path.name} "
                            f"({', '.join(info.extension_modules)}: not built with -fsanitize=thread); "
                            "pass the sdist (--sdist FILE) or the project (--project DIR) to build it for TSan")
    return False


def _targets(
    ctx: RunContext, options: GateOptions, distribution: str, installed: Mapping[str, Target]
) -> list[Target]:
    found = targets_for(options.targets, distribution, ctx.progress, installed)
    return only_scenarios(found, options.scenarios)


def without_pythonpath(env: Mapping[str, str]) -> dict[str, str]:
    """The environment without PYTHONPATH: the gate's children import only what the venv has."""
    return {name: value for name, value in env.items() if name != "PYTHONPATH"}


def _judge_installed(
    ctx: RunContext, record: RunRecord, wheel: WheelSection, options: GateOptions, targets: list[Target]
) -> None:
    info = wheel.info
    venv_root = Path(tempfile.mkdtemp(prefix=f"ft-harness-gate-{info.distribution}-"))
    try:
        venv_python = create_venv(ctx.python, venv_root / "venv")
        wheel.venv_python, wheel.venv_kept = venv_python, options.keep_venv
        ctx.progress(f"venv: {venv_python}")
        # Only what changes what was installed: uv warns of other things too (a cache it cannot hardlink from).
        for warning in (w for w in install(venv_python, info.path, options.requirements) if "extra" in w):
            ctx.progress(f"uv {warning}")
            record.note(f"uv {warning}")
        installed = wheel.installed = installed_distribution(venv_python, info.distribution)
        ctx.progress(f"installed: extension modules {', '.join(installed.extension_modules) or 'none'}; "
                     f"top level {', '.join(installed.top_level) or 'none'}")
        if options.scenario_paths:
            pth = add_import_paths(venv_python, options.scenario_paths)
            ctx.progress(f"scenario paths importable in the venv only: {pth}")
        check_refs(options.targets, python=venv_python, env=ctx.env)  # before the audit of every module
        if options.requirements:
            targets = _targets(ctx, options, info.distribution, registered_targets(venv_python, ctx.progress))
            record.targets = [t.name for t in targets]
            record.target = _judged_by(record.targets, options)
            wheel.audit_only = not targets and options.suite is None
        ctx.progress("targets: " + (", ".join(t.name for t in targets) or f"none judges {info.distribution}"))
        venv_ctx = ctx.replace(python=venv_python)
        wheel_modules = split_modules([*installed.extension_modules, *installed.top_level],
                                      exclude=options.exclude_modules, include_tests=options.include_tests)
        wheel.excluded_modules = wheel_modules.excluded
        suite = [SUITE_STEP] if options.suite is not None else []
        judge(venv_ctx, record, targets, extra_modules=wheel_modules.judged, later=suite)
        if record.interrupted is not None:
            return
        _audit_test_only(venv_ctx, record, wheel, wheel_modules.test_only)
        if options.suite is not None and record.verdict != "error":
            record.tests = run_suite(venv_ctx, options.suite)
            decide(record)
        if record.tsan is not None:
            record.note("TSan mode: no throughput chart (ThreadSanitizer slows every call many times over)")
        elif record.verdict == "safe" and targets and options.throughput_threads:
            _measure_throughput(venv_ctx, record, targets, options.throughput_threads)
    finally:
        if not options.keep_venv:
            shutil.rmtree(venv_root, ignore_errors=True)


def _audit_test_only(ctx: RunContext, record: RunRecord, wheel: WheelSection, modules: Sequence[str]) -> None:
    """Audit the wheel's test-only modules apart: what they do on import is a finding, not the verdict."""
    wheel.test_imports = audit(modules, python=ctx.python, env=ctx.env) if modules else []
    for result in wheel.test_imports:
        ctx.progress(import_line(result, "test-only import"))
    findings = [f"{r.module} {r.status}" for r in wheel.test_imports if r.status != "gil-free"]
    if findings:
        record.note(f"test-only module findings (not the verdict; --include-tests judges them): {', '.join(findings)}")


def _measure_throughput(
    ctx: RunContext, record: RunRecord, targets: Sequence[Target], thread_counts: Sequence[int]
) -> None:
    """Each scenario again at each thread count (a few short rounds); a failure here is a failure too."""
    for target in targets:
        for spec in target.scenarios:
            for threads in thread_counts:
                short = dataclasses.replace(spec, threads=threads, rounds=THROUGHPUT_ROUNDS, isolate=True)
                result = run_scenario(short, target.name, ctx)
                ctx.progress(f"throughput {spec.name} @ {threads} threads: {result.status}, "
                             f"{result.ops_per_s or 0:.0f} ops/s")
                record.throughput.append(ThroughputPoint(
                    target.name, spec.name, threads, result.ops_per_s, result.status, result.rerun, result.on_failure
                ))
                if unsafe_status(result.status, result.on_failure):
                    record.note(f"throughput run of {spec.name} at {threads} threads {result.status}: {result.detail}")
                    # Its evidence (tracebacks, stacks of a hang, the rerun) is reported as a scenario's is.
                    record.scenarios.append(dataclasses.replace(result, name=f"{spec.name} @ {threads} threads"))
