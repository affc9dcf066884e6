"""The stress runner: N threads x M iterations per round, rounds until the time budget is spent (at most R),
against a scenario (see :mod:`harness.engine.scenario` for the forms a scenario takes), in turns with
controlled exploration (:mod:`harness.engine.explore`), which gets :data:`EXPLORE_SHARE` of each; no pytest
import. A run that spends its budget with no failure passed ("stopped at the budget after N rounds");
``timeout_s`` is each round's own limit (a round still running then is hung).

Each round the worker threads wait for the round, then meet at a spinning barrier, so they are released
within microseconds of each other (a condition-variable barrier wakes them one by one; ``barrier =
"condition"`` selects one, for measuring the difference). Every exception from every thread is collected;
a round that does not finish before the deadline, or in which no worker finishes a step or uses CPU for
``stall_s`` while every one is parked on a lock (a deadlock; :mod:`~.waits`), ends the run as "timeout" with
every thread's stack. Running a scenario in a child process instead, so a crash becomes a result, is
:mod:`harness.engine.isolation`'s job.
"""

from __future__ import annotations

import functools
import itertools
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from harness.engine import scenario as scenario_module
from harness.engine.reproduce import RERUNS, reproductions
from harness.engine.result import ErrorSummary, ScenarioResult, ScenarioStatus, withdraw_schedule
from harness.engine.scenario import ScenarioAdapter, Step
from harness.engine.waits import parked_on_lock, wait_runnable, waited_for_cpu_s
from harness.settings import StressSettings

_SPINS_BEFORE_CHECK = 256
_JOIN_GRACE_S = 1.0
_STALL_POLL_S = 0.05
_STALL_CPU_NOISE_S = 0.002
# A round's start and end are waited for runnable this long first (see wait_runnable), unless the workers outnumber
# the CPUs: then a waiter yielding its CPU keeps it from a worker with steps to run.
_ROUND_SPIN_S = 0.01
# Of a scenario's time budget, at most this share goes to controlled exploration, the rest to free-running
# threads: races in Python code are found by exploration in a fraction of it, races inside C code only by
# free-running threads, which must not wait long for their turn.
EXPLORE_SHARE = 0.3
# The budget's turns: a race is met by the first turns of the phase that can find it, whichever it is.
TURNS = 8
# Past the budget, exploration goes on until it ran this many trials or had its share of the budget in CPU
# time: on a machine busy with other work a wall-clock share alone buys fewer trials, and detection would
# depend on the load; on an idle one a slow scenario's few trials are all its share buys anyway.
MIN_TRIALS = 16
OVERRUN = 3  # a run's phases end by this many budgets (plus the last round's own limit)
RERUN_LIMIT_S = 10.0  # at most, for the automatic reruns of a free-running failure
# Frames a failure's traceback skips (named by path: a run without exploration never imports the interleaver).
_ENGINE_FILES = frozenset(
    {__file__, scenario_module.__file__, os.path.join(os.path.dirname(__file__), "interleave.py")}
)

class BarrierTimeout(Exception):
    """A thread waited at the barrier past the run's deadline (another thread never arrived)."""


class SpinBarrier:
    """A reusable barrier whose waiters spin instead of sleeping, so the last arrival releases all at once.

    Spinners check the deadline and the ``abandon`` flag every few hundred spins and yield the CPU there,
    so more threads than cores still make progress and a broken barrier never hangs.
    """

    def __init__(self, parties: int) -> None:
        self._parties = parties
        self._arrived = 0
        self._generation = 0
        self._lock = threading.Lock()
        self.abandoned = False

    def wait(self, deadline: float) -> None:
        with self._lock:
            generation = self._generation
            self._arrived += 1
            if self._arrived == self._parties:
                self._arrived = 0
                self._generation = generation + 1
                return
        spins = 0
        while self._generation == generation:
            spins += 1
            if spins % _SPINS_BEFORE_CHECK == 0:
                if self.abandoned or time.monotonic() > deadline:
                    self.abandoned = True
                    raise BarrierTimeout
                time.sleep(0)


