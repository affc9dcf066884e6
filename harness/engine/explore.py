"""Controlled interleaving exploration: many short trials under seeded interleavings until one fails, then
the shortest schedule that still fails, confirmed by replaying it.

Each trial is a fresh scenario round (instance, ``setup()``, every thread's steps, ``verify()``) run one
thread at a time (:mod:`harness.engine.interleave`), short or deep (:data:`TRIAL_ITERATIONS`); a
:class:`Search` runs them in turns, between which free-running threads have theirs. Strategies
(:mod:`harness.engine.schedules`): ``random`` picks uniformly among the runnable threads at every switch
point; ``pct`` gives threads random priorities and lowers the running thread's at d-1 random switch points
(bounded preemptions); ``mixed`` alternates them trial by trial. A failing trial's recorded schedule is
shrunk by removing preemptions while the same failure persists, and replays exactly (``--replay``).
"""

from __future__ import annotations

import contextlib
import random
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from harness import UsageError
from harness.engine.crew import Crew
from harness.engine.interleave import CodeUnderTest, Monitoring, NoTool, Step, Trial, TrialOutcome
from harness.engine.schedules import PYTHON, Follow, Pct, RandomWalk, Schedule, Strategy
from harness.engine.waits import cpu_spent_waiting_s
from harness.settings import StressSettings

# Iterations per thread of a trial, in turn for each strategy: short trials find shallow windows in few
# switch points; a deep one (None: the scenario's own iterations, cut to fit the time left) reaches windows
# that open only many operations into a round (a container one short of full, an eviction).
TRIAL_ITERATIONS: tuple[int | None, ...] = (1, 2, 4, None)
DEEP_MIN_ITERATIONS = 8
# A deep trial is sized to at most this share of a round's time limit: sized by the time its threads run, on a busy
# machine it takes longer, and must not look hung.
DEEP_TIMEOUT_SHARE = 0.25
PCT_DEPTHS = (2, 3)  # bugs needing one or two preemptions
SHRINK_SHARE = 0.5  # of the time exploration took to find the failure, at least SHRINK_MIN_S
SHRINK_MIN_S = 0.1
CONFIRM_REPLAYS = 3


@dataclass
class Exploration:
    """What exploring a scenario found: ``status`` passed (nothing found, or skipped), failed or timeout."""

    status: str
    trials: int
    duration_s: float
    detail: str = ""
    errors: Any = None  # the failing trial's engine failure record
    schedule: Schedule | None = None
    summary: dict[str, Any] = field(default_factory=dict)


Prepare = Callable[[StressSettings, int], tuple[list[Step], Callable[[], object] | None]]
NewFailures = Callable[[], Any]


def replay(prepare: Prepare, settings: StressSettings, new_failures: NewFailures, *,
           extra_modules: Iterable[str] = (), scenario: object = None) -> Exploration:
    """Replay the one trial recorded in ``settings.replay``.

    ``prepare(settings, index)`` makes a round's fresh instance (the engine's adapter); ``new_failures()``
    gives an empty failure record with ``add(exc, where)``, ``add_text(kind, text)`` and ``count``; the code
    reachable from ``scenario`` is instrumented before the trial, as exploration does (instrumenting stops the
    world: in the trial, a thread waiting for it looks blocked).
    """
    if not hasattr(sys, "monitoring"):
        raise UsageError("--replay needs Python 3.12 or later (sys.monitoring)")
    try:
        clock = _Clock()
        with clock, Monitoring(CodeUnderTest(extra_modules)) as monitoring, Crew() as crew:
            monitoring.instrument_reachable(scenario)
            return _Explorer(monitoring, crew, prepare, settings, new_failures, clock).replay(
                Schedule.from_text(settings.replay or ""))
    except NoTool:
        raise UsageError("--replay: every sys.monitoring tool id is taken (a debugger or coverage?)") from None


