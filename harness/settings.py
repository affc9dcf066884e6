"""Stress settings: one typed record resolved from layered sources (CLI > env > pyproject > defaults).

Every field is settable on the command line (``--threads``), in the environment (``FT_HARNESS_THREADS``)
and in ``pyproject.toml`` under ``[tool.ft-harness]`` (``threads = 4``). A bad value is a one-line
``UsageError`` that names where it came from. Other front ends (the pytest plugin) add their own layers by
building a :class:`Source` and calling :func:`resolve_sources`, or by passing ``ini=`` to :func:`resolve`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import random
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from harness.errors import UsageError

PYPROJECT_TABLE = "ft-harness"
ENV_PREFIX = "FT_HARNESS_"

# The engine's defaults, in one place (tuned with the detection benchmark, issue 5).
DEFAULT_THREADS = 2
# Rounds are a cap: a scenario runs rounds until its time budget is spent (or a round fails).
DEFAULT_ROUNDS = 100_000
DEFAULT_BUDGET_S = 1.0
DEFAULT_ITERATIONS = 400
DEFAULT_TIMEOUT_S = 60.0
# A round in which no worker thread finishes a step or uses CPU for this long is hung (a deadlock).
DEFAULT_STALL_S = 0.5
DEFAULT_REPORT_DIR = Path("reports")
DEFAULT_SWITCH_INTERVAL_S = 1e-6
DEFAULT_BARRIER = "spin"
BARRIER_KINDS = ("spin", "condition")
DEFAULT_STRATEGY = "mixed"
STRATEGY_KINDS = ("mixed", "random", "pct")
SEED_BOUND = 2**32


@dataclass(frozen=True)
class StressSettings:
    """How hard and how long to stress: N threads x M iterations per round, rounds until the time budget is
    spent (at most R), bounded by a timeout; first explored interleavings (``explore``), or one replayed."""

    threads: int = DEFAULT_THREADS
    rounds: int = DEFAULT_ROUNDS
    iterations: int = DEFAULT_ITERATIONS
    timeout_s: float = DEFAULT_TIMEOUT_S
    stall_s: float = DEFAULT_STALL_S
    seed: int = 0
    report_dir: Path = DEFAULT_REPORT_DIR
    switch_interval_s: float = DEFAULT_SWITCH_INTERVAL_S
    barrier: str = DEFAULT_BARRIER
    budget_s: float = DEFAULT_BUDGET_S
    explore: bool = True
    strategy: str = DEFAULT_STRATEGY
    replay: str | None = None

    def replace(self, **changes: Any) -> StressSettings:
        return dataclasses.replace(self, **changes)

    def overridden(self, threads: int | None, rounds: int | None, iterations: int | None) -> StressSettings:
        """These settings with a scenario's own overrides (``None`` keeps the run's value)."""
        return self.replace(
            threads=threads or self.threads, rounds=rounds or self.rounds, iterations=iterations or self.iterations
        )


@dataclass(frozen=True)
class Field:
    """One setting: how to parse a raw value, and how each source spells its name."""

    name: str
    parse: Callable[[object], object]
    expected: str
    flag: str
    toml_key: str
    switch: bool = False  # a yes/no setting: --flag / --no-flag on the command line

    @property
    def metavar(self) -> str:
        """The value's name in help texts (``REPORT_DIR``); with the prefix, the environment variable."""
        return self.toml_key.upper().replace("-", "_")

    @property
    def env_var(self) -> str:
        return ENV_PREFIX + self.metavar

    def argument(self) -> dict[str, Any]:
        """How argparse reads the flag: a value, or for a switch ``--flag``/``--no-flag``."""
        if self.switch:
            import argparse  # only front ends build parsers

            return {"dest": self.name, "action": argparse.BooleanOptionalAction, "default": None}
        return {"dest": self.name, "metavar": self.metavar}

    def cli_words(self, value: object) -> list[str]:
        """The command-line words that set this value (``--threads 4``, ``--no-explore``)."""
        if self.switch:
            return [self.flag if value else "--no-" + self.flag.removeprefix("--")]
        return [self.flag, f"{value:g}" if isinstance(value, float) else str(value)]


@dataclass(frozen=True)
class Source:
    """One layer of raw values keyed by field name; ``label`` and ``names`` say where a bad value came from."""

    label: str
    values: Mapping[str, object]
    names: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def describe(self, field: Field) -> str:
        return f"{self.names.get(field.name, field.name)} {self.label}"


def _integer(raw: object) -> int:
    if isinstance(raw, bool):
        raise ValueError(raw)
    if isinstance(raw, str):
        raw = raw.strip()
    if isinstance(raw, float) and not raw.is_integer():
        raise ValueError(raw)
    return int(raw)  # type: ignore[call-overload]


def _positive_int(raw: object) -> int:
    value = _integer(raw)
    if value < 1:
        raise ValueError(raw)
    return value


def _seed(raw: object) -> int:
    value = _integer(raw)
    if not 0 <= value < SEED_BOUND:
        raise ValueError(raw)
    return value


def _positive_float(raw: object) -> float:
    if isinstance(raw, bool):
        raise ValueError(raw)
    value = float(raw.strip() if isinstance(raw, str) else raw)  # type: ignore[arg-type]
    if not math.isfinite(value) or value <= 0:
        raise ValueError(raw)
    return value


