"""One worker thread at a time: a controlled trial of a scenario round, with switch points from ``sys.monitoring``.

A :class:`Trial` runs each thread's steps; before each instruction of the code under test that touches
shared state (attribute, global, closure and item access, calls, iteration) the running thread stops at a
*switch point* and the trial's strategy (:mod:`harness.engine.schedules`) decides which thread goes on.
:class:`Monitoring` enables ``INSTRUCTION`` events only on code objects under test (:class:`CodeUnderTest`:
not the harness, not the standard library, not test tooling). An ``acquire``/``with`` of a ``threading``
``Lock``, ``RLock`` or ``Condition`` held by another thread parks the caller until the lock is free, so a
deadlock among such waits is seen at once; any other block in C code (sleep, I/O, a stdlib primitive) is
seen by the controller, which hands the turn on; only threads parked on locks (:mod:`~.waits`) make a
stall. Every hand-off is recorded for replay.
"""

from __future__ import annotations

import functools
import os
import sys
import sysconfig
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from types import CellType, CodeType, FunctionType, MethodType, ModuleType
from typing import Any

import harness
from harness import UsageError
from harness.engine.crew import Crew, take_handed_lock
from harness.engine.schedules import Strategy
from harness.engine.waits import parked_on_lock, wait_runnable, waited_for_cpu_s

_POLL_S = 0.002
_WATCH_SPIN_S = 0.05  # the controller waits for a trial's end runnable this long first (see wait_runnable)
_TOOL_NAME = "ft-harness-explore"
_TOOLING = frozenset({
    "pytest", "_pytest", "pluggy", "hypothesis", "iniconfig", "packaging", "cffi", "pycparser",
    "pytest_run_parallel", "pytest_timeout", "coverage", "sortedcontainers", "attr", "attrs",
    "_distutils_hack", "setuptools", "pip", "exceptiongroup", "typing_extensions", "_virtualenv",
})
# Instructions that read or write state another thread may share, or call out: the switch points.
_SWITCH_OPCODES = frozenset({
    "LOAD_ATTR", "STORE_ATTR", "DELETE_ATTR", "LOAD_GLOBAL", "STORE_GLOBAL", "DELETE_GLOBAL",
    "LOAD_DEREF", "STORE_DEREF", "DELETE_DEREF", "LOAD_NAME", "STORE_NAME", "LOAD_FROM_DICT_OR_DEREF",
    "LOAD_FROM_DICT_OR_GLOBALS", "BINARY_OP", "BINARY_SUBSCR", "BINARY_SLICE", "STORE_SUBSCR", "STORE_SLICE",
    "DELETE_SUBSCR", "CALL", "CALL_KW", "CALL_FUNCTION_EX", "FOR_ITER", "GET_ITER", "CONTAINS_OP",
    "UNPACK_SEQUENCE", "UNPACK_EX",
})
_LOCK_TYPES = (type(threading.Lock()), type(threading.RLock()))
# Python 3.12 and later; without it :func:`harness.engine.explore.explore` skips exploration before any use.
_monitoring: Any = getattr(sys, "monitoring", None)
_ACQUIRING = frozenset({"acquire", "__enter__", "acquire_lock"})

Step = Callable[[int, int], object]


class _Abandon(BaseException):
    """Raised in a worker to unwind it when its trial is given up (a deadlock, the deadline): as it parks, or at
    its next switch point if it runs on (a thread spinning for good would otherwise spin as long as the process;
    see :meth:`Monitoring.abandon`)."""


