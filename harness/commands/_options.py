"""Options shared by the subcommands: ``--python SPEC``, ``--json`` and the stress settings flags."""

from __future__ import annotations

import argparse

from harness import interpreter_request
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
            **field.argument(),
            help=f"{field.expected} (env {field.env_var}, pyproject [tool.ft-harness] {field.toml_key})",
        )


def settings_of(args: argparse.Namespace) -> settings_mod.StressSettings:
    """The stress settings: these flags over the environment over ``[tool.ft-harness]`` over the defaults."""
    cli = {field.name: getattr(args, field.name) for field in settings_mod.FIELDS}
    return settings_mod.resolve(cli, pyproject=settings_mod.find_pyproject())
