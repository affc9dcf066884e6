"""The typed record of one run (stress, gate or import audit): what every stage found, in one object.

The stages fill it in; :func:`harness.pipeline.verdict.decide` reads it; it becomes JSON only where it is
written to a file or printed with ``--json`` (:meth:`RunRecord.to_json`).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from harness.audit import ImportResult
from harness.engine.result import ScenarioResult
from harness.engine.tsan import Findings
from harness.interpreter.facts import InterpreterFacts
from harness.settings import StressSettings
from harness.wheel.tags import WheelInfo
from harness.wheel.venv import InstalledDistribution


def new_run_id(kind: str, slug: str | None, started: datetime) -> str:
    """``<kind>[-<slug>]-<UTC time>-<random>``: sortable by time, unique across concurrent runs."""
    clean = [re.sub(r"[^A-Za-z0-9_.-]+", "_", slug).strip("_") or "target"] if slug is not None else []
    return "-".join([kind, *clean, started.strftime("%Y%m%dT%H%M%SZ"), secrets.token_hex(3)])


@dataclass(frozen=True)
class ThroughputPoint:
    """One short run of a scenario at one thread count (the gate's throughput chart)."""

    target: str
    scenario: str
    threads: int
    ops_per_s: float | None
    status: str
    rerun: str
    on_failure: str = "unsafe"


@dataclass
class WheelSection:
    """A gate run's wheel: what it claims, the ABI it was held to, the venv it went into and what it installed."""

    info: WheelInfo
    expected_abi: str
    audit_only: bool
    ignored_pythonpath: str | None
    venv_python: str | None = None
    venv_kept: bool = False
    installed: InstalledDistribution | None = None

    def to_json(self) -> dict[str, Any]:
        venv = None if self.venv_python is None else {"python": self.venv_python, "kept": self.venv_kept}
        return {
            "audit_only": self.audit_only,
            "ignored_pythonpath": self.ignored_pythonpath,
            "wheel": {**self.info.to_json(), "expected_abi": self.expected_abi},
            "venv": venv,
            **({"installed": self.installed.to_json()} if self.installed else {}),
        }


@dataclass(frozen=True)
class HarnessFailure:
    """A usage or environment problem met mid-run (a module not found, an unfit interpreter, a failed install)."""

    exit_code: int
    message: str


@dataclass
class RunRecord:
    """Everything one run found; ``verdict``/``exit_code`` are set once, by :func:`~harness.pipeline.verdict.decide`."""

    run_id: str
    kind: str
    target: str
    started: datetime
    interpreter: InterpreterFacts | None = None
    settings: StressSettings | None = None
    fit: bool = True
    free_threading: bool = True
    targets: list[str] = field(default_factory=list)
    imports: list[ImportResult] = field(default_factory=list)
    scenarios: list[ScenarioResult] = field(default_factory=list)
    throughput: list[ThroughputPoint] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    failure: HarnessFailure | None = None
    wheel: WheelSection | None = None
    tsan: Findings | None = None  # set in TSan mode (the judged interpreter is a ThreadSanitizer build)
    verdict: str = "error"
    exit_code: int = 0
    duration_s: float = 0.0

    @classmethod
    def start(cls, kind: str, target: str, *, slug: str | None = None) -> RunRecord:
        """A fresh record named by :func:`new_run_id` (``slug``, default the target, in its id)."""
        started = datetime.now(UTC)
        return cls(run_id=new_run_id(kind, slug or target, started), kind=kind, target=target, started=started)

    def note(self, text: str) -> None:
        """Add a note (once; empty notes are dropped)."""
        if text and text not in self.notes:
            self.notes.append(text)

    def fail(self, exit_code: int, message: str) -> None:
        """Record a usage or environment problem met mid-run; the verdict becomes "error" with its exit code."""
        self.failure = HarnessFailure(exit_code, message)
        self.note(message)

    @property
    def note_text(self) -> str:
        """The notes in order, as one line."""
        return "; ".join(self.notes)

    def to_json(self) -> dict[str, Any]:
        """The JSON form written to report files (the only place the record becomes a dict)."""
        data: dict[str, Any] = {
            "run_id": self.run_id,
            "kind": self.kind,
            "target": self.target,
            "targets": list(self.targets),
            "verdict": self.verdict,
            "exit_code": self.exit_code,
            "free_threading_verdict": self.fit and self.free_threading,
            "note": self.note_text,
            "interpreter": self.interpreter.to_json() if self.interpreter else None,
            "settings": self.settings.to_json() if self.settings else None,
            "imports": [asdict(r) for r in self.imports],
            "scenarios": [asdict(r) for r in self.scenarios],
            "throughput": [asdict(p) for p in self.throughput],
            **(self.wheel.to_json() if self.wheel else {}),
            **({"tsan": self.tsan.to_json()} if self.tsan is not None else {}),
            "started": self.started.isoformat(timespec="seconds"),
            "duration_s": self.duration_s,
        }
        return data
