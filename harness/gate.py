"""The release gate: a wheel in, a verdict record out.

Pipeline: read and cross-check the wheel's tags (bad input: exit 2) -> interpreter fitness (exit 3) -> a
fresh venv with the wheel and its dependencies installed (uv) -> import audit of every extension module and
top-level module it installed -> the stress scenarios of the matching target(s) run against the installed
code -> throughput at a few thread counts -> one record, worst outcome wins. The venv lives in a temporary
directory that is removed afterwards unless the caller keeps it. The caller's PYTHONPATH is not passed on to
any of the gate's child processes: it could put a source tree in front of the installed wheel, and the gate
would then judge that tree instead.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import re
import secrets
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any, Callable, Mapping, Sequence

from packaging.utils import canonicalize_name

from harness.engine import run_scenario
from harness.extensions import file_is_extension
from harness.errors import EXIT_UNFIT, EXIT_UNSAFE, HarnessError, UnfitError, UsageError
from harness.import_audit import audit
from harness.interpreter import probe
from harness.module_filter import split_modules
from harness.settings import StressSettings
from harness.stress_run import import_line, join_notes, resolve_target, run_stress
from harness.targets import Target, available_targets, load_target
from harness.uv_tool import run_uv
from harness.verdict import unsafe_scenario
from harness.wheel_tags import WheelInfo, check_wheel, is_extension_module, read_wheel

Progress = Callable[[str], None]

VENV_TIMEOUT_S = 300.0
INSTALL_TIMEOUT_S = 900.0
THROUGHPUT_ROUNDS = 3
DEFAULT_THROUGHPUT_THREADS = (1, 2, 4)
_SITE_PATHS_CODE = (
    "import json, sysconfig; print(json.dumps([sysconfig.get_path('purelib'), sysconfig.get_path('platlib')]))"
)
_VERDICT_RANK = {"safe": 0, "unsafe": 1, "error": 2}


@dataclass(frozen=True)
class GateOptions:
    """Everything one gate run needs; ``python`` is already resolved to an executable."""

    wheel: Path
    python: str
    settings: StressSettings
    expect_abi: str | None = None
    targets: tuple[str, ...] = ()
    scenarios: tuple[str, ...] = ()
    throughput_threads: tuple[int, ...] = DEFAULT_THROUGHPUT_THREADS
    allow_gil_build: bool = False
    keep_venv: bool = False
    exclude_modules: tuple[str, ...] = ()
    include_tests: bool = False


@dataclass(frozen=True)
class InstalledDistribution:
    """What the wheel put into the venv, from its RECORD: extension modules and top-level import names."""

    site_packages: Path
    extension_modules: tuple[str, ...]
    top_level: tuple[str, ...]
    modules: tuple[str, ...] = ()  # every importable module, packages included (the audit benchmark's list)


def run_gate(options: GateOptions, *, progress: Progress | None = None) -> dict[str, Any]:
    """Judge a wheel; raises ``UsageError`` only for bad input found before any work (wheel, ABI, target).

    Every later problem (unfit interpreter, failed install, unsafe code) ends up in the returned record.
    """
    say = progress or (lambda line: None)
    started = datetime.now(timezone.utc)
    clock = time.monotonic()
    info = read_wheel(options.wheel)
    abi = check_wheel(info, python=options.python, expected_abi=options.expect_abi)
    say(f"wheel: {info.path.name} (ABI {abi}, tags {info.tag_text})")
    targets = _only_scenarios(_targets_for(options.targets, info.distribution, say), options.scenarios)
    env = child_environment()
    if "PYTHONPATH" in os.environ:
        say("PYTHONPATH is not passed on: the gate judges only what the wheel installs")
    facts = probe(options.python, env=env)
    fitness = facts.fitness(allow_gil_build=options.allow_gil_build)
    say("targets: " + (", ".join(t.name for t in targets) or f"none judges {info.distribution}: import audit only"))
    record: dict[str, Any] = {
        "run_id": _run_id(info.distribution, started),
        "kind": "gate",
        "target": ", ".join(t.name for t in targets) or "(import audit only)",
        "targets": [t.name for t in targets],
        "audit_only": not targets,
        "verdict": "error",
        "exit_code": EXIT_UNFIT,
        "free_threading_verdict": fitness.fit and fitness.free_threading_verdict,
        "note": "" if fitness.fit else fitness.note,  # a fit GIL-build run: the stress run's note says so
        "ignored_pythonpath": os.environ.get("PYTHONPATH") or None,
        "wheel": {**info.to_json(), "expected_abi": abi},
        "interpreter": facts.to_json(),
        "venv": None,
        "settings": {**options.settings.__dict__, "report_dir": str(options.settings.report_dir)},
        "imports": [],
        "scenarios": [],
        "throughput": [],
        "started": started.isoformat(timespec="seconds"),
        "duration_s": 0.0,
    }
    if fitness.fit:
        try:
            _judge_installed(record, options, info, targets, say, env)
        except HarnessError as exc:
            record["verdict"], record["exit_code"], record["note"] = "error", exc.exit_code, str(exc)
    if not targets and record["verdict"] != "error":
        record["note"] = join_notes(record["note"],
                                    f"no target judges {info.distribution}: import audit only, no stress")
    record["duration_s"] = round(time.monotonic() - clock, 3)
    return record


def child_environment() -> dict[str, str]:
    """This process's environment without PYTHONPATH: the gate's children import only what the venv has."""
    return {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}


def _judge_installed(
    record: dict[str, Any],
    options: GateOptions,
    info: WheelInfo,
    targets: list[Target],
    say: Progress,
    env: Mapping[str, str],
) -> None:
    venv_root = Path(tempfile.mkdtemp(prefix=f"ft-harness-gate-{info.distribution}-"))
    try:
        venv_python = create_venv(options.python, venv_root / "venv")
        record["venv"] = {"python": venv_python, "kept": options.keep_venv}
        say(f"venv: {venv_python}")
        install(venv_python, info.path)
        installed = installed_distribution(venv_python, info.distribution)
        record["installed"] = {
            "site_packages": str(installed.site_packages),
            "extension_modules": list(installed.extension_modules),
            "top_level": list(installed.top_level),
        }
        say(f"installed: extension modules {', '.join(installed.extension_modules) or 'none'}; "
            f"top level {', '.join(installed.top_level) or 'none'}")
        wheel_modules = split_modules([*installed.extension_modules, *installed.top_level],
                                      exclude=options.exclude_modules, include_tests=options.include_tests)
        record["excluded_modules"] = list(wheel_modules.excluded)
        _audit_and_stress(record, options, info, wheel_modules.judged, targets, venv_python, say, env)
        _audit_test_only(record, wheel_modules.test_only, venv_python, say, env)
        if record["verdict"] == "safe" and targets and options.throughput_threads:
            _measure_throughput(record, options, targets, venv_python, say, env)
    finally:
        if not options.keep_venv:
            shutil.rmtree(venv_root, ignore_errors=True)


def _audit_and_stress(
    record: dict[str, Any],
    options: GateOptions,
    info: WheelInfo,
    wheel_modules: Sequence[str],
    targets: list[Target],
    venv_python: str,
    say: Progress,
    env: Mapping[str, str],
) -> None:
    """One ``run_stress`` per target; the first also audits the wheel's judged modules."""
    audit_only = Target(name=f"{info.distribution} (import audit only)", description="", modules=(), scenarios=())
    runs = targets or [audit_only]
    audited: list[str] = []
    subs = []
    for index, target in enumerate(runs):
        first = list(wheel_modules) if index == 0 else []
        modules = [m for m in dict.fromkeys([*first, *target.modules]) if m not in audited]
        audited += modules
        sub = run_stress(
            dataclasses.replace(target, modules=tuple(modules)),
            options.settings,
            python=venv_python,
            allow_gil_build=options.allow_gil_build,
            rerun_prefix=_rerun_prefix(options),
            progress=say,
            env=env,
        )
        subs.append(sub)
        record["imports"] += sub["imports"]
        record["scenarios"] += sub["scenarios"]
    worst = max(subs, key=lambda sub: _VERDICT_RANK[sub["verdict"]])
    record["verdict"], record["exit_code"] = worst["verdict"], worst["exit_code"]
    record["note"] = "; ".join(dict.fromkeys(n for n in (record["note"], *(sub["note"] for sub in subs)) if n))


