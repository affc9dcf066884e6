"""Waiting, and what a worker thread waits on. Read from Linux's ``/proc``: a deadlock is threads parked on
locks (futex waits), not a thread sleeping or doing I/O, which only looks the same from Python (no step
finished, no CPU used); and how long a thread waited for a CPU (a machine busy with other work). Where ``/proc``
cannot tell, the answer is ``None`` and the callers keep their plain rules. And :func:`wait_runnable`, for
waits expected to be short."""

from __future__ import annotations

import os
import platform
import sys
import threading
import time
from collections.abc import Callable

# The futex system call's number, for kernels that hide wait channels (wchan reads "0").
_FUTEX_SYSCALL = {"x86_64": "202", "aarch64": "98"}
_yield_cpu: Callable[[], object] = getattr(os, "sched_yield", lambda: time.sleep(0))
# Read at each wait, not once: an extension module can turn the GIL on at import, on a free-threaded build.
_is_gil_enabled: Callable[[], bool] = getattr(sys, "_is_gil_enabled", lambda: True)
_spent_lock = threading.Lock()
_spent_s = 0.0
# Per thread (native id), the run delay it had in wait_runnable: a thread that yields the CPU is runnable and not
# running, which Linux counts in its run delay, though it waits by choice. Each thread writes its own entry.
_delay_while_yielding_s: dict[int, float] = {}


def wait_runnable(ready: Callable[[], bool], seconds: float, *,
                  asleep: Callable[[float], bool] | None = None) -> bool:
    """Whether ``ready()`` came true within ``seconds``, waited for runnable, yielding the CPU between checks.
    On a machine busy with other work, a thread woken from sleep (a lock, a condition, an event) waited up to
    a scheduler period for a CPU (about 56 ms measured on 2 cores with two busy processes); one that stays
    runnable goes on within microseconds to a few milliseconds. For waits expected to be short: the caller
    sleeps after it. The CPU time it takes is counted in :func:`cpu_spent_waiting_s`. With the GIL on, a
    runnable waiter would take the GIL from the thread with work: the wait is ``asleep(seconds)`` instead, or,
    without ``asleep``, none."""
    global _spent_s
    if ready():
        return True
    if _is_gil_enabled():
        return asleep(seconds) if asleep is not None else False
    started, cpu_started = time.monotonic(), time.thread_time()
    try:
        while time.monotonic() < started + seconds:
            _yield_cpu()
            if ready():
                return True
        return False
    finally:
        cpu_s = time.thread_time() - cpu_started
        # Never asleep here, the thread either ran or waited for a CPU: its run delay is the rest of the time.
        native_id = threading.get_native_id()
        delay_s = max(0.0, time.monotonic() - started - cpu_s)
        _delay_while_yielding_s[native_id] = _delay_while_yielding_s.get(native_id, 0.0) + delay_s
        with _spent_lock:
            _spent_s += cpu_s


def cpu_spent_waiting_s() -> float:
    """The CPU time this process's threads spent in :func:`wait_runnable` so far: CPU time that did no work."""
    return _spent_s


def parked_on_lock(native_id: int | None) -> bool | None:
    """Whether the thread ``native_id`` of this process is parked on a lock (a futex wait): False when it sleeps,
    waits for I/O or runs; None when this system cannot tell."""
    if native_id is None:
        return None
    task = f"/proc/self/task/{native_id}"
    wchan = _read(f"{task}/wchan")
    if wchan and wchan != "0":
        return "futex" in wchan
    words = (_read(f"{task}/syscall") or "").split()
    futex = _FUTEX_SYSCALL.get(platform.machine())
    if not words or futex is None:
        return None
    return words[0] == futex


def waited_for_cpu_s(native_id: int) -> float | None:
    """How long the thread ``native_id`` of this process has been runnable but not running, in seconds (the
    scheduler's run delay; what a busy machine takes from it), less the run delay it had yielding the CPU in
    :func:`wait_runnable`; None when this system cannot tell."""
    fields = (_read(f"/proc/self/task/{native_id}/schedstat") or "").split()
    if len(fields) < 2 or not fields[1].isdigit():
        return None
    return int(fields[1]) / 1e9 - _delay_while_yielding_s.get(native_id, 0.0)


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as handle:
            return handle.read().strip()
    except OSError:
        return None
