"""SARIF 2.1.0 for code scanning: the findings of a gate or release record with their locations (the culprit
module's file inside the wheel, the METADATA line of a claim, the report file of a stale report).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from harness import __version__
from harness.pipeline.verdict import unsafe_import, unsafe_status

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
_RULES = {
    "gil-enabled-module": "An extension module re-enabled the GIL on import",
    "import-error": "A module failed to import on the free-threaded build",
    "scenario-failed": "A stress scenario failed, crashed or hung",
    "gate-unsafe": "A free-threaded cell's wheel was judged unsafe",
    "cell-missing": "An expected release cell holds no wheel",
    "cell-wrong-abi": "A release cell holds a wheel of another ABI",
    "cell-not-gated": "A free-threaded cell has no safe gate report for its file",
    "invalid-wheel": "A wheel of the release cannot be read",
    "stale-report": "A gate report judged another build of a shipped file",
    "foreign-report": "A gate report judged a file that is not in the release",
    "report-without-sha256": "A gate report cannot be matched to a file",
    "unreadable-report": "A gate report cannot be read",
    "ft-classifier-missing": "A free-threaded wheel does not carry the Free Threading classifier",
    "ft-classifier-overclaims": "The Free Threading classifier claims more than the gate measured",
    "ft-classifier-without-wheel": "The Free Threading classifier is claimed without a free-threaded wheel",
    "requires-python-excludes": "Requires-Python excludes the interpreter the wheel was gated on",
}


def gate_findings(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A gate record's findings: GIL-enabling or failing imports, failed scenarios, metadata findings."""
    wheel = record.get("wheel") or {}
    file = wheel.get("file", "?")
    members = {hint["module"]: hint["member"] for hint in record.get("fix_hints") or []}
    out = []
    free_threading = bool(record.get("free_threading_verdict", True))
    for row in record.get("imports") or []:
        if row["status"] == "gil-enabled" and unsafe_import(row["status"], free_threading=free_threading):
            hint = next((h for h in record.get("fix_hints") or [] if h["module"] == row["module"]), None)
            fix = f" Fix ({hint['builder']}): {hint['change']}. {hint['warning']}" if hint else ""
            out.append({"rule": "gil-enabled-module", "level": "error", "file": file,
                        "member": members.get(row["module"]),
                        "message": f"import {row['module']} re-enabled the GIL.{fix}"})
        elif row["status"] in ("error", "not-found"):
            out.append({"rule": "import-error", "level": "error", "file": file,
                        "message": f"import {row['module']}: {row['status']}: {row.get('error') or ''}"})
    for row in record.get("scenarios") or []:
        if unsafe_status(row["status"], row.get("on_failure", "unsafe")):
            out.append({"rule": "scenario-failed", "level": "error", "file": file,
                        "message": f"scenario {row['name']} {row['status']}: {row.get('detail') or ''} "
                                   f"Rerun: {row.get('rerun')}"})
    return out + list(record.get("metadata_findings") or [])


def render(record: Mapping[str, Any]) -> str:
    """One SARIF log with one run; a release record's findings as they are, a gate record's derived."""
    findings = list(record["findings"]) if record.get("kind") == "release" else gate_findings(record)
    used = sorted({f["rule"] for f in findings})
    log = {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "ft-harness",
                "version": __version__,
                "rules": [{"id": rule, "shortDescription": {"text": _RULES.get(rule, rule)}} for rule in used],
            }},
            "results": [_result(f, used.index(f["rule"])) for f in findings],
        }],
    }
    return json.dumps(log, indent=2) + "\n"


def _result(item: Mapping[str, Any], rule_index: int) -> dict[str, Any]:
    text = item["message"] + (f" Change: {item['change']}" if item.get("change") else "")
    result: dict[str, Any] = {
        "ruleId": item["rule"],
        "ruleIndex": rule_index,
        "level": item["level"] if item["level"] in ("error", "warning", "note") else "note",
        "message": {"text": text},
    }
    uri = _uri(item)
    if uri:
        physical: dict[str, Any] = {"artifactLocation": {"uri": uri}}
        if item.get("line"):
            physical["region"] = {"startLine": int(item["line"])}
        result["locations"] = [{"physicalLocation": physical}]
    return result


def _uri(item: Mapping[str, Any]) -> str | None:
    """A member inside a wheel as ``wheel/member``; else the wheel or the report file."""
    if item.get("file") and item.get("member"):
        return f"{item['file']}/{item['member']}"
    return item.get("file") or item.get("report")
