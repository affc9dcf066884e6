"""Interpreter facts (build, GIL state, forcing, CPUs, cffi) asked of the interpreter itself, and its fitness to judge.

A free-threading verdict needs a free-threaded build whose GIL is off at start and not forced either way
(``PYTHON_GIL`` / ``-X gil``): forcing it off hides modules that would re-enable it, forcing it on tests nothing.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from harness import UnfitError
from harness.interpreter.children import TIMEOUT_S, ask, inherited_flags

_MARKER = "FT-HARNESS-FACTS:"

# Runs inside the interpreter under test; stdlib only, no imports that could turn the GIL on.
PROBE_SOURCE = f"""
import json, os, sys, sysconfig
try:
    from importlib.metadata import version as _dist_version
    cffi_version = _dist_version("cffi")
except Exception:
    cffi_version = None
is_gil_enabled = getattr(sys, "_is_gil_enabled", None)
cpus = os.process_cpu_count() if hasattr(os, "process_cpu_count") else os.cpu_count()
print({_MARKER!r} + json.dumps({{
    "executable": sys.executable,
    "version": sys.version.split()[0],
    "implementation": sys.implementation.name,
    "free_threaded": bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
    "gil_enabled": True if is_gil_enabled is None else bool(is_gil_enabled()),
    "gil_forced": getattr(sys.flags, "gil", None),
    "cpu_count": cpus or 1,
    "cffi_version": cffi_version,
    "thread_sanitizer": "--with-thread-sanitizer" in (sysconfig.get_config_var("CONFIG_ARGS") or "")
        or "-fsanitize=thread" in (sysconfig.get_config_var("CFLAGS") or ""),
}}))
"""


@dataclass(frozen=True)
class Fitness:
    """Whether a run may judge; ``free_threading_verdict`` is False for an explicitly allowed GIL-build run."""

    fit: bool
    free_threading_verdict: bool
    reasons: tuple[str, ...]

    def require(self) -> None:
        """Raise ``UnfitError`` (exit 3) naming every reason if the interpreter is unfit."""
        if not self.fit:
            raise UnfitError("interpreter unfit to judge: " + "; ".join(self.reasons))

    @property
    def note(self) -> str:
        if not self.fit:
            return "unfit to judge: " + "; ".join(self.reasons)
        if not self.free_threading_verdict:
            return "GIL-build run: no free-threading verdict was given (" + "; ".join(self.reasons) + ")"
        return "fit to judge free-threading"


@dataclass(frozen=True)
class InterpreterFacts:
    """What an interpreter says about itself when asked in a fresh process."""

    executable: str
    version: str
    implementation: str
    free_threaded: bool
    gil_enabled: bool
    gil_forced: int | None
    cpu_count: int
    cffi_version: str | None
    thread_sanitizer: bool = False  # built with ThreadSanitizer: runs are in TSan mode

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def problems(self) -> tuple[str, ...]:
        """Why this interpreter cannot give a free-threading verdict (empty when it can)."""
        if not self.free_threaded:  # sys.flags.gil is 1 on every GIL build: nothing more to say
            return (f"{self.executable} ({self.version}) is not a free-threaded build (Py_GIL_DISABLED unset)",)
        reasons = []
        if self.gil_forced == 0:
            reasons.append("the GIL is forced off (PYTHON_GIL=0 or -X gil=0), which hides modules that re-enable it")
        elif self.gil_forced == 1:
            reasons.append("the GIL is forced on (PYTHON_GIL=1 or -X gil=1)")
        elif self.gil_enabled:
            reasons.append("the GIL is already enabled at start-up")
        return tuple(reasons)

    def fitness(self, allow_gil_build: bool = False) -> Fitness:
        """Fit when :meth:`problems` is empty; with ``allow_gil_build`` the run goes on without an FT verdict."""
        reasons = self.problems()
        if not reasons:
            return Fitness(fit=True, free_threading_verdict=True, reasons=())
        if allow_gil_build and not (self.free_threaded and self.gil_forced == 0):
            return Fitness(fit=True, free_threading_verdict=False, reasons=reasons)
        return Fitness(fit=False, free_threading_verdict=False, reasons=reasons)

    def describe(self) -> list[str]:
        """The facts as human-readable lines (``doctor``)."""
        forced = gil_forced_text(self.gil_forced, free_threaded=self.free_threaded)
        return [
            f"interpreter: {self.executable} ({self.implementation} {self.version})",
            f"free-threaded build: {'yes' if self.free_threaded else 'no'}",
            f"GIL enabled: {'yes' if self.gil_enabled else 'no'}",
            f"GIL forced: {forced}",
            f"CPUs: {self.cpu_count}",
            f"cffi: {self.cffi_version or 'not installed'}",
            f"ThreadSanitizer build: {'yes (TSan mode)' if self.thread_sanitizer else 'no'}",
        ]

    @property
    def label(self) -> str:
        """One line for a session header: version, build, GIL state, path."""
        build = "free-threaded" if self.free_threaded else "GIL build"
        build += ", ThreadSanitizer" if self.thread_sanitizer else ""
        gil = "on" if self.gil_enabled else "off"
        forced = "" if self.gil_forced is None or not self.free_threaded else f", forced={self.gil_forced}"
        return f"{self.implementation} {self.version} ({build}, GIL {gil}{forced}) at {self.executable}"


def gil_forced_text(gil_forced: int | None, *, free_threaded: bool | None) -> str:
    """Whether the GIL was forced (``PYTHON_GIL``/``-X gil``), in words: "no", "forced off (0)", ..."""
    if free_threaded is False:
        return "not applicable (GIL build)"
    return {None: "no", 0: "forced off (0)", 1: "forced on (1)"}.get(gil_forced, str(gil_forced))


def probe(python: str, *, env: Mapping[str, str] | None = None) -> InterpreterFacts:
    """Ask ``python`` about itself in a fresh subprocess; ``env`` (default: ours) carries PYTHON_GIL as a run has it."""
    try:
        answer = ask(python, PROBE_SOURCE, marker=_MARKER, timeout_s=TIMEOUT_S["probe"],
                     flags=inherited_flags(python), env=env)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UnfitError(f"cannot run interpreter {python}: {exc}") from None
    if answer.data is None:
        raise UnfitError(f"interpreter {python} failed to start: {answer.last_error_line()}")
    return InterpreterFacts(**answer.data)
