"""Import audit: import each module alone in a fresh process and record whether the GIL stayed off.

CPython warns only once per process when an extension without the free-threading declaration turns the
GIL back on, so a shared process would name only the first culprit; one process per module names them all.
On Linux the processes are forked from one clean zygote (:mod:`harness.audit.zygote`), elsewhere each is a
new interpreter; either way they run concurrently (bounded). A gil-enabled module is told apart from one
that only imported a culprit by importing the culprit named in CPython's warning alone.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any, Literal

from harness.audit import zygote
from harness.audit.static_imports import top_level_imports
from harness.interpreter.children import TIMEOUT_S, ask, child_env, exit_description, inherited_flags

ImportStatus = Literal["gil-free", "gil-enabled", "error", "not-found"]
DEFAULT_TIMEOUT_S = TIMEOUT_S["import"]
_MARKER = "FT-HARNESS-IMPORT:"
_OUTPUT_TAIL = 2000
AuditMethod = Literal["auto", "fork", "spawn"]

# Defines ``classify(name) -> dict`` (import ``name``, say what happened to the GIL) and ``MARKER``; shared by
# the one-process-per-module child below and the zygote's grandchildren (:mod:`harness.audit.zygote`).
CLASSIFIER_SOURCE = f"""
import importlib, json, sys, traceback, warnings
MARKER = {_MARKER!r}

def classify(name):
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
    return {{"status": status, "error": error, "warning": warning,
             "gil_enabled": True if is_gil_enabled is None else bool(is_gil_enabled())}}
