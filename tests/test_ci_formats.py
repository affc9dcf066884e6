"""JUnit XML and SARIF 2.1.0 from gate and release records, validated against their schemas (and the
validators proven to reject a broken document)."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree

import jsonschema
import pytest
import xmlschema

from harness.commands import main
from harness.report import junit, sarif
from tests.support.ci_schemas import validate_junit, validate_sarif
from tests.support.gate_reports import write_gate_report
from tests.support.wheels import make_wheel

GATE_RECORD = {
    "kind": "gate",
    "verdict": "unsafe",
    "target": "demo",
    "note": "demo._core re-enabled the GIL",
    "wheel": {"file": "demo-1.0-cp314-cp314t-manylinux_2_28_x86_64.whl"},
    "imports": [
        {"module": "demo", "status": "gil-free", "gil_enabled_after": False},
        {"module": "demo._core", "status": "gil-enabled", "gil_enabled_after": True, "warning": "GIL re-enabled"},
        {"module": "demo.cli", "status": "error", "gil_enabled_after": False, "error": "ImportError: x"},
    ],
    "scenarios": [
        {"name": "shared", "target": "demo", "status": "failed", "on_failure": "unsafe", "detail": "lost updates",
         "rerun": "python -m harness gate ... --seed 7", "duration_s": 0.5},
        {"name": "reuse", "target": "demo", "status": "failed", "on_failure": "shared-use-unsafe", "detail": "x",
         "rerun": "r", "duration_s": 0.1},
        {"name": "ok", "target": "demo", "status": "passed", "rerun": "r", "duration_s": 0.2},
    ],
    "throughput": [{"target": "demo", "scenario": "ok", "threads": 2, "ops_per_s": 10.0, "status": "passed",
                    "rerun": "r"}],
    "metadata_findings": [{"rule": "ft-classifier-overclaims", "level": "error", "message": "claims 3 - Stable",
                           "file": "demo-1.0-cp314-cp314t-manylinux_2_28_x86_64.whl",
                           "member": "demo-1.0.dist-info/METADATA", "line": 4, "change": "replace it"}],
    "fix_hints": [{"module": "demo._core", "member": "demo/_core.cpython-314t-x86_64-linux-gnu.so",
                   "builder": "pybind11", "change": "py::mod_gil_not_used()", "warning": "a claim"}],
}


def test_gate_junit_has_a_testcase_per_module_scenario_and_finding() -> None:
    text = junit.render(junit.gate_suites(GATE_RECORD))
    validate_junit(text)
    assert 'tests="8"' in text and 'failures="4"' in text  # GIL, import error, unsafe scenario, metadata
    assert 'name="demo._core"' in text and "gil-enabled: GIL re-enabled" in text
    assert "failed (shared use unsafe: finding, not verdict)" in text  # reported, not failed


def test_gate_sarif_locates_the_culprit_module_and_the_metadata_line() -> None:
    log = validate_sarif(sarif.render(GATE_RECORD))
    results = log["runs"][0]["results"]
    assert [r["ruleId"] for r in results] == ["gil-enabled-module", "import-error", "scenario-failed",
                                              "ft-classifier-overclaims"]
    gil = results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert gil == "demo-1.0-cp314-cp314t-manylinux_2_28_x86_64.whl/demo/_core.cpython-314t-x86_64-linux-gnu.so"
    assert "py::mod_gil_not_used()" in results[0]["message"]["text"]
    assert results[3]["locations"][0]["physicalLocation"]["region"] == {"startLine": 4}
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    assert all(rules[r["ruleIndex"]]["id"] == r["ruleId"] for r in results)


def test_a_gil_build_run_does_not_fail_on_a_gil_enabling_module() -> None:
    """On a GIL build (no free-threading verdict) re-enabling the GIL is no failure, as in the verdict itself."""
    gil_build = {**GATE_RECORD, "free_threading_verdict": False, "metadata_findings": []}
    root = ElementTree.fromstring(junit.render(junit.gate_suites(gil_build)).encode())
    failed = [case.get("name") for case in root.iter("testcase") if case.find("failure") is not None]
    assert failed == ["demo.cli", "shared"]  # the import error and the unsafe scenario, not demo._core
    rules = [r["ruleId"] for r in validate_sarif(sarif.render(gil_build))["runs"][0]["results"]]
    assert rules == ["import-error", "scenario-failed"]


def test_the_validators_reject_broken_documents() -> None:
    with pytest.raises(jsonschema.ValidationError):
        validate_sarif(json.dumps({"version": "2.1.0", "runs": [{"tool": {"driver": {}}, "results": []}]}))
    with pytest.raises(xmlschema.XMLSchemaValidationError):
        validate_junit('<testsuites><testsuite name="x" tests="1" failures="0" errors="0">'
                       '<testcase name="a"/></testsuite></testsuites>')  # testcase without classname


def test_release_writes_valid_junit_and_sarif(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dist = tmp_path / "dist"
    make_wheel(dist, "pkg-1.0-cp314-cp314t-manylinux_2_28_aarch64.whl")  # where cp314 belongs
    gated = make_wheel(dist, "pkg-1.0-cp314-cp314t-manylinux_2_28_x86_64.whl")
    report = write_gate_report(tmp_path / "gate", gated, platform="manylinux_2_28_x86_64")
    make_wheel(dist, gated.name, files={"pkg/__init__.py": b"rebuilt = True\n"})  # the report is now stale
    code = main(["release", str(dist), "--reports", str(tmp_path / "gate"), "--report-dir", str(tmp_path / "out"),
                 "--expect", "cp314-manylinux_aarch64", "cp314t-manylinux_x86_64",
                 "--junit", str(tmp_path / "ci" / "release.xml"), "--sarif", str(tmp_path / "ci" / "release.sarif")])
    output = capsys.readouterr().out
    assert code == 1, output
    xml = (tmp_path / "ci" / "release.xml").read_text()
    validate_junit(xml)
    assert 'name="cp314-manylinux_aarch64"' in xml and 'name="cp314t-manylinux_x86_64"' in xml
    log = validate_sarif((tmp_path / "ci" / "release.sarif").read_text())
    by_rule = {r["ruleId"]: r for r in log["runs"][0]["results"]}
    assert set(by_rule) >= {"cell-wrong-abi", "stale-report", "cell-not-gated"}
    stale = by_rule["stale-report"]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert stale == gated.name and str(report) in by_rule["stale-report"]["message"]["text"]
