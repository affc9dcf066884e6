"""Reports: a run record's JSON form written as files, atomically, in the formats of :data:`RENDERERS`
(JSON, Markdown from :mod:`~.markdown`, the gate's Markdown and HTML from :mod:`~.gate`); the texts a
terminal shows are in :mod:`~.terminal`; the release verdict's text, Markdown and HTML in :mod:`~.release`;
JUnit XML and SARIF for CI in :mod:`~.junit` and :mod:`~.sarif`.

Renderers take the record as written to the JSON file, so a report can be rendered again from that file.
Each file is written to a temporary file in the same folder, then renamed, so a reader never sees half a
report, also when the run itself failed.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from harness import UsageError
from harness.report.gate import render_gate_markdown, render_html
from harness.report.markdown import render_markdown

Renderer = Callable[[Mapping[str, Any]], str]


def render_json(record: Mapping[str, Any]) -> str:
    return json.dumps(record, indent=2, sort_keys=False) + "\n"


# Every report format by name: its file suffix and its renderer.
RENDERERS: dict[str, tuple[str, Renderer]] = {
    "json": (".json", render_json),
    "md": (".md", render_markdown),
    "gate-md": (".md", render_gate_markdown),
    "html": (".html", render_html),
}


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomic(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp creates 0600; a report is for colleagues and web servers too, as the umask allows.
        os.fchmod(fd, 0o666 & ~_current_umask())
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return path


def write_reports(
    record: Mapping[str, Any], report_dir: Path, stem: str, formats: Sequence[str] = ("json",)
) -> list[Path]:
    """Write the record in each format as ``<report_dir>/<stem><suffix>``; returns the paths in order."""
    unknown = [f for f in formats if f not in RENDERERS]
    if unknown:
        raise UsageError(f"unknown report format {unknown[0]!r}: expected one of {', '.join(RENDERERS)}")
    return write_files(report_dir, {f"{stem}{RENDERERS[f][0]}": RENDERERS[f][1](record) for f in formats})


def write_files(folder: Path, files: Mapping[str, str]) -> list[Path]:
    """Write each ``{file name: text}`` into ``folder`` atomically; returns the paths in order. A folder that
    cannot be written is a one-line usage error."""
    try:
        return [write_atomic(Path(folder) / name, text) for name, text in files.items()]
    except OSError as exc:
        raise _unwritable(folder, exc) from None


def check_writable(folder: Path) -> None:
    """Create ``folder`` and write (then remove) a file in it: a front end calls this for every output
    location before any work, so a bad one is a one-line usage error at once, not after the run."""
    if Path(folder).exists() and not Path(folder).is_dir():
        raise UsageError(f"cannot write report to {folder}: it is a file, not a folder")
    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise _unwritable(folder, exc) from None


def _unwritable(folder: Path, exc: OSError) -> UsageError:
    return UsageError(f"cannot write report to {folder}: {exc.strerror or exc}")


def append_step_summary(markdown: str, command: str) -> None:
    """Append a report's Markdown to ``$GITHUB_STEP_SUMMARY`` when it is set (a one-line warning naming
    ``command``, not a failure, when it cannot be written)."""
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if not summary:
        return
    try:
        with open(summary, "a", encoding="utf-8") as handle:
            handle.write(markdown.rstrip("\n") + "\n\n")
    except OSError as exc:
        print(f"ft-harness {command}: warning: cannot append to GITHUB_STEP_SUMMARY {summary}: {exc}",
              file=sys.stderr)