class CodeUnderTest:
    """Whether a code object's file is code under test: not the harness, the standard library or test tooling
    in site-packages; files of ``extra_modules`` always are."""

    def __init__(self, extra_modules: Iterable[str] = ()) -> None:
        self._harness = os.path.dirname(os.path.realpath(harness.__file__)) + os.sep  # the package, wherever this is
        paths = sysconfig.get_paths()
        stdlib = {os.path.realpath(paths[key]) for key in ("stdlib", "platstdlib") if paths.get(key)}
        stdlib.add(os.path.realpath(os.path.dirname(threading.__file__)))
        self._stdlib = tuple(path + os.sep for path in stdlib)
        self._extra = tuple(_module_root(name) for name in extra_modules)
        self._cache: dict[str, bool] = {}

    def __call__(self, filename: str) -> bool:
        known = self._cache.get(filename)
        if known is None:
            known = self._cache[filename] = self._decide(filename)
        return known

    def _decide(self, filename: str) -> bool:
        if filename.startswith("<"):
            return False
        path = os.path.realpath(filename)
        if any(path == root or path.startswith(root.rstrip(os.sep) + os.sep) for root in self._extra):
            return True
        if path.startswith(self._harness):
            return False
        for marker in ("site-packages", "dist-packages"):
            _, sep, tail = path.partition(os.sep + marker + os.sep)
            if sep:
                top = tail.split(os.sep, 1)[0].removesuffix(".py")
                return top not in _TOOLING and not top.endswith((".dist-info", ".egg-info"))
        return not path.startswith(self._stdlib)


def _module_root(name: str) -> str:
    """A module's file, or its package's folder; an unknown module is a usage error."""
    import importlib.util

    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        spec = None
    if spec is None or spec.origin is None:
        raise UsageError(f"code_under_test names module {name!r}, which cannot be found")
    if spec.submodule_search_locations:
        return os.path.realpath(os.path.dirname(spec.origin))
    return os.path.realpath(spec.origin)


_NEW, _RUNNING, _PARKED, _WAITING, _OFF, _DONE = "new", "running", "parked", "waiting", "off", "done"


@dataclass(eq=False)
class _Worker:
    index: int
    wake: Any = field(default_factory=threading.Lock)
    state: str = _NEW
    count: int = 0
    waiting_for: Any = None
    native_id: int | None = None
    ident: int | None = None  # its thread's, once a crew thread took it
    waited_s: float = 0.0  # over its steps, runnable but kept off the CPU (Linux's run delay)


@dataclass
class TrialOutcome:
    """How a trial ended: ``passed``, ``failed`` (a step or verify raised) or ``deadlock`` (every live
    thread waited and none could go on) or ``timeout`` (the deadline passed)."""

    status: str
    events: list[list[Any]]
    points: int
    stacks: str = ""
    why: str = ""
    waited_s: float = 0.0  # how long its threads were kept waiting for a CPU, all told (0 where Linux cannot say)


