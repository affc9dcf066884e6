"""``bench audit``: modules per second of the import audit, forked from one zygote against one process per module.

For each module set (a target's modules, or every module a distribution installed, test-only ones left out)
three methods audit the same modules of the same interpreter in interleaved rounds: one spawned interpreter
per module, forks of one clean zygote, and forks with what modules import anyway preloaded. The benchmark
prints modules/s of each (best of the rounds), the ratio to spawning, and whether the verdicts (status, GIL
state, cause, first line of the error) are identical. On a shared machine the wall-clock rate depends on
how many processes each method runs at once against the neighbours' load; the CPU seconds per module
(children's rusage) are the steadier comparison, and both are printed. Exit 0 when every set gives identical
verdicts, else 1. The interpreter is typically a scratch venv: ``uv venv --python 3.14t /tmp/v && uv pip
install --python /tmp/v/bin/python autobahn numpy``, then ``bench audit --python /tmp/v/bin/python --target
autobahn --distribution numpy``.
"""

from __future__ import annotations

import argparse
import os
import resource
from collections.abc import Callable, Sequence

from harness import EXIT_SAFE, EXIT_UNSAFE, UsageError
from harness.audit import AuditMethod, ImportResult, audit, zygote
from harness.audit.module_filter import split_modules
from harness.interpreter.facts import probe
from harness.interpreter.find import resolve
from harness.pipeline.gate import without_pythonpath
from harness.settings import positive_count
from harness.targets import load_target
from harness.targets.nvx.bench._timing import interleaved
from harness.wheel.venv import installed_distribution

DEFAULT_ROUNDS = 2
# name -> (audit method, preload)
METHODS: dict[str, tuple[AuditMethod, bool]] = {
    "spawn": ("spawn", False), "fork": ("fork", False), "fork+preload": ("fork", True),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--python", metavar="SPEC", help="interpreter whose imports are audited (default: this one)")
    parser.add_argument("--target", action="append", default=[], metavar="NAME", help="audit a target's modules")
    parser.add_argument("--distribution", action="append", default=[], metavar="NAME",
                        help="audit every module this installed distribution holds (test-only ones left out)")
    parser.add_argument("--rounds", type=positive_count, default=DEFAULT_ROUNDS, metavar="K",
                        help=f"interleaved rounds per method; the best counts (default {DEFAULT_ROUNDS})")
    parser.add_argument("--jobs", type=positive_count, metavar="J", help="imports at once (default: the audit's)")


def run(args: argparse.Namespace) -> int:
    if not zygote.available():
        raise UsageError("bench audit compares the Linux zygote with spawning: this platform has no zygote")
    if not args.target and not args.distribution:
        raise UsageError("bench audit needs at least one --target or --distribution to audit")
    python = resolve(args.python)
    env = without_pythonpath(os.environ)
    probe(python, env=env).fitness().require()
    sets = [(f"target {name}", list(load_target(name).modules)) for name in args.target]
    for name in args.distribution:
        modules = installed_distribution(python, name).modules
        sets.append((f"distribution {name}", list(split_modules(modules).judged)))
    print(f"interpreter: {python}; {args.rounds} interleaved rounds per method; measured while other work ran")
    identical = all(_compare(label, modules, python, env, args) for label, modules in sets)
    return EXIT_SAFE if identical else EXIT_UNSAFE


def _compare(label: str, modules: Sequence[str], python: str, env: dict[str, str], args: argparse.Namespace) -> bool:
    results: dict[str, list[ImportResult]] = {}
    cpu: dict[str, list[float]] = {name: [] for name in METHODS}

    def by(name: str) -> Callable[[], None]:
        method, preload = METHODS[name]

        def work() -> None:
            before = _children_cpu_s()
            results[name] = audit(modules, python=python, env=env, jobs=args.jobs, method=method, preload=preload)
            cpu[name].append((_children_cpu_s() - before) / len(modules))

        return work

    timings = interleaved({method: by(method) for method in METHODS}, rounds=args.rounds, units=len(modules))
    rate = {method: 1.0 / timings[method].best_s for method in METHODS}
    differences = [(name, s.module, s.status, other.status) for name in METHODS
                   for s, other in zip(results["spawn"], results[name]) if _verdict(s) != _verdict(other)]
    statuses = ", ".join(f"{status} {sum(r.status == status for r in results['spawn'])}"
                         for status in ("gil-free", "gil-enabled", "error", "not-found"))
    print(f"{label}: {len(modules)} modules ({statuses})")
    cpu_per_module = {name: min(samples) for name, samples in cpu.items()}
    for name in METHODS:
        print(f"  {name:12}: {rate[name]:6.2f} modules/s, {rate[name] / rate['spawn']:.2f}x spawn "
              f"(best of {timings[name].rounds}, median +{timings[name].spread_pct:.0f}%); "
              f"CPU {cpu_per_module[name] * 1000:.0f} ms/module, "
              f"{cpu_per_module['spawn'] / cpu_per_module[name]:.2f}x less than spawn")
    print("  verdicts " + ("identical" if not differences else f"DIFFER: {differences}"))
    return not differences


def _children_cpu_s() -> float:
    """User + system CPU of every finished child process and its waited-for descendants (zygote grandchildren)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _verdict(result: ImportResult) -> tuple[object, ...]:
    first_line = (result.error or "").splitlines()[:1]
    return result.status, result.gil_enabled_after, result.caused_by, result.warning, first_line
