"""``bench detection``: how reliably and how fast the harness catches each seeded bug of the corpus.

Runs every bug of ``tests/corpus`` K times and every correct twin N times at the default settings (or the
overrides given, to compare candidate defaults), each run with a fresh seed, and reports per case: the
detection rate, the median and worst time-to-detect, and the false-positive rate on the twin. Results go to
``<report-dir>/detection-<time>.json`` and ``.md``. Time-to-detect is wall-clock from the start of a run to
its result in hand, child-process start-up included. Exit 0 when every case meets the goal, else 1.

The corpus lives in the source tree, not in the installed package: the benchmark puts the repository root
(the folder holding ``harness/`` and ``tests/``) on ``sys.path``, and the engine passes ``sys.path`` on to
its child processes, so they can load ``tests.corpus.*`` scenarios.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

from harness import settings as settings_mod
from harness.bench import positive_count
from harness.errors import EXIT_SAFE, EXIT_UNSAFE, UsageError
from harness.interpreter import probe
from harness.report import render_json, write_atomic
from harness.settings import StressSettings

GOAL_RATE = 0.99
GOAL_MEDIAN_S = 1.0
GOAL_TWIN_RUNS = 50
DEFAULT_RUNS = 100
DEFAULT_TWIN_RUNS = 50
MISJUDGED_KEPT = 5
REPO_ROOT = Path(__file__).resolve().parents[2]
_TUNABLE = tuple(f.name for f in settings_mod.FIELDS if f.name != "seed")  # every run draws its own seed


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs", type=positive_count, default=DEFAULT_RUNS, metavar="K",
                        help=f"runs of each seeded bug (default {DEFAULT_RUNS})")
    parser.add_argument("--twin-runs", type=positive_count, default=DEFAULT_TWIN_RUNS, metavar="N",
                        help=f"runs of each correct twin (default {DEFAULT_TWIN_RUNS})")
    parser.add_argument("--case", action="append", metavar="NAME", help="only this corpus case (repeatable)")
    parser.add_argument("--jobs", type=positive_count, default=1, metavar="J",
                        help="runs at once (default 1; more only for cases that sit idle, like hangs: "
                             "parallel runs compete for cores and skew the figures)")
    for field in settings_mod.FIELDS:
        if field.name in _TUNABLE:
            parser.add_argument(field.flag, dest=field.name, metavar=field.toml_key.upper().replace("-", "_"),
                                help=f"override the default: {field.expected}")


def run(args: argparse.Namespace) -> int:
    cases = _select_cases(args.case)
    from tests.corpus.runner import prepare, run_case

    overrides = {name: getattr(args, name) for name in _TUNABLE}
    settings = settings_mod.resolve(overrides, env={})
    facts = probe(sys.executable)
    started = datetime.now(timezone.utc)
    clock = time.monotonic()
    loads = [os.getloadavg()]
    print(f"detection benchmark on {facts.label}; {facts.cpu_count} CPUs, load {_load(loads[0])}", flush=True)
    print(f"settings: threads {settings.threads}, rounds {settings.rounds}, iterations {settings.iterations}, "
          f"timeout {settings.timeout_s:g} s, switch interval {settings.switch_interval_s:g} s, "
          f"barrier {settings.barrier}", flush=True)
    results = []
    for case in cases:
        if case.ft_only and not facts.free_threaded:
            results.append({"case": case.name, "description": case.description, "skipped": case.ft_only})
            print(f"{case.name}: skipped ({case.ft_only})", flush=True)
            continue
        prepare(case)
        bug = _repeat(lambda s: run_case(case, "bug", s), settings, args.runs, args.jobs)
        twin = _repeat(lambda s: run_case(case, "twin", s), settings, args.twin_runs, args.jobs)
        results.append(_summarise(case, bug, twin))
        loads.append(os.getloadavg())
        print(_line(results[-1]), flush=True)
    record = {
        "kind": "detection-benchmark",
        "started": started.isoformat(timespec="seconds"),
        "duration_s": round(time.monotonic() - clock, 1),
        "command": _command(args),
        "interpreter": facts.to_json(),
        "machine": {"cpu_count": os.cpu_count(), "loadavg_1_5_15": [[round(x, 2) for x in la] for la in loads]},
        "settings": {**settings.__dict__, "report_dir": str(settings.report_dir)},
        "goal": {"detection_rate": GOAL_RATE, "median_time_to_detect_s": GOAL_MEDIAN_S,
                 "twin_runs": GOAL_TWIN_RUNS, "twin_false_positive_rate": 0.0},
        "runs_per_bug": args.runs,
        "runs_per_twin": args.twin_runs,
        "cases": results,
    }
    record["all_goals_met"] = all(r.get("goal_met", True) for r in results)
    stem = f"detection-{started.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(3)}"
    folder = Path(settings.report_dir)
    try:
        paths = [write_atomic(folder / f"{stem}.json", render_json(record)),
                 write_atomic(folder / f"{stem}.md", render_markdown(record))]
    except OSError as exc:
        raise UsageError(f"cannot write report to {folder}: {exc.strerror or exc}") from None
    print(f"all goals met: {record['all_goals_met']}; report: {paths[0]} and {paths[1].name}")
    return EXIT_SAFE if record["all_goals_met"] else EXIT_UNSAFE


def _command(args: argparse.Namespace) -> str:
    """The command line that reproduces this benchmark (same interpreter, same counts and overrides)."""
    words = [sys.executable, "-m", "harness", "bench", "detection", "--runs", str(args.runs),
             "--twin-runs", str(args.twin_runs)]
    words += [w for name in args.case or () for w in ("--case", name)]
    if args.jobs != 1:
        words += ["--jobs", str(args.jobs)]
    flags = {f.name: f.flag for f in settings_mod.FIELDS}
    words += [w for name in _TUNABLE if getattr(args, name) is not None for w in (flags[name], str(getattr(args, name)))]
    return " ".join(words)


def _select_cases(names: Sequence[str] | None) -> list[Any]:
    """The corpus cases to run, after making the source tree's ``tests.corpus`` importable."""
    if not (REPO_ROOT / "tests" / "corpus" / "__init__.py").is_file():
        raise UsageError(f"the detection corpus is not at {REPO_ROOT / 'tests' / 'corpus'}: "
                         "run the benchmark from a source checkout (editable install)")
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    from tests.corpus import CASES

    known = {case.name: case for case in CASES}
    for name in names or ():
        if name not in known:
            raise UsageError(f"unknown corpus case {name!r}: expected one of {', '.join(known)}")
    return [known[n] for n in dict.fromkeys(names)] if names else list(CASES)


