"""The detection benchmark: how reliably and how fast the harness catches each seeded bug, over both corpora.

Per case of the main corpus (``tests/corpus``, which the defaults were chosen on) and of the held-out corpus
(``tests/corpus_heldout``, never used to choose anything): bug caught / runs at the settings given (the
engine's defaults unless overridden, to compare candidate defaults), each run with a fresh seed; median and
worst time-to-detect; false positives over the twin's runs; and the replay rate: how often a caught failure's
printed rerun command, run as a user would, gives the same status again (:mod:`tests.corpus.replay`).
Time-to-detect is wall-clock from the start of a run to its first failure, child-process start-up included
(a fork by the engine's fork server, which the first run of the benchmark starts); the time to the verdict (the
run's result in hand, after the automatic reruns of a free-running failure, the hunt for its schedule or the
fresh-process replay of an explored one) is reported beside it.
``--load N`` runs N busy CPU-bound processes beside everything (:mod:`tests.corpus.busy`).

A console table, then JSON and Markdown reports ``<report-dir>/detection-<time>-<random>.{json,md}``, written
atomically. Profiles: the full one (100 runs per bug, 50 per twin, 20 replays per case) and ``--quick`` (3
runs each, 1 replay, 5 s hang timeout) for CI, whose figures are not meaningful. Exit 0 when every case
meets the goal, 1 when one misses it, 2 on bad usage, 130 when interrupted (the cases measured so far are
still reported).

It lives next to its corpus, in the source tree: run it from the repository root as
``python -m tests.corpus.benchmark [options]`` (the engine passes ``sys.path`` on to its child processes, so
they load the ``tests.corpus*`` scenarios too).
"""

from __future__ import annotations

import argparse
import inspect
import os
import secrets
import shlex
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from harness import EXIT_SAFE, EXIT_UNSAFE, HarnessError, UsageError
from harness import settings as settings_mod
from harness.commands import OneLineArgumentParser
from harness.engine import Race, load_ref
from harness.interpreter.facts import probe
from harness.pipeline.record import new_run_id
from harness.report import render_json, write_files
from harness.settings import StressSettings, positive_count
from tests import corpus, corpus_heldout
from tests.corpus import Case
from tests.corpus.busy import MAX_PROCESSES, busy_processes
from tests.corpus.replay import describe, replay_failures, schedule_replays_exact
from tests.corpus.runner import Outcome, prepare, run_case

PROG = "python -m tests.corpus.benchmark"
CORPORA: dict[str, tuple[Case, ...]] = {"main": corpus.CASES, "heldout": corpus_heldout.CASES}
CORPUS_ROLES = {"main": "the defaults were chosen on it", "heldout": "never used to choose defaults"}

GOAL_RATE = 0.99
GOAL_MEDIAN_S = 1.0
GOAL_TWIN_RUNS = 50
GOAL_REPLAYS = 20
FULL_RUNS, FULL_TWIN_RUNS, FULL_REPLAYS = 100, 50, 20
QUICK_RUNS, QUICK_REPLAYS, QUICK_TIMEOUT_S = 3, 1, 5.0
DEFAULT_HANG_JOBS = 1
HANG_STAGGER_S = 1.0
MISJUDGED_KEPT = 5
EXIT_INTERRUPTED = 130
NOTE = "measured while other work ran on the machine (never at rest)"
# Every run draws its own seed; a replayed schedule is one run's, not a setting to benchmark.
_TUNABLE = tuple(f.name for f in settings_mod.FIELDS if f.name not in ("seed", "replay"))


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", choices=(*CORPORA, "both"), default="both", help="which corpus (default both)")
    parser.add_argument("--case", action="append", metavar="NAME", help="only this case (repeatable)")
    parser.add_argument("--runs", type=positive_count, metavar="K",
                        help=f"runs of each seeded bug (default {FULL_RUNS}; {QUICK_RUNS} with --quick)")
    parser.add_argument("--twin-runs", type=positive_count, metavar="N",
                        help=f"runs of each correct twin (default {FULL_TWIN_RUNS}; {QUICK_RUNS} with --quick)")
    parser.add_argument("--replays", type=_count_up_to(None), metavar="K",
                        help=f"reruns of caught failures per case (default {FULL_REPLAYS}; {QUICK_REPLAYS} with "
                             "--quick; 0 skips replay)")
    parser.add_argument("--load", type=_count_up_to(MAX_PROCESSES), default=0, metavar="N",
                        help=f"busy CPU-bound processes beside the runs (0 to {MAX_PROCESSES}, default 0)")
    parser.add_argument("--hang-jobs", type=positive_count, default=DEFAULT_HANG_JOBS, metavar="J",
                        help=f"bug runs of a hang case at once (default {DEFAULT_HANG_JOBS}: the engine calls a "
                             "deadlock within about --stall seconds), started "
                             f"{HANG_STAGGER_S:g} s apart; more help only for hangs that last until the timeout")
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK_RUNS} runs each, {QUICK_REPLAYS} replay and a {QUICK_TIMEOUT_S:g} s timeout, "
                             "for CI (figures not meaningful)")
    for field in settings_mod.FIELDS:
        if field.name in _TUNABLE:
            parser.add_argument(field.flag, **field.argument(field.name),
                                help=f"override the default: {field.expected}")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the options and run; a usage problem is one line on stderr and its exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    try:
        return run(args, command=shlex.join([sys.executable, "-m", "tests.corpus.benchmark", *argv]))
    except HarnessError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return exc.exit_code


