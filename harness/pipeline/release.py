"""The release verdict across the build matrix: the exact fileset, a safe gate report for the very file of
every free-threaded cell (matched by sha256 and by the platform the gate ran on), no stale or foreign report,
and metadata that claims what the verdict supports. One record, one verdict, one exit code:

0 pass; 1 fail (a cell missing or holding the wrong ABI, an invalid wheel, an unsafe or failed gate, a stale,
foreign or unreadable report, a metadata error); 4 not gated (nothing failed, but a free-threaded cell has no
safe gate report for its file: none, an imports-only one without ``--allow-imports-only``, a GIL-build run or
a gate that could not judge); 2 bad usage or input.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness import EXIT_NOT_GATED, EXIT_SAFE, EXIT_UNSAFE, UsageError, __version__
from harness.pipeline.record import new_run_id
from harness.wheel.fileset import Cell, CellResult, FilesetReport, platform_keys
from harness.wheel.fileset import check as check_fileset
from harness.wheel.fix_hints import hints_for_wheel
from harness.wheel.metadata import Measured, check_release, read_metadata
from harness.wheel.metadata import check_wheel as check_metadata
from harness.wheel.tags import WheelInfo, read_wheel


@dataclass(frozen=True)
class GateReport:
    """One gate JSON report as the release reads it."""

    path: Path
    record: Mapping[str, Any]

    @property
    def artifact(self) -> Mapping[str, Any]:
        return self.record.get("artifact") or {}

    @property
    def sha256(self) -> str | None:
        return self.artifact.get("sha256")

    @property
    def file(self) -> str:
        return str(self.artifact.get("file") or (self.record.get("wheel") or {}).get("file") or "?")

    @property
    def platform(self) -> str | None:
        return self.artifact.get("platform")

    def ran_on(self, cell: Cell) -> bool:
        return self.platform is not None and cell.platform in platform_keys(self.platform)

    @property
    def measured(self) -> Measured:
        """What the gate measured, as its JSON records it (:class:`~harness.pipeline.record.RunRecord`)."""
        return Measured(
            verdict=str(self.record.get("verdict")),
            gil_enabled_modules=tuple(i["module"] for i in self.record.get("imports") or []
                                      if i["status"] == "gil-enabled"),
            interpreter_version=str((self.record.get("interpreter") or {}).get("version") or ""),
        )

    @property
    def outcome(self) -> str:
        """safe, imports-only, unsafe, error or gil-build (a run that gave no free-threading verdict)."""
        verdict = self.record.get("verdict")  # "imports-only" since issue 12; "safe" with audit_only before it
        if verdict in ("safe", "imports-only") and not self.record.get("free_threading_verdict", False):
            return "gil-build"
        if verdict == "imports-only" or (verdict == "safe" and self.record.get("audit_only")):
            return "imports-only"
        return str(verdict)


@dataclass(frozen=True)
class ReleaseRecord:
    """The release's one record: its verdict and exit code (:func:`decide_release`), the matrix rows, the
    findings and fix hints, and the folder's wheels; JSON only through :meth:`to_json`."""

    run_id: str
    verdict: str
    exit_code: int
    directory: Path
    reports_directory: Path
    allow_imports_only: bool
    started: datetime
    cells: list[dict[str, Any]]
    findings: list[dict[str, Any]]
    fix_hints: list[dict[str, Any]]
    wheels: dict[str, dict[str, Any]]
    fileset: FilesetReport

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "release",
            "run_id": self.run_id,
            "verdict": self.verdict,
            "exit_code": self.exit_code,
            "directory": str(self.directory),
            "reports_directory": str(self.reports_directory),
            "allow_imports_only": self.allow_imports_only,
            "harness_version": __version__,
            "started": self.started.isoformat(timespec="seconds"),
            "cells": self.cells,
            "findings": self.findings,
            "fix_hints": self.fix_hints,
            "wheels": self.wheels,
            "unmatched": self.fileset.unmatched,
            "invalid": self.fileset.invalid,
            "sdists": self.fileset.sdists,
        }


def load_reports(directory: Path) -> tuple[list[GateReport], list[dict[str, Any]]]:
    """Every gate JSON under ``directory`` (recursively: one folder per CI job merges without clashes) and a
    finding per JSON file that cannot be read. Other JSON files (release and run reports) are skipped."""
    if not directory.is_dir():
        raise UsageError(f"reports directory {directory} does not exist or is not a directory")
    reports, findings = [], []
    for path in sorted(directory.rglob("*.json")):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            findings.append(finding("unreadable-report", "error", f"{path}: not a readable JSON report ({exc})",
                                    report=str(path)))
            continue
        if isinstance(record, dict) and record.get("kind") == "gate":
            reports.append(GateReport(path, record))
    return reports, findings


