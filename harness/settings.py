"""Stress settings: one typed record resolved from layered sources (CLI > env > pyproject > defaults).

Every setting is declared once, in :data:`FIELDS` (the engine's) or :data:`PLUGIN_FIELDS` (the pytest
session's), and settable on the command line (``--threads``; the plugin's ``--ft-threads``), in the
environment (``FT_HARNESS_THREADS``), in pytest's ini (``ft_threads``) and in ``pyproject.toml`` under
``[tool.ft-harness]`` (``threads = 4``); rerun commands render them back with :func:`rerun_words`. A bad value
is a one-line ``UsageError`` that names where it came from. Front ends add their own layers by building a
:class:`Source` and calling :func:`resolve_sources`, or by passing ``ini=`` to :func:`resolve`.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import os
import random
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import UsageError

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

    def to_json(self) -> dict[str, Any]:
        """The settings as JSON values (the report's ``settings``, a scenario child's request)."""
        return {**dataclasses.asdict(self), "report_dir": str(self.report_dir)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StressSettings:
        return cls(**{**data, "report_dir": Path(data["report_dir"])})

    def replace(self, **changes: Any) -> StressSettings:
        return dataclasses.replace(self, **changes)

    def overridden(self, threads: int | None, rounds: int | None, iterations: int | None) -> StressSettings:
        """These settings with a scenario's own overrides (``None`` keeps the run's value)."""
        return self.replace(
            threads=threads or self.threads, rounds=rounds or self.rounds, iterations=iterations or self.iterations
        )


@dataclass(frozen=True)
class Field:
    """One setting, declared once: how to parse a raw value, what it means, and its name in the command line's
    flag (``--threads``), from which every other spelling follows: env ``FT_HARNESS_THREADS``, pyproject
    ``threads``, the pytest plugin's ``--ft-threads`` and ini ``ft_threads``, the ``ft_stress`` marker's
    ``threads``. ``switch`` fields are on/off flags (``--explore``/``--no-explore``)."""

    name: str
    parse: Callable[[object], object]
    expected: str
    flag: str
    help: str
    switch: bool = False

    @property
    def toml_key(self) -> str:
        return self.flag.removeprefix("--")

    @property
    def marker_key(self) -> str:
        """The key in the ``ft_stress`` marker and fixture call: ``threads``, ``timeout``."""
        return self.toml_key.replace("-", "_")

    @property
    def metavar(self) -> str:
        """The value's name in help texts (``REPORT_DIR``); with the prefix, the environment variable."""
        return self.toml_key.upper().replace("-", "_")

    @property
    def env_var(self) -> str:
        return ENV_PREFIX + self.metavar

    @property
    def plugin_flag(self) -> str:
        """The pytest plugin's flag: ``--ft-threads``."""
        return "--ft-" + self.flag.removeprefix("--")

    @property
    def ini_key(self) -> str:
        """The pytest ini key: ``ft_threads``."""
        return "ft_" + self.marker_key

    def argument(self, dest: str) -> dict[str, Any]:
        """How argparse (and pytest's parser) reads the flag into ``dest``: a value, or for a switch
        ``--flag``/``--no-flag``; ``None`` when not given, so lower layers apply."""
        if self.switch:
            return {"dest": dest, "action": argparse.BooleanOptionalAction, "default": None}
        return {"dest": dest, "metavar": self.metavar}

    def cli_words(self, value: object, *, plugin: bool = False) -> list[str]:
        """The command-line words that set ``value``: ``--threads 4``, ``--no-explore``; with ``plugin``, the
        pytest plugin's: ``--ft-threads 4``, ``--no-ft-explore``."""
        flag = self.plugin_flag if plugin else self.flag
        if self.switch:
            return [flag if value else "--no-" + flag.removeprefix("--")]
        return [flag, f"{value:g}" if isinstance(value, float) else str(value)]


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


def _integer_in(low: int, high: float = math.inf) -> Callable[[object], int]:
    """A parser of whole numbers from ``low`` up to (not including) ``high``."""

    def parse(raw: object) -> int:
        value = _integer(raw)
        if not low <= value < high:
            raise ValueError(raw)
        return value

    return parse


