"""Per-test ThreadSanitizer findings when pytest itself runs on a TSan build.

TSan writes each report to ``<log_path>.<pid>`` as it happens (``TSAN_OPTIONS=log_path=...``, read by the
sanitizer at start-up, so the user sets it); after each test phase the watch reads what was added since the
last one, so every finding belongs to the test during which it appeared.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from pathlib import Path

from harness.engine.tsan import Findings, parse

HINT = ("ThreadSanitizer build: run with TSAN_OPTIONS='log_path=DIR/tsan halt_on_error=0' to get TSan findings "
        "per test (reports now go to stderr, unattributed)")


class TSanWatch:
    """Reads the new part of this process's TSan log after each test phase."""

    def __init__(self, log_path: str) -> None:
        self.path = Path(f"{log_path}.{os.getpid()}")
        self.offset = 0
        self.findings = Findings(log_dir=str(self.path.parent))

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> TSanWatch | None:
        """A watch on ``TSAN_OPTIONS``'s ``log_path`` (None when reports go to stdout/stderr)."""
        for option in shlex.split(environ.get("TSAN_OPTIONS", "").replace(":", " ")):
            key, _, value = option.partition("=")
            if key == "log_path" and value not in ("", "stdout", "stderr"):
                return cls(value)
        return None

    def collect(self, nodeid: str) -> Findings:
        """The findings written since the last call, attributed to ``nodeid`` (also kept in :attr:`findings`)."""
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self.offset)
                text = handle.read()
        except FileNotFoundError:
            return Findings()
        self.offset += len(text)
        new = Findings()
        new.add(parse(text.decode("utf-8", "replace")), scenario=nodeid, target="pytest")
        self.findings.package += new.package
        self.findings.interpreter += new.interpreter
        return new
