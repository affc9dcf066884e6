"""``bench detection``: how reliably and how fast the harness catches each seeded bug of the corpus.

Runs every bug of ``tests/corpus`` K times and every correct twin N times at the default settings (or the
overrides given, to compare candidate defaults), each run with a fresh seed, and reports per case: the
detection rate, the median and worst time-to-detect, and the false-positive rate on the twin. Results go to
``<report-dir>/detection-<time>.json`` and ``.md``. Time-to-detect is wall-clock from the start of a run to
its result in hand, child-process start-up included. Exit 0 when every case meets the goal, else 1.
``--quick`` is a seconds-long profile for CI (3 runs each, 5 s hang timeout); its figures are not meaningful.

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
from typing import TYPE_CHECKING, Any, Callable, Sequence

from harness import settings as settings_mod
from harness.bench import positive_count
from harness.errors import EXIT_SAFE, EXIT_UNSAFE, UsageError
from harness.interpreter import InterpreterFacts, probe
from harness.report import render_json, write_files
from harness.settings import StressSettings

if TYPE_CHECKING:  # the corpus is importable only once _select_cases has put the source tree on sys.path
    from tests.corpus import Case
    from tests.corpus.runner import Outcome

GOAL_RATE = 0.99
GOAL_MEDIAN_S = 1.0
GOAL_TWIN_RUNS = 50
FULL_RUNS, FULL_TWIN_RUNS = 100, 50
QUICK_RUNS, QUICK_TIMEOUT_S = 3, 5.0
DEFAULT_HANG_JOBS = 1
HANG_STAGGER_S = 1.0
MISJUDGED_KEPT = 5
REPO_ROOT = Path(__file__).resolve().parents[2]
_TUNABLE = tuple(f.name for f in settings_mod.FIELDS if f.name != "seed")  # every run draws its own seed


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs", type=positive_count, metavar="K",
                        help=f"runs of each seeded bug (default {FULL_RUNS}; {QUICK_RUNS} with --quick)")
    parser.add_argument("--twin-runs", type=positive_count, metavar="N",
                        help=f"runs of each correct twin (default {FULL_TWIN_RUNS}; {QUICK_RUNS} with --quick)")
    parser.add_argument("--case", action="append", metavar="NAME", help="only this corpus case (repeatable)")
    parser.add_argument("--hang-jobs", type=positive_count, default=DEFAULT_HANG_JOBS, metavar="J",
                        help=f"bug runs of a hang case at once (default {DEFAULT_HANG_JOBS}: the engine calls a "
                             "deadlock within about --stall seconds), started "
                             f"{HANG_STAGGER_S:g} s apart; more help only for hangs that last until the timeout")
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK_RUNS} runs each and a {QUICK_TIMEOUT_S:g} s timeout, for CI (figures not "
                             "meaningful)")
    for field in settings_mod.FIELDS:
        if field.name in _TUNABLE:
            parser.add_argument(field.flag, dest=field.name, metavar=field.metavar,
                                help=f"override the default: {field.expected}")


def profile(args: argparse.Namespace) -> tuple[int, int, StressSettings]:
    """Runs per bug, runs per twin and the stress settings the parsed flags ask for (full or quick profile)."""
    runs = args.runs or (QUICK_RUNS if args.quick else FULL_RUNS)
    twin_runs = args.twin_runs or (QUICK_RUNS if args.quick else FULL_TWIN_RUNS)
    overrides = {name: getattr(args, name) for name in _TUNABLE}
    if args.quick and overrides["timeout_s"] is None:
        overrides["timeout_s"] = QUICK_TIMEOUT_S
    return runs, twin_runs, settings_mod.resolve(overrides, env={})


def run(args: argparse.Namespace) -> int:
    cases = _select_cases(args.case)
    runs, twin_runs, settings = profile(args)
    facts = probe(sys.executable)
    started = datetime.now(timezone.utc)
    clock = time.monotonic()
    loads = [os.getloadavg()]
    print(f"detection benchmark on {facts.label}; {facts.cpu_count} CPUs, load {_load(loads[0])}", flush=True)
    print(f"settings: {_settings_line(settings.__dict__)}", flush=True)
    results = []
    for case in cases:
        results.append(_measure(case, settings, facts, runs, twin_runs, args.hang_jobs, quick=args.quick))
        loads.append(os.getloadavg())
        print(_line(results[-1]), flush=True)
    record = {
        "kind": "detection-benchmark",
        "profile": "quick" if args.quick else "full",
        "started": started.isoformat(timespec="seconds"),
        "duration_s": round(time.monotonic() - clock, 1),
        "command": _command(args),
        "interpreter": facts.to_json(),
        "machine": {"cpu_count": os.cpu_count(), "loadavg_1_5_15": [[round(x, 2) for x in la] for la in loads]},
        "settings": {**settings.__dict__, "report_dir": str(settings.report_dir)},
        "goal": {"detection_rate": GOAL_RATE, "median_time_to_detect_s": GOAL_MEDIAN_S,
                 "twin_runs": GOAL_TWIN_RUNS, "twin_false_positive_rate": 0.0},
        "runs_per_bug": runs,
        "runs_per_twin": twin_runs,
        "cases": results,
        "all_goals_met": all(r.get("goal_met", True) for r in results),
    }
    stem = f"detection-{started.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(3)}"
    paths = write_files(settings.report_dir,
                        {f"{stem}.json": render_json(record), f"{stem}.md": render_markdown(record)})
    print(f"all goals met: {record['all_goals_met']}; report: {paths[0]} and {paths[1].name}")
    return EXIT_SAFE if record["all_goals_met"] else EXIT_UNSAFE


def _select_cases(names: Sequence[str] | None) -> list[Case]:
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


def _measure(
    case: Case, settings: StressSettings, facts: InterpreterFacts, runs: int, twin_runs: int, hang_jobs: int,
    *, quick: bool,
) -> dict[str, Any]:
    """Run the case's bug and twin and summarise them (or say why the case was skipped)."""
    from tests.corpus.runner import prepare, run_case

    if case.ft_only and not facts.free_threaded:
        return {"case": case.name, "description": case.description, "skipped": case.ft_only}
    prepare(case)
    bug_jobs = hang_jobs if case.expect == "timeout" else 1
    bug = repeat(lambda s: run_case(case, "bug", s), settings, runs, bug_jobs)
    twin = repeat(lambda s: run_case(case, "twin", s), settings, twin_runs, 1)
    return summarise(case, bug, twin, quick=quick)


