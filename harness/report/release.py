"""The release verdict's report: the matrix (interpreters x platforms) and one line per cell (file, ABI, gate
outcome, report) as text, Markdown and one self-contained HTML page; written atomically, the Markdown also
appended to ``$GITHUB_STEP_SUMMARY``.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.report import append_step_summary, render_json, write_files
from harness.report.gate import findings_html, findings_markdown, fix_hints_html, fix_hints_markdown

_MARKS = {"present": "ok", "missing": "MISSING", "wrong-abi": "WRONG-ABI"}
_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:80rem;color:#222;padding:0 1rem}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}
th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f4f4f4}.good{color:#2e7d32}.bad{color:#c62828}.open{color:#b26a00}
.verdict{display:inline-block;padding:.2rem .6rem;border-radius:.3rem;color:#fff;font-weight:bold}
.pass{background:#2e7d32}.fail{background:#c62828}.not-gated{background:#b26a00}
"""


def cell_mark(row: Mapping[str, Any]) -> str:
    """The matrix entry of a cell: the fileset status, then the gate outcome for a filled free-threaded cell."""
    mark = _MARKS[row["status"]]
    return f"{mark} {row['gate']}" if row["status"] == "present" and row["gate"] != "not needed" else mark


def matrix(rows: Sequence[Mapping[str, Any]]) -> list[list[str]]:
    """Header row of platforms, then one row per interpreter."""
    interpreters = list(dict.fromkeys(r["interpreter"] for r in rows))
    platforms = list(dict.fromkeys(r["platform"] for r in rows))
    by_cell = {(r["interpreter"], r["platform"]): cell_mark(r) for r in rows}
    return [["", *platforms]] + [[i, *(by_cell.get((i, p), "-") for p in platforms)] for i in interpreters]


def render_text(record: Mapping[str, Any]) -> str:
    table = matrix(record["cells"])
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    lines = [f"release {record['directory']} (reports {record['reports_directory']})"]
    lines += ["  " + "  ".join(t.ljust(w) for t, w in zip(line, widths, strict=True)).rstrip() for line in table]
    lines.append("")
    for row in record["cells"]:
        lines.append(f"{row['cell']:<30} {cell_mark(row):<24} {row['file'] or '-'}"
                     + (f"  report {row['report']}" if row["report"] else ""))
    lines += _findings_lines(record)
    lines.append(f"{record['verdict'].upper()} (exit {record['exit_code']})")
    return "\n".join(lines)


def render_markdown(record: Mapping[str, Any]) -> str:
    table = matrix(record["cells"])
    lines = [f"# ft-harness release: {record['verdict']} (exit {record['exit_code']})", "",
             f"- wheels: `{record['directory']}`; gate reports: `{record['reports_directory']}`", "", "## Matrix", ""]
    lines += ["| " + " | ".join(table[0]) + " |", "|" + "---|" * len(table[0])]
    lines += ["| " + " | ".join(line) + " |" for line in table[1:]]
    lines += ["", "## Cells", "", "| cell | file | ABI | gate | report |", "|---|---|---|---|---|"]
    lines += [f"| {r['cell']} | {r['file'] or '-'} | {r['abi'] or '-'} | {cell_mark(r)} | {r['report'] or '-'} |"
              for r in record["cells"]]
    if record["findings"]:
        lines += ["", "## Findings", "", *findings_markdown(record["findings"])]
    if record["fix_hints"]:
        lines += ["", "## Fix hints", "", *fix_hints_markdown(record["fix_hints"])]
    return "\n".join(lines).rstrip() + "\n"


def render_html(record: Mapping[str, Any]) -> str:
    table = matrix(record["cells"])
    e = _e
    head = "".join(f"<th>{e(h)}</th>" for h in table[0])
    body = "".join("<tr><th>" + e(line[0]) + "</th>" + "".join(f'<td class="{_css(v)}">{e(v)}</td>'
                                                               for v in line[1:]) + "</tr>" for line in table[1:])
    cells = "".join(f"<tr><td>{e(r['cell'])}</td><td>{e(r['file'] or '-')}</td><td>{e(r['abi'] or '-')}</td>"
                    f'<td class="{_css(cell_mark(r))}">{e(cell_mark(r))}</td><td>{e(r["report"] or "-")}</td></tr>'
                    for r in record["cells"])
    hints = fix_hints_html(record["fix_hints"])
    verdict = str(record["verdict"])
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>ft-harness release: {e(verdict)}'
        f"</title><style>{_CSS}</style></head><body>"
        f'<h1>ft-harness release <span class="verdict {e(verdict.replace(" ", "-"))}">{e(verdict)}</span> '
        f"(exit {e(record['exit_code'])})</h1>"
        f"<p>wheels <code>{e(record['directory'])}</code>, reports <code>{e(record['reports_directory'])}</code></p>"
        f"<h2>Matrix</h2><table><tr>{head}</tr>{body}</table>"
        f"<h2>Cells</h2><table><tr><th>cell</th><th>file</th><th>ABI</th><th>gate</th><th>report</th></tr>{cells}"
        f"</table><h2>Findings</h2><ul>{findings_html(record['findings'])}</ul>"
        + (f"<h2>Fix hints</h2><ul>{hints}</ul>" if hints else "") + "</body></html>\n"
    )


def write_release_reports(record: Mapping[str, Any], report_dir: Path) -> list[Path]:
    """``<run_id>.json``, ``.md``, ``.html`` written atomically; the Markdown appended to the step summary."""
    stem = str(record["run_id"])
    markdown = render_markdown(record)
    paths = write_files(report_dir, {f"{stem}.json": render_json(record), f"{stem}.md": markdown,
                                     f"{stem}.html": render_html(record)})
    append_step_summary(markdown, "release")
    return paths


def _findings_lines(record: Mapping[str, Any]) -> list[str]:
    lines = []
    if record["findings"]:
        lines += ["", "findings:"]
        for f in record["findings"]:
            lines.append(f"  {f['level']:<7} {f['rule']}: {f['message']}")
            if f.get("change"):
                lines.append(f"          change: {f['change']}")
    for h in record["fix_hints"]:
        lines += [f"fix hint {h['module']} ({h['builder']}, {h['file']}): {h['change']}"]
    if record["fix_hints"]:
        lines.append(f"  {record['fix_hints'][0]['warning']}")
    if record["unmatched"]:
        lines.append("wheels matching no expected cell: " + ", ".join(record["unmatched"]))
    return lines


def _css(mark: str) -> str:
    if mark.startswith("ok") and mark.split(" ", 1)[-1] in ("ok", "safe", "imports-only (allowed)"):
        return "good"
    return "bad" if any(w in mark for w in ("MISSING", "WRONG", "unsafe")) else "open"


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value))
