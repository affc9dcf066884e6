"""Gate then release for real: the gate's JSON carries the wheel's identity (sha256, ABI, the platform and
version of the interpreter, this harness's version), its metadata findings and fix hints, and ``release``
matches that very report to the shipped file."""

from __future__ import annotations

import hashlib
import json
import platform
from pathlib import Path

import pytest
from packaging.tags import sys_tags

import harness.pipeline.gate
from harness import UsageError, __version__
from harness.commands import main
from tests.support.cbuild import build_plain_module
from tests.support.ci_schemas import validate_junit, validate_sarif
from tests.support.markers import needs_free_threading
from tests.support.wheels import make_wheel

SMALL = ["--threads", "2", "--rounds", "2", "--iterations", "20", "--timeout", "60", "--seed", "7"]
MANYLINUX = next((t for t in sys_tags() if t.platform.startswith("manylinux")), None)
STABLE = "Classifier: Programming Language :: Python :: Free Threading :: 3 - Stable"

pytestmark = [
    needs_free_threading,
    pytest.mark.skipif(MANYLINUX is None, reason="needs a manylinux (glibc Linux) interpreter"),
]


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out + err


def wheel_name() -> str:
    assert MANYLINUX is not None
    return f"demo-1.0-{MANYLINUX.interpreter}-{MANYLINUX.abi}-{MANYLINUX.platform}.whl"


def cell() -> str:
    assert MANYLINUX is not None
    return f"{MANYLINUX.abi}-manylinux_{platform.machine()}"


def test_gate_records_identity_findings_and_hints_and_release_matches_its_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    module = build_plain_module("demo._core", tmp_path / "build", free_threading=False)  # re-enables the GIL
    wheel = make_wheel(tmp_path / "dist", wheel_name(), metadata_lines=(STABLE,),
                       files={"demo/__init__.py": b"", f"demo/{module.name}": module.read_bytes()})
    code, output = run(capsys, "gate", "--wheel", wheel, "--report-dir", tmp_path / "gate", "--throughput-threads",
                       "none", "--junit", tmp_path / "ci" / "gate.xml", "--sarif", tmp_path / "ci" / "gate.sarif",
                       *SMALL)
    assert code == 1, output
    assert "fix hint demo._core (C API, multi-phase init): add `{Py_mod_gil, Py_MOD_GIL_NOT_USED},`" in output
    (report,) = (tmp_path / "gate").glob("*.json")
    record = json.loads(report.read_text())
    artifact = record["artifact"]
    assert artifact["sha256"] == hashlib.sha256(wheel.read_bytes()).hexdigest()
    assert (artifact["abi"], artifact["harness_version"]) == (MANYLINUX.abi, __version__)
    assert artifact["platform"].startswith("manylinux_") and artifact["interpreter"] == platform.python_version()
    (hint,) = record["fix_hints"]
    assert hint["member"] == f"demo/{module.name}" and "claim" in hint["warning"]
    assert [f["rule"] for f in record["metadata_findings"]] == ["ft-classifier-overclaims"]
    for page in ((tmp_path / "gate").glob("*.md"), (tmp_path / "gate").glob("*.html")):
        text = next(page).read_text()
        assert "ft-classifier-overclaims" in text and "demo._core" in text and artifact["sha256"] in text
    validate_junit((tmp_path / "ci" / "gate.xml").read_text())
    sarif = validate_sarif((tmp_path / "ci" / "gate.sarif").read_text())
    located = sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert located == f"{wheel.name}/demo/{module.name}"

    code, output = run(capsys, "release", tmp_path / "dist", "--reports", tmp_path / "gate", "--report-dir",
                       tmp_path / "out", "--expect", cell())
    assert code == 1, output
    assert "ok unsafe" in output and f"report {report}" in output


def test_import_audit_only_gate_is_not_gated_until_allowed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wheel = make_wheel(tmp_path / "dist", wheel_name(), files={"demo/__init__.py": b"VALUE = 1\n"})
    code, output = run(capsys, "gate", "--wheel", wheel, "--report-dir", tmp_path / "gate", *SMALL)
    assert code == 0, output
    release = ["release", tmp_path / "dist", "--reports", tmp_path / "gate", "--report-dir", tmp_path / "out",
               "--expect", cell()]
    code, output = run(capsys, *release)
    assert code == 4 and "ok imports-only" in output, output
    code, output = run(capsys, *release, "--allow-imports-only")
    assert code == 0 and "imports-only (allowed)" in output, output


def test_a_failure_while_recording_release_evidence_keeps_the_verdict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> None:
        raise UsageError("cannot ask the interpreter")

    monkeypatch.setattr(harness.pipeline.gate, "ask_interpreter", broken)
    wheel = make_wheel(tmp_path / "dist", wheel_name(), files={"demo/__init__.py": b""})
    code, output = run(capsys, "gate", "--wheel", wheel, "--report-dir", tmp_path / "gate", *SMALL)
    assert code == 0, output
    record = json.loads(next((tmp_path / "gate").glob("*.json")).read_text())
    assert record["verdict"] == "imports-only" and "artifact" not in record  # nothing stressed
    assert "no release evidence recorded: cannot ask the interpreter" in record["note"]
