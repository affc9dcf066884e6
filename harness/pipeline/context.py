"""The run context: what every stage of one run needs, built once by the front end and handed down."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from harness.interpreter.facts import InterpreterFacts
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
    settings, where progress lines go, and how a scenario's rerun command is written."""

    python: str
    settings: StressSettings
    rerun: Rerun = no_rerun
    env: Mapping[str, str] | None = None
    progress: Progress = _silent
    allow_gil_build: bool = False
    facts: InterpreterFacts | None = None

    def replace(self, **changes: object) -> RunContext:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]