def run(args: argparse.Namespace, *, command: str) -> int:
    cases = select_cases(args.corpus, args.case)
    runs = args.runs or (QUICK_RUNS if args.quick else FULL_RUNS)
    twin_runs = args.twin_runs or (QUICK_RUNS if args.quick else FULL_TWIN_RUNS)
    replays = args.replays if args.replays is not None else (QUICK_REPLAYS if args.quick else FULL_REPLAYS)
    overrides = {name: getattr(args, name) for name in _TUNABLE}
    if args.quick and overrides["timeout_s"] is None:
        overrides["timeout_s"] = QUICK_TIMEOUT_S
    settings = settings_mod.resolve(overrides, env={})
    facts = probe(sys.executable)
    started = datetime.now(UTC)
    clock = time.monotonic()
    loads = [os.getloadavg()]
    print(f"detection benchmark over {args.corpus} corpora on {facts.label}; {facts.cpu_count} CPUs; load "
          f"{_load(loads[0])}; {args.load} busy processes beside; {NOTE}", flush=True)
    print(f"settings: {_settings_line(settings.to_json())}", flush=True)
    results: list[dict[str, Any]] = []
    interrupted = False
    try:
        with busy_processes(args.load):
            for corpus_name, case in cases:
                if case.ft_only and not facts.free_threaded:
                    results.append({"corpus": corpus_name, "case": case.name, "skipped": case.ft_only})
                else:
                    results.append(measure(corpus_name, case, settings, runs, twin_runs, replays, args.hang_jobs,
                                           quick=args.quick))
                loads.append(os.getloadavg())
                print(row(results[-1]), flush=True)
    except KeyboardInterrupt:
        interrupted = True
        print(f"{PROG}: interrupted; reporting the {len(results)} cases measured", file=sys.stderr)
    record = {
        "kind": "detection-benchmark",
        "profile": "quick" if args.quick else "full",
        "started": started.isoformat(timespec="seconds"),
        "duration_s": round(time.monotonic() - clock, 1),
        "command": command,
        "conditions": f"{NOTE}; {args.load} busy CPU-bound processes beside the runs",
        "busy_processes": args.load,
        "interpreter": facts.to_json(),
        "machine": {"cpu_count": os.cpu_count(), "loadavg_1_5_15": [[round(x, 2) for x in la] for la in loads]},
        "settings": settings.to_json(),
        "corpora": {name: CORPUS_ROLES[name] for name in CORPORA},
        "goal": {"detection_rate": GOAL_RATE, "median_time_to_detect_s": GOAL_MEDIAN_S,
                 "twin_runs": GOAL_TWIN_RUNS, "twin_false_positive_rate": 0.0,
                 "schedule_replay_rate": 1.0, "replays": GOAL_REPLAYS},
        "runs_per_bug": runs,
        "runs_per_twin": twin_runs,
        "replays_per_case": replays,
        "cases": results,
        "interrupted": interrupted,
        "all_goals_met": not interrupted and all(r.get("goal_met", True) for r in results),
    }
    stem = new_run_id("detection", None, started)
    paths = write_files(settings.report_dir,
                        {f"{stem}.json": render_json(record), f"{stem}.md": render_markdown(record)})
    print("\n".join(console_table(record)))
    print(f"all goals met: {record['all_goals_met']}; report: {paths[0]} and {paths[1].name}")
    if interrupted:
        return EXIT_INTERRUPTED
    return EXIT_SAFE if record["all_goals_met"] else EXIT_UNSAFE


def select_cases(which: str, names: Sequence[str] | None) -> list[tuple[str, Case]]:
    """(corpus name, case) pairs of the chosen corpora, narrowed to ``names`` when given."""
    chosen = [(name, case) for name, cases in CORPORA.items() if which in (name, "both") for case in cases]
    known = {case.name for _, case in chosen}
    for name in names or ():
        if name not in known:
            raise UsageError(f"unknown case {name!r} (--corpus {which}): expected one of {', '.join(sorted(known))}")
    return [(c, case) for c, case in chosen if not names or case.name in names]