def judge(
    wheel_dir: Path, report_dir: Path, cells: Sequence[Cell], *, allow_imports_only: bool = False
) -> ReleaseRecord:
    """The release record: cells with their file, ABI, gate outcome and report; findings; verdict and exit code."""
    started = datetime.now(UTC)
    fileset = check_fileset(wheel_dir, cells)
    reports, findings = load_reports(report_dir)
    wheels = _read_wheels(fileset)
    shas = {name: info.sha256() for name, info in wheels.items()}
    metadata = {name: read_metadata(info) for name, info in wheels.items()}
    findings += _fileset_findings(fileset)
    rows, hints = [], []
    for result in fileset.cells:
        judged = _judge_cell(result, wheels, shas, reports, allow_imports_only)
        rows.append(judged.row)
        findings += judged.findings
        for name in result.wheels if result.status == "present" else []:
            measured = judged.measured.get(name)
            findings += [f.to_json() for f in check_metadata(metadata[name], measured)]
            if measured is not None:
                gil_modules = measured.gil_enabled_modules
                hints += [h.to_json() | {"file": name} for h in hints_for_wheel(wheels[name].path, gil_modules)]
    findings += [f.to_json() for f in check_release(list(metadata.values()))]
    findings += _stray_reports(reports, shas)
    findings = _unique(findings)
    verdict, code = decide_release(rows, findings)
    wheel_tags = {name: {"sha256": shas[name], "tags": sorted(str(t) for t in info.tags)}
                  for name, info in wheels.items()}
    return ReleaseRecord(
        run_id=new_run_id("release", None, started), verdict=verdict, exit_code=code, directory=wheel_dir,
        reports_directory=report_dir, allow_imports_only=allow_imports_only, started=started, cells=rows,
        findings=findings, fix_hints=_unique(hints), fileset=fileset,
        wheels=wheel_tags,
    )


def decide_release(rows: Sequence[Mapping[str, Any]], findings: Sequence[Mapping[str, Any]]) -> tuple[str, int]:
    """The release's own decision over many gate reports (each gate's verdict was decided by
    :func:`harness.pipeline.verdict.decide` and is only read here): ``(verdict, exit code)``: any error
    finding fails; else an ungated free-threaded cell; else pass."""
    if any(f["level"] == "error" for f in findings):
        return "fail", EXIT_UNSAFE
    if any(row["gate"] not in ("safe", "not needed", "imports-only (allowed)") for row in rows):
        return "not gated", EXIT_NOT_GATED
    return "pass", EXIT_SAFE


def finding(rule: str, level: str, message: str, **where: Any) -> dict[str, Any]:
    """One release finding; ``where`` names what it is about (cell, file, report, member, line, change)."""
    return {"rule": rule, "level": level, "message": message, **{k: v for k, v in where.items() if v is not None}}


def _read_wheels(fileset: FilesetReport) -> dict[str, WheelInfo]:
    names = {name for result in fileset.cells for name in result.wheels} | set(fileset.unmatched)
    return {name: read_wheel(fileset.directory / name) for name in sorted(names)}


def _fileset_findings(fileset: FilesetReport) -> list[dict[str, Any]]:
    out = [finding("invalid-wheel", "error", reason) for reason in fileset.invalid]
    for result in fileset.cells:
        if result.status == "missing":
            message = f"{result.cell}: no wheel fills this cell"
            out.append(finding("cell-missing", "error", message, cell=str(result.cell)))
        elif result.status == "wrong-abi":
            why = f" ({result.reason})" if result.reason else ""
            out.append(finding(
                "cell-wrong-abi", "error",
                f"{result.cell}: no {result.cell.interpreter} wheel; the slot holds {', '.join(result.wheels)}{why}",
                cell=str(result.cell), file=result.wheels[0],
            ))
    return out


@dataclass
class _WheelVerdict:
    """One shipped wheel of a free-threaded cell: its gate label, the report that decided it, what that report
    measured, and the findings."""

    gate: str
    report: str | None = None
    measured: Measured | None = None
    findings: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _CellVerdict:
    """One matrix row (for a wrong-abi cell: the wheel in its slot and that wheel's ABI), the measurement of
    each of its wheels, and its findings."""

    row: dict[str, Any]
    measured: dict[str, Measured | None] = field(default_factory=dict)
    findings: list[dict[str, Any]] = field(default_factory=list)