def repeat(
    once: Callable[[StressSettings], Outcome], settings: StressSettings, runs: int, jobs: int
) -> list[Outcome]:
    """``runs`` outcomes of ``once``, each with a fresh seed, ``jobs`` at a time.

    With several jobs the first wave starts :data:`HANG_STAGGER_S` apart, so no two runs start together
    (a run's busy start-up racing another's would disturb both); later runs inherit that spacing, since
    every run of a hang lasts about the timeout.
    """
    seeds = [secrets.randbelow(settings_mod.SEED_BOUND) for _ in range(runs)]
    if jobs == 1:
        return [once(settings.replace(seed=seed)) for seed in seeds]
    started = time.monotonic()

    def staggered(index: int, seed: int) -> Outcome:
        if index < jobs:
            time.sleep(max(0.0, started + index * HANG_STAGGER_S - time.monotonic()))
        return once(settings.replace(seed=seed))

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(staggered, range(runs), seeds))


def summarise(case: Case, bug: list[Outcome], twin: list[Outcome], *, quick: bool) -> dict[str, Any]:
    """Per-case figures; in the quick profile the goal is only 'every run judged right'."""
    caught = [o for o in bug if o.correct]
    ttd = [o.wall_s for o in caught]
    first = [o.first_failure_s for o in caught if o.first_failure_s is not None]
    rate = len(caught) / len(bug)
    median = statistics.median(ttd) if ttd else None
    false_positives = [o for o in twin if not o.correct]
    fast_enough = quick or (median is not None and median <= GOAL_MEDIAN_S)
    enough_twins = quick or len(twin) >= GOAL_TWIN_RUNS
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
            "false_positive_rate": round(len(false_positives) / len(twin), 4),
            "median_duration_s": _round3(statistics.median(o.wall_s for o in twin)),
            "statuses": dict(Counter(o.status for o in twin)),
            "false_positives": [o.to_json() for o in false_positives][:MISJUDGED_KEPT],
        },
        "goal_met": rate >= GOAL_RATE and fast_enough and not false_positives and enough_twins,
    }