class Trial:
    """One trial: the workers, who holds the turn, and every hand-off made."""

    def __init__(self, steps: Sequence[Step], iterations: int, strategy: Strategy,
                 on_error: Callable[[BaseException, str], None], *, deadline: float, stall_s: float,
                 crew: Crew) -> None:
        self.steps = steps
        self.crew = crew
        self.iterations = iterations
        self.strategy = strategy
        self.on_error = on_error
        self.deadline = deadline
        self.stall_s = stall_s
        self.workers = [_Worker(index) for index in range(len(steps))]
        self.by_ident: dict[int, _Worker] = {}
        self.events: list[list[Any]] = []
        self.points = 0
        self.aborted = False
        self.engine_error: BaseException | None = None
        self.why = f"did not finish within the {deadline - time.monotonic():.3g} s left"
        self._lock = threading.Lock()
        self._running: _Worker | None = None
        self._serial = 0
        self._live = len(steps)
        self._all_done = threading.Event()

    # -- run by the controller (the thread that called explore)

    def run(self) -> TrialOutcome:
        controller = threading.get_native_id()
        controller_waited = waited_for_cpu_s(controller)
        members = self.crew.take(len(self.workers))
        for worker, member in zip(self.workers, members, strict=True):
            worker.wake.acquire()
            worker.ident = member.ident
            self.by_ident[member.ident] = worker
            member.start(functools.partial(self._work, worker))
        with self._lock:
            self._give(None, -1, 0, "w", self._eligible())
        status = self._watch()
        stacks = ""
        if status != "passed":
            stacks = self._stacks()
            self._abort()
        self.crew.settle(members, certain=status == "passed")
        if self.engine_error is not None:
            raise self.engine_error
        waited = sum(w.waited_s for w in self.workers)
        now_waited = waited_for_cpu_s(controller)
        if controller_waited is not None and now_waited is not None:
            waited += max(0.0, now_waited - controller_waited)  # starting the workers, handing out free turns
        return TrialOutcome(status, self.events, self.points, stacks, self.why, waited)

    def _watch(self) -> str:
        """Wait for the workers; give out a free turn, hand the turn on from a thread blocked in C (seen
        asleep on two polls in a row without progress), and call a deadlock when nobody can go on."""
        last = (-1, -1)
        quiet_since = time.monotonic()
        asleep, asleep_since = 0, quiet_since
        # An exact replay waits out a thread asleep a while (see Follow), up to the stall limit.
        stall_after_s = self.stall_s if self.strategy.stalls_recorded else 0.0
        spin_until = quiet_since + _WATCH_SPIN_S
        while not self._ended_within_poll(spin=time.monotonic() < spin_until):
            now = time.monotonic()
            if now >= self.deadline:
                return "timeout"
            with self._lock:
                if self._live == 0:  # the last worker finished between the wait and the lock
                    return "passed"
                progress = (self._serial, self.points)
                running = self._running
                if progress != last:
                    last, quiet_since, asleep = progress, now, 0
                    continue
                if running is None:
                    eligible = self._eligible()
                    if eligible:
                        self._give(None, -1, self.points, "w", eligible)
                    elif not any(w.state == _OFF for w in self.workers):
                        self.why = "deadlocked: every thread waits for a lock another thread holds"
                        return "deadlock"
                    elif any(_state(w.native_id) != b"S" or parked_on_lock(w.native_id) is False
                             for w in self.workers if w.state == _OFF):
                        # One is computing, reading a file (a cold import), sleeping or waiting for I/O: not stuck.
                        quiet_since = now
                    elif now - quiet_since >= self.stall_s:
                        self.why = (f"deadlocked: no thread moved for {self.stall_s:g} s (blocked in C code, parked "
                                    f"on locks; raise --stall if a step legitimately waits on a lock longer)")
                        return "deadlock"
                    continue
            # Read outside the lock: a worker waiting for it would look blocked.
            if not _blocked(running.native_id):
                asleep = 0
                continue
            asleep, asleep_since = asleep + 1, asleep_since if asleep else now
            if asleep < 2 or now - asleep_since < stall_after_s:
                continue
            with self._lock:
                if (self._serial, self.points) == last and self._running is running:
                    running.state = _OFF
                    self._give(running, running.index, running.count, "s", self._eligible())
        return "passed"

    def _ended_within_poll(self, *, spin: bool) -> bool:
        """Whether every worker finished, waiting at most a poll interval: with ``spin``, runnable, yielding the
        CPU (most trials end within milliseconds), else asleep."""
        if spin:
            return wait_runnable(self._all_done.is_set, _POLL_S, asleep=self._all_done.wait)
        return self._all_done.wait(_POLL_S)

    def _abort(self) -> None:
        with self._lock:
            self.aborted = True
            for worker in self.workers:
                if worker.state in (_NEW, _PARKED, _WAITING):
                    worker.state = _DONE
                    worker.wake.release()

    def _stacks(self) -> str:
        import traceback  # only for a failing trial

        frames = sys._current_frames()
        lines = []
        for worker in self.workers:
            frame = frames.get(worker.ident) if worker.ident is not None else None
            if frame is None:
                continue
            stack = [f for f in traceback.extract_stack(frame) if f.filename not in (__file__, threading.__file__)]
            lines.append(f"\nThread ft-harness-worker-{worker.index} ({worker.state}):")
            lines.append("".join(traceback.format_list(stack)).rstrip())
        return "\n".join(lines)

    # -- run by the workers

    def _work(self, worker: _Worker) -> None:
        native_id = worker.native_id = threading.get_native_id()
        waited_before = waited_for_cpu_s(native_id)
        take_handed_lock(worker.wake)
        if self.aborted:
            return
        step = self.steps[worker.index]
        try:
            for iteration in range(self.iterations):
                try:
                    step(worker.index, iteration)
                except _Abandon:
                    raise
                except BaseException as exc:  # a scenario's SystemExit is a failure like any other
                    self.on_error(exc, f"thread {worker.index}, iteration {iteration}")
        except _Abandon:
            return
        except BaseException as exc:  # the engine's own (recording a failure failed): the trial's caller raises it
            self.engine_error = self.engine_error or exc
        finally:
            self._leave(worker, native_id, waited_before)

    def _leave(self, worker: _Worker, native_id: int, waited_before: float | None) -> None:
        """A worker's end, however its steps ended (an abandoned trial's workers leave as it is given up)."""
        waited_after = waited_for_cpu_s(native_id)
        if waited_before is not None and waited_after is not None:
            worker.waited_s = max(0.0, waited_after - waited_before)
        with self._lock:
            if self.aborted:
                return
            worker.state = _DONE
            self._live -= 1
            if self._running is worker:
                self._give(worker, worker.index, worker.count, "f", self._eligible())
            if self._live == 0:
                self._all_done.set()

    def switch_point(self, worker: _Worker) -> None:
        if self.aborted:
            raise _Abandon
        with self._lock:
            if self._running is None:  # the turn was free: whoever comes first takes it
                worker.state = _RUNNING
                self._running = worker
                self._serial += 1
                return
            if self._running is worker:
                count = worker.count
                worker.count += 1
                self.points += 1
                target = self.strategy.choose(worker.index, count, "p", [*self._eligible(), worker.index])
                if target is None or target == worker.index:
                    return
                worker.state = _PARKED
                self._give(worker, worker.index, count, "p", [target])
            else:  # back from a stall in C while another thread runs: wait for a turn
                worker.state = _PARKED
        self._park(worker)

    def lock_call(self, worker: _Worker, lock: Any) -> None:
        if self._running is not worker or _free_for_caller(lock):
            return
        with self._lock:
            worker.state = _WAITING
            worker.waiting_for = lock
            self._give(worker, worker.index, worker.count, "b", self._eligible())
        self._park(worker)

    def _park(self, worker: _Worker) -> None:
        take_handed_lock(worker.wake)
        if self.aborted:
            raise _Abandon

    # -- under self._lock

    def _eligible(self) -> list[int]:
        return [worker.index for worker in self.workers
                if worker.state in (_NEW, _PARKED) or (worker.state == _WAITING and not worker.waiting_for.locked())]

    def _give(self, worker: _Worker | None, thread: int, count: int, kind: str, eligible: list[int]) -> None:
        """Hand the turn from ``worker`` (None: nobody holds it) to the strategy's pick among ``eligible``."""
        target = self.strategy.choose(thread, count, kind, eligible) if kind != "p" else eligible[0]
        if kind != "w" or target is not None:
            self.events.append([thread, count, -1 if target is None else target, kind])
        if target is None:
            self._running = None
            return
        chosen = self.workers[target]
        chosen.state = _RUNNING
        chosen.waiting_for = None
        self._running = chosen
        self._serial += 1
        chosen.wake.release()


