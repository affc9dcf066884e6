"""Locate and run uv, the tool the gate uses to list interpreters, create venvs and install wheels."""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Sequence

from harness.errors import UnfitError


def uv_command() -> list[str] | None:
    """The command that runs uv: ``uv`` on PATH, else the binary of the ``uv`` package in this environment."""
    uv = shutil.which("uv")
    if uv:
        return [uv]
    try:
        from uv import find_uv_bin
    except ImportError:
        return None
    try:
        return [find_uv_bin()]
    except FileNotFoundError:
        return None


def run_uv(args: Sequence[str], *, timeout_s: float) -> subprocess.CompletedProcess[str]:
    """Run ``uv ARGS`` without ever downloading an interpreter; ``UnfitError`` (exit 3) when uv is missing."""
    uv = uv_command()
    if uv is None:
        raise UnfitError("uv not found on PATH or as the 'uv' package: install it (pip install uv)")
    return subprocess.run(
        [*uv, *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"},
        stdin=subprocess.DEVNULL,
    )
