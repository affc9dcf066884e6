"""JUnit XML for CI test tabs: a gate record (each module audited, each scenario and throughput run, each
metadata finding a testcase) or a release record (each cell and each finding not tied to a cell a testcase).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.pipeline.verdict import unsafe_import, unsafe_status
from harness.report.terminal import status_label


@dataclass
class Case:
    """One testcase: ``outcome`` is passed, failure, error or skipped; ``message`` says why when not passed."""

    classname: str
    name: str
    outcome: str = "passed"
    message: str = ""
    time: float = 0.0
    output: str = ""


@dataclass
class Suite:
    name: str
    cases: list[Case] = field(default_factory=list)


def gate_suites(record: Mapping[str, Any]) -> list[Suite]:
    """The gate record as suites: import audit, scenarios, throughput, metadata."""
    wheel = (record.get("wheel") or {}).get("file", "?")
    imports = Suite(f"{wheel}: import audit")
    free_threading = bool(record.get("free_threading_verdict", True))
    for row in record.get("imports") or []:
        failed = unsafe_import(row["status"], free_threading=free_threading) or row["status"] == "not-found"
        detail = row.get("error") or row.get("warning") or ""
        imports.cases.append(Case("import", row["module"], "failure" if failed else "passed",
                                  f"{row['status']}: {detail}".rstrip(": ") if failed else ""))
    scenarios = Suite(f"{wheel}: scenarios")
    for row in record.get("scenarios") or []:
        counts = unsafe_status(row["status"], row.get("on_failure", "unsafe"))
        label = status_label(row["status"], row.get("on_failure"))
        scenarios.cases.append(Case(
            str(row.get("target") or record.get("target")), row["name"], "failure" if counts else "passed",
            f"{label}: {row.get('detail') or ''} (rerun: {row.get('rerun')})" if counts else "",
            float(row.get("duration_s") or 0.0), "" if counts else label,
        ))
    throughput = Suite(f"{wheel}: throughput")
    for row in record.get("throughput") or []:
        if unsafe_status(row["status"], row.get("on_failure", "unsafe")):
            continue  # a failed run is a scenario of its own in the record ("<scenario> @ N threads")
        throughput.cases.append(Case(f"throughput.{row['target']}", f"{row['scenario']}@{row['threads']}", "passed",
                                     "", output=f"{row.get('ops_per_s') or 0:.0f} ops/s"))
    metadata = Suite(f"{wheel}: metadata")
    for item in record.get("metadata_findings") or []:
        metadata.cases.append(_finding_case(item))
    return [s for s in (imports, scenarios, throughput, metadata) if s.cases] or [_verdict_suite(record, wheel)]


def release_suites(record: Mapping[str, Any]) -> list[Suite]:
    """The release record as suites: one testcase per cell, one per finding that names no cell."""
    cells = Suite("release: cells")
    by_cell: dict[str, list[Mapping[str, Any]]] = {}
    for item in record["findings"]:
        by_cell.setdefault(item.get("cell", ""), []).append(item)
    for row in record["cells"]:
        problems = by_cell.get(row["cell"], [])
        errors = [p for p in problems if p["level"] == "error"]
        outcome = "failure" if errors else ("error" if problems else "passed")
        cells.cases.append(Case("release.cell", row["cell"], outcome, "; ".join(p["message"] for p in problems),
                                output=f"file {row['file'] or '-'}; gate {row['gate']}; report {row['report'] or '-'}"))
    other = Suite("release: findings")
    other.cases = [_finding_case(item) for item in by_cell.get("", [])]
    return [s for s in (cells, other) if s.cases]


def render(suites: Sequence[Suite]) -> str:
    root = ET.Element("testsuites", name="ft-harness")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for suite in suites:
        counts = {
            "tests": len(suite.cases),
            "failures": sum(c.outcome == "failure" for c in suite.cases),
            "errors": sum(c.outcome == "error" for c in suite.cases),
            "skipped": sum(c.outcome == "skipped" for c in suite.cases),
        }
        for key, value in counts.items():
            totals[key] += value
        attributes = {"name": suite.name, **{k: str(v) for k, v in counts.items()},
                      "time": f"{sum(c.time for c in suite.cases):.3f}"}
        element = ET.SubElement(root, "testsuite", attributes)
        for case in suite.cases:
            child = ET.SubElement(element, "testcase", classname=case.classname, name=case.name,
                                  time=f"{case.time:.3f}")
            if case.outcome != "passed":
                ET.SubElement(child, case.outcome, message=case.message[:500]).text = case.message
            if case.output:
                ET.SubElement(child, "system-out").text = case.output
    for key, value in totals.items():
        root.set(key, str(value))
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _finding_case(item: Mapping[str, Any]) -> Case:
    outcome = "failure" if item["level"] == "error" else "passed"
    text = item["message"] + (f" (change: {item['change']})" if item.get("change") else "")
    return Case(f"finding.{item['rule']}", item.get("file") or item.get("report") or item["rule"], outcome,
                text if outcome == "failure" else "", output="" if outcome == "failure" else text)


def _verdict_suite(record: Mapping[str, Any], wheel: str) -> Suite:
    """A gate that stopped before auditing (unfit, failed install) still yields one testcase with its reason."""
    verdict = record.get("verdict")
    return Suite(f"{wheel}: gate", [Case("gate", wheel, "passed" if verdict == "safe" else "error",
                                         str(record.get("note") or verdict))])
