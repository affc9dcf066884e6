"""Result records shared by the audit, the stress engine, the verdict and the reports (plain data, JSON-ready)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

ImportStatus = Literal["gil-free", "gil-enabled", "error", "not-found"]
ScenarioStatus = Literal["passed", "failed", "crashed", "timeout"]


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


@dataclass
class ErrorSummary:
    """One distinct failure type seen in a scenario: how often, and the first traceback of it."""

    type: str
    count: int
    first_traceback: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ScenarioResult:
    """The outcome of one scenario run (threads x rounds x iterations) against its oracle."""

    name: str
    target: str
    threads: int
    rounds: int
    iterations: int
    status: ScenarioStatus
    seed: int
    rerun: str
    failures: int = 0
    errors: list[ErrorSummary] = field(default_factory=list)
    duration_s: float = 0.0
    ops_per_s: float | None = None
    time_to_first_failure_s: float | None = None
    on_failure: str = "unsafe"
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
