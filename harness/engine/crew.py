"""Threads kept for a whole exploration, and how a thread waits for a lock another hands it.

Each controlled trial (:mod:`harness.engine.interleave`) runs its workers on threads of a :class:`Crew` rather
than start its own: starting a thread waits until the new thread runs, which on a machine busy with other work
is a wait for a CPU per thread per trial (:func:`~harness.engine.waits.wait_runnable`). A handed lock (a
worker's turn, a crew thread's next job) is waited for runnable at first, then asleep.
"""

from __future__ import annotations

import _thread
import contextlib
import functools
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from harness.engine.waits import wait_runnable

SPIN_S = 0.01  # a handed lock is waited for runnable this long, then asleep
_SETTLE_POLL_S = 0.002


def take_handed_lock(lock: Any) -> None:
    """Acquire ``lock``, which another thread releases to hand it over: runnable for up to :data:`SPIN_S` (a trial
    makes dozens of hand-offs), then asleep: a lock held longer (a step blocked in C code, a long computation) is
    not worth a CPU."""
    # A C callable: a Python one would start sys.monitoring's callbacks while exploration's monitoring is on.
    if not wait_runnable(functools.partial(lock.acquire, blocking=False), SPIN_S):
        lock.acquire()


class _Member:
    """A thread of a :class:`Crew`: between jobs it waits for the next, handed to it by :meth:`start`."""

    def __init__(self, index: int) -> None:
        self.go = threading.Lock()
        self.go.acquire()
        self.idle = True
        self.job: Callable[[], object] | None = None
        self.name = f"ft-harness-explorer-{index}"
        # Not threading.Thread.start, which sleeps until the new thread runs (see wait_runnable); the tracing and
        # profiling hooks it would install are installed by _serve.
        self.ident: int = _thread.start_new_thread(self._serve, (threading.gettrace(), threading.getprofile()))

    def start(self, job: Callable[[], object]) -> None:
        self.idle = False
        self.job = job
        self.go.release()

    def stop(self) -> None:
        """End the thread: now if idle, after its job if busy (``go`` is held while it runs one)."""
        self.job = None
        # RuntimeError: handed a job it has not taken yet (``go`` is free): it takes ``go``, finds no job and ends.
        with contextlib.suppress(RuntimeError):
            self.go.release()

    def _serve(self, trace: Any, profile: Any) -> None:
        threading.current_thread().name = self.name
        if trace is not None:
            sys.settrace(trace)
        if profile is not None:
            sys.setprofile(profile)
        while True:
            take_handed_lock(self.go)
            job = self.job
            if job is None:
                return
            try:
                job()
            except BaseException:  # the job's caller learns of it its own way; a dead thread must not be lent
                threading.excepthook(threading.ExceptHookArgs((*sys.exc_info(), threading.current_thread())))
            finally:
                self.job = None
                self.idle = True


class Crew:
    """Threads lent to one trial at a time. A thread still inside an abandoned trial (blocked in C code past the
    deadline) is not lent again. ``with Crew() as crew:`` stops every thread on the way out."""

    def __init__(self) -> None:
        self._members: list[_Member] = []

    def __enter__(self) -> Crew:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def take(self, count: int) -> list[_Member]:
        """``count`` idle threads (started as needed)."""
        idle = [member for member in self._members if member.idle]
        while len(idle) < count:
            member = _Member(len(self._members))
            self._members.append(member)
            idle.append(member)
        return idle[:count]

    def settle(self, members: Sequence[_Member], *, certain: bool) -> None:
        """Wait for ``members`` to be idle again: runnable for a moment, then, when they are ``certain`` to come
        back (their trial passed: every step returned), asleep until they do; a trial given up may leave one
        blocked in C code."""
        def back() -> bool:
            return all(member.idle for member in members)

        if not wait_runnable(back, SPIN_S) and certain:
            while not back():
                time.sleep(_SETTLE_POLL_S)

    def close(self) -> None:
        """Stop every thread (see :meth:`_Member.stop`)."""
        for member in self._members:
            member.stop()
        self._members.clear()
