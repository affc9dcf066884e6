"""What a module imports whenever its import runs to the end: the imports among its top-level statements.

The audit zygote may preload a GIL-free module for the modules that import it anyway (:mod:`harness.audit.zygote`).
Only an ``import``/``from ... import`` statement directly in the module's body counts (not one under ``if``,
``try`` or a function): it runs on every import. The source is found on the judged interpreter's ``sys.path``
without importing anything; a module whose source is not found there imports nothing as far as this knows.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from pathlib import Path


def source_of(module: str, search_path: Sequence[str]) -> Path | None:
    """``pkg/mod.py`` or ``pkg/mod/__init__.py`` in the first ``search_path`` entry holding either, else None."""
    relative = Path(*module.split("."))
    for entry in search_path:
        for candidate in (Path(entry) / relative.with_suffix(".py"), Path(entry) / relative / "__init__.py"):
            if candidate.is_file():
                return candidate
    return None


def top_level_imports(module: str, search_path: Sequence[str]) -> list[str]:
    """The modules (dotted, with their ancestors) that the top-level import statements of ``module`` import."""
    source = source_of(module, search_path)
    if source is None:
        return []
    try:
        tree = ast.parse(source.read_bytes(), filename=str(source))
    except (SyntaxError, ValueError, OSError):
        return []
    package = module if source.name == "__init__.py" else module.rpartition(".")[0]
    names: list[str] = []
    for statement in tree.body:
        if isinstance(statement, ast.Import):
            names.extend(alias.name for alias in statement.names)
        elif isinstance(statement, ast.ImportFrom):
            name = _absolute(statement.module, statement.level, package)
            if name:
                names.append(name)
    return list(dict.fromkeys(ancestor for name in names for ancestor in _with_ancestors(name)))


def _absolute(name: str | None, level: int, package: str) -> str | None:
    if level == 0:
        return name
    parts = package.split(".") if package else []
    if level - 1 > len(parts) or (level - 1 == len(parts) and not name):
        return None
    base = parts[: len(parts) - (level - 1)]
    return ".".join([*base, *([name] if name else [])]) or None


def _with_ancestors(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:end]) for end in range(1, len(parts) + 1)]
