"""A wheel built from an sdist or a project directory for the judged interpreter (uv build).

TSan mode needs it: a ThreadSanitizer build runs only what was compiled against it with ``-fsanitize=thread``
(its sysconfig CFLAGS carry the flag, so setuptools and cffi builds pick it up), never a prebuilt wheel's
uninstrumented binaries.
"""

from __future__ import annotations

from pathlib import Path

from harness import UnfitError, UsageError
from harness.interpreter.children import TIMEOUT_S
from harness.wheel.venv import uv_step


def check_buildable(source: Path) -> None:
    """``UsageError`` (exit 2) unless ``source`` is an sdist file or a project directory."""
    if not source.exists():
        raise UsageError(f"{source} does not exist (expected an sdist, .tar.gz or .zip, or a project directory)")
    if source.is_dir() and any((source / name).is_file() for name in ("pyproject.toml", "setup.py")):
        return
    if source.is_file() and source.name.endswith((".tar.gz", ".zip")):
        return
    raise UsageError(f"{source} is neither an sdist (.tar.gz, .zip) nor a project directory "
                     "(pyproject.toml or setup.py)")


def build_wheel(python: str, source: Path, out_dir: Path) -> Path:
    """Build ``source`` (an sdist file or a project directory) into a wheel in ``out_dir`` with ``python``.

    ``UsageError`` (exit 2) when ``source`` is neither (:func:`check_buildable`); ``UnfitError`` (exit 3) when the
    build fails.
    """
    check_buildable(source)
    sdist = source.is_file()
    # A project is built through its sdist, never in its tree: a build/ folder left there by a build for
    # another interpreter (instrumented or not) would be linked into this wheel.
    uv_step(["build", *(["--wheel"] if sdist else []), "--python", python, "--out-dir", str(out_dir), str(source)],
            TIMEOUT_S["uv build"], f"build a wheel from {source} for {python}")
    wheels = sorted(out_dir.glob("*.whl"))
    if len(wheels) != 1:
        raise UnfitError(f"building {source} left {len(wheels)} wheels in {out_dir}, expected one")
    return wheels[0]