class ConditionBarrier:
    """``threading.Barrier`` behind the :class:`SpinBarrier` interface: waiters sleep and wake one by one.

    Kept so the detection benchmark can measure what spinning buys (``barrier = "condition"``).
    """

    def __init__(self, parties: int) -> None:
        self._barrier = threading.Barrier(parties)

    @property
    def abandoned(self) -> bool:
        return self._barrier.broken

    @abandoned.setter
    def abandoned(self, value: bool) -> None:
        if value:
            self._barrier.abort()

    def wait(self, deadline: float) -> None:
        try:
            self._barrier.wait(max(0.0, deadline - time.monotonic()))
        except threading.BrokenBarrierError:
            raise BarrierTimeout from None


BARRIERS: dict[str, Callable[[int], SpinBarrier | ConditionBarrier]] = {
    "spin": SpinBarrier,
    "condition": ConditionBarrier,
}


def run_in_process(
    obj: object,
    *,
    name: str,
    target: str,
    settings: StressSettings,
    on_failure: str = "unsafe",
    rerun: str = "",
) -> ScenarioResult:
    """Stress a callable or scenario class in this process and return its result (never raises for failures).

    The budget is cut into :data:`TURNS` turns. In each, with ``settings.explore``, controlled exploration
    (:mod:`harness.engine.explore`) runs trials under chosen interleavings for :data:`EXPLORE_SHARE` of the
    turn (longer while it is behind its floor of trials), then free-running threads stress it for the rest: a
    race in Python code is found by the first turns of exploration, a race inside C code by the first turns of
    free-running threads, neither waiting for the other's whole share. A failure found by exploration ends the
    run with its schedule in ``result.exploration`` (reruns replay it:
    :meth:`~harness.engine.result.ScenarioResult.rerun_settings`); a free-running failure is rerun a few times
    with the same seed, and the result says how many reproduced it. With ``settings.replay`` the one recorded
    trial is replayed instead.

    ``rerun`` is the command line the caller's front end writes for it (the engine knows no command line).
    A timed-out run leaves its stuck threads behind (daemon threads cannot be killed); use isolation when
    the scenario may hang or crash.
    """
    rounds = ScenarioAdapter(obj, name)
    started = time.monotonic()
    result = ScenarioResult.sized(name, target, settings, status="passed", rerun=rerun, on_failure=on_failure)
    extra_modules = getattr(obj, "code_under_test", ())
    if settings.replay:
        from harness.engine.explore import replay  # here: a run without exploration never loads sys.monitoring code

        return _explored(result, replay(rounds.prepare, settings, lambda: _Failures(started),
                                        extra_modules=extra_modules, scenario=obj), started)
    search = None
    if settings.explore:
        from harness.engine.explore import Search

        search = Search(rounds.prepare, settings, lambda: _Failures(started), extra_modules=extra_modules,
                        share_s=settings.budget_s * EXPLORE_SHARE, scenario=obj)
    free = _FreeRunning(settings, rounds, started)
    try:
        try:
            ended = _turns(search, free, settings, started)
        finally:
            free.close()
        if ended is not None:
            return _explored(result, ended, started, rounds_run=free.rounds_run)
        if search is not None and free.outcome.status == "failed" and search.ended is None:
            explained = _explain(search, free.failures, settings)
            if explained is not None:
                return _explored(result, explained, started, rounds_run=free.rounds_run,
                                 first_at=free.failures.first_at)
    finally:
        if search is not None:
            search.close()
    if search is not None:
        result.exploration = search.summary()
    return _free_result(result, free, obj, name, settings, started)