class Search:
    """Exploration in turns: each :meth:`turn` runs trials, then gives the process back (monitoring paused) so
    free-running threads can have theirs; the sequence of trials, their sizes and the totals carry on. One
    monitoring session serves every turn, until :meth:`close` (``with Search(...) as search:``).

    ``share_s`` is exploration's share of the budget, which sizes the deep trials; the functions reachable
    from ``scenario`` (the scenario object) are instrumented before the first trial.
    """

    def __init__(self, prepare: Prepare, settings: StressSettings, new_failures: NewFailures, *,
                 extra_modules: Iterable[str] = (), share_s: float, scenario: object = None) -> None:
        self._prepare = prepare
        self._scenario = scenario
        self._settings = settings
        self._new_failures = new_failures
        self._under_test = CodeUnderTest(extra_modules)
        self._share_s = share_s
        self._clock = _Clock()
        self._per_iteration = 0  # most switch points seen per iteration: PCT's change points fall within a trial
        # To size deep trials: the longest an iteration took so far, and the time exploration used, less the time
        # its threads were kept waiting for a CPU: on a machine busy with other work, wall-clock time alone would
        # make iterations look slow and the share look spent, and deep trials shallow.
        self._iteration_s = 0.0
        self._waited_s = 0.0
        self._monitoring: Monitoring | None = None
        self._crew = Crew()
        self.trials = 0
        self.points = 0
        self.ended: Exploration | None = None

    def __enter__(self) -> Search:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """End the monitoring session and the trials' threads (no more turns)."""
        self._crew.close()
        if self._monitoring is not None:
            self._monitoring.__exit__(None, None, None)
            self._monitoring = None

    @contextlib.contextmanager
    def _session(self) -> Iterator[Monitoring]:
        """The session's monitoring for one turn: opened by the first, resumed by the others, paused after each.
        Raises :class:`NoTool` when every tool id is taken."""
        if self._monitoring is None:
            self._monitoring = Monitoring(self._under_test).__enter__()
            self._monitoring.instrument_reachable(self._scenario)
        else:
            self._monitoring.resume()
        try:
            with self._clock:
                yield self._monitoring
        finally:
            self._monitoring.pause()

    @property
    def used_s(self) -> float:
        return self._clock.used_s

    @property
    def cpu_s(self) -> float:
        """The CPU time the process used during exploration's turns (one thread runs at a time: on an idle
        machine about its wall-clock time, on a busy one less)."""
        return self._clock.cpu_s

    def turn(self, until: float, *, at_least: int = 1) -> Exploration | None:
        """Trials until ``until`` and until ``at_least`` trials ran in all (one at least): the exploration's
        end (a failure, the steps run no code under test, the cap of trials), or None: to be continued."""
        if self.ended is None:
            self.ended = self._turn(until, at_least)
        return self.ended

    def _turn(self, until: float, at_least: int) -> Exploration | None:
        if not hasattr(sys, "monitoring"):
            return Exploration("passed", 0, 0.0, summary={"skipped": "needs Python 3.12 or later (sys.monitoring)"})
        try:
            with self._session() as monitoring:
                return self._trials(_Explorer(monitoring, self._crew, self._prepare, self._settings, self._new_failures,
                                              self._clock), until, at_least)
        except NoTool:
            return Exploration("passed", 0, 0.0, summary={"skipped": "no free sys.monitoring tool id"})

    def _trials(self, explorer: _Explorer, until: float, at_least: int) -> Exploration | None:
        settings = self._settings
        first = True
        while self.trials < settings.rounds:
            now = time.monotonic()
            if not first and now >= until and self.trials >= at_least:
                return None
            first = False
            trial = self.trials
            rng = random.Random(settings.seed * 1_000_003 + trial)
            strategy_name = _strategy_of(settings.strategy, trial)
            iterations = self._iterations(trial, max(until - now, self._share_s - self._clock.used_s + self._waited_s))
            if strategy_name == "pct":
                depth = PCT_DEPTHS[trial // (2 * len(TRIAL_ITERATIONS)) % len(PCT_DEPTHS)]
                strategy: Strategy = Pct(rng, settings.threads, depth, self._per_iteration * iterations)
            else:
                strategy = RandomWalk(rng)
            outcome, failures = explorer.trial(trial, iterations, strategy)
            elapsed = time.monotonic() - now
            waited = min(outcome.waited_s, elapsed)  # summed over threads, some of which may wait at once
            self._waited_s += waited
            self._iteration_s = max(self._iteration_s, (elapsed - waited) / iterations)
            self.trials += 1
            self.points += outcome.points
            self._per_iteration = max(self._per_iteration, -(-outcome.points // iterations))
            if trial == 0 and outcome.points == 0 and outcome.status == "passed":
                return explorer.done(self.trials, self.points, skipped="the steps run no Python code under test")
            if outcome.status != "passed":
                found = explorer.schedule(strategy_name, trial, iterations, outcome.events)
                return explorer.found(outcome, failures, found, self.trials, self.points)
        return explorer.done(self.trials, self.points)

    def fails_without_preemption(self, schedule: Schedule) -> bool:
        """Whether ``schedule``'s trial fails with each thread run to its end in turn (one seeming to spin-wait
        gives way): then no interleaving causes the failure (state left over from an earlier round, or a bug
        without threads)."""
        try:
            with self._session() as monitoring:
                explorer = _Explorer(monitoring, self._crew, self._prepare, self._settings, self._new_failures,
                                     self._clock)
                outcome, _ = explorer.trial(schedule.trial, schedule.iterations, Follow([]))
        except NoTool:
            return True  # cannot tell: do not offer the schedule
        return outcome.status != "passed"

    def summary(self) -> dict[str, Any]:
        """What exploration did so far (its end's summary once it ended)."""
        if self.ended is not None:
            return self.ended.summary
        return _summary(self.trials, self.points, self._clock.used_s, self._settings.strategy, self._clock.cpu_s)

    def _iterations(self, trial: int, time_left: float) -> int:
        """Iterations per thread for ``trial``: both strategies take each size of :data:`TRIAL_ITERATIONS` in
        turn; a deep trial runs the scenario's iterations, or as many as fit in ``time_left``."""
        full = self._settings.iterations
        size = TRIAL_ITERATIONS[trial // 2 % len(TRIAL_ITERATIONS)]
        if size is not None:
            return min(full, size)
        time_left = min(time_left, self._settings.timeout_s * DEEP_TIMEOUT_SHARE)
        fits = int(time_left / self._iteration_s) if self._iteration_s > 0 else full
        return min(full, max(DEEP_MIN_ITERATIONS, fits))


class _Clock:
    """Exploration's own time, wall-clock and the process's CPU time (less the CPU time threads spent waiting
    runnable: :func:`~harness.engine.waits.wait_runnable`), summed over its turns (``with clock:`` around each)."""

    def __init__(self) -> None:
        self._spent = 0.0
        self.cpu_s = 0.0
        self._since: float | None = None
        self._cpu_since = 0.0

    def __enter__(self) -> _Clock:
        self._since, self._cpu_since = time.monotonic(), _working_cpu_s()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._since is not None:
            self._spent += time.monotonic() - self._since
            self.cpu_s += _working_cpu_s() - self._cpu_since
            self._since = None

    @property
    def used_s(self) -> float:
        running = time.monotonic() - self._since if self._since is not None else 0.0
        return self._spent + running


class _Explorer:
    """Trials, shrinking and replays inside one monitoring session."""

    def __init__(self, monitoring: Monitoring, crew: Crew, prepare: Prepare, settings: StressSettings,
                 new_failures: NewFailures, clock: _Clock) -> None:
        self._monitoring = monitoring
        self._crew = crew
        self._prepare = prepare
        self._settings = settings
        self._new_failures = new_failures
        self._clock = clock

    def replay(self, schedule: Schedule) -> Exploration:
        settings = self._settings.replace(threads=schedule.threads, seed=schedule.seed)
        self._settings = settings
        outcome, failures = self.trial(schedule.trial, schedule.iterations, Follow(schedule.events))
        note = "" if schedule.python == PYTHON else f"; recorded on Python {schedule.python}, replayed on {PYTHON}"
        summary = {"replayed": schedule.to_text(), "trials": 1}
        if outcome.status == "passed":
            return Exploration("passed", 1, self._clock.used_s, f"the replayed schedule passed{note}",
                               schedule=schedule, summary=summary)
        status = "timeout" if outcome.status in ("deadlock", "timeout") else "failed"
        detail = f"replayed schedule ({schedule.preemptions} preemptions) {_what(outcome)}{note}"
        return Exploration(status, 1, self._clock.used_s, detail, failures, schedule, summary)

    def found(self, outcome: TrialOutcome, failures: Any, found: Schedule, trials: int, points: int) -> Exploration:
        found_at = self._clock.used_s
        kinds = _kinds(failures)
        if outcome.status == "timeout":
            # It ran to its deadline (a thread that never stops): every replay would take the whole --timeout
            # again, so the schedule is offered as found, neither shrunk nor replayed.
            shortest, replays, exact = found, "not replayed (a trial that runs to its deadline)", False
        else:
            shortest = self._shrink(found, kinds, time.monotonic() + max(SHRINK_MIN_S, SHRINK_SHARE * found_at))
            reproduced = self._confirm(shortest, kinds)
            if reproduced < CONFIRM_REPLAYS and shortest is not found:
                shortest, reproduced = found, self._confirm(found, kinds)
            replays, exact = f"{reproduced}/{CONFIRM_REPLAYS}", reproduced == CONFIRM_REPLAYS
        status = "timeout" if outcome.status in ("deadlock", "timeout") else "failed"
        detail = (f"explored trial {found.trial} ({found.strategy}, {found.iterations} iterations) {_what(outcome)} "
                  f"after {trials} trials in {found_at:.3f} s; shortest schedule: {shortest.preemptions} "
                  f"preemptions (found with {found.preemptions}), replayed {replays}")
        summary = _summary(trials, points, found_at, self._settings.strategy, self._clock.cpu_s)
        summary.update(found_preemptions=found.preemptions, shortest_preemptions=shortest.preemptions,
                       replays=replays, replays_exact=exact, schedule=asdict(shortest))
        return Exploration(status, trials, found_at, detail, failures, shortest, summary)

    def _shrink(self, found: Schedule, kinds: set[str], until: float) -> Schedule:
        """Fewer preemptions with the same failure: first each preemption alone, then dropping one at a time
        until none can go. Each candidate is replayed leniently and its recorded run becomes the new best,
        so the result is always an exact schedule."""
        best = found
        progress = True
        while progress and best.preemptions > 1 and time.monotonic() < until:
            progress = False
            preemptions = [i for i, event in enumerate(best.events) if event[3] == "p"]
            alone = [[e for i, e in enumerate(best.events) if e[3] != "p" or i == keep] for keep in preemptions]
            dropped = [best.events[:i] + best.events[i + 1:] for i in reversed(preemptions)]
            for events in alone + dropped:
                if time.monotonic() >= until:
                    break
                outcome, failures = self.trial(best.trial, best.iterations, Follow(events, lenient=True))
                if outcome.status != "passed" and _kinds(failures) & kinds:
                    candidate = self.schedule(best.strategy, best.trial, best.iterations, outcome.events)
                    if candidate.preemptions < best.preemptions:
                        best, progress = candidate, True
                        break
        return best

    def _confirm(self, schedule: Schedule, kinds: set[str]) -> int:
        reproduced = 0
        for _ in range(CONFIRM_REPLAYS):
            outcome, failures = self.trial(schedule.trial, schedule.iterations, Follow(schedule.events))
            reproduced += outcome.status != "passed" and bool(_kinds(failures) & kinds)
        return reproduced

    def trial(self, trial: int, iterations: int, strategy: Strategy) -> tuple[TrialOutcome, Any]:
        settings = self._settings.replace(iterations=iterations)
        failures = self._new_failures()
        try:
            steps, verify = self._prepare(settings, trial)
        except Exception as exc:
            failures.add(exc, f"trial {trial}: setup raised")
            return TrialOutcome("failed", [], 0), failures

        def on_error(exc: BaseException, where: str) -> None:
            failures.add(exc, f"explored trial {trial}, {where}")

        run = Trial(steps, iterations, strategy, on_error,
                     deadline=time.monotonic() + settings.timeout_s, stall_s=settings.stall_s, crew=self._crew)
        self._monitoring.trial = run
        try:
            outcome = run.run()
        finally:
            if run.aborted:
                self._monitoring.abandon(run)
            self._monitoring.trial = None
        if outcome.status in ("deadlock", "timeout"):
            failures.add_text("Timeout", f"explored trial {trial} {outcome.why}; its threads' stacks:{outcome.stacks}")
        elif failures.count:
            outcome.status = "failed"
        elif verify is not None:
            try:
                verify()
            except Exception as exc:
                failures.add(exc, f"explored trial {trial}: verify() raised")
                outcome.status = "failed"
        return outcome, failures

    def schedule(self, strategy: str, trial: int, iterations: int, events: list[list[Any]]) -> Schedule:
        return Schedule(strategy, self._settings.seed, trial, self._settings.threads, iterations, PYTHON,
                        [list(event) for event in events])

    def done(self, trials: int, points: int, *, skipped: str = "") -> Exploration:
        """The end of an exploration that found nothing (``skipped``: why there was nothing to explore)."""
        summary = _summary(trials, points, self._clock.used_s, self._settings.strategy, self._clock.cpu_s)
        if skipped:
            summary["skipped"] = skipped
        return Exploration("passed", trials, self._clock.used_s, summary=summary)


def _working_cpu_s() -> float:
    return time.process_time() - cpu_spent_waiting_s()


def _summary(trials: int, points: int, duration: float, strategy: str, cpu_s: float) -> dict[str, Any]:
    return {"trials": trials, "switch_points": points, "duration_s": round(duration, 6), "cpu_s": round(cpu_s, 6),
            "strategy": strategy}


def _strategy_of(setting: str, trial: int) -> str:
    if setting == "mixed":
        return ("random", "pct")[trial % 2]
    return setting


def _kinds(failures: Any) -> set[str]:
    return {summary.type for summary in failures.summaries()}


def _what(outcome: TrialOutcome) -> str:
    return outcome.why if outcome.status in ("deadlock", "timeout") else "failed"
