"""The import audit's fast path on Linux: one clean zygote of the judged interpreter forks one child per module.

The zygote is a child of the judged interpreter that imports only what a one-process-per-module audit child
imports (a few GIL-free stdlib modules) and starts no thread. For each module it forks a grandchild (``os.fork``
from a single-threaded process) that imports the module alone, prints its report and exits, so every module
is still imported alone in a process where nothing that could turn the GIL on was imported first; only the
interpreter start-up is shared. The zygote runs up to ``jobs`` grandchildren at once, kills one that outlives
``timeout_s``, and answers one line per module. Modules under a package that at least two of them share are
forked from a sub-zygote that imported that package first (importing them imports it anyway), if importing it
alone kept the GIL off, warned nothing and started no thread; otherwise from the clean zygote. A module the
zygote did not answer (it died) is left out of the answer, and the caller spawns it instead.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from harness.interpreter.children import child_env, inherited_flags

_ANSWER = "FT-HARNESS-ZYGOTE:"
# All the zygote imports besides the classifier's own (a spawned audit child's) imports: GIL-free stdlib.
ZYGOTE_IMPORTS = ("os", "select", "signal", "time")
_SLACK_S = 30.0

# Appended to the audit's classifier (which defines ``classify(name) -> dict`` and ``MARKER``). Reads
# ``[[base or null, [module, ...]], ...]`` as JSON on stdin; argv: jobs, per-module timeout (s), output tail.
_ZYGOTE_LOOP = f"""
import {", ".join(ZYGOTE_IMPORTS)}
jobs, timeout, tail = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])

def answer(running, fd, timed_out):
    pid, name, chunks, _ = running.pop(fd)
    os.close(fd)
    if timed_out:
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    output = b"".join(chunks).decode("utf-8", "replace")
    report = None
    for line in reversed(output.splitlines()):
        if line.startswith(MARKER):
            report = json.loads(line[len(MARKER):])
            break
    print({_ANSWER!r} + json.dumps({{"module": name, "report": report, "output": output[-tail:],
        "returncode": os.waitstatus_to_exitcode(status), "timed_out": timed_out}}), flush=True)

def serve(queue):
    running = {{}}
    while queue or running:
        while queue and len(running) < jobs:
            name = queue.pop(0)
            read_end, write_end = os.pipe()
            sys.stdout.flush()
            pid = os.fork()
            if pid == 0:
                try:
                    os.close(read_end)
                    os.dup2(write_end, 1)
                    os.dup2(write_end, 2)
                    os.write(1, (MARKER + json.dumps(classify(name)) + "\\n").encode())
                finally:
                    os._exit(0)
            os.close(write_end)
            running[read_end] = (pid, name, [], time.monotonic() + timeout)
        ready, _, _ = select.select(list(running), [], [], 0.1)
        for fd in ready:
            chunk = os.read(fd, 65536)
            if chunk:
                running[fd][2].append(chunk)
            else:
                answer(running, fd, False)
        now = time.monotonic()
        for fd in [fd for fd, entry in running.items() if entry[3] < now]:
            answer(running, fd, True)

def preloaded(base):
    # A base is usable when importing it alone kept the GIL off, warned nothing, raised nothing and left this
    # process with its one thread (fork only from a single-threaded process); SIGALRM ends a hanging import.
    signal.alarm(max(1, int(timeout)))
    report = classify(base)
    signal.alarm(0)
    return (report["status"] == "ok" and not report["gil_enabled"] and report["warning"] is None
            and len(os.listdir("/proc/self/task")) == 1)

groups = json.load(sys.stdin)
os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
refused = set()
for base, group in groups:
    if base is not None and any(base.startswith(r + ".") for r in refused):
        base = None  # importing it imports a refused package first: it would be refused too
    if base is not None:
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                if preloaded(base):
                    serve(list(group))
                    code = 0
            finally:
                sys.stdout.flush()
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        if os.waitstatus_to_exitcode(status) == 0:
            continue
        refused.add(base)
    serve(list(group))
"""


def preload_groups(modules: Sequence[str]) -> list[tuple[str | None, list[str]]]:
    """Each module under the deepest of its ancestor packages that at least two modules share (importing a
    module imports its ancestors first anyway), else under None: the clean zygote. Shallow bases come first, so
    that a refused package (one that starts a thread) spares the zygote trying the packages under it.
    Order kept within groups."""
    counts = Counter(ancestor for module in modules for ancestor in _ancestors(module))
    groups: dict[str | None, list[str]] = {}
    for module in modules:
        base = next((a for a in reversed(_ancestors(module)) if counts[a] >= 2), None)
        groups.setdefault(base, []).append(module)
    return sorted(groups.items(), key=lambda item: -1 if item[0] is None else item[0].count("."))


def _ancestors(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:end]) for end in range(1, len(parts))]


@dataclass(frozen=True)
class ChildOutcome:
    """What one grandchild left: its report (None if it died first), its output's tail and exit status."""

    report: dict | None
    output: str
    returncode: int
    timed_out: bool


def available() -> bool:
    """Whether the zygote can be used here (Linux: fork is safe in a single-threaded process)."""
    return sys.platform.startswith("linux")


def _zygote_command(python: str, classifier_source: str, *, jobs: int, timeout_s: float, tail: int) -> list[str]:
    """The command line that starts a zygote of ``python`` (``-P``: the working directory stays off sys.path)."""
    return [python, *inherited_flags(python), "-P", "-c", classifier_source + _ZYGOTE_LOOP,
            str(jobs), repr(timeout_s), str(tail)]


def fork_each(
    modules: Sequence[str],
    *,
    python: str,
    classifier_source: str,
    env: Mapping[str, str] | None,
    timeout_s: float,
    jobs: int,
    tail: int,
    preload: bool = True,
) -> dict[str, ChildOutcome]:
    """Import each module in its own grandchild of one zygote; the modules it did not answer are missing.

    ``preload`` forks the modules that share an ancestor package from a zygote that imported it first
    (:func:`preload_groups`), when importing it alone kept the GIL off and started no thread.
    """
    groups = preload_groups(modules) if preload else [(None, list(modules))]
    rounds = sum(1 + -(-len(group) // max(1, jobs)) for _, group in groups)
    try:
        proc = subprocess.run(
            _zygote_command(python, classifier_source, jobs=jobs, timeout_s=timeout_s, tail=tail),
            input=json.dumps(groups),
            capture_output=True,
            text=True,
            errors="replace",
            timeout=rounds * timeout_s + _SLACK_S,
            env=child_env(python, env),
        )
        stdout = proc.stdout
    except subprocess.TimeoutExpired as exc:
        stdout = exc.stdout.decode("utf-8", "replace") if isinstance(exc.stdout, bytes) else exc.stdout or ""
    except OSError:
        return {}
    outcomes: dict[str, ChildOutcome] = {}
    for line in stdout.splitlines():
        if line.startswith(_ANSWER):
            data = json.loads(line[len(_ANSWER) :])
            module = data.pop("module")
            outcomes[module] = ChildOutcome(**data)
    return outcomes
