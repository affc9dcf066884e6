"""A ``module:attribute`` target checked before any work: its module is found by the judged interpreter and the
module's source binds the attribute. The source is read, not run, so a misspelt name is one line (exit 2) before
the import audit, the venv or the report, and nothing of the user's runs twice."""

from __future__ import annotations

import ast
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from harness import UsageError
from harness.interpreter.children import TIMEOUT_S, ask, child_env, inherited_flags

_MARKER = "FT_HARNESS_FOUND="
# Per module: its origin, None when it cannot be found, "" when that cannot be told (a parent failed to import).
_FIND_SOURCE = f"""
import importlib.util, json, sys
found = {{}}
for name in sys.argv[1:]:
    try:
        spec = importlib.util.find_spec(name)
        found[name] = None if spec is None else (spec.origin or "")
    except ModuleNotFoundError as exc:  # not found only when the missing one is the module or its package
        found[name] = None if exc.name and (name + ".").startswith(exc.name + ".") else ""
    except Exception:
        found[name] = ""
print({_MARKER!r} + json.dumps(found))
"""
# Calls through which a module binds names its text does not show.
_DYNAMIC = {"globals", "vars", "setattr", "exec"}


def check_refs(
    refs: Sequence[str], *, python: str, env: Mapping[str, str] | None = None, within: Sequence[Path] | None = None
) -> None:
    """``UsageError`` for the first ``module:attribute`` in ``refs`` whose module ``python`` cannot find (in
    ``env``) or whose module's source does not bind the attribute. ``within``: only modules found under these
    folders are judged, and a module not found is let pass (the gate before its venv: it may come with the
    wheel). When the answer cannot be told (no answer, a compiled module, a star import), the ref passes."""
    modules = list(dict.fromkeys(ref.partition(":")[0] for ref in refs if ":" in ref))
    if not modules:
        return
    try:
        answer = ask(python, _FIND_SOURCE, *modules, marker=_MARKER, timeout_s=TIMEOUT_S["import"],
                     flags=[*inherited_flags(python), "-P"], env=child_env(python, env))
    except (OSError, subprocess.TimeoutExpired):
        return  # the import audit meets the same interpreter and says why
    found: dict[str, str | None] = answer.data or {}
    folders = None if within is None else [folder.resolve() for folder in within]
    for ref in refs:
        module, _, attribute = ref.partition(":")
        if module not in found:
            continue
        origin = found[module]
        if origin is None:
            if folders is None:
                raise UsageError(f"target {ref!r}: module {module!r} not found by {python} (check --scenario-path)")
            continue
        if origin and (folders is None or any(Path(origin).resolve().is_relative_to(f) for f in folders)):
            first, names = attribute.split(".")[0], bound_names(Path(origin))
            if names is not None and first not in names:
                raise UsageError(f"target {ref!r}: module {module!r} ({origin}) has no attribute {first!r}")


def bound_names(source_file: Path) -> set[str] | None:
    """Every name the Python file binds anywhere (generous: a nested binding counts too); None when that
    cannot be told from its text: not Python source, a syntax error, a star import, a module ``__getattr__``, or
    names bound through ``globals()``, ``vars()``, ``setattr`` or ``exec``."""
    if source_file.suffix != ".py":
        return None
    try:
        tree = ast.parse(source_file.read_text(encoding="utf-8", errors="replace"))
    except (OSError, SyntaxError, ValueError):
        return None
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _DYNAMIC:
            return None
    return None if "*" in names or "__getattr__" in names else names