def measure(
    corpus_name: str, case: Case, settings: StressSettings, runs: int, twin_runs: int, replays: int, hang_jobs: int,
    *, quick: bool,
) -> dict[str, Any]:
    """Run the case's bug and twin, replay caught failures, and summarise (the goal includes exact schedule replay)."""
    prepare(case)
    bug_jobs = hang_jobs if case.expect == "timeout" else 1
    bug = repeat(lambda s: run_case(case, "bug", s), settings, runs, bug_jobs)
    twin = repeat(lambda s: run_case(case, "twin", s), settings, twin_runs, 1)
    summary = summarise(case, bug, twin, quick=quick)
    replay = replay_failures(case, [o for o in bug if o.correct], replays, settings.timeout_s)
    too_few = summary["too_few"]
    if not quick and replay["method"] is not None and replay["runs"] < GOAL_REPLAYS:
        too_few = [*too_few, f"{replay['runs']} replays < {GOAL_REPLAYS}"]
    figures_met = summary["figures_met"] and schedule_replays_exact(replay)
    return {"corpus": corpus_name, "form": scenario_form(case), **summary, "replay": replay,
            "figures_met": figures_met, "too_few": too_few, "goal_met": figures_met and not too_few}


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
    """Per-case figures. ``figures_met``: caught often and fast enough, no false positive; the goal also needs
    enough twin runs to stand on (``too_few`` says what is short); in the quick profile only the figures count."""
    caught = [o for o in bug if o.correct]
    ttd = [o.wall_s if o.detect_s is None else o.detect_s for o in caught]
    first = [o.first_failure_s for o in caught if o.first_failure_s is not None]
    rate = len(caught) / len(bug)
    median = statistics.median(ttd) if ttd else None
    false_positives = [o for o in twin if not o.correct]
    fast_enough = quick or (median is not None and median <= GOAL_MEDIAN_S)
    figures_met = rate >= GOAL_RATE and fast_enough and not false_positives
    too_few = [] if quick or len(twin) >= GOAL_TWIN_RUNS else [f"{len(twin)} twin runs < {GOAL_TWIN_RUNS}"]
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
            "median_time_to_verdict_s": _round3(statistics.median(o.wall_s for o in caught) if caught else None),
            "median_engine_first_failure_s": _round3(statistics.median(first) if first else None),
            "caught_by_exploration": sum(o.schedule is not None for o in caught),
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
        "figures_met": figures_met,
        "too_few": too_few,
        "goal_met": figures_met and not too_few,
    }


def scenario_form(case: Case) -> str:
    """How the bug is written: a scenario class with ``step`` or ``roles``, ``stateful``, ``Race``, a callable."""
    if case.detector != "stress":
        return case.detector
    obj = load_ref(case.bug)
    if isinstance(obj, Race):
        return "Race"
    if not inspect.isclass(obj):
        return "callable"
    if obj.__qualname__.startswith("stateful("):
        return "stateful"
    return "roles" if getattr(obj, "roles", None) else "step"


_COLUMNS = ("corpus", "case", "form", "caught", "rate", "median ttd (s)", "worst ttd (s)", "FP / twin runs",
            "replay", "goal")


def _cells(result: dict[str, Any]) -> list[str]:
    """One case's cells under :data:`_COLUMNS`, for the console and the Markdown table alike."""
    if "skipped" in result:
        return [result["corpus"], result["case"], f"skipped: {result['skipped']}", *[""] * (len(_COLUMNS) - 3)]
    bug, twin = result["bug"], result["twin"]
    return [result["corpus"], result["case"], result["form"], f"{bug['caught']}/{bug['runs']}",
            f"{bug['detection_rate']:.0%}", _seconds(bug["median_time_to_detect_s"]),
            _seconds(bug["worst_time_to_detect_s"]), f"{twin['runs'] - twin['passed']}/{twin['runs']}",
            describe(result["replay"]), _goal(result)]


_WIDTHS = (8, 30, 12, 9, 5, 14, 13, 14, 14, 12)


def _goal(result: dict[str, Any]) -> str:
    """``met``; ``MISSED`` (a figure misses it); ``too few runs`` (the figures meet it on too small a sample)."""
    return "met" if result["goal_met"] else "MISSED" if not result["figures_met"] else "too few runs"


def row(result: dict[str, Any]) -> str:
    """One case as a fixed-width console line."""
    return " ".join(f"{cell:<{width}}" for cell, width in zip(_cells(result), _WIDTHS, strict=True)).rstrip()


def console_table(record: dict[str, Any]) -> list[str]:
    head = " ".join(f"{name:<{width}}" for name, width in zip(_COLUMNS, _WIDTHS, strict=True)).rstrip()
    lines = ["", head, "-" * len(head), *(row(r) for r in record["cases"])]
    return [*lines, "", *(corpus_total(record, name) for name in CORPORA)]


