"""Report writers: a run record (plain dict) to JSON and Markdown files, written atomically.

Renderers are looked up by format name in :data:`RENDERERS`; another module adds a format (the gate's HTML)
with :func:`register_renderer`. Each file is written to a temporary file in the same folder, then renamed,
so a reader never sees half a report, also when the run itself failed.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from harness.errors import UsageError

Renderer = Callable[[Mapping[str, Any]], str]
_TRACEBACK_LINES = 40


def render_json(record: Mapping[str, Any]) -> str:
    return json.dumps(record, indent=2, sort_keys=False) + "\n"


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return lines


def render_markdown(record: Mapping[str, Any]) -> str:
    """A human summary: verdict, interpreter, import table, scenario table, then each failure with its rerun."""
    interp = record.get("interpreter") or {}
    lines = [f"# ft-harness: {record.get('verdict', '?')} (exit {record.get('exit_code', '?')})", ""]
    if record.get("note"):
        lines += [f"**{record['note']}**", ""]
    lines += [
        f"- target: `{record.get('target', '')}`",
        f"- interpreter: {interp.get('version', '?')} at `{interp.get('executable', '?')}`; "
        f"free-threaded: {interp.get('free_threaded')}; GIL enabled: {interp.get('gil_enabled')}; "
        f"GIL forced: {interp.get('gil_forced')}",
        f"- started: {record.get('started', '')}; duration: {record.get('duration_s', 0):.2f} s",
    ]
    settings = record.get("settings") or {}
    if settings:
        lines.append(
            f"- threads {settings.get('threads')} x iterations {settings.get('iterations')} x rounds "
            f"{settings.get('rounds')}; timeout {settings.get('timeout_s')} s; seed {settings.get('seed')}"
        )
    for title, key in (("Import audit", "imports"), (TEST_ONLY_TITLE, "test_imports")):
        rows = record.get(key) or []
        if rows:
            lines += ["", f"## {title}", "", import_summary(rows), ""]
            lines += _table(IMPORT_HEADERS, import_rows(rows))
    scenarios = record.get("scenarios") or []
    if scenarios:
        lines += ["", "## Scenarios", ""]
        lines += _table(
            ("scenario", "status", "threads", "rounds", "iterations", "failures", "ops/s", "first failure (s)",
             "duration (s)"),
            [(s["name"], status_label(s), s["threads"], s["rounds"], s["iterations"], s["failures"], s.get("ops_per_s"),
              s.get("time_to_first_failure_s"), s.get("duration_s")) for s in scenarios],
        )
    for s in scenarios:
        if s["status"] == "passed":
            continue
        lines += ["", f"### {s['name']}: {status_label(s)}", "", s.get("detail") or "", "",
                  f"Rerun: `{s['rerun']}`"]
        for error in s.get("errors") or []:
            shown = head_lines(error["first_traceback"].splitlines(), _TRACEBACK_LINES)
            lines += ["", f"`{error['type']}` x {error['count']}, first:", "", "```", *shown, "```"]
    return "\n".join(lines).rstrip() + "\n"


IMPORT_HEADERS = ("module", "status", "GIL enabled after", "caused by", "detail")
TEST_ONLY_TITLE = "Test-only modules (findings, not the verdict)"


def import_rows(rows: Sequence[Mapping[str, Any]]) -> list[tuple[object, ...]]:
    """The import audit's table rows under :data:`IMPORT_HEADERS` (Markdown and HTML)."""
    return [(i["module"], i["status"], i.get("gil_enabled_after"), cause_text(i), i.get("error") or i.get("warning")
             or "") for i in rows]


def cause_text(row: Mapping[str, Any]) -> str:
    """Why a gil-enabled module turned the GIL on: it lacks the declaration itself, or it imports the culprit."""
    if row.get("status") != "gil-enabled":
        return ""
    culprit = row.get("caused_by")
    if culprit is None:
        return "unknown"
    return "itself: no free-threading declaration" if culprit == row["module"] else f"imports {culprit}"


def import_summary(rows: Sequence[Mapping[str, Any]]) -> str:
    """One line: GIL culprits (the modules that turned the GIL on), import errors and not-found, counted apart."""
    enabled = [r for r in rows if r.get("status") == "gil-enabled"]
    culprits = sorted({r.get("caused_by") or r["module"] for r in enabled})
    errors = [r["module"] for r in rows if r.get("status") == "error"]
    missing = [r["module"] for r in rows if r.get("status") == "not-found"]
    free = sum(1 for r in rows if r.get("status") == "gil-free")
    parts = [f"{len(rows)} modules: {free} GIL-free",
             f"{len(enabled)} GIL-enabled by {len(culprits)} GIL culprit(s)" + (f" ({', '.join(culprits)})"
                                                                               if culprits else ""),
             f"{len(errors)} import error(s)" + (f" ({', '.join(errors)})" if errors else ""),
             f"{len(missing)} not found" + (f" ({', '.join(missing)})" if missing else "")]
    return "; ".join(parts)


def head_lines(lines: Sequence[str], limit: int) -> list[str]:
    """The first ``limit`` lines, and a ``...`` line when some were left out (tracebacks in summaries)."""
    return [*lines[:limit], *(["..."] if len(lines) > limit else [])]


def status_label(scenario: Mapping[str, Any]) -> str:
    """The status, saying when a failure is a shared-use finding (an unshareable object) that keeps the verdict."""
    if scenario["status"] == "failed" and scenario.get("on_failure") == "shared-use-unsafe":
        return "failed (shared use unsafe: finding, not verdict)"
    return scenario["status"]


RENDERERS: dict[str, tuple[str, Renderer]] = {"json": (".json", render_json), "md": (".md", render_markdown)}


def register_renderer(name: str, suffix: str, renderer: Renderer) -> None:
    """Add a report format (e.g. ``register_renderer("html", ".html", render_html)``)."""
    RENDERERS[name] = (suffix, renderer)


def write_atomic(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
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
        raise UsageError(f"cannot write report to {folder}: {exc.strerror or exc}") from None
