"""Targets as data: what to import-audit and which scenarios to stress, looked up by name through entry points.

A target is one module exposing ``TARGET = Target(...)`` and registered under the ``ft_harness.targets``
entry-point group; the engine never special-cases a target.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from harness.errors import UsageError

if TYPE_CHECKING:
    from importlib import metadata

ENTRY_POINT_GROUP = "ft_harness.targets"

OnFailure = Literal["unsafe", "shared-use-unsafe"]


@dataclass(frozen=True)
class ScenarioSpec:
    """One scenario of a target.

    ``ref`` is ``module:attribute`` naming a callable or a scenario class, so a child process can load it.
    ``on_failure`` says how a failure is classified: ``unsafe`` for code meant to be shared, or
    ``shared-use-unsafe`` for an object documented as single-threaded that breaks when shared anyway.
    ``threads``/``rounds``/``iterations`` override the run's settings for this scenario only.
    """

    name: str
    ref: str
    description: str = ""
    on_failure: OnFailure = "unsafe"
    isolate: bool = True
    threads: int | None = None
    rounds: int | None = None
    iterations: int | None = None


@dataclass(frozen=True)
class Target:
    """A package under judgement: modules to audit, scenarios to stress, and the distributions it needs."""

    name: str
    description: str
    modules: tuple[str, ...]
    scenarios: tuple[ScenarioSpec, ...]
    distributions: tuple[str, ...] = field(default=())


def available_targets() -> dict[str, metadata.EntryPoint]:
    """The registered built-in and third-party targets, by name."""
    from importlib import metadata  # here, not at the top: scenario children never need it (~15 ms)

    return {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}


def load_target(name: str) -> Target:
    """Load a registered target by name; an unknown name is a usage error listing the known ones."""
    entry_points = available_targets()
    if name not in entry_points:
        known = ", ".join(sorted(entry_points)) or "none registered"
        raise UsageError(f"unknown target {name!r}: expected one of {known} or module:attribute")
    target = entry_points[name].load()
    if not isinstance(target, Target):
        raise UsageError(f"target {name!r} ({entry_points[name].value}) is not a harness.targets.Target")
    return target
