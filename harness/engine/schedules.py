"""Recorded schedules and the seeded strategies that choose them, for controlled interleaving exploration.

A strategy answers one question, asked at every switch point and every forced hand-off of a trial (see
:mod:`harness.engine.interleave`): which thread runs next. ``RandomWalk`` and ``Pct`` search; ``Follow`` replays a
recorded :class:`Schedule`, exactly or (for shrinking) leniently.
"""

from __future__ import annotations

import json
import random
import sys
import sysconfig
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from harness import UsageError

SCHEDULE_FORMAT = 1
# The interpreter a schedule was recorded on ("3.14.7t"): bytecode, and so switch points, differ between versions.
PYTHON = sys.version.split()[0] + ("t" if sysconfig.get_config_var("Py_GIL_DISABLED") else "")
# A thread that passed this many switch points in a row while another could run is taken to spin, waiting for one
# of them (a flag, an event polled in a loop): Pct lowers it below every thread and Follow, where no recorded event
# applies, hands the turn on. A scheduler that never ran the others would turn a correct spin-wait into a hang.
# Both count the same way; a replay follows the recorded hand-offs first (see Follow).
SPIN_PATIENCE = 2_000


@dataclass
class Schedule:
    """A trial's every hand-off, enough to replay it exactly.

    ``events`` are ``[thread, count, target, kind]``: when ``thread`` had passed ``count`` of its switch
    points, the turn went to ``target`` (``-1``: to nobody; ``thread`` ``-1``: the controller gave a free
    turn). Kinds: ``p`` preemption at a switch point, ``b`` blocked on a held lock, ``s`` stalled in C code,
    ``f`` finished, ``w`` a free turn given out.
    """

    strategy: str
    seed: int
    trial: int
    threads: int
    iterations: int
    python: str
    events: list[list[Any]]
    format: int = SCHEDULE_FORMAT

    @property
    def preemptions(self) -> int:
        return sum(1 for event in self.events if event[3] == "p")

    def to_text(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_text(cls, text: str) -> Schedule:
        """A schedule from its JSON text; anything malformed is a one-line usage error."""
        try:
            data = json.loads(text)
            schedule = cls(**data)
            if schedule.format != SCHEDULE_FORMAT or schedule.threads < 1 or schedule.iterations < 1:
                raise ValueError(schedule.format)
            schedule.events = [[int(t), int(c), int(g), str(k)] for t, c, g, k in schedule.events]
            return schedule
        except (TypeError, ValueError, AttributeError) as exc:
            raise UsageError(f"bad --replay schedule: {exc}; expected the schedule a failure report printed") from None


class RandomWalk:
    """At every switch point, any runnable thread (the running one included) with equal chance."""

    name = "random"
    stalls_recorded = False  # see Follow

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def choose(self, running: int, count: int, kind: str, eligible: Sequence[int]) -> int | None:
        return self._rng.choice(eligible) if eligible else None


class _RunLength:
    """Switch points the running thread passed in a row while another thread could run (see SPIN_PATIENCE).
    Every choice is asked by the thread holding the turn (or the controller): a hand-off shows as a new
    ``running`` at the next question, which starts the count again."""

    def __init__(self) -> None:
        self._thread: int | None = None
        self._points = 0

    def spinning(self, running: int, kind: str, eligible: Sequence[int]) -> bool:
        """Count this switch point; whether the running thread has now passed SPIN_PATIENCE of them in a row."""
        others_could_run = kind == "p" and len(eligible) > 1
        if others_could_run and running == self._thread:
            self._points += 1
        else:
            self._thread, self._points = running, int(others_could_run)
        return self._points >= SPIN_PATIENCE


class Pct:
    """Probabilistic concurrency testing: distinct random priorities, the highest runnable thread runs, and
    at ``depth - 1`` random switch points (of the ``length`` expected) the running thread drops to the
    lowest priority, so a trial preempts at most ``depth - 1`` times, plus once per spin (a thread that seems
    to spin-wait for another, :data:`SPIN_PATIENCE`, drops below every thread)."""

    name = "pct"
    stalls_recorded = False  # see Follow

    def __init__(self, rng: random.Random, threads: int, depth: int, length: int) -> None:
        order = list(range(threads))
        rng.shuffle(order)
        self._priority = {thread: depth + rank for rank, thread in enumerate(order)}
        points = range(max(length, depth))
        self._changes = dict(zip(sorted(rng.sample(points, depth - 1)), range(depth - 1, 0, -1)))
        self._seen = 0
        self._run = _RunLength()

    def choose(self, running: int, count: int, kind: str, eligible: Sequence[int]) -> int | None:
        spinning = self._run.spinning(running, kind, eligible)
        if kind == "p":
            lowered = self._changes.get(self._seen)
            self._seen += 1
            if lowered is not None:
                self._priority[running] = lowered
            if spinning:  # after a change point too: a spinning thread always gives way (Follow counts on it)
                self._priority[running] = min(self._priority.values()) - 1
        return max(eligible, key=self._priority.__getitem__) if eligible else None


class Follow:
    """Replays recorded events; where none applies, the running thread goes on (or the lowest index runs),
    unless, past the last event or when shrinking, it seems to spin-wait (:data:`SPIN_PATIENCE`): then the next
    thread by index runs.

    ``lenient`` (for shrinking, where events were removed) skips events the run has gone past. An exact replay
    (not lenient) takes its stalls from the record (``stalls_recorded``: the recorded run's hand-offs from a
    thread blocked in C come at the switch point before), so a thread seen asleep for a moment (a stop of the
    world for the garbage collector or for instrumenting code met for the first time) is waited for.
    """

    name = "replay"

    def __init__(self, events: Sequence[Sequence[Any]], *, lenient: bool = False) -> None:
        self._events = list(events)
        self._next = 0
        self._lenient = lenient
        self.stalls_recorded = not lenient
        self._run = _RunLength()

    def choose(self, running: int, count: int, kind: str, eligible: Sequence[int]) -> int | None:
        spinning = self._run.spinning(running, kind, eligible)
        while self._next < len(self._events):
            thread, at, target, recorded = self._events[self._next]
            if thread == running and at == count and (recorded == kind or (recorded == "s" and kind == "p")):
                self._next += 1
                if target in eligible:
                    return target
                break
            if self._lenient and thread == running and at < count:
                self._next += 1
                continue
            break
        if kind == "p":
            # In an exact replay the recorded run's own hand-offs are events (a thread that spun gave way there):
            # whether another thread could run depends on timing (one blocked in C coming back), so the rule
            # applies only past the last event, or when shrinking.
            if spinning and (self._lenient or self._next >= len(self._events)):
                return min((t for t in eligible if t != running), key=lambda t: (t < running, t))
            return running
        return min(eligible) if eligible else None


Strategy = RandomWalk | Pct | Follow
