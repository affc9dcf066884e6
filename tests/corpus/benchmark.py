"""Detection over both corpora side by side: ``python -m tests.corpus.benchmark`` (from a source checkout).

Per case of the main corpus (``tests/corpus``, which the defaults were chosen on) and of the held-out corpus
(``tests/corpus_heldout``, never used to choose anything): bug caught / runs at the settings given (the
engine's defaults unless overridden), median time-to-detect, false positives over the twin's runs, and the
replay reproduction rate: how often a caught failure's printed rerun command, run as a user would, gives the
same status again (by the replay schedule the engine recorded for it, when it recorded one; else by its seed).
``--load N`` runs N busy CPU-bound processes beside everything. A console table, then JSON and Markdown
reports ``<report-dir>/detection-corpora-<time>-<random>.{json,md}``, written atomically.

Profiles: the full one (100 runs per bug, 50 per twin, 20 replays per case) and ``--quick`` (3 runs each,
1 replay, 5 s hang timeout) for CI, whose figures are not meaningful. Exit 0 when every case meets the goal,
1 when one misses it, 2 on bad usage, 130 when interrupted (the cases measured so far are still reported).
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import secrets
import shlex
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

from harness.bench import detection
from harness.cli import OneLineArgumentParser
from harness.engine import Race, load_ref
from harness.errors import EXIT_SAFE, EXIT_UNSAFE, HarnessError, UsageError
from harness.interpreter import probe
from harness.report import render_json, write_files
from harness.settings import StressSettings
from tests import corpus, corpus_heldout
from tests.corpus import Case
from tests.corpus.busy import MAX_PROCESSES, busy_processes
from tests.corpus.runner import Outcome, prepare, run_case

PROG = "python -m tests.corpus.benchmark"
CORPORA: dict[str, tuple[Case, ...]] = {"main": corpus.CASES, "heldout": corpus_heldout.CASES}
CORPUS_ROLES = {"main": "the defaults were chosen on it", "heldout": "never used to choose defaults"}
FULL_REPLAYS, QUICK_REPLAYS = 20, 1
GOAL_REPLAY_RATE = 1.0
EXIT_INTERRUPTED = 130
REPO_ROOT = Path(__file__).resolve().parents[2]
_REPLAY_GRACE_S = 30.0
_NOTE = "measured while other work ran on the machine (never at rest)"


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    detection.add_arguments(parser)
    parser.add_argument("--corpus", choices=(*CORPORA, "both"), default="both", help="which corpus (default both)")
    parser.add_argument("--replays", type=_whole_number, metavar="K",
                        help=f"reruns of caught failures per case (default {FULL_REPLAYS}; {QUICK_REPLAYS} with "
                             "--quick; 0 skips replay)")
    parser.add_argument("--load", type=_load_count, default=0, metavar="N",
                        help=f"busy CPU-bound processes beside the runs (0 to {MAX_PROCESSES}, default 0)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    try:
        return run(args, command=" ".join([shlex.quote(sys.executable), "-m", "tests.corpus.benchmark",
                                            *map(shlex.quote, argv)]))
    except HarnessError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return exc.exit_code


def run(args: argparse.Namespace, *, command: str) -> int:
    cases = select_cases(args.corpus, args.case)
    runs, twin_runs, settings = detection.profile(args)
    replays = args.replays if args.replays is not None else (QUICK_REPLAYS if args.quick else FULL_REPLAYS)
    facts = probe(sys.executable)
    started = datetime.now(timezone.utc)
    clock = time.monotonic()
    print(f"detection over {args.corpus} corpora on {facts.label}; {facts.cpu_count} CPUs; {args.load} busy "
          f"processes beside; {_NOTE}", flush=True)
    results: list[dict[str, Any]] = []
    loads = [os.getloadavg()]
    interrupted = False
    try:
        with busy_processes(args.load):
            for corpus_name, case in cases:
                if case.ft_only and not facts.free_threaded:
                    results.append({"corpus": corpus_name, "case": case.name, "skipped": case.ft_only})
                    continue
                results.append(measure(corpus_name, case, settings, runs, twin_runs, replays, args.hang_jobs,
                                       quick=args.quick))
                loads.append(os.getloadavg())
                print(row(results[-1]), flush=True)
    except KeyboardInterrupt:
        interrupted = True
        print(f"{PROG}: interrupted; reporting the {len(results)} cases measured", file=sys.stderr)
    record = {
        "kind": "detection-corpora-benchmark",
        "profile": "quick" if args.quick else "full",
        "started": started.isoformat(timespec="seconds"),
        "duration_s": round(time.monotonic() - clock, 1),
        "command": command,
        "conditions": f"{_NOTE}; {args.load} busy CPU-bound processes beside the runs",
        "busy_processes": args.load,
        "interpreter": facts.to_json(),
        "machine": {"cpu_count": os.cpu_count(), "loadavg_1_5_15": [[round(x, 2) for x in la] for la in loads]},
        "settings": {**settings.__dict__, "report_dir": str(settings.report_dir)},
        "corpora": {name: CORPUS_ROLES[name] for name in CORPORA},
        "goal": {"detection_rate": detection.GOAL_RATE, "median_time_to_detect_s": detection.GOAL_MEDIAN_S,
                 "twin_runs": detection.GOAL_TWIN_RUNS, "twin_false_positive_rate": 0.0,
                 "schedule_replay_rate": GOAL_REPLAY_RATE},
        "runs_per_bug": runs,
        "runs_per_twin": twin_runs,
        "replays_per_case": replays,
        "cases": results,
        "interrupted": interrupted,
        "all_goals_met": not interrupted and all(r.get("goal_met", True) for r in results),
    }
    stem = f"detection-corpora-{started.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(3)}"
    paths = write_files(settings.report_dir, {f"{stem}.json": render_json(record), f"{stem}.md": render_markdown(record)})
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
    bug = detection.repeat(lambda s: run_case(case, "bug", s), settings, runs, bug_jobs)
    twin = detection.repeat(lambda s: run_case(case, "twin", s), settings, twin_runs, 1)
    summary = detection.summarise(case, bug, twin, quick=quick)
    replay = replay_failures(case, [o for o in bug if o.correct], replays, settings.timeout_s)
    replay_ok = replay["method"] != "schedule" or (
        replay["rate"] == GOAL_REPLAY_RATE and (quick or replay["runs"] >= FULL_REPLAYS))
    return {"corpus": corpus_name, "form": scenario_form(case), **summary, "replay": replay,
            "goal_met": summary["goal_met"] and replay_ok}


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


def replay_failures(case: Case, caught: list[Outcome], times: int, timeout_s: float) -> dict[str, Any]:
    """Rerun caught failures ``times`` times in turn by their printed commands; how many gave the same status.

    ``method`` is ``schedule`` when the engine recorded an interleaving for them, ``seed`` when only the
    seed is fixed, None (reported as n/a) when there is nothing to replay.
    """
    why_not = ("--replays 0" if times == 0 else "the import audit has no scenario to replay"
               if case.detector != "stress" else "no failure caught" if not caught else "")
    if why_not:
        return {"method": None, "runs": 0, "reproduced": 0, "rate": None, "reason": why_not}
    method = "schedule" if any(o.schedule is not None for o in caught) else "seed"
    statuses = [rerun_status(caught[n % len(caught)].rerun, timeout_s) for n in range(times)]
    reproduced = sum(status == case.expect for status in statuses)
    return {"method": method, "runs": times, "reproduced": reproduced, "rate": round(reproduced / times, 4),
            "statuses": {s: statuses.count(s) for s in dict.fromkeys(statuses)}, "reason": ""}


def rerun_status(rerun: str, timeout_s: float) -> str:
    """Run a printed rerun command from the checkout (its reports into a scratch folder); the scenario's status."""
    with tempfile.TemporaryDirectory(prefix="ft-harness-replay-") as scratch:
        words = [*shlex.split(rerun), "--report-dir", scratch, "--json"]
        try:
            done = subprocess.run(words, cwd=REPO_ROOT, capture_output=True, text=True,
                                  timeout=timeout_s + _REPLAY_GRACE_S, check=False)
        except subprocess.TimeoutExpired:
            return "rerun-hung"
    try:
        (scenario,) = json.loads(done.stdout)["scenarios"]
    except (ValueError, KeyError, TypeError):
        return f"rerun-error-exit-{done.returncode}"
    return str(scenario["status"])


