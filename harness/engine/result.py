"""What a scenario run gave: its result record and the failures in it (plain data, JSON-ready)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from harness.engine.schedules import Schedule
from harness.settings import StressSettings

ScenarioStatus = Literal["passed", "failed", "crashed", "timeout"]


@dataclass
class ErrorSummary:
    """One distinct failure type seen in a scenario: how often, and the first traceback of it."""

    type: str
    count: int
    first_traceback: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


# What an exploration summary says about a schedule it offers for replay.
_SCHEDULE_KEYS = ("schedule", "found_preemptions", "shortest_preemptions", "replays", "replays_exact")


def withdraw_schedule(exploration: dict[str, Any], key: str, why: str) -> None:
    """Take the offered schedule out of an exploration summary (the rerun falls back to the seed), saying why
    under ``key``."""
    for name in _SCHEDULE_KEYS:
        exploration.pop(name, None)
    exploration[key] = why


@dataclass
class ScenarioResult:
    """The outcome of one scenario run (explored trials, then threads x iterations x rounds) against its oracle."""

    name: str
    target: str
    threads: int
    rounds: int
    iterations: int
    status: ScenarioStatus
    seed: int
    rerun: str
    failures: int = 0
    errors: list[ErrorSummary] = field(default_factory=list)
    duration_s: float = 0.0
    ops_per_s: float | None = None
    time_to_first_failure_s: float | None = None
    on_failure: str = "unsafe"
    detail: str = ""
    # Free-running rounds actually run (``rounds`` is the cap); None when not known (the run's process was stopped).
    rounds_run: int | None = None
    # What controlled exploration did (trials, switch points, time; the schedule of a failure it found).
    exploration: dict[str, Any] | None = None
    # For a free-running failure: how many automatic reruns with the same seed reproduced it, as "r/k". The time
    # spent checking a failure after it was found (not in ``duration_s``): those reruns, or the replay of an
    # explored failure's schedule in a fresh process.
    reproduced: str | None = None
    reruns_s: float | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def rerun_settings(self, settings: StressSettings) -> StressSettings:
        """The settings that rerun this result: ``settings``, replaying the schedule of a failure that
        exploration found (so the rerun command ends with the schedule)."""
        schedule = (self.exploration or {}).get("schedule")
        if schedule is None or settings.replay:
            return settings
        return settings.replace(replay=Schedule(**schedule).to_text())

    @classmethod
    def sized(cls, name: str, target: str, settings: StressSettings, **outcome: Any) -> ScenarioResult:
        """A result of ``name`` run at ``settings``' sizes and seed; ``outcome`` gives status and the rest."""
        return cls(name=name, target=target, threads=settings.threads, rounds=settings.rounds,
                   iterations=settings.iterations, seed=settings.seed, **{"rerun": "", **outcome})
