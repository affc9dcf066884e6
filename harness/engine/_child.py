"""Child-process entry of :mod:`harness.engine.isolation`: run one scenario in-process, write the result file, exit.

Usage (internal): ``python -P -m harness.engine._child REQUEST.json``. The result file is written atomically and the
process leaves with ``os._exit`` so threads stuck in a hung scenario cannot block or crash its exit.
``python -P -m harness.engine._child --zygote`` serves :mod:`harness.engine.zygote` instead: it forks one such
child per request it reads.
"""

from __future__ import annotations

import faulthandler
import json
import os
import select
import signal
import sys
from pathlib import Path

from harness import UsageError
from harness.engine import load_ref, run_in_process
from harness.settings import StressSettings


def _execute(request: dict) -> dict:
    settings = StressSettings.from_json(request["settings"])
    try:
        obj = load_ref(request["ref"])
    except UsageError as exc:
        return {"usage_error": str(exc)}
    except BaseException as exc:
        import traceback  # only on this error path: at the top it would cost every child ~25 ms

        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        return {"load_error": {"type": type(exc).__qualname__, "count": 1, "first_traceback": text}}
    try:
        result = run_in_process(
            obj,
            name=request["name"],
            target=request["target"],
            settings=settings,
            on_failure=request["on_failure"],
        )
    except UsageError as exc:
        return {"usage_error": str(exc)}
    return {"result": result.to_json()}


def main(request_path: str) -> None:
    request = json.loads(Path(request_path).read_text(encoding="utf-8"))
    if "cwd" in request:  # forked by the zygote: in the caller's folder, output to files, as a spawned child
        os.chdir(request["cwd"])
        for fd, key in ((1, "stdout_path"), (2, "stderr_path")):
            os.dup2(os.open(request[key], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), fd)
    # A file of its own, unbuffered, that the parent reads after the child is gone: faulthandler writes every
    # thread's stack straight to its descriptor, so nothing is lost in a pipe or mixed into the scenario's output.
    dump = open(request["dump_path"], "wb", buffering=0)  # noqa: SIM115 - open until the process ends
    faulthandler.enable(file=dump, all_threads=True)
    faulthandler.dump_traceback_later(request["watchdog_s"], exit=True, file=dump)
    payload = _execute(request)
    faulthandler.cancel_dump_traceback_later()
    result_path = Path(request["result_path"])
    temp = result_path.with_suffix(".tmp")
    temp.write_text(json.dumps(payload), encoding="utf-8")
    os.replace(temp, result_path)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def serve() -> None:
    """The zygote: ``run ID REQUEST`` forks a child that runs ``main(REQUEST)``; ``kill ID`` kills it unless it is
    already reaped; ``ended ID STATUS`` is written when it is reaped. End of stdin kills the children and leaves.

    Single-threaded (only a single-threaded process forks safely), its waits through one pidfd per child.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it then kills the runs
    running: dict[int, tuple[str, int]] = {}  # pidfd -> (run id, pid)
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
            for _, pid in running.values():
                os.kill(pid, signal.SIGKILL)
            os._exit(0)
        *lines, pending = (pending + chunk).split(b"\n")
        for line in lines:
            command, run_id, argument = [*line.decode().split(" ", 2), ""][:3]
            if command == "run":
                pid = os.fork()
                if pid == 0:
                    _forked(argument)
                running[os.pidfd_open(pid)] = (run_id, pid)
            elif command == "kill":
                for started_id, pid in running.values():
                    if started_id == run_id:
                        os.kill(pid, signal.SIGKILL)


def _forked(request_path: str) -> None:
    """In a child of the zygote: stdin from /dev/null, Ctrl-C as in a fresh process, then run; never returns."""
    try:
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        main(request_path)
    finally:
        os._exit(1)


if __name__ == "__main__":
    if sys.argv[1] == "--zygote":
        serve()
    else:
        main(sys.argv[1])
