"""The fork server of :mod:`harness.engine.forkserver`: imports the engine, then forks one scenario child per request.

Usage (internal): ``python -P -m harness.engine._forkserver``. Reads ``run ID REQUEST`` and ``kill ID`` lines on
stdin, writes ``ended ID STATUS`` when it reaps a child; it stays single-threaded (only such a process forks
safely) and leaves at the end of stdin or on any error, killing its children either way.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import select
import signal
import sys
import traceback
from pathlib import Path
from typing import NoReturn

from harness.engine import explore  # noqa: F401 - loaded once here, not by each child that explores
from harness.engine._child import run_request

_PR_SET_PDEATHSIG = 1
_NOT_SINGLE_THREADED = 3


def serve() -> NoReturn:
    """The server's loop; one pidfd per child to wait on. Refuses to start (exit status 3) when something that
    ran at interpreter start-up (a ``.pth`` hook, sitecustomize) started a thread: forking would be unsafe."""
    if len(os.listdir("/proc/self/task")) != 1:
        os._exit(_NOT_SINGLE_THREADED)
    sigint = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it then kills the runs
    running: dict[int, tuple[str, int]] = {}  # pidfd -> (run id, pid)
    try:
        _serve(running, sigint)
    finally:
        for _, pid in running.values():
            os.kill(pid, signal.SIGKILL)
        os._exit(0)


def _serve(running: dict[int, tuple[str, int]], sigint: object) -> None:
    pending = b""
    while True:
        ready, _, _ = select.select([0, *running], [], [])
        for pidfd in (fd for fd in ready if fd in running):
            run_id, pid = running.pop(pidfd)
            os.close(pidfd)
            _, status = os.waitpid(pid, 0)
            os.write(1, f"ended {run_id} {os.waitstatus_to_exitcode(status)}\n".encode())
        if 0 not in ready:
            continue
        chunk = os.read(0, 65536)
        if not chunk:
            return
        *lines, pending = (pending + chunk).split(b"\n")
        for line in lines:
            command, run_id, argument = [*line.decode().split(" ", 2), "", ""][:3]
            if command == "run":
                server = os.getpid()
                pid = os.fork()
                if pid == 0:
                    _forked(argument, server, sigint, list(running))
                running[os.pidfd_open(pid)] = (run_id, pid)
            elif command == "kill":
                for started_id, pid in running.values():
                    if started_id == run_id:
                        os.kill(pid, signal.SIGKILL)


def _forked(request_path: str, server: int, sigint: object, inherited: list[int]) -> NoReturn:
    """In a child: become what a freshly spawned scenario child would be (the caller's folder and environment,
    output to files, stdin from /dev/null, Ctrl-C as the server found it), die with the server, then run.
    An error escaping the run is printed and exits as it would from a spawned child."""
    try:
        for fd in (*inherited, 0):
            os.close(fd)
        os.open(os.devnull, os.O_RDONLY)  # fd 0
        request = json.loads(Path(request_path).read_text(encoding="utf-8"))
        for fd, key in ((1, "stdout_path"), (2, "stderr_path")):
            output = os.open(request[key], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(output, fd)
            os.close(output)
        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != server:  # the server died before prctl took effect
            os._exit(1)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        signal.signal(signal.SIGINT, sigint)  # type: ignore[arg-type]
        run_request(request)
    except SystemExit as exc:
        _leave(exc.code if isinstance(exc.code, int) else 1)
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    except BaseException:
        traceback.print_exc()
    _leave(1)


def _leave(code: int) -> NoReturn:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    serve()
