"""The stress runner: N threads x M iterations per round, rounds until the time budget is spent (at most R),
against a scenario (see :mod:`harness.engine.scenario` for the forms a scenario takes), after up to
:data:`EXPLORE_SHARE` of the budget of controlled exploration (:mod:`harness.engine.explore`); no pytest
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

import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType

from harness.engine import scenario as scenario_module
from harness.engine.reproduce import RERUNS, reproductions
from harness.engine.result import ErrorSummary, ScenarioResult, ScenarioStatus
from harness.engine.scenario import ScenarioAdapter, Step
from harness.engine.waits import parked_on_lock
from harness.settings import StressSettings

_SPINS_BEFORE_CHECK = 256
_JOIN_GRACE_S = 1.0
_STALL_POLL_S = 0.05
_STALL_CPU_NOISE_S = 0.002
# Of a scenario's time budget, at most this share goes to controlled exploration, the rest to free-running
# threads: races in Python code are found by exploration in a fraction of it, races inside C code only by
# free-running threads, which must not wait long for their turn.
EXPLORE_SHARE = 0.3
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

    With ``settings.explore`` (or a schedule in ``settings.replay``) the scenario is first explored under
    controlled interleavings (:mod:`harness.engine.explore`) for up to :data:`EXPLORE_SHARE` of its time
    budget; a failure found there ends the run, and its schedule is in ``result.exploration`` (reruns replay
    it: :meth:`~harness.engine.result.ScenarioResult.rerun_settings`). Otherwise free-running threads stress
    it for the rest of the budget; a failure then is rerun a few times with the same seed, and the result
    says how many reproduced it.

    ``rerun`` is the command line the caller's front end writes for it (the engine knows no command line).
    A timed-out run leaves its stuck threads behind (daemon threads cannot be killed); use isolation when
    the scenario may hang or crash.
    """
    rounds = ScenarioAdapter(obj, name)
    started = time.monotonic()
    result = ScenarioResult.sized(name, target, settings, status="passed", rerun=rerun, on_failure=on_failure)
    if settings.explore or settings.replay:
        from harness.engine.explore import explore  # here: a run without exploration never loads sys.monitoring code

        explored = explore(rounds.prepare, settings, lambda: _Failures(started),
                           until=started + settings.budget_s * EXPLORE_SHARE,
                           extra_modules=getattr(obj, "code_under_test", ()))
        result.exploration = explored.summary
        if explored.status != "passed" or settings.replay:
            result.status, result.detail = explored.status, explored.detail  # type: ignore[assignment]
            result.duration_s = round(time.monotonic() - started, 6)
            if explored.errors is not None:
                result.failures, result.errors = explored.errors.count, explored.errors.summaries()
                result.time_to_first_failure_s = explored.errors.first_at
            return result
    # Free-running threads keep their share of the budget even when exploration ran over its own (one long
    # trial on a busy machine): races inside C code are only found here.
    free_until = max(started + settings.budget_s, time.monotonic() + settings.budget_s * (1 - EXPLORE_SHARE))
    run = _Run(settings, rounds, until=free_until)
    outcome = run.execute()
    result.status, result.detail = outcome.status, outcome.detail
    result.failures, result.errors = run.failures.count, run.failures.summaries()
    result.duration_s, result.ops_per_s = round(time.monotonic() - started, 6), outcome.ops_per_s
    result.time_to_first_failure_s, result.rounds_run = run.failures.first_at, run.rounds_run
    if outcome.status == "failed" and not settings.replay:
        def rerun_once(left: float) -> str:
            again = _Run(settings.replace(timeout_s=min(settings.timeout_s, left)), ScenarioAdapter(obj, name),
                         until=time.monotonic() + min(settings.budget_s, left))
            return again.execute().status

        result.reproduced = reproductions(rerun_once, "failed", limit_s=min(RERUNS * settings.budget_s, RERUN_LIMIT_S))
    return result


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
    ops_per_s: float | None
    detail: str


@dataclass
class _RoundState:
    """What the workers need for one round, published by the main thread before it wakes them."""

    index: int
    steps: list[Step]
    remaining: int
    deadline: float  # the round's own limit: a round still running then is hung
    done: threading.Event = field(default_factory=threading.Event)


class _Run:
    """One stress run: persistent worker threads, a start gate and a spinning barrier per round."""

    def __init__(self, settings: StressSettings, rounds: ScenarioAdapter, *, until: float) -> None:
        self.settings = settings
        self.rounds = rounds
        self.started = time.monotonic()
        self.until = until  # the time budget: no new round starts after it (the first always does)
        self.rounds_run = 0
        self.failures = _Failures(self.started)
        self.stop = False
        self._barrier = BARRIERS[settings.barrier](settings.threads)
        self._cond = threading.Condition()
        self._state: _RoundState | None = None
        self._done_lock = threading.Lock()
        # One counter object per worker, written only by its own thread (no contention), read by the stall check.
        self._steps_done = [[0] for _ in range(settings.threads)]
        self._worker_idents: list[int] = []
        self._worker_native_ids: list[int] = []

    def execute(self) -> _Outcome:
        switch = _lower_switch_interval(self.settings.switch_interval_s)
        workers = [
            threading.Thread(target=self._work, args=(t,), name=f"ft-harness-worker-{t}", daemon=True)
            for t in range(self.settings.threads)
        ]
        try:
            for worker in workers:
                worker.start()
            self._worker_idents = [worker.ident for worker in workers if worker.ident is not None]
            self._worker_native_ids = [worker.native_id for worker in workers if worker.native_id is not None]
            outcome = self._drive()
        finally:
            self.stop = True
            self._barrier.abandoned = True
            with self._cond:
                self._cond.notify_all()
            if switch is not None:
                sys.setswitchinterval(switch)
        if outcome.status != "timeout":
            for worker in workers:
                worker.join(_JOIN_GRACE_S)
        return outcome

    def _drive(self) -> _Outcome:
        ops = 0
        busy_s = 0.0
        settings = self.settings
        for index in range(settings.rounds):
            if index and time.monotonic() >= self.until:
                rounds = f"{index} round{'' if index == 1 else 's'}"
                return self._outcome("passed", ops, busy_s, f"stopped at the budget after {rounds}")
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
        ops_per_s = round(ops / busy_s, 1) if ops and busy_s > 0 else None
        return _Outcome(status, time.monotonic() - self.started, ops_per_s, detail)

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

    def _work(self, thread_index: int) -> None:
        seen = -1
        iterations = self.settings.iterations
        while True:
            with self._cond:
                while not self.stop and (self._state is None or self._state.index == seen):
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
