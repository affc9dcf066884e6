"""One door to child processes: starting a child of the judged interpreter (its environment, path, flags and
timeout), reading its answer (one marker line of JSON), and running uv.

Every stage that asks an interpreter something goes through :func:`ask`: the probe of its facts, the import
audit, the wheel-tag check and the venv's site-packages query. The timeouts of all of them are in
:data:`TIMEOUT_S`. A child of another interpreter sees only the ``harness`` package
(:func:`harness_only_path`), never the repository root, which would shadow the packages installed there.
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import UnfitError

# Seconds each kind of child may take (scenario children are bounded by the run's own timeout instead).
TIMEOUT_S = {
    "probe": 30.0,
    "import": 60.0,
    "gil-watch import": 30.0,
    "wheel tags": 60.0,
    "site-packages": 60.0,
    "uv": 60.0,
    "uv venv": 300.0,
    "uv install": 900.0,
    "uv build": 1800.0,  # a ThreadSanitizer build compiles slowly
}
_HARNESS_DIR = Path(__file__).resolve().parent.parent  # the harness package


@dataclass(frozen=True)
class Answer:
    """What a child said: the JSON after its last marker line (``None`` if it printed none), its exit status
    and its stderr."""

    data: Any
    returncode: int
    stderr: str

    def last_error_line(self) -> str:
        """The last line of stderr, or the exit status when stderr is empty."""
        return (self.stderr.strip().splitlines() or [f"exit status {self.returncode}"])[-1]


def ask(
    python: str,
    source: str,
    *args: str,
    marker: str,
    timeout_s: float,
    flags: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
) -> Answer:
    """Run ``python FLAGS -c SOURCE ARGS`` and read the JSON it prints after ``marker``.

    ``env`` defaults to this process's environment. ``OSError`` (cannot start) and
    ``subprocess.TimeoutExpired`` are the caller's to turn into its own one-line error.
    """
    proc = subprocess.run(
        [python, *flags, "-c", source, *args],
        capture_output=True,
        text=True,
        errors="replace",
        timeout=timeout_s,
        env=dict(os.environ if env is None else env),
        stdin=subprocess.DEVNULL,
    )
    data = None
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(marker):
            data = json.loads(line[len(marker) :])
            break
    return Answer(data, proc.returncode, proc.stderr)


def same_interpreter(python: str) -> bool:
    """Whether ``python`` names the running interpreter (by path, not resolved: a venv's python is its own)."""
    return os.path.abspath(python) == os.path.abspath(sys.executable)


def inherited_flags(python: str) -> list[str]:
    """``-X gil=…`` as this process was started with, for children of the same interpreter (else nothing)."""
    gil = getattr(sys, "_xoptions", {}).get("gil")
    return ["-X", f"gil={gil}"] if gil is not None and same_interpreter(python) else []


@functools.cache
def harness_only_path() -> str:
    """A directory holding only a ``harness`` symlink to this package, for another interpreter's PYTHONPATH.

    One per process, made on first use and removed when the process exits, so nothing is left in the temporary
    folder (a process killed by SIGKILL leaves its own behind).
    """
    folder = Path(tempfile.mkdtemp(prefix=f"ft-harness-path-{os.getpid()}-"))
    (folder / "harness").symlink_to(_HARNESS_DIR, target_is_directory=True)
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return str(folder)


def child_env(python: str, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a harness child of ``python``.

    Same interpreter: ``env``'s PYTHONPATH, then this process's ``sys.path`` (absolute entries), so what is
    importable here is importable there. Another interpreter: only this harness package (first, so no other copy
    wins), then ``env``'s PYTHONPATH. Neither adds the working directory of its own: a scenario folder is given
    as ``--scenario-path``.
    """
    result = dict(os.environ if env is None else env)
    user = list(filter(None, result.get("PYTHONPATH", "").split(os.pathsep)))
    if same_interpreter(python):
        # Only real paths: import-hook markers (editable installs) come back through the child's own site.
        here = [p for p in sys.path if p and os.path.isabs(p)]
        entries = [*user, *filter(os.path.exists, here)]
    else:
        entries = [harness_only_path(), *user]
    result["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(entries))
    return result


# ThreadSanitizer's settings for every child of a TSan build: keep going after a report, remember enough history
# to print both stacks of a race, and exit normally (the reports are read from the log files, not the status).
TSAN_HISTORY_SIZE = 7


def tsan_env(env: Mapping[str, str], log_dir: Path, suppressions: Path) -> dict[str, str]:
    """``env`` with ``TSAN_OPTIONS`` for a child whose reports go to ``log_dir/tsan.<pid>`` (the folder is made)."""
    log_dir.mkdir(parents=True, exist_ok=True)
    options = {
        "log_path": str(log_dir / "tsan"),
        "halt_on_error": "0",
        "history_size": str(TSAN_HISTORY_SIZE),
        "exitcode": "0",
        "suppressions": str(suppressions),
    }
    return {**env, "TSAN_OPTIONS": " ".join(f"{key}={value}" for key, value in options.items())}


def harness_command(python: str, module: str, *args: str) -> list[str]:
    """``python -P -m <module> args``: ``-P`` keeps the working directory (maybe the repo root) off sys.path."""
    return [python, *inherited_flags(python), "-P", "-m", module, *args]


def exit_description(returncode: int) -> str:
    """'killed by SIGSEGV' or 'exited with status 3'."""
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exited with status {returncode}"


def uv_command() -> list[str] | None:
    """The command that runs uv: ``uv`` on PATH, else the binary of the ``uv`` package in this environment."""
    uv = shutil.which("uv")
    if uv:
        return [uv]
    try:
        from uv import find_uv_bin
    except ImportError:
        return None
    try:
        return [find_uv_bin()]
    except FileNotFoundError:
        return None


def run_uv(args: Sequence[str], *, timeout_s: float = TIMEOUT_S["uv"]) -> subprocess.CompletedProcess[str]:
    """Run ``uv ARGS`` without ever downloading an interpreter; ``UnfitError`` (exit 3) when uv is missing."""
    uv = uv_command()
    if uv is None:
        raise UnfitError("uv not found on PATH or as the 'uv' package: install it (pip install uv)")
    return subprocess.run(
        [*uv, *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"},
        stdin=subprocess.DEVNULL,
    )
