"""A run record (its JSON form, as written to a file) as a Markdown summary."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from harness.audit import import_summary
from harness.interpreter.facts import gil_forced_text
from harness.report import tsan as tsan_report
from harness.report.terminal import head_lines, reproduced_line, status_label


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
        f"GIL forced: {gil_forced_text(interp.get('gil_forced'), free_threaded=interp.get('free_threaded'))}; "
        f"ThreadSanitizer build: {interp.get('thread_sanitizer', False)}",
        f"- started: {record.get('started', '')}; duration: {record.get('duration_s', 0):.2f} s",
    ]
    settings = record.get("settings") or {}
    if settings and record.get("scenarios"):  # the stress settings, where a scenario ran under them
        lines.append(
            f"- threads {settings.get('threads')} x iterations {settings.get('iterations')} x rounds "
            f"{settings.get('rounds')} at most; budget {settings.get('budget_s')} s per scenario; timeout "
            f"{settings.get('timeout_s')} s; seed {settings.get('seed')}"
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
            [(s["name"], status_label(s["status"], s.get("on_failure")), s["threads"], _rounds_cell(s), s["iterations"],
              s["failures"], s.get("ops_per_s"),
              s.get("time_to_first_failure_s"), s.get("duration_s")) for s in scenarios],
        )
    for s in scenarios:
        if s["status"] == "passed":
            continue
        label = status_label(s["status"], s.get("on_failure"))
        lines += ["", f"### {s['name']}: {label}", "", s.get("detail") or "", "",
                  f"Rerun: `{s['rerun']}`"]
        lines += [line for text in reproduced_line(s.get("reproduced")) for line in ("", f"{text.capitalize()}.")]
        for error in s.get("errors") or []:
            shown = head_lines(error["first_traceback"].splitlines())
            lines += ["", f"`{error['type']}` x {error['count']}, first:", "", "```", *shown, "```"]
    if record.get("tsan") is not None:
        lines += tsan_report.markdown_lines(record["tsan"])
    return "\n".join(lines).rstrip() + "\n"


def _rounds_cell(scenario: Mapping[str, Any]) -> str:
    """Free-running rounds run (and their cap), plus explored trials: ``812 (cap 100000) + 96 explored``; ``?``
    when not known (the run's process was stopped)."""
    rounds = scenario.get("rounds_run")
    trials = (scenario.get("exploration") or {}).get("trials")
    cell = f"{'?' if rounds is None else rounds} (cap {scenario['rounds']})"
    return f"{cell} + {trials} explored" if trials else cell


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