def _turns(search: Any, free: _FreeRunning, settings: StressSettings, started: float) -> Any:
    """The budget's turns of exploration (``search``, None without) and free-running threads: exploration's
    failure, or None (free-running threads failed, or nothing did)."""
    turn_s = settings.budget_s / TURNS
    budget_end = started + settings.budget_s
    # Past the budget, each phase may still take what it is owed: exploration its floor (MIN_TRIALS), free-running
    # threads their share of the budget in time they ran (a long trial, or other work on the machine keeping them
    # waiting for a CPU, ate into it); never past OVERRUN budgets.
    hard_end = started + settings.budget_s * OVERRUN
    explore_share_s = settings.budget_s * EXPLORE_SHARE
    for turn in itertools.count(1):
        now = time.monotonic()
        explore_now = search is not None and search.ended is None and now < hard_end and (
            now < budget_end or (search.trials < MIN_TRIALS and search.cpu_s < explore_share_s))
        free_now = free.rounds_run < settings.rounds and now < hard_end and (
            now < budget_end or free.ran_s < settings.budget_s * (1 - EXPLORE_SHARE))
        if not (explore_now or free_now):
            return None
        if search is not None and explore_now:
            on_track = min(MIN_TRIALS, -(-MIN_TRIALS * turn // TURNS))  # the floor, pro rata
            ended = search.turn(now + turn_s * EXPLORE_SHARE, at_least=on_track)
            if ended is not None and ended.status != "passed":
                return ended
        if free_now and free.turn(time.monotonic() + turn_s * (1 - EXPLORE_SHARE)).status != "passed":
            return None
    return None


def _explain(search: Any, failures: _Failures, settings: StressSettings) -> Any:
    """After free-running threads failed on a scenario with Python code under test: exploration's hunt (its
    share of the budget at most) for a schedule giving the same failure, which would replay exactly."""
    kinds = {summary.type for summary in failures.summaries()}
    explored = search.turn(time.monotonic() + settings.budget_s * EXPLORE_SHARE, at_least=0)
    if explored is None or explored.errors is None or not kinds & {e.type for e in explored.errors.summaries()}:
        return None
    # The schedule must give the failure every time, and running the threads one after the other must not:
    # state a failed round left behind (a class attribute, a module global) fails later trials whatever the
    # interleaving, and a fresh process would not replay it.
    if not explored.summary.get("replays_exact") or search.fails_without_preemption(explored.schedule):
        withdraw_schedule(explored.summary, "hunt",
                          "a failing trial was found, but its schedule alone does not cause the failure")
        return None
    explored.detail = (f"free-running threads failed first ({', '.join(sorted(kinds))}); then "
                       f"{explored.detail}")
    return explored


def _explored(result: ScenarioResult, explored: Any, started: float, *, rounds_run: int = 0,
              first_at: float | None = None) -> ScenarioResult:
    """``result`` ended by exploration: a failure it found (``first_at``: when free-running threads had shown
    it first; ``rounds_run``: the free-running rounds of the turns before), or a replayed schedule."""
    result.exploration, result.rounds_run = explored.summary, rounds_run
    result.status, result.detail = explored.status, explored.detail
    result.duration_s = round(time.monotonic() - started, 6)
    if explored.errors is not None:
        result.failures, result.errors = explored.errors.count, explored.errors.summaries()
        result.time_to_first_failure_s = first_at if first_at is not None else explored.errors.first_at
    return result


def _free_result(result: ScenarioResult, free: _FreeRunning, obj: object, name: str, settings: StressSettings,
                 started: float) -> ScenarioResult:
    """``result`` after the free-running turns: their outcome, and the automatic reruns of a failure."""
    last = free.outcome
    result.status, result.detail = last.status, last.detail
    if last.status == "passed" and free.rounds_run < settings.rounds:
        result.detail = f"stopped at the budget after {free.rounds_run} round{'' if free.rounds_run == 1 else 's'}"
    result.failures, result.errors = free.failures.count, free.failures.summaries()
    result.duration_s = round(time.monotonic() - started, 6)
    result.ops_per_s = round(free.ops / free.busy_s, 1) if free.ops and free.busy_s > 0 else None
    result.time_to_first_failure_s, result.rounds_run = free.failures.first_at, free.rounds_run
    if last.status == "failed":
        def rerun_once(left: float) -> str:
            again = _Run(settings.replace(timeout_s=min(settings.timeout_s, left)), ScenarioAdapter(obj, name))
            return again.execute(time.monotonic() + min(settings.budget_s, left)).status

        reruns_started = time.monotonic()
        result.reproduced = reproductions(rerun_once, "failed", limit_s=min(RERUNS * settings.budget_s, RERUN_LIMIT_S))
        result.reruns_s = round(time.monotonic() - reruns_started, 6)
    return result


class _FreeRunning:
    """Free-running threads in turns: the same workers run rounds until each turn's end and idle between turns;
    the round numbers (hence round seeds), the failures and the totals carry on."""

    def __init__(self, settings: StressSettings, rounds: ScenarioAdapter, started: float) -> None:
        self._settings = settings
        self._rounds = rounds
        self.failures = _Failures(started)
        self.rounds_run = 0
        self.used_s = 0.0
        self.ran_s = 0.0  # of used_s, the time the workers were not kept waiting for a CPU
        self.ops = 0
        self.busy_s = 0.0
        self.outcome = _Outcome("passed", 0.0, 0, 0.0, "")
        self._run: _Run | None = None

    def close(self) -> None:
        """Release the workers (left behind if a round hung)."""
        if self._run is not None:
            self._run.finish(join=self.outcome.status != "timeout")

    def turn(self, until: float) -> _Outcome:
        if self._run is None:
            self._run = _Run(self._settings, self._rounds, failures=self.failures)
            self._run.start()
        self.outcome = self._run.drive(until)
        self.rounds_run = self._run.rounds_run
        self.used_s += self.outcome.duration_s
        self.ran_s += max(0.0, self.outcome.duration_s - self.outcome.waited_s)
        self.ops += self.outcome.ops
        self.busy_s += self.outcome.busy_s
        return self.outcome


class _Failures:
    """Every failure from every thread: a count, and per distinct type the count and first traceback."""

    def __init__(self, started: float) -> None:
        self._started = started
        self._lock = threading.Lock()
        self._by_type: dict[str, ErrorSummary] = {}
        self.count = 0
        self.first_at: float | None = None

    def add(self, exc: BaseException, where: str) -> None:
        key = f"{type(exc).__module__}.{type(exc).__qualname__}".removeprefix("builtins.")
        with self._lock:
            self.count += 1
            if self.first_at is None:
                self.first_at = round(time.monotonic() - self._started, 6)
            summary = self._by_type.get(key)
            if summary is None:
                import traceback  # here, not at the top: it costs every child ~25 ms of start-up

                text = "".join(traceback.format_exception(type(exc), exc, _scenario_frames(exc.__traceback__)))
                self._by_type[key] = ErrorSummary(key, 1, f"{where}\n{text}")
            else:
                summary.count += 1

    def add_text(self, kind: str, text: str) -> None:
        """Record a failure that is not an exception (a timeout), with ``text`` as its 'traceback'."""
        with self._lock:
            self.count += 1
            if self.first_at is None:
                self.first_at = round(time.monotonic() - self._started, 6)
            self._by_type[kind] = ErrorSummary(kind, 1, text)

    def summaries(self) -> list[ErrorSummary]:
        return list(self._by_type.values())


@dataclass
class _Outcome:
    status: ScenarioStatus
    duration_s: float
    ops: int  # steps run in the rounds that finished
    busy_s: float  # time those rounds took
    detail: str
    waited_s: float = 0.0  # of duration_s, the workers' mean time waiting for a CPU (a busy machine)



@dataclass
class _RoundState:
    """What the workers need for one round, published by the main thread before it wakes them."""

    index: int
    steps: list[Step]
    remaining: int
    deadline: float  # the round's own limit: a round still running then is hung
    done: threading.Event = field(default_factory=threading.Event)


class _Run:
    """A stress run: persistent worker threads, a start gate and a spinning barrier per round. Started once, it
    is driven in turns (:meth:`drive`), its workers idle between them, until :meth:`finish`."""

    def __init__(self, settings: StressSettings, rounds: ScenarioAdapter, *, failures: _Failures | None = None) -> None:
        self.settings = settings
        self.rounds = rounds
        self.started = time.monotonic()
        self.until = self.started  # the end of the turn: no new round starts after it (the turn's first always does)
        self.rounds_run = 0
        self.failures = failures if failures is not None else _Failures(self.started)
        self.stop = False
        self._barrier = BARRIERS[settings.barrier](settings.threads)
        cpus = getattr(os, "process_cpu_count", os.cpu_count)() or 1  # the CPUs this process may use (3.13+)
        self._round_spin_s = _ROUND_SPIN_S if settings.threads <= cpus else 0.0
        self._cond = threading.Condition()
        self._state: _RoundState | None = None
        self._done_lock = threading.Lock()
        # One counter object per worker, written only by its own thread (no contention), read by the stall check.
        self._steps_done = [[0] for _ in range(settings.threads)]
        self._workers: list[threading.Thread] = []
        self._worker_idents: list[int] = []
        self._worker_native_ids: list[int] = []

    def execute(self, until: float) -> _Outcome:
        """Start, drive until ``until``, finish: a one-turn run."""
        self.start()
        outcome = _Outcome("timeout", 0.0, 0, 0.0, "")
        try:
            outcome = self.drive(until)
        finally:
            self.finish(join=outcome.status != "timeout")
        return outcome

    def start(self) -> None:
        self._workers = [
            threading.Thread(target=self._work, args=(t,), name=f"ft-harness-worker-{t}", daemon=True)
            for t in range(self.settings.threads)
        ]
        for worker in self._workers:
            worker.start()
        self._worker_idents = [worker.ident for worker in self._workers if worker.ident is not None]
        self._worker_native_ids = [worker.native_id for worker in self._workers if worker.native_id is not None]

    def drive(self, until: float) -> _Outcome:
        """Rounds from the next one on until ``until`` (the first always runs), a failure, or the cap."""
        self.started, self.until = time.monotonic(), until
        switch = _lower_switch_interval(self.settings.switch_interval_s)
        try:
            waited = self._waited_for_cpu_s()
            outcome = self._drive()
            outcome.waited_s = max(0.0, self._waited_for_cpu_s() - waited)
        finally:
            if switch is not None:
                sys.setswitchinterval(switch)
        return outcome

    def finish(self, *, join: bool) -> None:
        """Release the workers; wait for them unless a round hung (its threads cannot be stopped)."""
        self.stop = True
        self._barrier.abandoned = True
        with self._cond:
            self._cond.notify_all()
        if join:
            for worker in self._workers:
                worker.join(_JOIN_GRACE_S)

    def _waited_for_cpu_s(self) -> float:
        """The workers' mean time runnable but not running so far (0 where the system cannot tell)."""
        waits = [waited_for_cpu_s(native_id) for native_id in self._worker_native_ids]
        known = [w for w in waits if w is not None]
        return sum(known) / len(known) if known else 0.0

    def _drive(self) -> _Outcome:
        ops = 0
        busy_s = 0.0
        settings = self.settings
        first = self.rounds_run
        for index in range(first, settings.rounds):
            if index > first and time.monotonic() >= self.until:
                return self._outcome("passed", ops, busy_s, "stopped at the budget")
            self.rounds_run = index + 1
            try:
                steps, verify = self.rounds.prepare(settings, index)
            except Exception as exc:
                self.failures.add(exc, f"round {index}: setup of {self.rounds.name} raised")
                return self._outcome("failed", ops, busy_s, f"setup raised in round {index}")
            round_start = time.monotonic()
            state = _RoundState(index, steps, settings.threads, deadline=round_start + settings.timeout_s)
            with self._cond:
                self._state = state
                self._cond.notify_all()
            hang = self._await_round(state)
            if hang:
                self.failures.add_text("Timeout", self._timeout_report(index, hang))
                return self._outcome("timeout", ops, busy_s, f"round {index} {hang} (threads stuck; stacks in errors)")
            busy_s += time.monotonic() - round_start
            ops += settings.threads * settings.iterations
            if verify is not None and not self.failures.count:
                try:
                    verify()
                except Exception as exc:
                    self.failures.add(exc, f"round {index}: verify() of {self.rounds.name} raised")
            if self.failures.count:
                return self._outcome("failed", ops, busy_s, f"failures in round {index} of at most {settings.rounds}")
        return self._outcome("passed", ops, busy_s, "")

    def _outcome(self, status: ScenarioStatus, ops: int, busy_s: float, detail: str) -> _Outcome:
        return _Outcome(status, time.monotonic() - self.started, ops, busy_s, detail)

    def _await_round(self, state: _RoundState) -> str | None:
        """Wait for the round to finish; say why it is hung instead, if it is.

        Hung: past the round's own limit (``timeout_s`` from its start), or stalled — for ``stall_s`` no worker
        finished a step and none used CPU time, and every worker is parked on a lock, as in a deadlock (a long
        step that keeps computing moves; one that sleeps or waits for I/O is not parked on a lock and runs on to
        the limit; a spinning livelock also ends there). Progress is sampled only once a round outlasts a poll
        interval.
        """
        baseline: tuple[tuple[int, ...], tuple[float, ...]] | None = None
        still_since = time.monotonic()
        if wait_runnable(state.done.is_set, self._round_spin_s):
            return None
        while True:
            remaining = state.deadline - time.monotonic()
            if remaining <= 0:
                return f"did not finish within its limit of {self.settings.timeout_s:g} s (--timeout)"
            if state.done.wait(min(remaining, _STALL_POLL_S)):
                return None
            progress = self._progress()
            now = time.monotonic()
            if progress is None:
                continue
            if baseline is None or _moved(baseline, progress):
                baseline, still_since = progress, now
            elif now - still_since >= self.settings.stall_s and self._all_parked():
                return (f"stalled: no worker thread moved for {self.settings.stall_s:g} s, every one parked on a "
                        f"lock (deadlock?; raise --stall if a step legitimately waits on a lock longer)")

    def _all_parked(self) -> bool:
        """Whether no worker is known to be doing anything but wait on a lock (sleeping, I/O and running are
        something else); where the system cannot tell, a still worker counts as parked."""
        return not any(parked_on_lock(native_id) is False for native_id in self._worker_native_ids)

    def _progress(self) -> tuple[tuple[int, ...], tuple[float, ...]] | None:
        """Steps each worker finished and CPU seconds each used; None where per-thread CPU clocks are missing."""
        try:
            cpu = tuple(time.clock_gettime(time.pthread_getcpuclockid(ident)) for ident in self._worker_idents)
        except (AttributeError, OSError):
            return None
        return tuple(count[0] for count in self._steps_done), cpu

    def _timeout_report(self, index: int, why: str) -> str:
        """Every other thread's stack, innermost last, without the threading module's bootstrap frames."""
        import traceback  # see _Failures.add

        frames = sys._current_frames()
        lines = [f"round {index} {why}; stacks of all threads:"]
        for thread in threading.enumerate():
            frame = frames.get(thread.ident or -1)
            if thread is threading.current_thread() or frame is None:
                continue
            stack = [f for f in traceback.extract_stack(frame) if f.filename != threading.__file__]
            lines.append(f"\nThread {thread.name} (ident {thread.ident}):")
            lines.append("".join(traceback.format_list(stack)).rstrip())
        return "\n".join(lines)

    def _called(self, seen: int) -> bool:
        """Whether a worker that ran round ``seen`` is called: a later round is published, or the run stops."""
        return self.stop or (self._state is not None and self._state.index != seen)

    def _work(self, thread_index: int) -> None:
        seen = -1
        iterations = self.settings.iterations
        while True:
            wait_runnable(functools.partial(self._called, seen), self._round_spin_s)
            with self._cond:
                while not self._called(seen):
                    self._cond.wait()
                if self.stop:
                    return
                state = self._state
            assert state is not None  # the wait above returns only with a round published (or to stop)
            seen = state.index
            step = state.steps[thread_index]
            steps_done = self._steps_done[thread_index]
            try:
                self._barrier.wait(state.deadline)
            except BarrierTimeout:
                return
            for iteration in range(iterations):
                if self.stop:
                    return
                try:
                    step(thread_index, iteration)
                except BaseException as exc:  # a scenario's SystemExit is a failure like any other
                    self.failures.add(exc, f"thread {thread_index}, round {state.index}, iteration {iteration}")
                steps_done[0] += 1
            with self._done_lock:
                state.remaining -= 1
                if state.remaining == 0:
                    state.done.set()


def _moved(before: tuple[tuple[int, ...], tuple[float, ...]], after: tuple[tuple[int, ...], tuple[float, ...]]) -> bool:
    """Whether a worker finished a step or computed (more than scheduler noise) between two samples."""
    steps_before, cpu_before = before
    steps_after, cpu_after = after
    return steps_after != steps_before or any(b - a > _STALL_CPU_NOISE_S for a, b in zip(cpu_before, cpu_after))


def _scenario_frames(tb: TracebackType | None) -> TracebackType | None:
    """A failure's traceback from the scenario's first frame on (the engine's frames say nothing)."""
    while tb is not None and tb.tb_frame.f_code.co_filename in _ENGINE_FILES:
        tb = tb.tb_next
    return tb


def _lower_switch_interval(interval_s: float) -> float | None:
    """On a build or run with the GIL on, lower the switch interval so threads interleave finely."""
    is_gil_enabled = getattr(sys, "_is_gil_enabled", None)
    if is_gil_enabled is not None and not is_gil_enabled():
        return None
    previous = sys.getswitchinterval()
    sys.setswitchinterval(interval_s)
    return previous