def row(result: dict[str, Any]) -> str:
    """One case as a fixed-width console line."""
    if "skipped" in result:
        return f"{result['corpus']:<8} {result['case']:<30} skipped: {result['skipped']}"
    bug, twin = result["bug"], result["twin"]
    return (f"{result['corpus']:<8} {result['case']:<30} {result['form']:<12} {bug['caught']:>4}/{bug['runs']:<4} "
            f"{_seconds(bug['median_time_to_detect_s']):>8} {twin['runs'] - twin['passed']:>3}"
            f"/{twin['runs']:<4} {_replay(result['replay']):>14}  {'met' if result['goal_met'] else 'MISSED'}")


def console_table(record: dict[str, Any]) -> list[str]:
    head = (f"{'corpus':<8} {'case':<30} {'form':<12} {'caught':>9} {'ttd (s)':>8} {'FP/twin':>8} "
            f"{'replay':>14}  goal")
    lines = ["", head, "-" * len(head), *(row(r) for r in record["cases"])]
    return lines + [""] + [_corpus_total(record, name) for name in CORPORA]


def render_markdown(record: dict[str, Any]) -> str:
    """Both corpora in one table, with the conditions, and the rerun commands of misjudged runs."""
    interp, machine = record["interpreter"], record["machine"]
    loads = [la[0] for la in machine["loadavg_1_5_15"]]
    lines = [
        f"# ft-harness detection over both corpora ({record['profile']})", "",
        f"- command: `{record['command']}`",
        f"- conditions: {record['conditions']}; 1-minute load average {min(loads)} to {max(loads)}; "
        f"{machine['cpu_count']} CPUs",
        f"- interpreter: {interp['version']} at `{interp['executable']}`; free-threaded: {interp['free_threaded']}",
        f"- settings: threads {record['settings']['threads']}, rounds {record['settings']['rounds']}, iterations "
        f"{record['settings']['iterations']}, timeout {record['settings']['timeout_s']:g} s",
        f"- {record['runs_per_bug']} runs per bug, {record['runs_per_twin']} per twin, {record['replays_per_case']} "
        f"replay(s) per case; started {record['started']}, took {record['duration_s']} s"
        + ("; **interrupted**" if record["interrupted"] else ""),
        *(f"- corpus `{name}`: {role}" for name, role in record["corpora"].items()),
        f"- goal: >= {detection.GOAL_RATE:.0%} caught, median time-to-detect <= {detection.GOAL_MEDIAN_S:g} s, 0 "
        f"false positives over >= {detection.GOAL_TWIN_RUNS} twin runs, schedule replays 100%; all met: "
        f"**{record['all_goals_met']}**", "",
        "Time-to-detect is wall-clock from the start of a run to its result (child start-up included). Replay: "
        "reruns of caught failures by their printed command (`seed`: same seed, interleaving free; `schedule`: "
        "the recorded interleaving); n/a when there was nothing to replay.", "",
        "| corpus | case | form | caught | rate | median ttd (s) | FP / twin runs | replay | goal |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in record["cases"]:
        if "skipped" in r:
            lines.append(f"| {r['corpus']} | {r['case']} | skipped: {r['skipped']} |" + " |" * 6)
            continue
        bug, twin = r["bug"], r["twin"]
        lines.append(f"| {r['corpus']} | {r['case']} | {r['form']} | {bug['caught']}/{bug['runs']} "
                     f"| {bug['detection_rate']:.0%} | {_seconds(bug['median_time_to_detect_s'])} "
                     f"| {twin['runs'] - twin['passed']}/{twin['runs']} | {_replay(r['replay'])} "
                     f"| {'met' if r['goal_met'] else 'MISSED'} |")
    lines += ["", *(f"- {_corpus_total(record, name)}" for name in CORPORA)]
    misjudged = [f"- {r['corpus']} {r['case']} {label}: {o['status']} ({o['detail'] or 'no failure'}); "
                 f"rerun: `{o['rerun']}`"
                 for r in record["cases"] if "skipped" not in r
                 for label, outcomes in (("missed", r["bug"]["missed"]), ("false positive", r["twin"]["false_positives"]))
                 for o in outcomes]
    if misjudged:
        lines += ["", "## Misjudged runs (first few per case)", "", *misjudged]
    return "\n".join(lines) + "\n"


def _corpus_total(record: dict[str, Any], name: str) -> str:
    measured = [r for r in record["cases"] if r["corpus"] == name and "skipped" not in r]
    if not measured:
        return f"{name}: not measured"
    caught = sum(r["bug"]["caught"] for r in measured)
    runs = sum(r["bug"]["runs"] for r in measured)
    false_positives = sum(r["twin"]["runs"] - r["twin"]["passed"] for r in measured)
    met = sum(r["goal_met"] for r in measured)
    return (f"{name} ({CORPUS_ROLES[name]}): caught {caught}/{runs} ({caught / runs:.0%}); {false_positives} false "
            f"positives; {met}/{len(measured)} cases meet the goal")


def _replay(replay: dict[str, Any]) -> str:
    if replay["method"] is None:
        return "n/a"
    return f"{replay['method']} {replay['reproduced']}/{replay['runs']}"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _whole_number(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r}: expected a whole number, 0 or more")
    return int(text)


def _load_count(text: str) -> int:
    value = _whole_number(text)
    if value > MAX_PROCESSES:
        raise argparse.ArgumentTypeError(f"{text!r}: at most {MAX_PROCESSES} busy processes")
    return value


if __name__ == "__main__":
    raise SystemExit(main())
