"""The stress engine: N threads x M iterations x R rounds against a scenario, with oracles; no pytest import.

Scenario forms (what a ``ScenarioSpec.ref`` or :func:`run_in_process` may name):

- a plain callable ``f()`` or ``f(thread_index, iteration)``, called concurrently; any exception is a failure;
- a scenario class: each round gets a fresh instance with ``threads``, ``iterations`` and ``seed`` set, then
  ``setup()`` (optional), then every thread calls ``step(thread_index, iteration)`` for each iteration, then
  ``verify()`` (optional) raises if the final state is wrong. A class may define ``roles = ("read", "write")``
  instead of ``step``: thread ``i`` calls the method named ``roles[i % len(roles)]``;
- :class:`Race` ``(reader, writer, ...)``: different callables raced against each other, thread ``i`` runs
  callable ``i % n``;
- :func:`stateful` ``(factory, op, shared=...)``: a scenario class over objects made by ``factory``, one
  shared by all threads or one per thread.

Each round the worker threads wait for the round, then meet at a spinning barrier, so they are released
within microseconds of each other (a condition-variable barrier wakes them one by one; ``barrier =
"condition"`` selects one, for measuring the difference). Every exception from every thread is collected;
a round that does not finish before the deadline, or in which no worker finishes a step or uses CPU for
``stall_s`` (a deadlock), ends the run as "timeout" with every thread's stack. :func:`run_scenario` runs a
spec in a child process when the spec asks for isolation (see :mod:`harness.isolation`), so a crash becomes
a result instead of a dead session.
"""

from __future__ import annotations

import importlib
import inspect
import os
import random
import shlex
import sys
import threading
import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Callable, Mapping

from harness.errors import UsageError
from harness.reproduce import RERUNS, reproductions
from harness.results import ErrorSummary, ScenarioResult
from harness.settings import FIELDS, StressSettings
from harness.targets import ScenarioSpec

_SPINS_BEFORE_CHECK = 256
_ALWAYS_IN_RERUN = {"threads", "rounds", "iterations", "timeout_s", "seed", "budget_s"}
_JOIN_GRACE_S = 1.0
_STALL_POLL_S = 0.05
_STALL_CPU_NOISE_S = 0.002
# Of a scenario's time budget, at most this share goes to controlled exploration, the rest to free-running
# threads: races in Python code are found by exploration in a fraction of it, races inside C code only by
# free-running threads, which must not wait long for their turn.
EXPLORE_SHARE = 0.3
RERUN_LIMIT_S = 10.0  # at most, for the automatic reruns of a free-running failure
_RUNNER_FILES = (__file__, os.path.join(os.path.dirname(__file__), "interleave.py"))  # frames a traceback skips

Step = Callable[[int, int], object]


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


class Race:
    """Different callables raced against each other: thread ``i`` calls ``callables[i % len(callables)]``.

    Each callable takes no arguments or ``(thread_index, iteration)``.
    """

    def __init__(self, *callables: Callable[..., object]) -> None:
        if not callables:
            raise UsageError("Race() needs at least one callable")
        self._steps = tuple(_as_step(c, getattr(c, "__qualname__", repr(c))) for c in callables)

    def __call__(self, thread_index: int, iteration: int) -> object:
        return self._steps[thread_index % len(self._steps)](thread_index, iteration)


def stateful(
    factory: Callable[[], Any],
    op: Callable[[Any, int, int], object],
    *,
    shared: bool,
    check: Callable[[list[Any], int, int], object] | None = None,
) -> type:
    """A scenario class over stateful objects: ``op(obj, thread_index, iteration)`` on each step.

    ``shared=True``: one object per round, used by every thread; ``shared=False``: one object per thread.
    ``check(objects, threads, iterations)`` (optional) runs as ``verify()`` after the round and raises if
    the objects' state is wrong. Objects are made in ``setup()``, before the threads are released.
    """

    class Stateful:
        def setup(self) -> None:
            self.objects = [factory()] if shared else [factory() for _ in range(self.threads)]

        def step(self, thread_index: int, iteration: int) -> None:
            op(self.objects[0 if shared else thread_index], thread_index, iteration)

        def verify(self) -> None:
            if check is not None:
                check(self.objects, self.threads, self.iterations)

    Stateful.__qualname__ = f"stateful({getattr(factory, '__qualname__', 'factory')}, shared={shared})"
    return Stateful


def load_ref(ref: str) -> object:
    """Import ``module:attribute`` (dotted attribute allowed); a missing module or attribute is a usage error."""
    module_name, sep, attr_path = ref.partition(":")
    if not sep or not module_name or not attr_path:
        raise UsageError(f"bad scenario reference {ref!r}: expected module:attribute")
    try:
        obj: object = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            raise UsageError(f"cannot find module {module_name!r} of {ref!r}") from None
        raise
    for part in attr_path.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise UsageError(f"{ref!r}: module {module_name!r} has no attribute {attr_path!r}") from None
    return obj


