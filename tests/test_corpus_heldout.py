"""The held-out corpus is sound: each race is real (a forced interleaving breaks it) and each twin is correct.

Each race is forced deterministically with :func:`tests.support.interleave.interleave`: a trace function
stops one thread inside the race window, the other thread runs through it, then both finish; the broken
scenario must then raise or fail ``verify()``. The twin gets the same (or the analogous) forced schedule and
must pass, and must pass a stress run through the real engine. Whether the *harness* catches these races is
the benchmark's question (``python -m tests.corpus.benchmark``), not these tests'.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from harness.engine import load_ref, run_in_process
from harness.settings import resolve
from tests.corpus_heldout import (
    CASES,
    bounded_buffer,
    class_cache,
    id_registry,
    ledger,
    lru,
    published_config,
    refcount,
    singleton,
    stats_property,
    watchers,
)
from tests.support.interleave import PausePoint, interleave

BY_NAME = {case.name: case for case in CASES}
TWIN_STRESS = {"rounds": 20, "iterations": 200}


@dataclass(frozen=True)
class Forced:
    """A forced schedule: thread ``first_thread``'s step pauses at ``first_at`` (``twin_first_at`` on the
    twin) while the other thread's step runs (to ``second_at`` if given); ``before`` steps (thread, iteration)
    run alone first, to bring the state to the window. ``symptom`` is part of the failure the bug must show."""

    symptom: str
    first_at: PausePoint
    twin_first_at: PausePoint | None = None
    second_at: PausePoint | None = None
    first_iteration: int = 0
    first_thread: int = 0
    before: tuple[tuple[int, int], ...] = ()


def _instance(ref: str, threads: int = 2, iterations: int = 1) -> Any:
    instance = load_ref(ref)()
    instance.threads, instance.iterations, instance.seed = threads, iterations, 0
    instance.setup()
    return instance


def _step(instance: Any, thread_index: int) -> Callable[[int, int], object]:
    roles = getattr(instance, "roles", None)
    return getattr(instance, roles[thread_index % len(roles)]) if roles else instance.step


SCHEDULES: dict[str, Forced] = {
    "publish-before-init": Forced(
        "has no attribute 'limits'", PausePoint(published_config._fill, "config.limits ="), first_thread=1,
    ),
    "list-shifted-while-iterated": Forced(
        "saw a wrong number of events",
        PausePoint(watchers.Dispatcher.dispatch, "watcher.notify(event)"),
        twin_first_at=PausePoint(watchers.LockedDispatcher.dispatch, "watcher.notify(event)"),
    ),
    "property-counter": Forced(
        "1 hits counted, expected 2",
        PausePoint(stats_property._record_hit, "stats.hits += 1", "STORE_ATTR"),
        twin_first_at=PausePoint(stats_property.CacheStats.add_hit, "self.hits += 1", "STORE_ATTR"),
    ),
    "id-keyed-registry": Forced(
        "notes lost a signature", PausePoint(id_registry.NoteRegistry.note_for, "self._by_id[key] = note"),
    ),
    "dict-grown-in-comprehension": Forced(
        "dictionary changed size during iteration",
        PausePoint(ledger.Ledger.report, "for name, balance in", "FORMAT_WITH_SPEC"),
    ),
    "bounded-buffer-check-then-put": Forced(
        "accepted items were dropped",
        PausePoint(bounded_buffer.BoundedBuffer.try_put, "self._items.append(item)"),
        first_iteration=2 * (bounded_buffer.CAPACITY - 1),
        before=tuple((0, 2 * n) for n in range(bounded_buffer.CAPACITY - 1)),
    ),
    "python-refcount": Forced(
        "freed True",
        PausePoint(refcount.SharedBuffer.acquire, "self._refs += 1", "STORE_ATTR"),
        second_at=PausePoint(refcount.SharedBuffer.release, "self._refs -= 1"),
    ),
    "class-attribute-cache": Forced(
        "KeyError: 'op-1'",
        PausePoint(class_cache.Opcodes._codes, "cls._table[name] = number"),
        twin_first_at=PausePoint(class_cache.WholeOpcodes._codes, "cls._table = table"),
    ),
    "double-checked-singleton": Forced(
        "2 distinct instances",
        PausePoint(singleton.Telemetry.instance, "with cls._lock"),
        twin_first_at=PausePoint(singleton.CheckedTelemetry.instance, "with cls._lock"),
    ),
}
SCENARIO_CASES = [name for name in BY_NAME if name in SCHEDULES]


def _force(case_name: str, variant: str) -> list[BaseException]:
    """Run the case's forced schedule on the bug or the twin; every exception, the round's verify() included."""
    case, forced = BY_NAME[case_name], SCHEDULES[case_name]
    instance = _instance(case.bug if variant == "bug" else case.twin)
    for thread_index, iteration in forced.before:
        _step(instance, thread_index)(thread_index, iteration)
    first_at = forced.twin_first_at if variant == "twin" and forced.twin_first_at else forced.first_at
    first, second = forced.first_thread, 1 - forced.first_thread
    result = interleave(lambda: _step(instance, first)(first, forced.first_iteration),
                        lambda: _step(instance, second)(second, 0), first_at, forced.second_at)
    assert result.first_paused, f"{case_name} {variant}: thread {first} never reached {first_at.text!r}"
    errors = list(result.errors)
    try:
        instance.verify()
    except AssertionError as exc:
        errors.append(exc)
    return errors


def test_every_scenario_case_has_a_forced_schedule() -> None:
    assert set(SCHEDULES) | {"lru-move-on-read"} == set(BY_NAME)


@pytest.mark.parametrize("case_name", SCENARIO_CASES)
def test_forced_race_breaks_the_bug(case_name: str) -> None:
    errors = _force(case_name, "bug")
    seen = "; ".join(f"{type(e).__name__}: {e}" for e in errors)
    assert SCHEDULES[case_name].symptom in seen, f"{case_name}: expected {SCHEDULES[case_name].symptom!r}, got {seen!r}"


@pytest.mark.parametrize("case_name", SCENARIO_CASES)
def test_forced_schedule_leaves_the_twin_correct(case_name: str) -> None:
    errors = _force(case_name, "twin")
    assert not errors, f"{case_name} twin: {errors!r}"


def _lru_forced(cache: lru.LruCache) -> list[BaseException]:
    """Thread 0 finds key 0 cached, pauses before moving it; thread 1 misses on key 4 and evicts key 0."""
    for key in range(lru.CAPACITY):
        cache.get(key, lru.square)
    result = interleave(lambda: lru.reader(cache, lru.HOT_KEYS)(0, 0), lambda: lru.reader(cache, lru.ALL_KEYS)(1, 4),
                        PausePoint(lru.LruCache.get, "self._entries.move_to_end(key)"))
    assert result.first_paused
    return result.errors


def test_forced_eviction_breaks_the_lru_read() -> None:
    errors = _lru_forced(lru.LruCache(lru.CAPACITY))
    assert [type(e) for e in errors] == [KeyError], errors


def test_forced_eviction_leaves_the_locked_lru_correct() -> None:
    assert _lru_forced(lru.LockedLruCache(lru.CAPACITY)) == []


def test_lru_race_scenarios_use_the_forced_caches() -> None:
    """The Race scenarios the benchmark runs are built on the two cache classes forced above."""
    assert type(lru._CACHE) is lru.LruCache and type(lru._LOCKED_CACHE) is lru.LockedLruCache


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_twin_passes_a_stress_run(case) -> None:
    settings = resolve(TWIN_STRESS, env={}).replace(seed=7)
    result = run_in_process(load_ref(case.twin), name=case.twin, target=case.twin, settings=settings)
    assert result.status == "passed", f"{case.name} twin: {result.detail}; {result.errors}; rerun: {result.rerun}"