"""
# Runs inside the interpreter under test with the module name as argv[1].
CHILD_SOURCE = CLASSIFIER_SOURCE + "print(MARKER + json.dumps(classify(sys.argv[1])), flush=True)\n"
# CPython's warning names the extension module whose loading turned the GIL on.
_CULPRIT_RE = re.compile(r"to load module '([^']+)'")


@dataclass
class ImportResult:
    """What importing one module alone, in a fresh interpreter, did to the GIL."""

    module: str
    status: ImportStatus
    gil_enabled_after: bool | None
    error: str | None = None
    warning: str | None = None
    # For gil-enabled: the extension module that turned the GIL on (this module itself if it lacks the
    # declaration), confirmed by importing it alone; None when that could not be confirmed.
    caused_by: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def audit(
    modules: Sequence[str],
    *,
    python: str,
    env: Mapping[str, str] | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    jobs: int | None = None,
    method: AuditMethod = "auto",
    preload: bool = True,
) -> list[ImportResult]:
    """Audit each module alone in a fresh process of ``python``; results come back in the order given.

    The processes see the modules a scenario child would (:func:`harness.interpreter.children.child_env`). ``method``
    "fork" forks them from one clean zygote (:mod:`harness.audit.zygote`, Linux), "spawn" starts one
    interpreter per module, "auto" forks where it can and spawns whatever the zygote did not answer.
    ``preload`` lets the zygote import first what several modules import anyway
    (:func:`harness.audit.zygote.fork_each`).
    Each gil-enabled result says what caused it (:func:`attribute_causes`).
    """
    def each(names: Sequence[str]) -> list[ImportResult]:
        return _audit_each(names, python=python, env=env, timeout_s=timeout_s, jobs=jobs, method=method,
                           preload=preload)

    return attribute_causes(each(modules), each)


def attribute_causes(
    results: list[ImportResult], audit_alone: Callable[[Sequence[str]], list[ImportResult]]
) -> list[ImportResult]:
    """Set ``caused_by`` on each gil-enabled result: the module itself when CPython's warning names it, else
    the module the warning names, once importing that module alone (``audit_alone``) turns the GIL on too."""
    named = {r.module: _culprit(r) for r in results if r.status == "gil-enabled"}
    known = {r.module: r for r in results}
    others = [c for c in dict.fromkeys(named.values()) if c is not None and c not in known]
    known.update({r.module: r for r in audit_alone(others)} if others else {})
    for result in results:
        culprit = named.get(result.module)
        if culprit is not None and known[culprit].status == "gil-enabled" and _culprit(known[culprit]) == culprit:
            result.caused_by = culprit
    return results


def _culprit(result: ImportResult) -> str | None:
    match = _CULPRIT_RE.search(result.warning or "")
    return match[1] if match else None


def _audit_each(
    modules: Sequence[str],
    *,
    python: str,
    env: Mapping[str, str] | None,
    timeout_s: float,
    jobs: int | None,
    method: AuditMethod,
    preload: bool,
) -> list[ImportResult]:
    if not modules:
        return []
    found: dict[str, ImportResult] = {}
    if method == "fork" or (method == "auto" and zygote.available()):
        search_path = _search_path(python, env) if preload else []
        outcomes = zygote.fork_each(
            modules, python=python, classifier_source=CLASSIFIER_SOURCE, env=env, timeout_s=timeout_s,
            jobs=max(1, jobs or os.cpu_count() or 1), tail=_OUTPUT_TAIL, preload=preload,
            imports={m: top_level_imports(m, search_path) for m in modules},
        )
        for module, outcome in outcomes.items():
            death = _late(timeout_s) if outcome.timed_out else _death(outcome.returncode, outcome.output)
            found[module] = _result(module, outcome.report, death)
    rest = [m for m in modules if m not in found]
    if rest and method != "fork":
        workers = max(1, min(len(rest), jobs or (os.cpu_count() or 1) * 2))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ft-harness-audit") as pool:
            spawned = pool.map(lambda m: audit_one(m, python=python, env=env, timeout_s=timeout_s), rest)
            found.update(zip(rest, spawned))
    return [found.get(m) or ImportResult(m, "error", None, error="the audit zygote did not answer") for m in modules]


def _search_path(python: str, env: Mapping[str, str] | None) -> list[str]:
    """The ``sys.path`` of an audit child of ``python`` (empty if it cannot tell), where module sources are found."""
    try:
        answer = ask(python, f"import json, sys; print({_MARKER!r} + json.dumps(sys.path))", marker=_MARKER,
                     timeout_s=DEFAULT_TIMEOUT_S, flags=[*inherited_flags(python), "-P"], env=child_env(python, env))
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [entry for entry in answer.data or [] if isinstance(entry, str)]


def audit_one(
    module: str, *, python: str, env: Mapping[str, str] | None = None, timeout_s: float = DEFAULT_TIMEOUT_S
) -> ImportResult:
    """Import ``module`` alone in a fresh ``python`` and classify what happened to the GIL."""
    try:
        answer = ask(python, CHILD_SOURCE, module, marker=_MARKER, timeout_s=timeout_s,
                     flags=[*inherited_flags(python), "-P"], env=child_env(python, env))
    except subprocess.TimeoutExpired:
        return ImportResult(module, "error", None, error=_late(timeout_s))
    return _result(module, answer.data, _death(answer.returncode, answer.stderr))


def _result(module: str, report: dict[str, Any] | None, death: str) -> ImportResult:
    if report is None:
        return ImportResult(module, "error", None, error=death)
    gil_enabled = report["gil_enabled"]
    if report["status"] != "ok":
        return ImportResult(module, report["status"], gil_enabled, error=report["error"], warning=report["warning"])
    status: ImportStatus = "gil-enabled" if gil_enabled else "gil-free"
    return ImportResult(module, status, gil_enabled, warning=report["warning"])


def _late(timeout_s: float) -> str:
    return f"import did not finish within {timeout_s:g} s"


def _death(returncode: int, output: str) -> str:
    """Describe an import process that died before reporting (a crash in the module's init, usually)."""
    how = exit_description(returncode)
    tail = output.strip()[-_OUTPUT_TAIL:]
    return f"import process {how}" + (f": {tail}" if tail else "")


def import_line(result: ImportResult, prefix: str = "import") -> str:
    """``import m: gil-enabled, caused by c (warning)``: one audited module on the terminal."""
    cause = f", caused by {result.caused_by}" if result.caused_by and result.caused_by != result.module else ""
    detail = result.error or result.warning
    return f"{prefix} {result.module}: {result.status}{cause}" + (f" ({detail})" if detail else "")


def import_summary(rows: Sequence[Mapping[str, Any]]) -> str:
    """One line: GIL culprits (the modules that turned the GIL on), import errors and not-found, counted apart."""
    enabled = [r for r in rows if r.get("status") == "gil-enabled"]
    culprits = sorted({r.get("caused_by") or r["module"] for r in enabled})
    errors = [r["module"] for r in rows if r.get("status") == "error"]
    missing = [r["module"] for r in rows if r.get("status") == "not-found"]
    free = sum(1 for r in rows if r.get("status") == "gil-free")
    parts = [f"{len(rows)} module{'' if len(rows) == 1 else 's'}: {free} GIL-free",
             f"{len(enabled)} GIL-enabled by {len(culprits)} GIL culprit(s)" + (f" ({', '.join(culprits)})"
                                                                               if culprits else ""),
             f"{len(errors)} import error(s)" + (f" ({', '.join(errors)})" if errors else ""),
             f"{len(missing)} not found" + (f" ({', '.join(missing)})" if missing else "")]
    return "; ".join(parts)