def _repeat(once: Callable[[StressSettings], Any], settings: StressSettings, runs: int, jobs: int) -> list[Any]:
    """``runs`` outcomes of ``once``, each with a fresh seed, ``jobs`` at a time."""
    seeds = [secrets.randbelow(settings_mod.SEED_BOUND) for _ in range(runs)]
    if jobs == 1:
        return [once(settings.replace(seed=seed)) for seed in seeds]
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(lambda seed: once(settings.replace(seed=seed)), seeds))


def _summarise(case: Any, bug: list[Any], twin: list[Any]) -> dict[str, Any]:
    caught = [o for o in bug if o.correct]
    ttd = [o.wall_s for o in caught]
    first = [o.first_failure_s for o in caught if o.first_failure_s is not None]
    rate = len(caught) / len(bug)
    median = statistics.median(ttd) if ttd else None
    false_positives = [o for o in twin if not o.correct]
    fp_rate = len(false_positives) / len(twin)
    return {
        "case": case.name,
        "description": case.description,
        "expect": case.expect,
        "bug": {
            "ref": case.bug,
            "runs": len(bug),
            "caught": len(caught),
            "detection_rate": round(rate, 4),
            "median_time_to_detect_s": _round3(median),
            "worst_time_to_detect_s": _round3(max(ttd, default=None)),
            "median_engine_first_failure_s": _round3(statistics.median(first) if first else None),
            "statuses": dict(Counter(o.status for o in bug)),
            "missed": [o.to_json() for o in bug if not o.correct][:MISJUDGED_KEPT],
        },
        "twin": {
            "ref": case.twin,
            "runs": len(twin),
            "passed": len(twin) - len(false_positives),
            "false_positive_rate": round(fp_rate, 4),
            "median_duration_s": _round3(statistics.median(o.wall_s for o in twin)),
            "statuses": dict(Counter(o.status for o in twin)),
            "false_positives": [o.to_json() for o in false_positives][:MISJUDGED_KEPT],
        },
        "goal_met": rate >= GOAL_RATE and median is not None and median <= GOAL_MEDIAN_S
        and not false_positives and len(twin) >= GOAL_TWIN_RUNS,
    }