def _audit_test_only(
    record: dict[str, Any], modules: Sequence[str], venv_python: str, say: Progress, env: Mapping[str, str]
) -> None:
    """Audit the wheel's test-only modules apart: what they do on import is a finding, not the verdict."""
    results = audit(modules, python=venv_python, env=env) if modules else []
    record["test_imports"] = [r.to_json() for r in results]
    for result in results:
        say(import_line(result, "test-only import"))
    findings = [f"{r.module} {r.status}" for r in results if r.status != "gil-free"]
    if findings:
        record["note"] = join_notes(record["note"], f"test-only module findings (not the verdict; "
                                                    f"--include-tests judges them): {', '.join(findings)}")


def _measure_throughput(
    record: dict[str, Any],
    options: GateOptions,
    targets: list[Target],
    venv_python: str,
    say: Progress,
    env: Mapping[str, str],
) -> None:
    """Each scenario again at each thread count (a few short rounds); a failure here is a failure too."""
    settings = options.settings
    for target in targets:
        for spec in target.scenarios:
            for threads in options.throughput_threads:
                short = dataclasses.replace(spec, threads=threads, rounds=THROUGHPUT_ROUNDS, isolate=True)
                result = run_scenario(
                    short, target.name, settings, python=venv_python, rerun_prefix=_rerun_prefix(options), env=env
                )
                say(f"throughput {spec.name} @ {threads} threads: {result.status}, {result.ops_per_s or 0:.0f} ops/s")
                record["throughput"].append(
                    {
                        "target": target.name,
                        "scenario": spec.name,
                        "threads": threads,
                        "ops_per_s": result.ops_per_s,
                        "status": result.status,
                        "rerun": result.rerun,
                    }
                )
                if unsafe_scenario(result):
                    record["verdict"], record["exit_code"] = "unsafe", EXIT_UNSAFE
                    finding = f"throughput run of {spec.name} at {threads} threads {result.status}: {result.detail}"
                    record["note"] = join_notes(record["note"], finding)


