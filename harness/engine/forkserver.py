"""Scenario children forked from a warm fork server (Linux), so a run does not pay an interpreter start-up.

A fork server (:mod:`harness.engine._forkserver`) is a child of the judged interpreter that imported the engine
and nothing else; each run it forks becomes what a spawned scenario child would be, less 0.15 s of start-up
at rest and 0.3-0.6 s on a busy machine. One server per interpreter and start-up environment serves the
process; a server that dies is replaced, unless it died before its first answer (then runs are spawned).
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

_KILL_WAIT_S = 10.0  # past a kill, how long to wait for the server to say the child ended
# Set per test by pytest: the children get it through their request's environment, the server need not.
_VOLATILE = frozenset({"PYTEST_CURRENT_TEST"})
_MAX_SERVERS = 4


class ForkServerGone(Exception):
    """No fork server can run this (it died, or could not start); the caller spawns the child instead."""


def usable() -> bool:
    """Whether scenario children can be forked here: Linux, with ``os.pidfd_open`` for the server's waits."""
    return sys.platform.startswith("linux") and hasattr(os, "pidfd_open")


class ForkServer:
    """One fork server process and the runs it forked; thread-safe."""

    def __init__(self, python: str, env: Mapping[str, str]) -> None:
        self._proc = subprocess.Popen(
            harness_command(python, "harness.engine._forkserver"),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=dict(env),
        )
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._ids = itertools.count(1)
        self._ended: dict[int, int] = {}
        self._waiting: dict[int, threading.Event] = {}
        self._gone = False
        self.answered = False  # it reported at least one run's end
        threading.Thread(target=self._read, name="ft-harness-forkserver-reader", daemon=True).start()

    def run(self, request_path: str, kill_after_s: float) -> int | None:
        """Fork a child that runs the request file: its exit status, or None when it was killed at ``kill_after_s``.
        Raises :class:`ForkServerGone` when the server could not say; Ctrl-C kills the child."""
        with self._lock:
            if self._gone:
                raise ForkServerGone
            run_id = next(self._ids)
            ended = self._waiting[run_id] = threading.Event()
        killed = False
        try:
            self._send(f"run {run_id} {request_path}")
            if not ended.wait(kill_after_s):
                killed = True
                self._send(f"kill {run_id}")
                ended.wait(_KILL_WAIT_S)
        except BaseException:
            self._send(f"kill {run_id}")
            ended.wait(_KILL_WAIT_S)
            raise
        finally:
            with self._lock:
                del self._waiting[run_id]
                status = self._ended.pop(run_id, None)
        if killed:
            return None  # killed: by the server, or with it (a forked child dies with its server)
        if status is None:
            raise ForkServerGone
        return status

    def alive(self) -> bool:
        return not self._gone

    def close(self) -> None:
        """End the server: at the end of its stdin it kills what it still runs and leaves."""
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
            with self._write_lock:
                self._proc.stdin.write(f"{line}\n".encode())
                self._proc.stdin.flush()
        except (OSError, ValueError):
            self._mark_gone()

    def _read(self) -> None:
        assert self._proc.stdout is not None
        try:
            for raw in self._proc.stdout:
                kind, run_id, status = [*raw.decode("utf-8", "replace").split(), "", "", ""][:3]
                if kind != "ended" or not run_id.isdigit():
                    continue
                with self._lock:
                    self._ended[int(run_id)] = int(status)
                    self.answered = True
                    event = self._waiting.get(int(run_id))
                if event is not None:
                    event.set()
        finally:
            self._mark_gone()

    def _mark_gone(self) -> None:
        with self._lock:
            self._gone = True
            events = list(self._waiting.values())
        for event in events:
            event.set()


_servers: dict[tuple[str, tuple[tuple[str, str], ...]], ForkServer] = {}
_refused: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
_servers_lock = threading.Lock()


def server_for(python: str, env: Mapping[str, str]) -> ForkServer:
    """The fork server of ``python`` started with ``env`` (a spawned scenario child's environment, less what
    changes per test), started on first use. Raises :class:`ForkServerGone` when none can serve."""
    key = (python, tuple(sorted((name, value) for name, value in env.items() if name not in _VOLATILE)))
    with _servers_lock:
        if key in _refused:
            raise ForkServerGone
        server = _servers.get(key)
        if server is not None and not server.alive():
            del _servers[key]
            server.close()
            if not server.answered:  # it could not start (or serve): do not start one per run
                _refused.add(key)
                raise ForkServerGone
            server = None
        if server is None:
            while len(_servers) >= _MAX_SERVERS:
                _servers.pop(next(iter(_servers))).close()
            try:
                server = _servers[key] = ForkServer(python, env)
            except OSError as exc:
                raise ForkServerGone from exc
        return server


@atexit.register
def _close_all() -> None:
    with _servers_lock:
        servers = list(_servers.values())
        _servers.clear()
    for server in servers:
        server.close()


# A copy of this process made by fork (multiprocessing) shares the servers' pipes but not the threads that read
# them: it starts its own.
os.register_at_fork(after_in_child=_servers.clear)
