"""Replay for the detection benchmark: rerun caught failures by the commands they printed, as a user would.

A failure that controlled exploration found prints a rerun command ending with its recorded schedule
(``--replay``), which must give the same status every time; one found by free-running threads prints only its
seed, which fixes the data but not the interleaving.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from tests.corpus import Case
from tests.corpus.runner import Outcome

REPO_ROOT = Path(__file__).resolve().parents[2]
GRACE_S = 30.0  # beyond the scenario timeout, for the rerun's own start-up and report


def replay_failures(case: Case, caught: list[Outcome], times: int, timeout_s: float) -> dict[str, Any]:
    """Rerun caught failures ``times`` times in turn by their printed commands; how many gave the same status.

    ``by_method`` splits the reruns into ``schedule`` (the failure carried a recorded schedule) and ``seed``;
    ``method`` names the one used, or ``mixed``; None (reported as n/a) when there is nothing to replay.
    """
    why_not = ("--replays 0" if times == 0 else "the import audit has no scenario to replay"
               if case.detector != "stress" else "no failure caught" if not caught else "")
    if why_not:
        return {"method": None, "runs": 0, "reproduced": 0, "rate": None, "by_method": {}, "reason": why_not}
    chosen = [caught[n % len(caught)] for n in range(times)]
    tally: dict[str, list[int]] = {}
    statuses: dict[str, int] = {}
    for outcome in chosen:
        status = rerun_status(outcome.rerun, timeout_s)
        statuses[status] = statuses.get(status, 0) + 1
        counts = tally.setdefault("seed" if outcome.schedule is None else "schedule", [0, 0])
        counts[0] += status == case.expect
        counts[1] += 1
    reproduced = sum(r for r, _ in tally.values())
    return {"method": next(iter(tally)) if len(tally) == 1 else "mixed", "runs": times, "reproduced": reproduced,
            "rate": round(reproduced / times, 4), "by_method": tally, "statuses": statuses, "reason": ""}


def schedule_replays_exact(replay: dict[str, Any]) -> bool:
    """Every rerun by a recorded schedule gave the failure again (true when none was rerun that way)."""
    reproduced, runs = replay["by_method"].get("schedule", (0, 0))
    return reproduced == runs


def rerun_status(rerun: str, timeout_s: float) -> str:
    """Run a printed rerun command from the checkout (its reports into a scratch folder); the scenario's status."""
    with tempfile.TemporaryDirectory(prefix="ft-harness-replay-") as scratch:
        words = [*shlex.split(rerun), "--report-dir", scratch, "--json"]
        try:
            done = subprocess.run(words, cwd=REPO_ROOT, capture_output=True, text=True,
                                  timeout=timeout_s + GRACE_S, check=False)
        except subprocess.TimeoutExpired:
            return "rerun-hung"
    try:
        (scenario,) = json.loads(done.stdout)["scenarios"]
    except (ValueError, KeyError, TypeError):
        return f"rerun-error-exit-{done.returncode}"
    return str(scenario["status"])


def describe(replay: dict[str, Any]) -> str:
    """The replay column: ``schedule 5/5``, ``mixed 4/5 (schedule 3/3, seed 1/2)``, or ``n/a``."""
    if replay["method"] is None:
        return "n/a"
    head = f"{replay['method']} {replay['reproduced']}/{replay['runs']}"
    if replay["method"] != "mixed":
        return head
    return head + " (" + ", ".join(f"{m} {r}/{n}" for m, (r, n) in sorted(replay["by_method"].items())) + ")"