_positive_int = _integer_in(1)
_count = _integer_in(0)
_seed = _integer_in(0, SEED_BOUND)


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


def _flag(raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(raw)


def _one_of(kinds: Sequence[str]) -> Callable[[object], str]:
    """A parser of one of ``kinds``."""

    def parse(raw: object) -> str:
        if raw not in kinds:
            raise ValueError(raw)
        return str(raw)

    return parse


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
    Field("threads", _positive_int, "a positive integer", "--threads", "threads per scenario run"),
    Field("rounds", _positive_int, "a positive integer", "--rounds",
          "the most rounds per scenario run, a cap: --budget usually ends it first (a fresh scenario instance "
          "each round)"),
    Field("iterations", _positive_int, "a positive integer", "--iterations", "iterations per thread per round"),
    Field("timeout_s", _positive_float, "a positive number of seconds", "--timeout",
          "each round's own limit (a round still running then is hung)"),
    Field("stall_s", _positive_float, "a positive number of seconds", "--stall",
          "seconds in which no worker thread moves, every one parked on a lock, before a round counts as "
          "deadlocked"),
    Field("seed", _seed, f"an integer from 0 to {SEED_BOUND - 1}", "--seed",
          "seed of every scenario run (printed in the header; give it back to reproduce)"),
    Field("report_dir", _path, "a directory path", "--report-dir", "write the run's report <dir>/<run-id>.json"),
    Field("switch_interval_s", _positive_float, "a positive number of seconds", "--switch-interval",
          "switch interval while scenarios run with the GIL on (finer interleaving)"),
    Field("barrier", _one_of(BARRIER_KINDS), f"one of {', '.join(BARRIER_KINDS)}", "--barrier",
          "how each round's threads are released: spin (at once) or condition (one by one, for comparison)"),
    Field("budget_s", _positive_float, "a positive number of seconds per scenario", "--budget",
          "seconds each scenario runs: explored interleavings, then free-running threads (rounds are the cap)"),
    Field("explore", _flag, "yes or no", "--explore",
          "explore controlled interleavings before free-running threads", switch=True),
    Field("strategy", _one_of(STRATEGY_KINDS), f"one of {', '.join(STRATEGY_KINDS)}", "--strategy",
          "how exploration picks interleavings: random, pct (few preemptions) or mixed (both, by turns)"),
    Field("replay", _schedule, "a recorded schedule: its JSON text or a JSON file", "--replay",
          "replay the schedule an explored failure printed, instead of exploring and free-running"),
)

# Settings of the pytest plugin only (the session, not the engine): resolved from the same layers.
PLUGIN_FIELDS: tuple[Field, ...] = (
    Field("require_free_threading", _flag, "true or false", "--require-free-threading",
          "fail the session (exit 3) unless this is a free-threaded build with the GIL off and not forced",
          switch=True),
    Field("min_parallel_tests", _count, "a count of tests (0 or more)", "--min-parallel-tests",
          "fail the session unless at least N tests actually ran multi-threaded (pytest-run-parallel or ft_stress)"),
)
ALL_FIELDS = FIELDS + PLUGIN_FIELDS


# What every rerun command carries, in this order; other settings only when they differ from the default.
ALWAYS_IN_RERUN = ("threads", "rounds", "iterations", "timeout_s", "seed", "budget_s")


def rerun_words(
    settings: StressSettings, always: Sequence[str] = ALWAYS_IN_RERUN, *, plugin: bool = False
) -> list[str]:
    """The command-line words a rerun must give (see :meth:`Field.cli_words`): ``always`` in that order, then
    every other setting that differs from the default, in :data:`FIELDS` order, so a replayed schedule comes
    last (never the report directory: a rerun reports anew)."""
    by_name = {f.name: f for f in FIELDS}
    defaults = StressSettings()
    changed = [
        f for f in FIELDS
        if f.name not in always and f.name != "report_dir" and getattr(settings, f.name) != getattr(defaults, f.name)
    ]
    words: list[str] = []
    for field in [*(by_name[name] for name in always), *changed]:
        value = getattr(settings, field.name)
        if field.name == "replay" and value is not None and len(value) > LONGEST_INLINE_SCHEDULE:
            value = schedule_file(settings.report_dir, value)
        words += field.cli_words(value, plugin=plugin)
    return words


