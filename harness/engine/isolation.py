"""Run a scenario in a child process, so a SIGSEGV/SIGABRT or a hard hang is a result, not a dead session.

The child (:mod:`harness.engine._child`, forked by :mod:`harness.engine.forkserver` where it can be) runs the
engine in-process with faulthandler on and writes its result to a file; if it dies first, the parent reports
"crashed" (or "timeout") with the faulthandler dump of every thread. The child starts through
:mod:`harness.interpreter.children` (its environment, path and flags).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness import UsageError
from harness.engine import forkserver
from harness.engine.forkserver import ForkServerGone
from harness.engine.result import ErrorSummary, ScenarioResult, withdraw_schedule
from harness.engine.runner import EXPLORE_SHARE, OVERRUN, RERUN_LIMIT_S
from harness.interpreter.children import child_env, exit_description, harness_command
from harness.settings import StressSettings

# The child's own faulthandler watchdog fires this long after the longest a run can take (a hang holding the
# GIL, or in setup/verify, stops the engine's own limits); the parent kills the child later still.
WATCHDOG_GRACE_S = 2.0
KILL_GRACE_S = 5.0
OUTPUT_TAIL_CHARS = 20_000


def run_isolated(
    ref: str,
    *,
    name: str,
    target_name: str,
    settings: StressSettings,
    on_failure: str,
    python: str,
    env: Mapping[str, str] | None = None,
    fork: bool = True,
) -> ScenarioResult:
    """Run the scenario ``ref`` (``module:attribute``) in a child of ``python`` (environment from
    :func:`child_env` on ``env``, default this process's); a missing module/attribute raises ``UsageError``
    as in-process. The child is forked by the fork server of that interpreter and environment
    (:mod:`harness.engine.forkserver`) where it can be and ``fork`` allows it, else spawned.

    A failure found by exploration is replayed once more in a fresh child, as its printed rerun would: a
    scenario that keeps state across rounds (a module-level cache) can fail a trial that its schedule alone
    does not fail in a fresh process; such a schedule is not offered (the rerun falls back to the seed).
    """
    result = _run_child_once(ref, name, target_name, settings, on_failure, python, env, fork=fork)
    schedule = (result.exploration or {}).get("schedule")
    if result.status != "failed" or schedule is None or settings.replay:
        return result
    checking = time.monotonic()
    # Spawned, as the printed rerun is: a fork would share the first run's hash seed and memory layout.
    again = _run_child_once(ref, name, target_name, result.rerun_settings(settings), on_failure, python, env,
                            fork=False)
    result.reruns_s = round((result.reruns_s or 0.0) + time.monotonic() - checking, 6)
    if again.status != result.status:
        assert result.exploration is not None
        withdraw_schedule(result.exploration, "fresh_replay", f"its schedule {again.status} in a fresh process: "
                          "the failure needs state earlier rounds left (a module-level object?)")
        result.detail += "; its schedule alone does not fail in a fresh process (state kept across rounds?)"
    return result


def _run_child_once(ref: str, name: str, target_name: str, settings: StressSettings, on_failure: str, python: str,
                    env: Mapping[str, str] | None, *, fork: bool) -> ScenarioResult:
    with tempfile.TemporaryDirectory(prefix="ft-harness-child-") as tmp:
        request = {
            "ref": ref,
            "name": name,
            "target": target_name,
            "on_failure": on_failure,
            "settings": settings.to_json(),
            "watchdog_s": longest_run_s(settings) + WATCHDOG_GRACE_S,
        }
        kill_after_s = longest_run_s(settings) + KILL_GRACE_S
        environment = child_env(python, env)
        # Each way in a folder of its own: the child of a fork server that died is killed with it, but may still
        # be writing for a moment.
        folder = Path(tmp) / "forked"
        started = time.monotonic()
        try:
            if not (fork and forkserver.usable()):
                raise ForkServerGone
            returncode = _forked(folder, request, python, environment, kill_after_s)
        except ForkServerGone:
            folder = Path(tmp) / "spawned"
            started = time.monotonic()
            returncode = _spawned(folder, request, python, environment, kill_after_s)
        elapsed = time.monotonic() - started
        stderr, stdout = _tail(folder / "stderr"), _tail(folder / "stdout")
        payload = _read_json(folder / "result.json")
        dump = _read_text(folder / "faulthandler.txt")
    base = _base_result(name, target_name, on_failure, settings, elapsed)
    if payload is not None:
        return _from_payload(payload, base)
    return _death_result(base, returncode, dump, stderr or stdout)


def _with_files(folder: Path, request: dict[str, Any], **more: Any) -> Path:
    """Write ``request`` with its result, dump and output paths in ``folder`` (made now); the request's path."""
    folder.mkdir()
    files = {"result_path": "result.json", "dump_path": "faulthandler.txt", "stdout_path": "stdout",
             "stderr_path": "stderr"}
    path = folder / "request.json"
    path.write_text(json.dumps({**request, **{key: str(folder / file) for key, file in files.items()}, **more}),
                    encoding="utf-8")
    return path


def _forked(folder: Path, request: dict[str, Any], python: str, env: dict[str, str], kill_after_s: float) -> int | None:
    """Run the request in a child forked by the fork server: its exit status, None when killed at the deadline.
    Raises ``ForkServerGone`` when no server can run it."""
    try:
        # What a spawned child would take from this process now; the server took them when it started.
        cwd = os.getcwd()
    except OSError:  # the folder was removed: a spawned child has no folder to start in either, so let it say
        raise ForkServerGone from None
    path = _with_files(folder, request, cwd=cwd, env=env)
    return forkserver.server_for(python, env).run(str(path), kill_after_s)


def _spawned(folder: Path, request: dict[str, Any], python: str, env: dict[str, str],
             kill_after_s: float) -> int | None:
    """Run the request in a freshly started child: its exit status, None when killed at the deadline."""
    path = _with_files(folder, request)
    with open(folder / "stdout", "wb") as out, open(folder / "stderr", "wb") as err:
        return _run_child(harness_command(python, "harness.engine._child", str(path)), env, out, err, kill_after_s)


def longest_run_s(settings: StressSettings) -> float:
    """The longest a scenario run can take: its phases (:data:`OVERRUN` budgets at most), then the last round's
    own limit (``timeout_s``), exploration's hunt for a free-running failure's schedule, the automatic reruns."""
    return settings.budget_s * (OVERRUN + EXPLORE_SHARE) + settings.timeout_s + RERUN_LIMIT_S


def _run_child(cmd: list[str], env: dict[str, str], out: Any, err: Any, kill_after_s: float) -> int | None:
    """Run the child to completion or kill it; returns its exit status, or None when it had to be killed.

    A timer kills it and a plain ``wait()`` reaps it: ``wait(timeout=...)`` polls, and would notice a child
    that has finished up to 50 ms late, on every scenario of a run.
    """
    proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env)
    killed = threading.Event()

    def kill() -> None:
        killed.set()
        proc.kill()

    timer = threading.Timer(kill_after_s, kill)
    timer.daemon = True
    timer.start()
    try:
        returncode = proc.wait()
    except BaseException:  # SIGINT/SIGTERM in the parent: the child goes too
        proc.kill()
        proc.wait()
        raise
    finally:
        timer.cancel()
    return None if killed.is_set() else returncode


