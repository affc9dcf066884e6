"""Targets as data: what to import-audit and which scenarios to stress, looked up by name through entry points.

A target is one module exposing ``TARGET = Target(...)`` and registered under the ``ft_harness.targets``
entry-point group; the engine never special-cases a target. Looking targets up (by name, by
``module:attribute``, by the wheel they judge) and choosing their scenarios happen here, in one place.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from harness import UsageError

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
    """A package under judgement: modules to audit, scenarios to stress, and ``distributions``, the wheels
    (distribution names) it judges: the gate picks this target for a wheel of one of them. ``extra`` names
    ft-harness's optional dependency that installs the package (its first module) for a built-in target."""

    name: str
    description: str
    modules: tuple[str, ...]
    scenarios: tuple[ScenarioSpec, ...]
    distributions: tuple[str, ...] = field(default=())
    extra: str | None = None

    def install_hint(self) -> str:
        """How to install what this target judges, when it is missing (one line)."""
        package = self.modules[0]
        if self.extra is None:
            return f"target {self.name} needs {package}, which the interpreter cannot import: install it there"
        return (f"target {self.name} needs {package}, which the interpreter cannot import: install it with "
                f"pip install 'ft-harness[{self.extra}]' (from a checkout: uv sync --extra {self.extra}, "
                f"or pip install '.[{self.extra}]')")


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


def resolve_target(name: str) -> Target:
    """A built-in target by name, or ``module:attribute`` (a callable or scenario class) as a one-scenario target."""
    if ":" not in name:
        return load_target(name)
    module, _, attribute = name.partition(":")
    if not module or not attribute:
        raise UsageError(f"bad target {name!r}: expected a target name or module:attribute")
    return Target(
        name=name,
        description=f"user scenario {name}",
        modules=(module,),
        scenarios=(ScenarioSpec(name=attribute, ref=name),),
    )


def select_scenarios(target: Target, names: Sequence[str] | None) -> tuple[ScenarioSpec, ...]:
    """The target's scenarios, or only those named, in the order named (an unknown name is a usage error)."""
    if not names:
        return target.scenarios
    _check_scenario_names([target], names)
    known = {s.name: s for s in target.scenarios}
    return tuple(known[n] for n in dict.fromkeys(names))


def targets_for(
    names: Sequence[str], distribution: str, say: Callable[[str], None], installed: Mapping[str, Target] | None = None
) -> list[Target]:
    """The named targets, or every registered target whose ``distributions`` include the wheel's.

    ``installed``: targets registered by the distributions installed beside the wheel (the gate's ``--with``),
    looked up like the ones registered here, and first.
    """
    from packaging.utils import canonicalize_name  # here: a target package loaded in a bare venv needs no packaging

    installed = installed or {}
    if names:
        return [installed[name] if name in installed else resolve_target(name) for name in dict.fromkeys(names)]
    matches = [target for _, target in sorted(installed.items())
               if distribution in {canonicalize_name(d) for d in target.distributions}]
    for name in sorted(available_targets()):
        try:
            target = load_target(name)
        except Exception as exc:  # a broken third-party target must not stop the gate for other packages
            say(f"skipping target {name}: cannot load it ({type(exc).__name__}: {exc})")
            continue
        if distribution in {canonicalize_name(d) for d in target.distributions}:
            matches.append(target)
    return matches


def only_scenarios(targets: list[Target], names: Sequence[str]) -> list[Target]:
    """The targets cut down to the named scenarios, in the targets' order (each name must be one of theirs)."""
    if not names:
        return targets
    _check_scenario_names(targets, names)
    return [dataclasses.replace(t, scenarios=tuple(s for s in t.scenarios if s.name in names)) for t in targets]


def _check_scenario_names(targets: list[Target], names: Sequence[str]) -> None:
    known = [spec.name for target in targets for spec in target.scenarios]
    for name in names:
        if name not in known:
            expected = ", ".join(known if len(targets) == 1 else sorted(known)) or "none (no target)"
            of = f" of target {targets[0].name}" if len(targets) == 1 else ""
            raise UsageError(f"unknown scenario {name!r}{of}: expected one of {expected}")
