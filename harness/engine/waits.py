"""What a worker thread waits on, read from Linux's ``/proc``: a deadlock is threads parked on locks (futex
waits), not a thread sleeping or doing I/O, which only looks the same from Python (no step finished, no CPU
used); and how long a thread waited for a CPU (a machine busy with other work). Where ``/proc`` cannot tell,
the answer is ``None`` and the callers keep their plain rules."""

from __future__ import annotations

import platform

# The futex system call's number, for kernels that hide wait channels (wchan reads "0").
_FUTEX_SYSCALL = {"x86_64": "202", "aarch64": "98"}


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
    scheduler's run delay; what a busy machine takes from it); None when this system cannot tell."""
    fields = (_read(f"/proc/self/task/{native_id}/schedstat") or "").split()
    return int(fields[1]) / 1e9 if len(fields) >= 2 and fields[1].isdigit() else None


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as handle:
            return handle.read().strip()
    except OSError:
        return None
