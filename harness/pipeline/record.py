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

from harness import __version__
from harness.audit import ImportResult
from harness.engine.result import ScenarioResult
from harness.engine.tsan import Findings
from harness.interpreter.facts import InterpreterFacts
from harness.settings import StressSettings
from harness.wheel.fix_hints import FixHint
from harness.wheel.metadata import Finding
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


@dataclass(frozen=True)
class ArtifactIdentity:
    """What a release matches a gate report by: the very file (sha256, size), its tags and the ABI it was held
    to, the platform and version of the interpreter that judged it, and this harness's version."""

    file: str
    sha256: str
    size: int
    distribution: str
    version: str
    tags: tuple[str, ...]
    abi: str
    platform: str | None
    interpreter: str
    harness_version: str = __version__

    @classmethod
    def of(cls, info: WheelInfo, abi: str, platform: str | None, interpreter_version: str) -> ArtifactIdentity:
        """The identity of the wheel ``info`` as judged on an interpreter of ``platform`` and version."""
        return cls(
            file=info.path.name, sha256=info.sha256(), size=info.path.stat().st_size,
            distribution=info.distribution, version=info.version, tags=tuple(sorted(str(t) for t in info.tags)),
            abi=abi, platform=platform, interpreter=interpreter_version,
        )

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "tags": list(self.tags)}


@dataclass
class WheelSection:
    """A gate run's wheel: what it claims, the ABI it was held to, the venv it went into and what it installed;
    then the release evidence: its identity, the metadata findings and a fix hint per GIL-enabling module."""

    info: WheelInfo
    expected_abi: str
    audit_only: bool
    ignored_pythonpath: str | None
    venv_python: str | None = None
    venv_kept: bool = False
    installed: InstalledDistribution | None = None
    artifact: ArtifactIdentity | None = None
    metadata_findings: list[Finding] = field(default_factory=list)
    fix_hints: list[FixHint] = field(default_factory=list)
    test_imports: list[ImportResult] = field(default_factory=list)  # test-only modules: findings, not the verdict
    excluded_modules: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        venv = None if self.venv_python is None else {"python": self.venv_python, "kept": self.venv_kept}
        return {
            "audit_only": self.audit_only,
            "ignored_pythonpath": self.ignored_pythonpath,
            "wheel": {**self.info.to_json(), "expected_abi": self.expected_abi},
            "venv": venv,
            **({"installed": self.installed.to_json()} if self.installed else {}),
            **({"artifact": self.artifact.to_json()} if self.artifact else {}),
            "metadata_findings": [f.to_json() for f in self.metadata_findings],
            "fix_hints": [h.to_json() for h in self.fix_hints],
            "test_imports": [r.to_json() for r in self.test_imports],
            "excluded_modules": list(self.excluded_modules),
        }


@dataclass(frozen=True)
class SuiteFailure:
    """A test of the package's own suite that failed multi-threaded, and what its single-threaded rerun said:
    ``race`` (it passes alone) or ``fails without threads`` (not a race)."""

    nodeid: str
    first_lines: str
    alone: str
    rerun: str = ""  # the command that runs this test again as the gate ran it (set by the command line)

    @property
    def race(self) -> bool:
        return self.alone == "race"


@dataclass
class SuiteSection:
    """The package's own test suite, run by the gate against the installed wheel under pytest-run-parallel."""

    source: str
    threads: int
    run: int = 0
    multi_threaded: int = 0
    passed: int = 0
    skipped: int = 0
    failures: list[SuiteFailure] = field(default_factory=list)
    thread_unsafe: dict[str, str] = field(default_factory=dict)
    gil_culprits: list[str] = field(default_factory=list)
    min_parallel_tests: int | None = None
    wall_s: float = 0.0
    command: str = ""

    @property
    def races(self) -> list[SuiteFailure]:
        return [f for f in self.failures if f.race]

    @property
    def below_floor(self) -> bool:
        return self.min_parallel_tests is not None and self.multi_threaded < self.min_parallel_tests

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "races": len(self.races),
                "fails_without_threads": len(self.failures) - len(self.races), "below_floor": self.below_floor}


@dataclass(frozen=True)
class HarnessFailure:
    """A usage or environment problem met mid-run (a module not found, an unfit interpreter, a failed install)."""

    exit_code: int
    message: str


@dataclass(frozen=True)
class Interruption:
    """The signal that stopped a run, and what it had not finished (scenarios by name, or a stage)."""

    signal: str
    unfinished: tuple[str, ...]


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
    interrupted: Interruption | None = None
    wheel: WheelSection | None = None
    tsan: Findings | None = None  # set in TSan mode (the judged interpreter is a ThreadSanitizer build)
    tests: SuiteSection | None = None
    require_stress: bool = False
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

    def interrupt(self, signal_name: str, unfinished: list[str]) -> None:
        """Record that a signal stopped the run before ``unfinished`` was done (the finished results stay)."""
        self.interrupted = Interruption(signal_name, tuple(unfinished))
        self.note(f"interrupted by {signal_name}: not finished: {', '.join(unfinished) or 'nothing'}")

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
            "interrupted": None if self.interrupted is None else {
                "signal": self.interrupted.signal, "unfinished": list(self.interrupted.unfinished),
                "finished": [s.name for s in self.scenarios],
            },
            **(self.wheel.to_json() if self.wheel else {}),
            **({"tsan": self.tsan.to_json()} if self.tsan is not None else {}),
            **({"tests": self.tests.to_json()} if self.tests else {}),
            "started": self.started.isoformat(timespec="seconds"),
            "duration_s": self.duration_s,
        }
        return data