def _line(result: dict[str, Any]) -> str:
    bug, twin = result["bug"], result["twin"]
    return (f"{result['case']}: caught {bug['caught']}/{bug['runs']} ({bug['detection_rate']:.0%}), "
            f"time-to-detect median {_seconds(bug['median_time_to_detect_s'])} worst "
            f"{_seconds(bug['worst_time_to_detect_s'])}; twin passed {twin['passed']}/{twin['runs']}"
            f"{'' if result['goal_met'] else '  [goal missed]'}")


def render_markdown(record: dict[str, Any]) -> str:
    """The benchmark as a table per case, with the run conditions and any misjudged runs' rerun commands."""
    interp, machine, s = record["interpreter"], record["machine"], record["settings"]
    loads = machine["loadavg_1_5_15"]
    lines = [
        "# ft-harness detection benchmark", "",
        f"- command: `{record['command']}`",
        f"- interpreter: {interp['version']} at `{interp['executable']}`; free-threaded: {interp['free_threaded']}; "
        f"GIL enabled: {interp['gil_enabled']}",
        f"- machine: {machine['cpu_count']} CPUs; 1-min load average {min(la[0] for la in loads)}"
        f"-{max(la[0] for la in loads)} during the run",
        f"- settings: threads {s['threads']}, rounds {s['rounds']}, iterations {s['iterations']}, "
        f"timeout {s['timeout_s']} s, switch interval {s['switch_interval_s']} s, barrier {s.get('barrier')}",
        f"- started {record['started']}, took {record['duration_s']} s; {record['runs_per_bug']} runs per bug, "
        f"{record['runs_per_twin']} per twin; goal: >= {GOAL_RATE:.0%} caught, median <= {GOAL_MEDIAN_S:g} s, "
        f"twins 100% passed over >= {GOAL_TWIN_RUNS} runs",
        f"- all goals met: **{record['all_goals_met']}**", "",
        "Time-to-detect is wall-clock from the start of a run to its result (child start-up included); "
        "'engine' is the engine's own time to the first failure inside the run.", "",
        "| case | expect | caught | rate | median ttd (s) | worst ttd (s) | engine median (s) | twin passed "
        "| FP rate | goal |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in record["cases"]:
        if "skipped" in r:
            lines.append(f"| {r['case']} | skipped: {r['skipped']} | | | | | | | | |")
            continue
        bug, twin = r["bug"], r["twin"]
        lines.append(
            f"| {r['case']} | {r['expect']} | {bug['caught']}/{bug['runs']} | {bug['detection_rate']:.1%} "
            f"| {_seconds(bug['median_time_to_detect_s'])} | {_seconds(bug['worst_time_to_detect_s'])} "
            f"| {_seconds(bug['median_engine_first_failure_s'])} | {twin['passed']}/{twin['runs']} "
            f"| {twin['false_positive_rate']:.1%} | {'met' if r['goal_met'] else 'MISSED'} |"
        )
    for r in record["cases"]:
        for label, runs in (("missed bug run", r.get("bug", {}).get("missed", [])),
                            ("false positive", r.get("twin", {}).get("false_positives", []))):
            for o in runs:
                lines += ["", f"- {r['case']} {label}: status {o['status']} ({o['detail']}); rerun: `{o['rerun']}`"]
    return "\n".join(lines) + "\n"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _round3(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _load(load: tuple[float, float, float]) -> str:
    return "/".join(f"{x:.2f}" for x in load)
