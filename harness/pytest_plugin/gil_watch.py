"""Notice the GIL being turned back on while code runs in this process, and name every culprit.

CPython re-enables the GIL for good (and warns once per process) when an extension module without the
free-threading declaration is imported. A :class:`GilWatch` takes a snapshot of the GIL state and
``sys.modules`` at each checkpoint the plugin sets (plugin load, collection, each test phase, the session's
end): a flip from off to on pins the moment on the phase since the last checkpoint, and importing each
extension module imported in that phase alone in a fresh interpreter (:func:`harness.audit.audit`) names
the culprits. Once the GIL is on, a flip can no longer be seen, so the watch keeps noting which phase first
imported each extension module, and :meth:`GilWatch.audit_the_rest` audits at the end every one imported
while the GIL was on (one imported while it stayed off is innocent).
No pytest import: the plugin calls this around every test.
"""

from __future__ import annotations

import importlib.machinery
import sys
import sysconfig
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

    @classmethod
    def at_plugin_load(cls) -> Snapshot:
        """Now; but if an import before this moment (another plugin's) turned the GIL of a free-threaded build
        back on, and nothing forced it (``PYTHON_GIL``, ``-X gil``), the interpreter's start: the GIL off and
        no extension module imported, so the first checkpoint names every extension module imported so far."""
        now = cls.take()
        if now.gil_enabled and sysconfig.get_config_var("Py_GIL_DISABLED") and getattr(sys.flags, "gil", None) is None:
            return cls(False, frozenset())
        return now


@dataclass(frozen=True)
class GilFinding:
    """The GIL went from off to on during ``where``; suspects are the extension modules imported in it."""

    where: str
    suspects: tuple[str, ...]
    audit: tuple[ImportResult, ...]

    def message(self) -> str:
        lines = [
            f"the GIL was re-enabled during {self.where}: an extension module imported without the free-threading "
            "declaration (Py_mod_gil = Py_MOD_GIL_NOT_USED) turned it on for the rest of the process"
        ]
        if not self.suspects:
            lines.append("no extension module was newly imported; suspect code that imports one indirectly")
        innocent = [r.module for r in self.audit if r.status == "gil-free"]
        lines += [f"  suspect {r.module}: {_verdict(r)}" for r in self.audit if r.status != "gil-free"]
        if innocent:
            lines.append(f"  keep the GIL off when imported alone (innocent, or only guilty together with another "
                         f"import): {', '.join(innocent)}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, object]:
        return {"where": self.where, "suspects": list(self.suspects), "audit": [r.to_json() for r in self.audit]}


@dataclass(frozen=True)
class Culprit:
    """An extension module that re-enables the GIL when imported alone, and the phase that first imported it."""

    module: str
    imported_during: str
    result: ImportResult


def _verdict(result: ImportResult) -> str:
    """What importing a suspect alone showed, unless it kept the GIL off."""
    if result.status == "gil-enabled":
        return "re-enables the GIL when imported alone in a fresh interpreter" + (
            f" ({result.warning})" if result.warning else "")
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


class GilWatch:
    """The GIL and the extension modules imported, followed from ``start`` through the checkpoints of a session.

    ``python`` audits each suspect alone (this interpreter by default).
    """

    def __init__(self, start: Snapshot, *, python: str = sys.executable) -> None:
        self.started_off = not start.gil_enabled
        self.findings: list[GilFinding] = []
        self.first_imported_during: dict[str, str] = {}
        self._imported_with_gil_on: list[str] = []
        self._last = start
        self._python = python
        self._audited: dict[str, ImportResult] = {}

    @property
    def gil_came_back(self) -> bool:
        """The GIL was off at the start and is on now (what ran since cannot be judged)."""
        return self.started_off and self._last.gil_enabled

    def checkpoint(self, phase: str) -> GilFinding | None:
        """Close the interval since the last checkpoint as ``phase``: note the extension modules it imported,
        and return a finding (its suspects audited) if the GIL went from off to on in it."""
        now = Snapshot.take()
        new = extension_modules(list(now.modules - self._last.modules))
        for module in new:
            self.first_imported_during.setdefault(module, phase)
        if self.started_off and now.gil_enabled:
            self._imported_with_gil_on += new
        finding = None
        if not self._last.gil_enabled and now.gil_enabled:
            finding = GilFinding(phase, new, tuple(self._audit(new)))
            self.findings.append(finding)
        self._last = now
        return finding

    def audit_the_rest(self) -> list[Culprit]:
        """Audit every extension module imported while the GIL was on that no finding audited yet, and return
        every culprit (found at a flip or now) in the order they were first imported. A module imported while
        the GIL stayed off did not turn it on; when the GIL was on from the start, nothing is judged."""
        self._audit(self._imported_with_gil_on)
        return [Culprit(module, self.first_imported_during[module], result)
                for module in self._imported_with_gil_on
                if (result := self._audited[module]).status == "gil-enabled"]

    def _audit(self, modules: Sequence[str]) -> list[ImportResult]:
        todo = [m for m in modules if m not in self._audited]
        for result in audit(todo, python=self._python, timeout_s=TIMEOUT_S["gil-watch import"]):
            self._audited[result.module] = result
        return [self._audited[m] for m in modules]
