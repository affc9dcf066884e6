"""``python -m tests.corpus.benchmark``: both corpora side by side, the quick profile, load, replay, Ctrl-C.

The quick profile's detection figures mean nothing (3 runs); what these tests pin is the machinery: a table
and both reports for both corpora, twins judged right, busy processes always stopped, replay degrading to
n/a, bad flags as one line with exit 2, and an interrupted run still reporting what it measured.
"""

from __future__ import annotations

import json
import os

import pytest

from harness.engine import ScenarioResult
from harness.settings import resolve
from tests.corpus import CASES as MAIN
from tests.corpus import benchmark, replay, runner
from tests.corpus.busy import busy_processes
from tests.corpus.runner import Outcome
from tests.corpus_heldout import CASES as HELDOUT
from tests.support.markers import slow

QUICK_CASES = ("id-counter", "property-counter")
# Fewer rounds keep the test short on a loaded 2-core machine, and a longer timeout than the quick profile's
# 5 s (meant for the deadlock case) keeps a slow correct twin from reading as a false positive.
QUICK_SIZES = ("--runs", "1", "--rounds", "10", "--timeout", "60")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie not yet reaped counts as gone
        return stat.read().split(") ")[1][0] != "Z"


@pytest.mark.parametrize(("load", "twin_runs"), [(0, 1), pytest.param(1, 3, marks=slow)])
def test_quick_profile_reports_both_corpora_with_clean_twins(load, twin_runs, tmp_path, capsys) -> None:
    argv = ["--quick", *QUICK_SIZES, "--twin-runs", str(twin_runs), "--load", str(load), "--report-dir", str(tmp_path)]
    code = benchmark.main([*argv, *(w for name in QUICK_CASES for w in ("--case", name))])
    out = capsys.readouterr().out
    (json_path,) = tmp_path.glob("detection-*.json")
    record = json.loads(json_path.read_text())
    assert code in (0, 1) and record["profile"] == "quick" and record["busy_processes"] == load
    assert [(r["corpus"], r["case"]) for r in record["cases"]] == [("main", "id-counter"),
                                                                   ("heldout", "property-counter")]
    for result in record["cases"]:
        assert result["twin"]["runs"] == result["twin"]["passed"] == twin_runs, result["twin"]["false_positives"]
        assert result["replay"]["method"] in ("seed", "schedule", None)
    assert [r["form"] for r in record["cases"]] == ["step", "stateful"]
    markdown = json_path.with_suffix(".md").read_text()
    assert "| heldout | property-counter | stateful |" in markdown and "| main | id-counter | step |" in markdown
    assert "heldout (never used to choose defaults)" in out and "FP / twin runs" in out


def test_busy_processes_stop_when_the_block_is_interrupted() -> None:
    with pytest.raises(KeyboardInterrupt), busy_processes(2) as pids:
        assert len(pids) == 2 and all(_alive(pid) for pid in pids)
        raise KeyboardInterrupt
    assert not any(_alive(pid) for pid in pids)


def test_interrupted_run_reports_the_cases_measured(tmp_path, monkeypatch) -> None:
    measured = []

    def measure_once(corpus_name, case, *args, **kwargs):
        if measured:
            raise KeyboardInterrupt
        measured.append(case.name)
        return {"corpus": corpus_name, "case": case.name, "skipped": "stand-in"}

    monkeypatch.setattr(benchmark, "measure", measure_once)
    code = benchmark.main(["--quick", "--corpus", "heldout", "--report-dir", str(tmp_path)])
    (json_path,) = tmp_path.glob("detection-*.json")
    record = json.loads(json_path.read_text())
    assert code == benchmark.EXIT_INTERRUPTED and record["interrupted"] and not record["all_goals_met"]
    assert [r["case"] for r in record["cases"]] == [HELDOUT[0].name]


@pytest.mark.parametrize("argv", [["--load", "99"], ["--case", "no-such-case"], ["--replays", "-1"]])
def test_bad_flags_are_one_line_and_exit_2(argv, tmp_path, capsys) -> None:
    try:
        code = benchmark.main([*argv, "--report-dir", str(tmp_path)])
    except SystemExit as exit_:
        code = exit_.code
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "error" in err
    assert not list(tmp_path.iterdir())


