"""The import audit's fast path on Linux: one clean zygote of the judged interpreter forks one child per module.

The zygote is a child of the judged interpreter that imports only what a one-process-per-module audit child
imports (a few GIL-free stdlib modules) and starts no thread. For each module it forks a grandchild (``os.fork``
from a single-threaded process) that imports the module alone, prints its report and exits, so every module
is still imported alone in a process where nothing that could turn the GIL on was imported first; only the
interpreter start-up is shared. The zygote runs up to ``jobs`` grandchildren at once, kills one that outlives
``timeout_s``, and answers one line per module. Modules under a package that at least two of them share are
forked from a sub-zygote that imported that package first (importing them imports it anyway), if importing it
kept the GIL off, warned nothing and started no thread; otherwise from the zygote it was to be forked from. A
sub-zygote is forked from the one of its deepest shared ancestor package, so each package is imported once. A
module the zygote did not answer (it died) is left out of the answer, and the caller spawns it instead.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

from harness.interpreter.children import child_env, inherited_flags

_ANSWER = "FT-HARNESS-ZYGOTE:"
# All the zygote imports besides the classifier's own (a spawned audit child's) imports: GIL-free stdlib.
ZYGOTE_IMPORTS = ("os", "select", "signal", "time")
_SLACK_S = 30.0
# The zygote and its children size the thread pools of BLAS/OpenMP libraries to one thread, so that importing a
# package that loads one (numpy starts OpenBLAS's pool at import) starts no thread and the package can be
# preloaded (only a single-threaded process forks). These set pool sizes only: whether an import turns the GIL on
# does not depend on them, and `bench audit` checks the verdicts against spawned interpreters that lack them.
SINGLE_THREAD_POOLS = dict.fromkeys(("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
                                     "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"), "1")

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

def run(node):
    # In a process that preloaded node's base (the clean zygote for the root): its own modules, then each
    # sub-package base in a sub-zygote forked from here; a refused base's modules are forked from here.
    serve(list(node["modules"]))
    for sub in node["subs"]:
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                if preloaded(sub["base"]):
                    run(sub)
                    code = 0
            finally:
                sys.stdout.flush()
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            serve(flatten(sub))  # every base under a refused one imports it first: refused too

def flatten(node):
    return [*node["modules"], *(m for sub in node["subs"] for m in flatten(sub))]

tree = json.load(sys.stdin)
os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
run(tree)
"""


@dataclass
class PreloadNode:
    """Modules forked from a zygote that imported ``base`` first (None: the clean zygote), and the sub-zygotes
    forked from it, each of which imports one more module first."""

    base: str | None
    modules: list[str] = field(default_factory=list)
    subs: list[PreloadNode] = field(default_factory=list)


def preload_tree(modules: Sequence[str], imports: Mapping[str, Sequence[str]] | None = None) -> PreloadNode:
    """Which zygote forks each module: nested sub-zygotes, each preloading a module that all of its modules
    import anyway, so that each preloaded module is imported once and a refused one (a thread, a warning, the GIL)
    spares the zygote trying the ones nested under it. Order kept within nodes.

    First each module goes under the deepest of its ancestor packages that at least two modules share (importing
    a module imports its ancestors first), a package's sub-zygote forked from the one of its deepest shared
    ancestor. Then the modules of each node that share a dependency their top-level statements import
    (``imports``: :func:`harness.audit.static_imports.top_level_imports`), stdlib modules aside (cheap), move
    to a sub-zygote that preloads it: the most shared first, the deepest of equally shared ones.
    """
    counts = Counter(ancestor for module in modules for ancestor in _ancestors(module))
    root = PreloadNode(None)
    nodes: dict[str | None, PreloadNode] = {None: root}

    def node_of(name: str) -> PreloadNode:
        base = next((a for a in reversed(_ancestors(name)) if counts[a] >= 2), None)
        if base is not None and base not in nodes:
            nodes[base] = PreloadNode(base)
            node_of(base).subs.append(nodes[base])
        return nodes[base]

    for module in modules:
        node_of(module).modules.append(module)
    if imports:
        _split_by_dependency(root, imports, set())
    return root


def _split_by_dependency(node: PreloadNode, imports: Mapping[str, Sequence[str]], loaded: set[str]) -> None:
    """Move the modules of ``node`` that share a preloadable dependency to a sub-zygote preloading it."""
    loaded = loaded | ({node.base, *_ancestors(node.base)} if node.base else set())
    for sub in node.subs:
        _split_by_dependency(sub, imports, loaded)

    def dependencies(module: str) -> set[str]:
        return {d for d in imports.get(module, ()) if d not in loaded and d != module
                and not d.startswith(module + ".") and d.partition(".")[0] not in sys.stdlib_module_names}

    while True:
        shared = Counter(d for module in node.modules for d in dependencies(module))
        if not shared or max(shared.values()) < 2:
            return
        dependency = max(shared, key=lambda d: (shared[d], d.count(".")))
        sub = PreloadNode(dependency, [m for m in node.modules if dependency in dependencies(m)])
        node.modules = [m for m in node.modules if m not in sub.modules]
        node.subs.append(sub)
        _split_by_dependency(sub, imports, loaded)


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
    imports: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, ChildOutcome]:
    """Import each module in its own grandchild of one zygote; the modules it did not answer are missing.

    ``preload`` forks the modules that share an ancestor package, or a dependency their top-level statements
    import (``imports``), from a zygote that imported it first (:func:`preload_tree`), when importing it there
    kept the GIL off, warned nothing and started no thread.
    """
    tree = preload_tree(modules, imports) if preload else PreloadNode(None, list(modules))
    rounds = _rounds(tree, jobs)
    try:
        proc = subprocess.run(
            _zygote_command(python, classifier_source, jobs=jobs, timeout_s=timeout_s, tail=tail),
            input=json.dumps(asdict(tree)),
            capture_output=True,
            text=True,
            errors="replace",
            timeout=rounds * timeout_s + _SLACK_S,
            env={**child_env(python, env), **SINGLE_THREAD_POOLS},
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


def _rounds(node: PreloadNode, jobs: int) -> int:
    """How many imports one after the other, at most, the zygote runs for ``node`` (each may take the timeout)."""
    return 1 + -(-len(node.modules) // max(1, jobs)) + sum(_rounds(sub, jobs) for sub in node.subs)
