"""What a scenario is, for target authors: the forms the engine runs, and the helpers to write them.

- a plain callable ``f()`` or ``f(thread_index, iteration)``, called concurrently; any exception is a failure;
- a scenario class (best derived from :class:`Scenario`): each round gets a fresh instance with ``threads``,
  ``iterations`` and ``seed`` set, then ``setup()`` (optional), then every thread calls
  ``step(thread_index, iteration)`` for each iteration, then ``verify()`` (optional) raises if the final state
  is wrong. A class may define ``roles = ("read", "write")`` instead of ``step``: thread ``i`` calls the method
  named ``roles[i % len(roles)]``;
- :class:`Race` ``(reader, writer, ...)``: different callables raced against each other, thread ``i`` runs
  callable ``i % n``;
- :func:`stateful` ``(factory, op, shared=...)``: a scenario class over objects made by ``factory``, one
  shared by all threads or one per thread.

A ``ScenarioSpec.ref`` names one of them as ``module:attribute`` (:func:`load_ref`).
"""

from __future__ import annotations

import importlib
import inspect
import random
from collections.abc import Callable
from typing import Any

from harness import UsageError
from harness.settings import StressSettings

Step = Callable[[int, int], object]


class Scenario:
    """Base of scenario classes: what the engine sets on each round's fresh instance before ``setup()``.

    ``threads`` and ``iterations`` are the round's sizes; ``seed`` is the round's seed (:func:`round_seed`),
    from which :meth:`rng` derives one reproducible generator per thread.
    """

    threads: int
    iterations: int
    seed: int

    def rng(self, thread_index: int, iteration: int = 0) -> random.Random:
        """A generator private to one thread (and iteration) of this round: same seed, same data."""
        return random.Random((self.seed * 1_000_003 + thread_index) * 1_000_033 + iteration)


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

    class Stateful(Scenario):
        objects: list[Any]

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


def round_seed(run_seed: int, round_index: int) -> int:
    """The seed given to a scenario instance in a round: derived from the run seed, stable across runs."""
    return random.Random(run_seed * 1_000_003 + round_index).getrandbits(32)


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


class ScenarioAdapter:
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
        instance: Any = self.cls()
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