def _tail(path: Path) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - OUTPUT_TAIL_CHARS))
            return handle.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return ""


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _base_result(
    name: str, target_name: str, on_failure: str, settings: StressSettings, elapsed: float
) -> ScenarioResult:
    return ScenarioResult.sized(name, target_name, settings, status="passed", duration_s=round(elapsed, 6),
                                on_failure=on_failure)


def _from_payload(payload: dict[str, Any], base: ScenarioResult) -> ScenarioResult:
    if "usage_error" in payload:
        raise UsageError(payload["usage_error"])
    if "load_error" in payload:
        error = ErrorSummary(**payload["load_error"])
        base.status, base.failures, base.errors = "failed", 1, [error]
        base.detail = f"loading the scenario raised {error.type}"
        base.time_to_first_failure_s = base.duration_s
        return base
    data = dict(payload["result"])
    data["errors"] = [ErrorSummary(**e) for e in data["errors"]]
    return ScenarioResult(**data)


def _death_result(base: ScenarioResult, returncode: int | None, dump: str, output: str) -> ScenarioResult:
    """The child died without a result: killed by a signal (crashed), or a watchdog fired (timeout). The error
    text is the faulthandler dump of every thread, then the child's own last output; an empty dump says why."""
    watchdog = returncode is not None and returncode > 0 and "Timeout (" in dump
    if returncode is None or watchdog:
        base.status = "timeout"
        kind = "Timeout"
        base.detail = "the scenario hung (child stopped by its watchdog); " + (
            "stacks of every thread in errors" if dump else "no stacks: the child was killed before its watchdog fired")
    else:
        base.status = "crashed"
        how = exit_description(returncode)
        kind = how.removeprefix("killed by ") if returncode < 0 else "ChildExit"
        base.detail = f"the scenario's process {how} before writing its result; " + (
            _dump_scope(dump) if dump else f"no faulthandler dump: {_no_dump(returncode)}")
    text = dump or f"(no faulthandler dump: {_no_dump(returncode)})"
    if output.strip():
        text += "\n\nthe child's last output:\n" + output.strip()
    base.failures = 1
    base.errors = [ErrorSummary(kind, 1, text)]
    base.time_to_first_failure_s = base.duration_s
    return base


def _dump_scope(dump: str) -> str:
    """Which threads the dump shows: on a crash with the GIL disabled, CPython's faulthandler can show only the
    crashing thread (it says so in the dump)."""
    if "<Cannot show all threads" in dump:
        return "faulthandler dump of the crashing thread in errors (with the GIL disabled it cannot show the others)"
    return "faulthandler dump of every thread in errors"


def _no_dump(returncode: int | None) -> str:
    """Why faulthandler wrote nothing for a child that ended this way."""
    if returncode is None:
        return "the parent killed the child (SIGKILL) after its deadline"
    if returncode >= 0:
        return ("faulthandler writes only on a fatal signal or its watchdog, and the process exited by itself "
                "(os._exit() or exit() from C code in the scenario)")
    if returncode == -9:
        return "SIGKILL cannot be caught (the OOM killer or another process?)"
    return "the process died before faulthandler could write (a signal it does not handle, or a corrupted stack)"