def create_venv(python: str, directory: Path) -> str:
    """A fresh venv of ``python`` at ``directory`` (which must not exist); returns its python."""
    _uv(["venv", "--no-project", "--python", python, str(directory)], VENV_TIMEOUT_S, "create a venv")
    for candidate in (directory / "bin" / "python", directory / "Scripts" / "python.exe"):
        if candidate.is_file():
            return str(candidate)
    raise UnfitError(f"uv created {directory} but it holds no python executable")


def install(venv_python: str, wheel: Path) -> None:
    """Install the wheel and its dependencies (from the configured index) into the venv."""
    _uv(["pip", "install", "--python", venv_python, str(wheel)], INSTALL_TIMEOUT_S, f"install {wheel.name}")


def installed_distribution(venv_python: str, distribution: str) -> InstalledDistribution:
    """Find the distribution's RECORD in the venv and list its extension modules and top-level modules."""
    try:
        proc = subprocess.run(
            [venv_python, "-I", "-c", _SITE_PATHS_CODE],
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UnfitError(f"cannot ask {venv_python} for its site-packages: {exc}") from None
    if proc.returncode != 0:
        raise UnfitError(f"cannot ask {venv_python} for its site-packages: exit status {proc.returncode}")
    for site in dict.fromkeys(Path(p) for p in json.loads(proc.stdout)):
        for dist_info in sorted(site.glob("*.dist-info")):
            if canonicalize_name(dist_info.name[: -len(".dist-info")].rsplit("-", 1)[0]) == distribution:
                return modules_from_record(site, (dist_info / "RECORD").read_text(encoding="utf-8"))
    raise UsageError(f"after installing, {venv_python} has no .dist-info for {distribution}")


def modules_from_record(site_packages: Path, record_text: str) -> InstalledDistribution:
    """Extension modules (dotted names) and top-level import names from a RECORD file's paths; a shared object
    without an init symbol (a ctypes library) is neither."""
    extensions: list[str] = []
    top_level: list[str] = []
    modules: list[str] = []
    for row in csv.reader(io.StringIO(record_text)):
        if not row:
            continue
        parts = PurePosixPath(row[0]).parts
        if not parts or parts[0] == ".." or "__pycache__" in parts or parts[0].endswith((".dist-info", ".data")):
            continue
        is_extension = is_extension_module(row[0]) and file_is_extension(site_packages / row[0])
        if not (is_extension or parts[-1].endswith(".py")):
            continue
        dotted = [*parts[:-1], parts[-1].split(".", 1)[0]]
        if not all(name.isidentifier() for name in dotted):
            continue
        if is_extension:
            extensions.append(".".join(dotted))
        top_level.append(dotted[0])
        modules.append(".".join(dotted[:-1] if dotted[-1] == "__init__" and len(dotted) > 1 else dotted))
    return InstalledDistribution(site_packages, tuple(sorted(set(extensions))), tuple(sorted(set(top_level))),
                                 tuple(sorted(set(modules))))


def _targets_for(names: Sequence[str], distribution: str, say: Progress) -> list[Target]:
    """The named targets, or every registered target whose ``distributions`` include the wheel's."""
    if names:
        return [resolve_target(name) for name in dict.fromkeys(names)]
    matches = []
    for name in sorted(available_targets()):
        try:
            target = load_target(name)
        except Exception as exc:  # a broken third-party target must not stop the gate for other packages
            say(f"skipping target {name}: cannot load it ({type(exc).__name__}: {exc})")
            continue
        if distribution in {canonicalize_name(d) for d in target.distributions}:
            matches.append(target)
    return matches


def _only_scenarios(targets: list[Target], names: Sequence[str]) -> list[Target]:
    """The targets cut down to the ``--scenario`` names (each must name a scenario of one of them)."""
    if not names:
        return targets
    known = {spec.name for target in targets for spec in target.scenarios}
    for name in names:
        if name not in known:
            expected = ", ".join(sorted(known)) or "none (no target)"
            raise UsageError(f"unknown scenario {name!r}: expected one of {expected}")
    return [dataclasses.replace(t, scenarios=tuple(s for s in t.scenarios if s.name in names)) for t in targets]


def _rerun_prefix(options: GateOptions) -> str:
    prefix = f"{shlex.quote(sys.executable)} -m harness gate --wheel {shlex.quote(str(options.wheel))}"
    prefix += f" --python {shlex.quote(options.python)}"
    prefix += "".join(f" --exclude-module {shlex.quote(pattern)}" for pattern in options.exclude_modules)
    prefix += " --include-tests" if options.include_tests else ""
    return prefix + (f" --expect-abi {options.expect_abi}" if options.expect_abi else "")


def _uv(args: list[str], timeout_s: float, what: str) -> None:
    try:
        done = run_uv(args, timeout_s=timeout_s)
    except subprocess.TimeoutExpired:
        raise UnfitError(f"uv could not {what} within {timeout_s:g} s") from None
    if done.returncode != 0:
        lines = [line.strip() for line in (done.stderr or done.stdout).splitlines() if line.strip()]
        detail = " ".join(lines[-3:]) or f"exit status {done.returncode}"
        raise UnfitError(f"uv could not {what}: {detail}")


def _run_id(distribution: str, started: datetime) -> str:
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", distribution)
    return f"gate-{slug}-{started.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(3)}"