def _judge_cell(
    result: CellResult,
    wheels: Mapping[str, WheelInfo],
    shas: Mapping[str, str],
    reports: Sequence[GateReport],
    allow_imports_only: bool,
) -> _CellVerdict:
    """Every wheel that fills a free-threaded cell must be gated; the cell shows the worst of them."""
    cell = result.cell
    present = result.status == "present"
    names = result.wheels
    row: dict[str, Any] = {
        "cell": str(cell), "interpreter": cell.interpreter, "platform": cell.platform, "status": result.status,
        "file": ", ".join(names) or None, "abi": ", ".join(sorted({a for n in names for a in wheels[n].abis})) or None,
        "gate": "not needed" if present else "-", "report": None,
    }
    verdict = _CellVerdict(row)
    if not present or not cell.free_threaded:
        return verdict
    row["sha256"] = ", ".join(shas[name] for name in names)
    judged = {name: _judge_wheel(cell, name, shas[name], reports, allow_imports_only) for name in names}
    worst = max(judged.values(), key=lambda v: _GATE_RANK.get(v.gate.split(" (")[0], 3))
    row["gate"], row["report"] = worst.gate, worst.report
    verdict.measured = {name: v.measured for name, v in judged.items()}
    verdict.findings = [f for v in judged.values() for f in v.findings]
    return verdict


def _judge_wheel(cell: Cell, name: str, sha: str, reports: Sequence[GateReport], allow_imports_only: bool
                 ) -> _WheelVerdict:
    mine = [r for r in reports if r.sha256 == sha]
    here = [r for r in mine if r.ran_on(cell)]
    if not here:
        elsewhere = sorted({r.platform or "?" for r in mine})
        detail = f" (gated on {', '.join(elsewhere)} only)" if elsewhere else ""
        return _WheelVerdict("not gated", findings=[finding(
            "cell-not-gated", "note", f"{cell}: no gate report for {name}{detail}", cell=str(cell), file=name)])
    worst = max(here, key=lambda r: _OUTCOME_RANK.get(r.outcome, 0))
    note = worst.record.get("note") or "see the report"
    verdict = _WheelVerdict("", str(worst.path), worst.measured)
    where = {"cell": str(cell), "file": name, "report": str(worst.path)}
    if worst.outcome == "unsafe":
        verdict.gate = "unsafe"
        verdict.findings.append(finding("gate-unsafe", "error", f"{cell}: the gate judged {name} unsafe: {note}",
                                        **where))
    elif worst.outcome == "imports-only":
        verdict.gate = "imports-only (allowed)" if allow_imports_only else "imports-only"
    elif worst.outcome == "safe":
        verdict.gate = "safe"
    else:
        verdict.gate = "not gated (GIL-build run)" if worst.outcome == "gil-build" else f"not gated ({worst.outcome})"
    if verdict.gate not in ("safe", "unsafe", "imports-only (allowed)"):
        verdict.findings.append(finding("cell-not-gated", "note", f"{cell}: {name} is {verdict.gate} ({note})",
                                        **where))
    return verdict


_OUTCOME_RANK = {"safe": 0, "imports-only": 1, "gil-build": 2, "error": 3, "unsafe": 4}
_GATE_RANK = {"safe": 0, "imports-only": 2, "not gated": 3, "unsafe": 4}


def _stray_reports(reports: Sequence[GateReport], shas: Mapping[str, str]) -> list[dict[str, Any]]:
    """Reports for a file the release does not hold: an older build of a shipped name (stale) or a foreign file."""
    known = set(shas.values())
    out = []
    for report in reports:
        if report.sha256 in known:
            continue
        if report.sha256 is None:
            out.append(finding("report-without-sha256", "error", f"{report.path}: the report records no sha256 "
                               "of the wheel it judged (written by an older harness): gate the wheel again",
                               report=str(report.path), file=report.file))
        elif report.file in shas:
            out.append(finding("stale-report", "error", f"{report.path} judged {report.file} with sha256 "
                               f"{report.sha256[:12]}..., but the release's {report.file} has "
                               f"{shas[report.file][:12]}...: the shipped file is not the file gated",
                               report=str(report.path), file=report.file))
        else:
            out.append(finding("foreign-report", "error", f"{report.path} judged {report.file}, which is not in "
                               "the release", report=str(report.path), file=report.file))
    return out


def _unique(items: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return list({json.dumps(item, sort_keys=True): item for item in items}.values())