def _free_for_caller(lock: Any) -> bool:
    """Whether the calling thread can take ``lock`` now (an RLock it holds already counts as free)."""
    if not lock.locked():
        return True
    is_owned = getattr(lock, "_is_owned", None)
    return bool(is_owned is not None and is_owned())


def _blocked(native_id: int | None) -> bool:
    """Whether a thread sleeps in the kernel (a lock, a sleep, I/O) rather than runs or waits for a CPU."""
    return _state(native_id) in (b"S", b"D")


def _state(native_id: int | None) -> bytes:
    """A thread's scheduler state from ``/proc`` (``R`` running, ``S`` asleep, ``D`` in I/O); without
    ``/proc``, ``S``: a thread that made no progress for a poll interval counts as asleep."""
    if native_id is None:
        return b"R"
    try:
        with open(f"/proc/self/task/{native_id}/stat", "rb") as handle:
            return handle.read().rpartition(b")")[2].split()[0]
    except (OSError, IndexError):
        return b"S"


class Monitoring:
    """The ``sys.monitoring`` tool for one exploration: switch points in code under test, and lock calls."""

    _exclusive = threading.Lock()  # one exploration per process at a time: the tool is process-wide

    def __init__(self, under_test: CodeUnderTest) -> None:
        self.under_test = under_test
        self.trial: Trial | None = None
        # The threads of trials given up (by thread ident): one still running code under test (spinning for good)
        # is unwound at its next switch point, whichever trial runs then.
        self._abandoned: set[int] = set()
        self._tool = -1
        self._instrumented: list[CodeType] = []
        self._points: dict[CodeType, frozenset[int]] = {}

    def __enter__(self) -> Monitoring:
        monitoring = _monitoring
        self._exclusive.acquire()
        for tool in (4, 3, 5):
            try:
                monitoring.use_tool_id(tool, _TOOL_NAME)
            except ValueError:
                continue
            self._tool = tool
            break
        else:
            self._exclusive.release()
            raise NoTool
        self.resume()
        monitoring.restart_events()
        monitoring.set_events(self._tool, monitoring.events.PY_START)
        return self

    def __exit__(self, *exc_info: object) -> None:
        monitoring = _monitoring
        monitoring.set_events(self._tool, 0)
        self.pause()
        monitoring.free_tool_id(self._tool)
        self._exclusive.release()

    def pause(self) -> None:
        """No callbacks and no instrumented code under test until :meth:`resume`, for free-running threads
        between two turns of exploration. Called, like :meth:`resume`, by the thread that runs the turns while
        no worker thread runs Python code: changing instrumentation stops the world, which then waits for no
        one; while workers run, on a machine busy with other work, each stop waited for a CPU (a turn's first
        trial took seconds)."""
        for code in self._instrumented:
            _monitoring.set_local_events(self._tool, code, 0)
        for event in (_monitoring.events.PY_START, _monitoring.events.INSTRUCTION, _monitoring.events.CALL):
            _monitoring.register_callback(self._tool, event, None)

    def resume(self) -> None:
        events = _monitoring.events
        _monitoring.register_callback(self._tool, events.PY_START, self._on_start)
        _monitoring.register_callback(self._tool, events.INSTRUCTION, self._on_instruction)
        _monitoring.register_callback(self._tool, events.CALL, self._on_call)
        for code in self._instrumented:
            _monitoring.set_local_events(self._tool, code, events.INSTRUCTION | events.CALL)

    def instrument_reachable(self, start: object) -> None:
        """Instrument now the functions under test reachable from ``start`` (:func:`_reachable_code`), before
        any worker thread runs: instrumenting stops the world, which costs nothing while this is the only thread
        running Python code and, on a busy machine, a wait for a CPU once workers run. Code met later is
        instrumented when it first starts."""
        for code in _reachable_code(start):
            self._instrument(code)

    def abandon(self, trial: Trial) -> None:
        """``trial`` was given up: its threads still in code under test stop at their next switch point."""
        self._abandoned.update(trial.by_ident)

    def _instrument(self, code: CodeType) -> None:
        if self.under_test(code.co_filename) and code not in self._points:
            import dis  # once per exploration that meets code under test

            self._points[code] = frozenset(i.offset for i in dis.get_instructions(code) if i.opname in _SWITCH_OPCODES)
            self._instrumented.append(code)
            events = _monitoring.events
            _monitoring.set_local_events(self._tool, code, events.INSTRUCTION | events.CALL)

    def _on_start(self, code: CodeType, offset: int) -> object:
        self._instrument(code)
        # Not DISABLE: on the free-threaded build each DISABLE stops the world, and on a machine busy with other
        # work each stop waited for a CPU (a first trial meeting a few dozen functions took seconds); the call per
        # function start is cheap, and free-running threads do not pay it (:meth:`pause`).
        return None

    def _on_instruction(self, code: CodeType, offset: int) -> object:
        if offset not in self._points.get(code, ()):
            return None  # not DISABLE, which stops the world (see _on_start)
        trial, ident = self.trial, threading.get_ident()
        worker = trial.by_ident.get(ident) if trial is not None else None
        if worker is not None:
            trial.switch_point(worker)  # type: ignore[union-attr]
        elif ident in self._abandoned:
            raise _Abandon
        return None

    def _on_call(self, code: CodeType, offset: int, callable_: object, arg0: object) -> object:
        trial = self.trial
        if trial is None or getattr(callable_, "__name__", None) not in _ACQUIRING:
            return None
        worker = trial.by_ident.get(threading.get_ident())
        if worker is None:
            return None
        owner = getattr(callable_, "__self__", None)
        lock = arg0 if owner is None or isinstance(owner, type(sys)) else owner
        lock = getattr(lock, "_lock", lock) if type(lock) is threading.Condition else lock
        if isinstance(lock, _LOCK_TYPES):
            trial.lock_call(worker, lock)
        return None