def stress_rerun_prefix(python: str | None = None) -> str:
    """``<this python> -m harness stress --no-import-audit [--python P]``: a rerun reproduces one scenario,
    so it skips the import audit (for a large target, most of a run's time)."""
    words = [shlex.quote(sys.executable), "-m", "harness", "stress", "--no-import-audit"]
    return " ".join(words + (["--python", shlex.quote(python)] if python else []))


def rerun_command(target: str, scenario: str, settings: StressSettings, *, prefix: str | None = None) -> str:
    """The command that reruns exactly this scenario: sizes, timeout and seed, plus any non-default knob."""
    prefix = prefix or stress_rerun_prefix()
    words = [prefix, "--target", shlex.quote(target), "--scenario", shlex.quote(scenario)]
    defaults = StressSettings()
    for option in FIELDS:
        value = getattr(settings, option.name)
        if option.name in _ALWAYS_IN_RERUN or (option.name != "report_dir" and value != getattr(defaults, option.name)):
            words += [shlex.quote(word) for word in option.cli_words(value)]
    return " ".join(words)


def round_seed(run_seed: int, round_index: int) -> int:
    """The seed given to a scenario instance in a round: derived from the run seed, stable across runs."""
    return random.Random(run_seed * 1_000_003 + round_index).getrandbits(32)


def run_scenario(
    spec: ScenarioSpec,
    target: str,
    settings: StressSettings,
    *,
    python: str | None = None,
    rerun_prefix: str | None = None,
    env: Mapping[str, str] | None = None,
) -> ScenarioResult:
    """Run one scenario of a target: in a child process of ``python`` if ``spec.isolate``, else here.

    ``env`` is the environment the child is derived from (default: this process's).

    Scenario overrides (threads, rounds, iterations) replace the run's settings for this scenario.
    """
    settings = settings.overridden(spec.threads, spec.rounds, spec.iterations)
    rerun = rerun_command(target, spec.name, settings, prefix=rerun_prefix)
    if spec.isolate:
        from harness.isolation import run_isolated

        return run_isolated(spec, target, settings, python=python or sys.executable, rerun=rerun, env=env)
    return run_in_process(
        load_ref(spec.ref), name=spec.name, target=target, settings=settings, on_failure=spec.on_failure, rerun=rerun
    )


def run_in_process(
    obj: object,
    *,
    name: str,
    target: str,
    settings: StressSettings,
    on_failure: str = "unsafe",
    rerun: str | None = None,
    replay_flag: str = "--replay",
) -> ScenarioResult:
    """Stress a callable or scenario class in this process and return its result (never raises for failures).

    With ``settings.explore`` (or a schedule in ``settings.replay``) the scenario is first explored under
    controlled interleavings (:mod:`harness.explore`) for up to :data:`EXPLORE_SHARE` of its time budget; a
    failure found there ends the run, its rerun being ``rerun`` plus ``replay_flag`` and the schedule.
    Otherwise free-running threads stress it for the rest of the budget; a failure then is rerun a few times
    with the same seed, and the result says how many reproduced it.

    A timed-out run leaves its stuck threads behind (daemon threads cannot be killed); use isolation when
    the scenario may hang or crash.
    """
    rounds = _Rounds(obj, name)
    rerun = rerun or rerun_command(target, name, settings)
    started = time.monotonic()
    result = ScenarioResult(name, target, settings.threads, settings.rounds, settings.iterations, "passed",
                            settings.seed, rerun, on_failure=on_failure)
    if settings.explore or settings.replay:
        from harness.explore import explore  # here: a run without exploration never loads sys.monitoring code

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
            if explored.schedule is not None and not settings.replay:
                result.rerun = f"{rerun} {replay_flag} {shlex.quote(explored.schedule.to_text())}"
            return result
    run = _Run(settings, rounds, until=started + settings.budget_s)
    outcome = run.execute()
    result.status, result.detail = outcome.status, outcome.detail  # type: ignore[assignment]
    result.failures, result.errors = run.failures.count, run.failures.summaries()
    result.duration_s, result.ops_per_s = round(time.monotonic() - started, 6), outcome.ops_per_s
    result.time_to_first_failure_s, result.rounds_run = run.failures.first_at, run.rounds_run
    if outcome.status == "failed" and not settings.replay:
        def rerun_once(left: float) -> str:
            again = _Run(settings.replace(timeout_s=min(settings.timeout_s, left)), _Rounds(obj, name),
                         until=time.monotonic() + min(settings.budget_s, left))
            return again.execute().status

        result.reproduced = reproductions(rerun_once, "failed", limit_s=min(RERUNS * settings.budget_s, RERUN_LIMIT_S))
    return result


