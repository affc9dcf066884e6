"""Benchmarks run by ``ft-harness bench NAME``: one public module per benchmark, found without importing it.

A benchmark module ``harness.targets.nvx.bench.<name>`` provides ``add_arguments(parser)`` and ``run(args) -> int``.
Modules whose names start with ``_`` are helpers, not benchmarks.
"""

from __future__ import annotations

import pkgutil


def available() -> list[str]:
    """Names of the benchmark modules present in this package, sorted."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))
