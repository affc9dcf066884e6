"""Options shared by the subcommands: ``--python SPEC``, ``--json``, the stress settings flags, and the rerun
commands the stress and gate commands print (they rerun these command lines, so they are written here)."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from harness import UsageError
from harness import settings as settings_mod
from harness.interpreter import find as interpreter_find
from harness.interpreter.children import same_interpreter
from harness.pipeline.context import Rerun


def add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--python",
        metavar="SPEC",
        help="interpreter to judge: a path or a version request such as 3.14t (default: this interpreter)",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON on stdout")


def add_tsan(parser: argparse.ArgumentParser) -> None:
    """``--tsan`` (judge on a ThreadSanitizer build) and ``--tsan-suppressions FILE``."""
    parser.add_argument("--tsan", action="store_true",
                        help=f"judge on a ThreadSanitizer build (${interpreter_find.TSAN_ENV}, else "
                             f"{interpreter_find.TSAN_DEFAULT}); any --python that is one turns TSan mode on too")
    parser.add_argument("--tsan-suppressions", type=Path, metavar="FILE",
                        help="more ThreadSanitizer suppressions (KIND:PATTERN lines) added to the shipped ones")


def python_of(args: argparse.Namespace) -> str:
    """The absolute path of the interpreter ``--python`` asks for (this one when not given), or with ``--tsan``
    the ThreadSanitizer build (``UnfitError``, exit 3, when there is none)."""
    if getattr(args, "tsan", False):
        if args.python:
            raise UsageError("--tsan and --python both name the interpreter: give one (a TSan --python is enough)")
        return interpreter_find.find_tsan()
    return interpreter_find.resolve(args.python)


def tsan_suppressions_of(args: argparse.Namespace) -> Path | None:
    """``--tsan-suppressions`` when given; a missing file is a usage error."""
    path: Path | None = args.tsan_suppressions
    if path is not None and not path.is_file():
        raise UsageError(f"--tsan-suppressions {path}: no such file")
    return path


def add_settings(parser: argparse.ArgumentParser) -> None:
    """One flag per stress setting (``--threads``, ``--rounds``, ...), each naming its env and pyproject twins."""
    for field in settings_mod.FIELDS:
        parser.add_argument(
            field.flag,
            dest=field.name,
            metavar=field.metavar,
            help=f"{field.help}: {field.expected} (env {field.env_var}, pyproject [tool.ft-harness] {field.toml_key})",
        )


def settings_of(args: argparse.Namespace) -> settings_mod.StressSettings:
    """The stress settings: these flags over the environment over ``[tool.ft-harness]`` over the defaults."""
    cli = {field.name: getattr(args, field.name) for field in settings_mod.FIELDS}
    return settings_mod.resolve(cli, pyproject=settings_mod.find_pyproject())


def rerun_with(*command: str) -> Rerun:
    """Reruns of one scenario as ``<command> --target T --scenario S`` plus the settings' flags."""

    def rerun(target_name: str, scenario: str, settings: settings_mod.StressSettings) -> str:
        words = [*command, "--target", target_name, "--scenario", scenario]
        for field, value in settings_mod.rerun_values(settings):
            words += [field.flag, value]
        return shlex.join(words)

    return rerun


def stress_rerun(python: str | None = None) -> Rerun:
    """``<this python> -m harness stress --no-import-audit [--python P] ...``: a rerun reproduces one
    scenario, so it skips the import audit (for a large target, most of a run's time)."""
    other = ["--python", python] if python and not same_interpreter(python) else []
    return rerun_with(sys.executable, "-m", "harness", "stress", "--no-import-audit", *other)
