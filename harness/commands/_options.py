"""Options shared by the subcommands: ``--python SPEC``, ``--json``, the stress settings flags, the CI formats
(``--junit``, ``--sarif``), and the rerun commands the stress and gate commands print (they rerun these command
lines, so they are written here)."""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness import settings as settings_mod
from harness.interpreter import find as interpreter_find
from harness.interpreter.children import same_interpreter
from harness.pipeline.context import Rerun
from harness.report import junit, sarif, write_files


def add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--python",
        metavar="SPEC",
        help="interpreter to judge: a path or a version request such as 3.14t (default: this interpreter)",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON on stdout")


def python_of(args: argparse.Namespace) -> str:
    """The absolute path of the interpreter ``--python`` asks for (this one when not given)."""
    return interpreter_find.resolve(args.python)


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


def stress_rerun(python: str | None = None, scenario_paths: Sequence[str] = ()) -> Rerun:
    """``<this python> -m harness stress --no-import-audit [--python P] [--scenario-path DIR] ...``: a rerun
    reproduces one scenario, so it skips the import audit (for a large target, most of a run's time)."""
    other = ["--python", python] if python and not same_interpreter(python) else []
    paths = [word for folder in scenario_paths for word in ("--scenario-path", folder)]
    return rerun_with(sys.executable, "-m", "harness", "stress", "--no-import-audit", *other, *paths)


def add_ci_formats(parser: argparse.ArgumentParser) -> None:
    """``--junit FILE`` and ``--sarif FILE`` (gate and release)."""
    parser.add_argument("--junit", type=Path, metavar="FILE", help="also write JUnit XML (CI test tabs)")
    parser.add_argument("--sarif", type=Path, metavar="FILE", help="also write SARIF 2.1.0 (code scanning)")


def write_ci_formats(
    args: argparse.Namespace, record: Mapping[str, Any], suites: list[junit.Suite]
) -> list[Path]:
    """Write the files ``--junit``/``--sarif`` asked for, each atomically (``record`` in its JSON form)."""
    paths: list[Path] = []
    for target, text in ((args.junit, lambda: junit.render(suites)), (args.sarif, lambda: sarif.render(record))):
        if target is not None:
            paths += write_files(target.parent, {target.name: text()})
    return paths
