"""ThreadSanitizer findings (a record's ``tsan`` section, as JSON) as text: one block per finding, for the
terminal, the Markdown and the HTML report alike."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def finding_title(finding: Mapping[str, Any]) -> str:
    """``data race x 3 in scenario nvx:shared-validator``."""
    return f"{finding['kind']} x {finding['count']} in scenario {finding['target']}:{finding['scenario']}"


def finding_text(finding: Mapping[str, Any]) -> list[str]:
    """TSan's summary line, then both stacks (the package's frames and a short tail)."""
    lines = [str(finding["summary"])]
    for stack in finding["stacks"]:
        lines += ["", *stack]
    return lines


def sections(tsan: Mapping[str, Any]) -> list[tuple[str, list[Mapping[str, Any]]]]:
    """The two lists with their headings: the package's findings (verdict) and the interpreter's (no verdict)."""
    return [
        ("in the package's code (unsafe)", list(tsan.get("package") or [])),
        ("only in the interpreter and libraries (no verdict)", list(tsan.get("interpreter") or [])),
    ]


def terminal_lines(tsan: Mapping[str, Any]) -> list[str]:
    """The stress command's lines: counts, then each package finding in full and each interpreter one by title."""
    package, interpreter = (found for _, found in sections(tsan))
    logs = f"; logs in {tsan['log_dir']}" if tsan.get("log_dir") else ""
    lines = [f"ThreadSanitizer: {len(package)} finding(s) in the package, {len(interpreter)} only in the "
             f"interpreter{logs}"]
    for finding in package:
        lines += [f"  {finding_title(finding)}", *(f"    {line}" for line in finding_text(finding))]
    lines += [f"  (interpreter) {finding_title(finding)}: {finding['summary']}" for finding in interpreter]
    return lines


def markdown_lines(tsan: Mapping[str, Any]) -> list[str]:
    lines = ["", "## ThreadSanitizer", "", f"Logs: `{tsan.get('log_dir')}`"]
    for heading, found in sections(tsan):
        lines += ["", f"### {len(found)} finding(s) {heading}"]
        for finding in found:
            lines += ["", f"#### {finding_title(finding)}", "", "```", *finding_text(finding), "```"]
    return lines