def _outcome(schedule: object = None) -> Outcome:
    return Outcome("c", "bug", "failed", True, 0.1, 0.05, 1, "", "true", schedule)


def test_replay_is_n_a_without_a_failure_or_a_scenario() -> None:
    stress, audit = HELDOUT[0], MAIN[0]
    assert audit.detector == "import-audit"
    for case, caught, times in ((stress, [], 5), (audit, [_outcome()], 5), (stress, [_outcome()], 0)):
        result = replay.replay_failures(case, caught, times, 5.0)
        assert result["method"] is None and result["reason"] and replay.describe(result) == "n/a"


def test_replay_counts_reruns_and_names_the_method(monkeypatch) -> None:
    statuses = iter(["failed", "passed", "failed"])
    monkeypatch.setattr(replay, "rerun_status", lambda rerun, timeout_s: next(statuses))
    by_seed = replay.replay_failures(HELDOUT[0], [_outcome()], 3, 5.0)
    assert (by_seed["method"], by_seed["reproduced"], by_seed["runs"]) == ("seed", 2, 3)
    assert replay.schedule_replays_exact(by_seed), "a seed rerun that differs is no schedule replay failing"
    monkeypatch.setattr(replay, "rerun_status", lambda rerun, timeout_s: "failed")
    by_schedule = replay.replay_failures(HELDOUT[0], [_outcome([[0, 1], [1, 3]])], 2, 5.0)
    assert (by_schedule["method"], by_schedule["rate"]) == ("schedule", 1.0)
    assert replay.schedule_replays_exact(by_schedule)


def test_a_schedule_replay_that_differs_misses_the_goal(monkeypatch) -> None:
    statuses = iter(["failed", "failed", "passed", "failed"])  # reruns alternate: schedule, seed, schedule, seed
    monkeypatch.setattr(replay, "rerun_status", lambda rerun, timeout_s: next(statuses))
    mixed = replay.replay_failures(HELDOUT[0], [_outcome({"events": []}), _outcome()], 4, 5.0)
    assert mixed["by_method"] == {"schedule": [1, 2], "seed": [2, 2]} and not replay.schedule_replays_exact(mixed)
    assert replay.describe(mixed) == "mixed 3/4 (schedule 1/2, seed 2/2)"


def test_goal_needs_rate_speed_and_clean_twins() -> None:
    def outcome(variant: str, correct: bool, wall_s: float) -> Outcome:
        return Outcome("c", variant, "failed" if correct == (variant == "bug") else "passed", correct, wall_s,
                       None, 1, "", "rerun")

    case = MAIN[3]
    clean = [outcome("twin", True, 1.0)] * 50
    assert benchmark.summarise(case, [outcome("bug", True, 0.5)] * 100, clean, quick=False)["goal_met"]
    missed_one = [outcome("bug", True, 0.5)] * 98 + [outcome("bug", False, 9.0)] * 2
    assert not benchmark.summarise(case, missed_one, clean, quick=False)["goal_met"]
    assert not benchmark.summarise(case, [outcome("bug", True, 1.5)] * 100, clean, quick=False)["goal_met"]
    one_false_positive = [*clean[:-1], outcome("twin", False, 1.0)]
    assert not benchmark.summarise(case, [outcome("bug", True, 0.5)] * 100, one_false_positive, quick=False)["goal_met"]
    short = benchmark.summarise(case, [outcome("bug", True, 0.5)] * 100, clean[:10], quick=False)
    assert short["figures_met"] and short["too_few"] == ["10 twin runs < 50"] and not short["goal_met"]
    assert benchmark._goal(short) == "too few runs"


def test_outcome_carries_the_schedule_exploration_recorded(monkeypatch) -> None:
    """Once the engine records an explored failure's schedule (issue 13), replay reports method 'schedule'."""
    schedule = {"events": [[0, 3], [1, 2]], "seed": 5, "python": "3.14.7"}

    def explored(spec, target, ctx):
        result = ScenarioResult(spec.name, target, 2, 1, 1, "failed", ctx.settings.seed, "rerun --replay X")
        result.exploration = {"trials": 3, "schedule": schedule}
        return result

    monkeypatch.setattr(runner, "run_scenario", explored)
    outcome = runner.run_case(HELDOUT[0], "bug", resolve({}, env={}))
    assert outcome.correct and outcome.schedule == schedule