def _command(args: argparse.Namespace) -> str:
    """The command line that reproduces this benchmark (same interpreter, same counts and overrides)."""
    words = [sys.executable, "-m", "harness", "bench", "detection"]
    words += ["--quick"] if args.quick else []
    words += [w for flag, value in (("--runs", args.runs), ("--twin-runs", args.twin_runs)) if value
              for w in (flag, str(value))]
    words += [w for name in args.case or () for w in ("--case", name)]
    words += ["--hang-jobs", str(args.hang_jobs)] if args.hang_jobs != DEFAULT_HANG_JOBS else []
    flags = {f.name: f.flag for f in settings_mod.FIELDS}
    words += [w for name in _TUNABLE if getattr(args, name) is not None for w in (flags[name], str(getattr(args, name)))]
    return " ".join(words)


def _line(result: dict[str, Any]) -> str:
    if "skipped" in result:
        return f"{result['case']}: skipped ({result['skipped']})"
    bug, twin = result["bug"], result["twin"]
    return (f"{result['case']}: caught {bug['caught']}/{bug['runs']} ({bug['detection_rate']:.0%}), "
            f"time-to-detect median {_seconds(bug['median_time_to_detect_s'])} worst "
            f"{_seconds(bug['worst_time_to_detect_s'])}; twin passed {twin['passed']}/{twin['runs']}"
            f"{'' if result['goal_met'] else '  [goal missed]'}")


def render_markdown(record: dict[str, Any]) -> str:
    """The benchmark as one table, with the run conditions and any misjudged runs' rerun commands."""
    interp, machine = record["interpreter"], record["machine"]
    loads = [la[0] for la in machine["loadavg_1_5_15"]]
    lines = [
        f"# ft-harness detection benchmark ({record['profile']})", "",
        f"- command: `{record['command']}`",
        f"- interpreter: {interp['version']} at `{interp['executable']}`; free-threaded: {interp['free_threaded']}; "
        f"GIL enabled: {interp['gil_enabled']}",
        f"- machine: {machine['cpu_count']} CPUs; 1-minute load average {min(loads)} to {max(loads)} during the run",
        f"- settings: {_settings_line(record['settings'])}",
        f"- started {record['started']}, took {record['duration_s']} s; {record['runs_per_bug']} runs per bug, "
        f"{record['runs_per_twin']} per twin; goal: >= {GOAL_RATE:.0%} caught, median <= {GOAL_MEDIAN_S:g} s, "
        f"twins 100% passed over >= {GOAL_TWIN_RUNS} runs",
        f"- all goals met: **{record['all_goals_met']}**", "",
        "Time-to-detect (ttd) is wall-clock from the start of a run to its result (child start-up included); "
        "'engine' is the engine's own time to the first failure inside the run; 'twin run' is the median "
        "duration of a correct twin's run, i.e. what a passing run at these settings costs.", "",
        "| case | expect | caught | rate | median ttd (s) | worst ttd (s) | engine median (s) | twin passed "
        "| FP rate | twin run (s) | goal |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in record["cases"]:
        if "skipped" in r:
            lines.append(f"| {r['case']} | skipped: {r['skipped']} |" + " |" * 9)
            continue
        bug, twin = r["bug"], r["twin"]
        lines.append(
            f"| {r['case']} | {r['expect']} | {bug['caught']}/{bug['runs']} | {bug['detection_rate']:.1%} "
            f"| {_seconds(bug['median_time_to_detect_s'])} | {_seconds(bug['worst_time_to_detect_s'])} "
            f"| {_seconds(bug['median_engine_first_failure_s'])} | {twin['passed']}/{twin['runs']} "
            f"| {twin['false_positive_rate']:.1%} | {_seconds(twin['median_duration_s'])} "
            f"| {'met' if r['goal_met'] else 'MISSED'} |"
        )
    misjudged = [
        f"- {r['case']} {label}: status {o['status']} ({o['detail'] or 'no failure'}); rerun: `{o['rerun']}`"
        for r in record["cases"]
        for label, runs in (("missed bug run", r.get("bug", {}).get("missed", [])),
                            ("false positive", r.get("twin", {}).get("false_positives", [])))
        for o in runs
    ]
    if misjudged:
        lines += ["", "## Misjudged runs (first few per case)", "", *misjudged]
    return "\n".join(lines) + "\n"


def _settings_line(s: dict[str, Any]) -> str:
    return (f"threads {s['threads']}, rounds {s['rounds']}, iterations {s['iterations']}, timeout {s['timeout_s']:g} s, "
            f"switch interval {s['switch_interval_s']:g} s, barrier {s['barrier']}")


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _round3(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _load(load: tuple[float, float, float]) -> str:
    return "/".join(f"{x:.2f}" for x in load)