def render_markdown(record: dict[str, Any]) -> str:
    """Both corpora in one table, with the conditions, and the rerun commands of misjudged runs."""
    interp, machine = record["interpreter"], record["machine"]
    loads = [la[0] for la in machine["loadavg_1_5_15"]]
    lines = [
        f"# ft-harness detection benchmark ({record['profile']})", "",
        f"- command: `{record['command']}`",
        f"- conditions: {record['conditions']}; 1-minute load average {min(loads)} to {max(loads)}; "
        f"{machine['cpu_count']} CPUs",
        f"- interpreter: {interp['version']} at `{interp['executable']}`; free-threaded: {interp['free_threaded']}; "
        f"GIL enabled: {interp['gil_enabled']}",
        f"- settings: {_settings_line(record['settings'])}",
        f"- {record['runs_per_bug']} runs per bug, {record['runs_per_twin']} per twin, {record['replays_per_case']} "
        f"replay(s) per case; started {record['started']}, took {record['duration_s']} s"
        + ("; **interrupted**" if record["interrupted"] else ""),
        *(f"- corpus `{name}`: {role}" for name, role in record["corpora"].items()),
        f"- goal: >= {GOAL_RATE:.0%} caught, median time-to-detect <= {GOAL_MEDIAN_S:g} s, 0 false positives over "
        f">= {GOAL_TWIN_RUNS} twin runs, replays by schedule 100% over >= {GOAL_REPLAYS}; all met: "
        f"**{record['all_goals_met']}**", "",
        "Time-to-detect (ttd) is wall-clock from the start of a run to its first failure (child start-up "
        "included); the JSON also gives the median time to the verdict (after the reruns of a free-running "
        "failure). "
        "Replay: reruns of caught failures by their printed command (`schedule`: the interleaving exploration "
        "recorded; `seed`: same seed, interleaving free); n/a when there was nothing to replay.", "",
        "| " + " | ".join(_COLUMNS) + " |",
        "|" + "---|" * len(_COLUMNS),
        *("| " + " | ".join(_cells(r)) + " |" for r in record["cases"]),
        "", *(f"- {corpus_total(record, name)}" for name in CORPORA),
    ]
    misjudged = [f"- {r['corpus']} {r['case']} {label}: {o['status']} ({o['detail'] or 'no failure'}); "
                 f"rerun: `{o['rerun']}`"
                 for r in record["cases"] if "skipped" not in r
                 for label, outcomes in (("missed", r["bug"]["missed"]),
                                         ("false positive", r["twin"]["false_positives"]))
                 for o in outcomes]
    if misjudged:
        lines += ["", "## Misjudged runs (first few per case)", "", *misjudged]
    return "\n".join(lines) + "\n"


def corpus_total(record: dict[str, Any], name: str) -> str:
    """One corpus in one line: caught over all its bug runs, false positives, cases meeting the goal."""
    measured = [r for r in record["cases"] if r["corpus"] == name and "skipped" not in r]
    if not measured:
        return f"{name}: not measured"
    caught = sum(r["bug"]["caught"] for r in measured)
    runs = sum(r["bug"]["runs"] for r in measured)
    false_positives = sum(r["twin"]["runs"] - r["twin"]["passed"] for r in measured)
    met = sum(r["goal_met"] for r in measured)
    figures = sum(r["figures_met"] for r in measured)
    return (f"{name} ({CORPUS_ROLES[name]}): caught {caught}/{runs} ({caught / runs:.0%}); {false_positives} false "
            f"positives; {met}/{len(measured)} cases meet the goal, {figures} on their figures")


def _settings_line(s: dict[str, Any]) -> str:
    return (f"budget {s['budget_s']:g} s, explore {'on' if s['explore'] else 'off'} ({s['strategy']}), "
            f"threads {s['threads']}, rounds <= {s['rounds']}, iterations {s['iterations']}, timeout "
            f"{s['timeout_s']:g} s, switch interval {s['switch_interval_s']:g} s, barrier {s['barrier']}")


def _count_up_to(high: int | None) -> Callable[[str], int]:
    """argparse ``type=``: a whole number from 0 (to ``high`` when given), else a one-line usage error."""

    def parse(text: str) -> int:
        if not text.isdigit() or (high is not None and int(text) > high):
            raise argparse.ArgumentTypeError(f"{text!r}: expected a whole number from 0"
                                             + (f" to {high}" if high is not None else ""))
        return int(text)

    return parse


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _round3(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _load(load: tuple[float, float, float]) -> str:
    return "/".join(f"{x:.2f}" for x in load)


if __name__ == "__main__":
    raise SystemExit(main())
