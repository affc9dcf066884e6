"""Scenario children forked from a warm zygote (Linux), so a run does not pay for a fresh interpreter each time.

A scenario child spawned afresh spends ~0.15 s at rest starting the interpreter and importing the engine before
the scenario's first round, and 0.3-0.6 s with other work holding the CPUs: most of the time to detect a race
that exploration finds in its first trial. The zygote is one child of the judged interpreter, started with the
environment a spawned scenario child would get, that imports the engine and then only forks: one grandchild per
scenario run (:func:`harness.engine._child.serve`). It never imports a scenario, starts no thread and runs
nothing else, so each grandchild starts as clean as a spawned child, less the start-up (forking from a
single-threaded process is safe). One zygote per interpreter and environment serves the whole process, runs at
once included; it leaves when this process does (its stdin closes), killing any grandchild still running.

The protocol is one line each way: ``run ID REQUEST`` / ``kill ID`` in, ``ended ID STATUS`` out (STATUS as
:func:`os.waitstatus_to_exitcode` gives it). The zygote kills a grandchild only before it reaps it, so a ``kill``
never reaches a reused pid.
"""

from __future__ import annotations

import atexit
import itertools
import os
import subprocess
import sys
import threading
from collections.abc import Mapping

from harness.interpreter.children import harness_command

# Past a kill, how long to wait for the zygote to say the grandchild ended before giving up on it.
_KILL_WAIT_S = 10.0


class ZygoteGone(Exception):
    """The zygote died (or could not start) before saying how a run ended; the caller spawns instead."""


def available() -> bool:
    """Whether scenario children can be forked here: Linux, with ``os.pidfd_open`` for the zygote's waits."""
    return sys.platform.startswith("linux") and hasattr(os, "pidfd_open")


class Zygote:
    """One warm zygote process and the runs it forks; thread-safe."""

    def __init__(self, python: str, env: Mapping[str, str]) -> None:
        self._proc = subprocess.Popen(
            harness_command(python, "harness.engine._child", "--zygote"),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=dict(env),
        )
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._ended: dict[int, int] = {}
        self._waiting: dict[int, threading.Event] = {}
        self._gone = False
        threading.Thread(target=self._read, name="ft-harness-zygote-reader", daemon=True).start()

    def run(self, request_path: str, kill_after_s: float) -> int | None:
        """Fork a grandchild that runs the request file; its exit status, or None when it had to be killed at
        ``kill_after_s``. Raises :class:`ZygoteGone` when the zygote cannot say; Ctrl-C kills the grandchild."""
        with self._lock:
            if self._gone:
                raise ZygoteGone
            run_id = next(self._ids)
            ended = self._waiting[run_id] = threading.Event()
        self._send(f"run {run_id} {request_path}")
        killed = False
        try:
            if not ended.wait(kill_after_s):
                killed = True
                self._send(f"kill {run_id}")
                ended.wait(_KILL_WAIT_S)
        except BaseException:
            self._send(f"kill {run_id}")
            ended.wait(_KILL_WAIT_S)
            raise
        with self._lock:
            del self._waiting[run_id]
            status = self._ended.pop(run_id, None)
        if status is None:
            raise ZygoteGone
        return None if killed else status

    def alive(self) -> bool:
        return not self._gone

    def close(self) -> None:
        """End the zygote: closing its stdin makes it kill what it still runs and leave."""
        try:
            if self._proc.stdin is not None:
                self._proc.stdin.close()
            self._proc.wait(_KILL_WAIT_S)
        except (OSError, subprocess.TimeoutExpired):
            self._proc.kill()
            self._proc.wait()

    def _send(self, line: str) -> None:
        try:
            assert self._proc.stdin is not None
            with self._lock:
                self._proc.stdin.write(f"{line}\n".encode())
                self._proc.stdin.flush()
        except (OSError, ValueError):
            self._mark_gone()

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for raw in self._proc.stdout:
            kind, _, rest = raw.decode("utf-8", "replace").strip().partition(" ")
            run_id, _, status = rest.partition(" ")
            if kind == "ended":
                with self._lock:
                    self._ended[int(run_id)] = int(status)
                    event = self._waiting.get(int(run_id))
                if event is not None:
                    event.set()
        self._mark_gone()

    def _mark_gone(self) -> None:
        with self._lock:
            self._gone = True
            events = list(self._waiting.values())
        for event in events:
            event.set()


_zygotes: dict[tuple[str, tuple[tuple[str, str], ...]], Zygote] = {}
_zygotes_lock = threading.Lock()


def zygote_for(python: str, env: Mapping[str, str]) -> Zygote:
    """The zygote of ``python`` with ``env`` (the environment a spawned scenario child would get), started on
    first use; a dead one is replaced."""
    key = (python, tuple(sorted(env.items())))
    with _zygotes_lock:
        zygote = _zygotes.get(key)
        if zygote is None or not zygote.alive():
            if zygote is not None:
                zygote.close()
            try:
                zygote = _zygotes[key] = Zygote(python, env)
            except OSError as exc:
                raise ZygoteGone from exc
        return zygote


@atexit.register
def _close_all() -> None:
    with _zygotes_lock:
        zygotes = list(_zygotes.values())
        _zygotes.clear()
    for zygote in zygotes:
        zygote.close()
