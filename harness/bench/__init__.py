"""Benchmarks run by ``ft-harness bench NAME``: one public module per benchmark, found without importing it.

A benchmark module ``harness.bench.<name>`` provides ``add_arguments(parser)`` and ``run(args) -> int``.
Modules whose names start with ``_`` are helpers, not benchmarks.
"""

from __future__ import annotations

import argparse
import pkgutil


def available() -> list[str]:
    """Names of the benchmark modules present in this package, sorted."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def positive_count(text: str) -> int:
    """argparse ``type=`` for counts: a whole number of at least 1, else a one-line usage error."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a positive whole number")
    return value
