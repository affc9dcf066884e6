"""The run context: what every stage of one run needs, built once by the front end and handed down."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from harness.interpreter.facts import InterpreterFacts
from harness.pipeline.tsan_mode import TSanRun
from harness.settings import StressSettings

Progress = Callable[[str], None]
# (target name, scenario name, the scenario's settings) -> the command line that reruns it, made by the front
# end that owns that command line.
Rerun = Callable[[str, str, StressSettings], str]


def _silent(line: str) -> None:
    pass


def no_rerun(target_name: str, scenario: str, settings: StressSettings) -> str:
    return ""


@dataclass(frozen=True)
class RunContext:
    """The judged interpreter, the environment its children start from (``None``: this process's), the
    settings, where progress lines go, how a scenario's rerun command is written, and (TSan mode) the user's
    extra suppressions."""

    python: str
    settings: StressSettings
    rerun: Rerun = no_rerun
    env: Mapping[str, str] | None = None
    progress: Progress = _silent
    allow_gil_build: bool = False
    facts: InterpreterFacts | None = None
    tsan_suppressions: Path | None = None  # the user's, added to the shipped ones in TSan mode
    tsan: TSanRun | None = None  # set by the judge when the interpreter is a ThreadSanitizer build

    def replace(self, **changes: object) -> RunContext:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]