def _path(raw: object) -> Path:
    if not isinstance(raw, (str, os.PathLike)) or not str(raw).strip():
        raise ValueError(raw)
    return Path(raw)


def _barrier(raw: object) -> str:
    if raw not in BARRIER_KINDS:
        raise ValueError(raw)
    return str(raw)


def _strategy(raw: object) -> str:
    if raw not in STRATEGY_KINDS:
        raise ValueError(raw)
    return str(raw)


def _boolean(raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(raw)


def _schedule(raw: object) -> str:
    """A recorded schedule as compact JSON text: given as the text itself or as a JSON file's path."""
    if not isinstance(raw, (str, os.PathLike)) or not str(raw).strip():
        raise ValueError(raw)
    text = str(raw).strip()
    if not text.startswith("{"):
        try:
            text = Path(text).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            raise ValueError(raw) from None
    data = json.loads(text)
    if not isinstance(data, dict) or not isinstance(data.get("events"), list):
        raise ValueError(raw)
    return json.dumps(data, separators=(",", ":"))


FIELDS: tuple[Field, ...] = (
    Field("threads", _positive_int, "a positive integer", "--threads", "threads"),
    Field("rounds", _positive_int, "a positive integer", "--rounds", "rounds"),
    Field("iterations", _positive_int, "a positive integer", "--iterations", "iterations"),
    Field("timeout_s", _positive_float, "a positive number of seconds", "--timeout", "timeout"),
    Field("stall_s", _positive_float, "a positive number of seconds", "--stall", "stall"),
    Field("seed", _seed, f"an integer from 0 to {SEED_BOUND - 1}", "--seed", "seed"),
    Field("report_dir", _path, "a directory path", "--report-dir", "report-dir"),
    Field("switch_interval_s", _positive_float, "a positive number of seconds", "--switch-interval", "switch-interval"),
    Field("barrier", _barrier, f"one of {', '.join(BARRIER_KINDS)}", "--barrier", "barrier"),
    Field("budget_s", _positive_float, "a positive number of seconds per scenario", "--budget", "budget"),
    Field("explore", _boolean, "yes or no", "--explore", "explore", switch=True),
    Field("strategy", _strategy, f"one of {', '.join(STRATEGY_KINDS)}", "--strategy", "strategy"),
    Field("replay", _schedule, "a recorded schedule: its JSON text or a JSON file", "--replay", "replay"),
)


def cli_source(values: Mapping[str, object]) -> Source:
    """The command-line layer: argparse destinations named like the fields; ``None`` means not given."""
    return Source("on the command line", values, {f.name: f.flag for f in FIELDS})


def env_source(env: Mapping[str, str]) -> Source:
    """The environment layer: ``FT_HARNESS_THREADS`` and friends; empty variables count as unset."""
    values = {f.name: env[f.env_var] for f in FIELDS if env.get(f.env_var, "").strip()}
    return Source("in the environment", values, {f.name: f.env_var for f in FIELDS})


def pyproject_source(pyproject: Path) -> Source:
    """The ``[tool.ft-harness]`` table of a pyproject.toml; unknown keys are errors (typos must not pass)."""
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"cannot read {pyproject}: {exc}") from None
    table = data.get("tool", {}).get(PYPROJECT_TABLE, {})
    label = f"in [tool.{PYPROJECT_TABLE}] of {pyproject}"
    if not isinstance(table, dict):
        raise UsageError(f"[tool.{PYPROJECT_TABLE}] of {pyproject} must be a table")
    by_key = {f.toml_key: f for f in FIELDS}
    unknown = sorted(set(table) - set(by_key))
    if unknown:
        raise UsageError(f"unknown key {unknown[0]!r} {label}: expected one of {', '.join(by_key)}")
    return Source(label, {by_key[k].name: v for k, v in table.items()}, {f.name: f.toml_key for f in FIELDS})


def find_pyproject(start: Path | None = None) -> Path | None:
    """The nearest pyproject.toml at or above ``start`` (default: the working directory)."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def resolve_sources(sources: Sequence[Source]) -> StressSettings:
    """Resolve settings from layers, highest precedence first; a missing seed becomes a fresh random one."""
    resolved: dict[str, object] = {}
    for field in FIELDS:
        for source in sources:
            raw = source.values.get(field.name)
            if raw is None:
                continue
            try:
                resolved[field.name] = field.parse(raw)
            except (TypeError, ValueError):
                raise UsageError(f"bad {source.describe(field)}: {raw!r}, expected {field.expected}") from None
            break
    if "seed" not in resolved:
        resolved["seed"] = random.SystemRandom().randrange(SEED_BOUND)
    return StressSettings(**resolved)  # type: ignore[arg-type]


def resolve(
    cli: Mapping[str, object],
    *,
    env: Mapping[str, str] = os.environ,
    pyproject: Path | None = None,
    ini: Source | None = None,
) -> StressSettings:
    """CLI > environment > ``ini`` (e.g. pytest ini options) > ``[tool.ft-harness]`` > defaults."""
    sources = [cli_source(cli), env_source(env)]
    if ini is not None:
        sources.append(ini)
    if pyproject is not None:
        sources.append(pyproject_source(pyproject))
    return resolve_sources(sources)
