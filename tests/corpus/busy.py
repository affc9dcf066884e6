"""Busy CPU-bound processes run beside a benchmark, to measure detection under load; always stopped.

Each process spins in pure Python until it is terminated or its parent is gone (it polls its parent's pid),
so not even a benchmark killed with SIGKILL leaves them behind.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from os import getpid

MAX_PROCESSES = 16
_STOP_WAIT_S = 2.0
_SPIN = """\
import os, sys
parent = int(sys.argv[1])
while os.getppid() == parent:
    for _ in range(200_000):
        pass
"""


@contextlib.contextmanager
def busy_processes(count: int) -> Iterator[list[int]]:
    """Run ``count`` (0 to :data:`MAX_PROCESSES`) spinning processes for the duration of the block; yields
    their pids. They are terminated on the way out, however the block ends (Ctrl-C included)."""
    if not 0 <= count <= MAX_PROCESSES:
        raise ValueError(f"busy process count {count} outside 0..{MAX_PROCESSES}")
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for _ in range(count):
            processes.append(subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", _SPIN, str(getpid())],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            ))
        yield [p.pid for p in processes]
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(_STOP_WAIT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