# A longer schedule goes into a file the rerun names: one command-line word holds at most 128 KiB on Linux, and
# a deep trial's schedule can be longer than that (nor would anyone read it on a console).
LONGEST_INLINE_SCHEDULE = 2000


def schedule_file(folder: Path, text: str) -> str | Path:
    """The schedule ``text`` written atomically to ``folder/schedules/<its hash>.json`` (named by its content, so
    writing it again changes nothing; in a folder of its own, away from the reports): its path; the text itself
    when it cannot be written."""
    import hashlib  # only for a long schedule

    path = folder / "schedules" / f"{hashlib.sha256(text.encode()).hexdigest()[:16]}.json"
    temp = path.with_suffix(f".{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temp.write_text(text, encoding="utf-8")
        os.replace(temp, path)
    except OSError:
        with contextlib.suppress(OSError):
            temp.unlink()
        return text
    return path.resolve()


def positive_count(text: str) -> int:
    """argparse ``type=`` for counts of runs or rounds: a whole number of at least 1, else a one-line usage error."""
    try:
        return _positive_int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a positive whole number") from None


def cli_source(values: Mapping[str, object]) -> Source:
    """The command-line layer: argparse destinations named like the fields; ``None`` means not given."""
    return Source("on the command line", values, {f.name: f.flag for f in FIELDS})


def env_source(env: Mapping[str, str]) -> Source:
    """The environment layer: ``FT_HARNESS_THREADS`` and friends; empty variables count as unset."""
    values = {f.name: env[f.env_var] for f in ALL_FIELDS if env.get(f.env_var, "").strip()}
    return Source("in the environment", values, {f.name: f.env_var for f in ALL_FIELDS})


def pyproject_source(pyproject: Path) -> Source:
    """The ``[tool.ft-harness]`` table of a pyproject.toml; unknown keys are errors (typos must not pass). A
    relative ``report-dir`` is relative to the file's folder."""
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"cannot read {pyproject}: {exc}") from None
    table = data.get("tool", {}).get(PYPROJECT_TABLE, {})
    label = f"in [tool.{PYPROJECT_TABLE}] of {pyproject}"
    if not isinstance(table, dict):
        raise UsageError(f"[tool.{PYPROJECT_TABLE}] of {pyproject} must be a table")
    by_key = {f.toml_key: f for f in ALL_FIELDS}
    unknown = sorted(set(table) - set(by_key))
    if unknown:
        raise UsageError(f"unknown key {unknown[0]!r} {label}: expected one of {', '.join(by_key)}")
    values = {by_key[k].name: v for k, v in table.items()}
    if isinstance(values.get("report_dir"), str) and values["report_dir"].strip():  # from the file's folder
        values["report_dir"] = str(pyproject.parent / values["report_dir"])
    return Source(label, values, {f.name: f.toml_key for f in ALL_FIELDS})


def find_pyproject(start: Path | None = None) -> Path | None:
    """The nearest pyproject.toml at or above ``start`` (default: the working directory)."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def resolve_fields(sources: Sequence[Source], fields: Sequence[Field]) -> dict[str, object]:
    """The parsed value of each of ``fields`` some layer gives (highest precedence first), by field name; a
    bad value is a one-line ``UsageError`` naming the field as its layer spells it."""
    resolved: dict[str, object] = {}
    for field in fields:
        for source in sources:
            raw = source.values.get(field.name)
            if raw is None:
                continue
            try:
                resolved[field.name] = field.parse(raw)
            except (TypeError, ValueError):
                raise UsageError(f"bad {source.describe(field)}: {raw!r}, expected {field.expected}") from None
            break
    return resolved


def resolve_sources(sources: Sequence[Source]) -> StressSettings:
    """Resolve settings from layers, highest precedence first; a missing seed becomes a fresh random one."""
    resolved = resolve_fields(sources, FIELDS)
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