def _as_step(fn: Callable[..., object], name: str) -> Step:
    """Adapt a callable taking nothing or ``(thread_index, iteration)`` to the two-argument form."""
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return lambda thread_index, iteration: fn()
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    required = [p for p in parameters if p.kind in positional and p.default is p.empty]
    takes_varargs = any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in parameters)
    if not required and not takes_varargs:
        return lambda thread_index, iteration: fn()
    if len(required) == 2 or (takes_varargs and len(required) < 2):
        return fn
    raise UsageError(f"scenario {name!r} must take no arguments or (thread_index, iteration)")


class _Rounds:
    """Turns a scenario object into per-round steps: a fresh instance per round for classes."""

    def __init__(self, obj: object, name: str) -> None:
        self.name = name
        self.cls = obj if inspect.isclass(obj) else None
        if self.cls is None:
            if not callable(obj):
                raise UsageError(f"scenario {name!r} is neither callable nor a scenario class")
            self._step = _as_step(obj, name)
        elif not (hasattr(self.cls, "step") or hasattr(self.cls, "roles")):
            raise UsageError(f"scenario class {name!r} defines neither step() nor roles")

    def prepare(self, settings: StressSettings, round_index: int) -> tuple[list[Step], Callable[[], object] | None]:
        """Make the round's instance (set up) and return each thread's step and the round's verify()."""
        if self.cls is None:
            return [self._step] * settings.threads, None
        instance = self.cls()
        instance.threads = settings.threads
        instance.iterations = settings.iterations
        instance.seed = round_seed(settings.seed, round_index)
        if hasattr(instance, "setup"):
            instance.setup()
        roles = getattr(instance, "roles", None)
        if roles:
            steps = [getattr(instance, roles[t % len(roles)]) for t in range(settings.threads)]
        else:
            steps = [instance.step] * settings.threads
        return steps, getattr(instance, "verify", None)


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
    status: str
    duration_s: float
    ops_per_s: float | None
    detail: str


@dataclass
class _RoundState:
    """What the workers need for one round, published by the main thread before it wakes them."""

    index: int
    steps: list[Step]
    remaining: int
    done: threading.Event = field(default_factory=threading.Event)


class _Run:
    """One stress run: persistent worker threads, a start gate and a spinning barrier per round."""

    def __init__(self, settings: StressSettings, rounds: _Rounds, *, until: float) -> None:
        self.settings = settings
        self.rounds = rounds
        self.started = time.monotonic()
        self.until = until  # the time budget: no new round starts after it (the first always does)
        self.rounds_run = 0
        self.deadline = self.started + settings.timeout_s
        self.failures = _Failures(self.started)
        self.stop = False
        self._barrier = BARRIERS[settings.barrier](settings.threads)
        self._cond = threading.Condition()
        self._state: _RoundState | None = None
        self._done_lock = threading.Lock()
        # One counter object per worker, written only by its own thread (no contention), read by the stall check.
        self._steps_done = [[0] for _ in range(settings.threads)]
        self._worker_idents: list[int] = []

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
                break
            self.rounds_run = index + 1
            try:
                steps, verify = self.rounds.prepare(settings, index)
            except Exception as exc:
                self.failures.add(exc, f"round {index}: setup of {self.rounds.name} raised")
                return self._outcome("failed", ops, busy_s, f"setup raised in round {index}")
            state = _RoundState(index, steps, settings.threads)
            round_start = time.monotonic()
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

    def _outcome(self, status: str, ops: int, busy_s: float, detail: str) -> _Outcome:
        ops_per_s = round(ops / busy_s, 1) if ops and busy_s > 0 else None
        return _Outcome(status, time.monotonic() - self.started, ops_per_s, detail)

    def _await_round(self, state: _RoundState) -> str | None:
        """Wait for the round to finish; say why it is hung instead, if it is.

        Hung: past the run's deadline, or stalled — for ``stall_s`` no worker finished a step and none used
        CPU time, as in a deadlock (a long step that keeps computing moves; a spinning livelock still ends at
        the deadline). Progress is sampled only once a round outlasts a poll interval.
        """
        baseline: tuple[tuple[int, ...], tuple[float, ...]] | None = None
        still_since = time.monotonic()
        while True:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                return f"did not finish within {self.settings.timeout_s:g} s"
            if state.done.wait(min(remaining, _STALL_POLL_S)):
                return None
            progress = self._progress()
            now = time.monotonic()
            if progress is None:
                continue
            if baseline is None or _moved(baseline, progress):
                baseline, still_since = progress, now
            elif now - still_since >= self.settings.stall_s:
                return f"stalled: no worker thread moved for {self.settings.stall_s:g} s (deadlock?)"

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
            seen = state.index
            step = state.steps[thread_index]
            steps_done = self._steps_done[thread_index]
            try:
                self._barrier.wait(self.deadline)
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
    while tb is not None and tb.tb_frame.f_code.co_filename in _RUNNER_FILES:
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