def _filled(cell: CellType) -> bool:
    try:
        cell.cell_contents  # noqa: B018 - an empty cell raises
    except ValueError:
        return False
    return True


def _reachable_code(start: object) -> Iterator[CodeType]:
    """The code of the functions reachable from ``start`` (a scenario class, function or instance) without
    running anything: methods (properties, static and class methods, base classes), class attributes, functions
    nested in those or held in their closures, and the functions and classes of the same module their code
    names as globals."""
    seen: set[int] = set()
    pending: list[tuple[object, dict[str, Any]]] = [(start, {})]
    while pending:
        value, scope = pending.pop()
        if id(value) in seen or value is None:
            continue
        seen.add(id(value))
        if isinstance(value, (staticmethod, classmethod)):
            pending.append((value.__func__, scope))
        elif isinstance(value, property):
            pending.extend((accessor, scope) for accessor in (value.fget, value.fset, value.fdel))
        elif isinstance(value, FunctionType):
            pending.append((value.__code__, value.__globals__))
            pending.extend((cell.cell_contents, {}) for cell in value.__closure__ or () if _filled(cell))
        elif isinstance(value, MethodType):
            pending.append((value.__func__, scope))
        elif isinstance(value, (tuple, list)):
            pending.extend((item, scope) for item in value)
        elif isinstance(value, type):
            module = sys.modules.get(value.__module__)
            pending.extend((member, vars(module) if module else {}) for member in vars(value).values())
            pending.extend((base, scope) for base in value.__bases__)
        elif isinstance(value, CodeType):
            yield value
            pending.extend((const, scope) for const in value.co_consts if isinstance(const, CodeType))
            pending.extend((scope[name], scope) for name in value.co_names
                           if isinstance(scope.get(name), (FunctionType, type))
                           and getattr(scope[name], "__module__", None) == scope.get("__name__"))
        elif not isinstance(value, ModuleType) and hasattr(value, "__dict__") and not scope:
            pending.extend((member, {}) for member in vars(value).values())  # the instance given: its fields


class NoTool(Exception):
    """Every ``sys.monitoring`` tool id is taken (debugger, coverage, profiler): exploration cannot run."""
