"""Automatic reruns of a failure found under free-running threads: how often the same seed shows it again.

The seed fixes a scenario's data, not the interleaving, so a free-running failure's rerun command reproduces
it only some of the time; the report says how often, from a few reruns bounded in time.
"""

from __future__ import annotations

import time
from collections.abc import Callable

RERUNS = 5


def reproductions(once: Callable[[float], str], expected: str, *, limit_s: float, attempts: int = RERUNS) -> str:
    """``"r/n"``: of ``n`` reruns (at most ``attempts``, started within ``limit_s``), ``r`` ended ``expected``.

    ``once(seconds_left)`` runs one rerun and returns its status; a rerun that hangs ("timeout") ends the
    series, since its threads cannot be stopped.
    """
    until = time.monotonic() + limit_s
    hits = ran = 0
    while ran < attempts and time.monotonic() < until:
        status = once(until - time.monotonic())
        ran += 1
        hits += status == expected
        if status == "timeout":
            break
    return f"{hits}/{ran}"
