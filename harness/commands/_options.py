"""Options shared by the subcommands: ``--python SPEC``, ``--json``, the stress settings flags and the CI
formats (``--junit``, ``--sarif``)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from harness import interpreter_request, junit, sarif
from harness.report import write_files
from harness import settings as settings_mod


def add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--python",
        metavar="SPEC",
        help="interpreter to judge: a path or a version request such as 3.14t (default: this interpreter)",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON on stdout")


def python_of(args: argparse.Namespace) -> str:
    """The absolute path of the interpreter ``--python`` asks for (this one when not given)."""
    return interpreter_request.resolve(args.python)


def add_settings(parser: argparse.ArgumentParser) -> None:
    """One flag per stress setting (``--threads``, ``--rounds``, ...), each naming its env and pyproject twins."""
    for field in settings_mod.FIELDS:
        parser.add_argument(
            field.flag,
            dest=field.name,
            metavar=field.metavar,
            help=f"{field.expected} (env {field.env_var}, pyproject [tool.ft-harness] {field.toml_key})",
        )


def settings_of(args: argparse.Namespace) -> settings_mod.StressSettings:
    """The stress settings: these flags over the environment over ``[tool.ft-harness]`` over the defaults."""
    cli = {field.name: getattr(args, field.name) for field in settings_mod.FIELDS}
    return settings_mod.resolve(cli, pyproject=settings_mod.find_pyproject())


def add_ci_formats(parser: argparse.ArgumentParser) -> None:
    """``--junit FILE`` and ``--sarif FILE`` (gate and release)."""
    parser.add_argument("--junit", type=Path, metavar="FILE", help="also write JUnit XML (CI test tabs)")
    parser.add_argument("--sarif", type=Path, metavar="FILE", help="also write SARIF 2.1.0 (code scanning)")


def write_ci_formats(args: argparse.Namespace, record: dict[str, Any], suites: list[junit.Suite]) -> list[Path]:
    """Write the files ``--junit``/``--sarif`` asked for, each atomically."""
    paths = []
    for target, text in ((args.junit, lambda: junit.render(suites)), (args.sarif, lambda: sarif.render(record))):
        if target is not None:
            paths += write_files(target.parent, {target.name: text()})
    return paths
