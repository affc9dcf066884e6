"""Notice the GIL being turned back on while code runs in this process, and name the suspects.

CPython re-enables the GIL for good (and warns once per process) when an extension module without the
free-threading declaration is imported. Comparing the GIL state and ``sys.modules`` before and after a
piece of code pins the moment on that code; each newly imported extension module is a suspect, and
importing each one alone in a fresh interpreter (:func:`harness.audit.audit`) names the culprits.
No pytest import: the plugin calls this around every test.
"""

from __future__ import annotations

import importlib.machinery
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from harness.audit import ImportResult, audit
from harness.interpreter.children import TIMEOUT_S


def gil_enabled() -> bool:
    """Whether the GIL is on in this process right now (always on for a build without free threading)."""
    is_gil_enabled = getattr(sys, "_is_gil_enabled", None)
    return True if is_gil_enabled is None else bool(is_gil_enabled())


@dataclass(frozen=True)
class Snapshot:
    """The GIL state and the imported module names at one moment."""

    gil_enabled: bool
    modules: frozenset[str]

    @classmethod
    def take(cls) -> Snapshot:
        return cls(gil_enabled(), frozenset(sys.modules))


@dataclass(frozen=True)
class GilFinding:
    """The GIL went from off to on between a snapshot and now; suspects are the extension modules imported since."""

    suspects: tuple[str, ...]
    audit: tuple[ImportResult, ...]

    def message(self, where: str) -> str:
        lines = [
            f"the GIL was re-enabled during {where}: an extension module imported without the free-threading "
            "declaration (Py_mod_gil = Py_MOD_GIL_NOT_USED) turned it on for the rest of the process"
        ]
        if not self.suspects:
            lines.append("no extension module was newly imported; suspect code that imports one indirectly")
        for result in self.audit:
            lines.append(f"  suspect {result.module}: {_verdict(result)}")
        return "\n".join(lines)


def _verdict(result: ImportResult) -> str:
    if result.status == "gil-enabled":
        return "re-enables the GIL when imported alone in a fresh interpreter" + (
            f" ({result.warning})" if result.warning else "")
    if result.status == "gil-free":
        return "keeps the GIL off when imported alone (innocent, or only guilty together with another import)"
    return f"could not be imported alone: {result.error}"


def extension_modules(names: Sequence[str]) -> tuple[str, ...]:
    """Those of ``names`` that are loaded extension modules (compiled, with an extension-module suffix)."""
    found = []
    for name in sorted(names):
        spec = getattr(sys.modules.get(name), "__spec__", None)
        origin = getattr(spec, "origin", None) or ""
        if isinstance(getattr(spec, "loader", None), importlib.machinery.ExtensionFileLoader) or origin.endswith(
            tuple(importlib.machinery.EXTENSION_SUFFIXES)
        ):
            found.append(name)
    return tuple(found)


def check(before: Snapshot, *, python: str = sys.executable) -> GilFinding | None:
    """A finding if the GIL was off at ``before`` and is on now, with each suspect audited alone."""
    if before.gil_enabled or not gil_enabled():
        return None
    suspects = extension_modules(list(set(sys.modules) - before.modules))
    return GilFinding(suspects, tuple(audit(suspects, python=python, timeout_s=TIMEOUT_S["gil-watch import"])))
