"""Options shared by the subcommands: ``--python SPEC``, ``--json``, the stress settings flags, the CI formats
(``--junit``, ``--sarif``), and the rerun commands the stress and gate commands print (they rerun these command
lines, so they are written here)."""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from harness import UsageError
from harness import settings as settings_mod
from harness.interpreter import find as interpreter_find
from harness.interpreter.children import same_interpreter
from harness.pipeline.context import Rerun
from harness.pipeline.record import RunRecord
from harness.report import check_writable, junit, sarif, write_files


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
    """One flag per stress setting (``--threads``, ``--rounds``, ...), each naming its default and its env and
    pyproject twins."""
    defaults = settings_mod.StressSettings()
    for field in settings_mod.FIELDS:
        default = "a random seed, printed" if field.name == "seed" else _shown(getattr(defaults, field.name))
        parser.add_argument(
            field.flag,
            **field.argument(field.name),
            help=f"{field.help}: {field.expected}; default: {default} (env {field.env_var}, pyproject "
                 f"[tool.ft-harness] {field.toml_key})",
        )


def _shown(value: object) -> str:
    """A default as ``--help`` shows it: ``60``, ``0.5``, ``on``, ``none``."""
    if isinstance(value, bool) or value is None:
        return {True: "on", False: "off", None: "none"}[value]
    return f"{value:g}" if isinstance(value, float) else str(value)


def settings_of(args: argparse.Namespace) -> settings_mod.StressSettings:
    """The stress settings: these flags over the environment over ``[tool.ft-harness]`` over the defaults."""
    cli = {field.name: getattr(args, field.name) for field in settings_mod.FIELDS}
    return settings_mod.resolve(cli, pyproject=settings_mod.find_pyproject())


def rerun_with(*command: str) -> Rerun:
    """Reruns of one scenario as ``<command> --target T --scenario S`` plus the settings' flags."""

    def rerun(target_name: str, scenario: str, settings: settings_mod.StressSettings) -> str:
        return shlex.join([*command, "--target", target_name, "--scenario", scenario,
                           *settings_mod.rerun_words(settings)])

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


def check_outputs(args: argparse.Namespace, report_dir: Path) -> None:
    """Every folder this run will write to (the report folder, ``--junit``'s and ``--sarif``'s), created and
    proven writable before any work: a bad one is exit 2 at once."""
    check_writable(report_dir)
    for target in (getattr(args, "junit", None), getattr(args, "sarif", None)):
        if target is not None:
            check_writable(target.parent)


def write_or_say(command: str, write: Callable[[], list[Path]]) -> list[Path]:
    """``write()``'s paths; when writing fails after all (the folder went away mid-run), one line on stderr says
    where the report could not be written and the run goes on to print its findings and keep its verdict."""
    try:
        return write()
    except UsageError as exc:
        print(f"ft-harness {command}: error: report not written: {exc}", file=sys.stderr)
        return []


def print_ending(command: str, record: RunRecord, paths: Sequence[Path], out: TextIO) -> int:
    """The last lines of a judging command: where its reports are, then an error or an interruption on stderr;
    returns the record's exit code."""
    if paths:
        print("report: " + ", ".join(str(path) for path in paths), file=out)
    if record.verdict == "error":
        print(f"ft-harness {command}: error: {record.note_text}", file=sys.stderr)
    elif record.interrupted is not None:
        print(f"ft-harness {command}: interrupted by {record.interrupted.signal}", file=sys.stderr)
    return record.exit_code
