"""Import audit: import each module alone in a fresh interpreter and record whether the GIL stayed off.

CPython warns only once per process when an extension without the free-threading declaration turns the
GIL back on, so a shared process would name only the first culprit; one process per module names them all.
The subprocesses run concurrently (bounded), since each spends most of its time starting up.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any, Literal

from harness.interpreter.children import TIMEOUT_S, Answer, ask, child_env, exit_description, inherited_flags

ImportStatus = Literal["gil-free", "gil-enabled", "error", "not-found"]
_MARKER = "FT-HARNESS-IMPORT:"
_OUTPUT_TAIL = 2000

# Runs inside the interpreter under test with the module name as argv[1].
CHILD_SOURCE = f"""
import importlib, json, sys, traceback, warnings
name = sys.argv[1]
status, error = "ok", None
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as exc:
        missing = exc.name is not None and (name == exc.name or name.startswith(exc.name + "."))
        status, error = ("not-found" if missing else "error"), f"{{type(exc).__name__}}: {{exc}}"
    except BaseException as exc:
        status, error = "error", "".join(traceback.format_exception_only(type(exc), exc)).strip()
is_gil_enabled = getattr(sys, "_is_gil_enabled", None)
warning = next((str(w.message) for w in caught
                if issubclass(w.category, RuntimeWarning) and "GIL" in str(w.message)), None)
print({_MARKER!r} + json.dumps({{"status": status, "error": error, "warning": warning,
    "gil_enabled": True if is_gil_enabled is None else bool(is_gil_enabled())}}), flush=True)
"""


@dataclass
class ImportResult:
    """What importing one module alone, in a fresh interpreter, did to the GIL."""

    module: str
    status: ImportStatus
    gil_enabled_after: bool | None
    error: str | None = None
    warning: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)



def audit(
    modules: Sequence[str],
    *,
    python: str,
    env: Mapping[str, str] | None = None,
    timeout_s: float = TIMEOUT_S["import"],
    jobs: int | None = None,
) -> list[ImportResult]:
    """Audit each module in its own subprocess of ``python``; results come back in the order given.

    The subprocesses see the modules a scenario child would (:func:`harness.interpreter.children.child_env`).
    """
    if not modules:
        return []
    workers = max(1, min(len(modules), jobs or (os.cpu_count() or 1) * 2))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ft-harness-audit") as pool:
        return list(pool.map(lambda m: audit_one(m, python=python, env=env, timeout_s=timeout_s), modules))


def audit_one(
    module: str, *, python: str, env: Mapping[str, str] | None = None, timeout_s: float = TIMEOUT_S["import"]
) -> ImportResult:
    """Import ``module`` alone in a fresh ``python`` and classify what happened to the GIL."""
    try:
        answer = ask(python, CHILD_SOURCE, module, marker=_MARKER, timeout_s=timeout_s,
                     flags=[*inherited_flags(python), "-P"], env=child_env(python, env))
    except subprocess.TimeoutExpired:
        return ImportResult(module, "error", None, error=f"import did not finish within {timeout_s:g} s")
    report = answer.data
    if report is None:
        return ImportResult(module, "error", None, error=_death(answer))
    gil_enabled = report["gil_enabled"]
    if report["status"] != "ok":
        failed: ImportStatus = report["status"]  # "not-found" or "error", from the child's answer
        return ImportResult(module, failed, gil_enabled, error=report["error"], warning=report["warning"])
    status: ImportStatus = "gil-enabled" if gil_enabled else "gil-free"
    return ImportResult(module, status, gil_enabled, warning=report["warning"])


def _death(answer: Answer) -> str:
    """Describe an import subprocess that died before reporting (a crash in the module's init, usually)."""
    how = exit_description(answer.returncode)
    tail = answer.stderr.strip()[-_OUTPUT_TAIL:]
    return f"import process {how}" + (f": {tail}" if tail else "")
