"""The release verdict: exact fileset, a safe gate report per free-threaded cell for that very file (sha256 and
the platform it ran on), no stale or foreign reports, metadata that matches the measurements."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.commands import main
from tests.support.gate_reports import write_gate_report
from tests.support.wheels import make_wheel

PLATFORMS = {
    "manylinux_x86_64": "manylinux_2_28_x86_64",
    "manylinux_aarch64": "manylinux_2_28_aarch64",
    "macosx_arm64": "macosx_11_0_arm64",
    "win_amd64": "win_amd64",
}
MATRIX = [f"{abi}-{cell}" for cell in PLATFORMS for abi in ("cp314", "cp314t")]
STABLE = "Classifier: Programming Language :: Python :: Free Threading :: 3 - Stable"
BETA = "Classifier: Programming Language :: Python :: Free Threading :: 2 - Beta"


def release(capsys: pytest.CaptureFixture[str], tmp_path: Path, *args: str) -> tuple[int, str]:
    code = main(["release", str(tmp_path / "dist"), "--reports", str(tmp_path / "gate"),
                 "--report-dir", str(tmp_path / "out"), *args])
    out, err = capsys.readouterr()
    return code, out + err


def line_of(output: str, cell: str) -> str:
    return next(line for line in output.splitlines() if line.startswith(cell + " "))


def build_release(tmp_path: Path, *, metadata_lines: tuple[str, ...] = (BETA,), skip: tuple[str, ...] = ()) -> dict:
    """Every wheel of the 4-platform x cp314/cp314t matrix; returns {cell: wheel path}."""
    wheels = {}
    for cell, platform in PLATFORMS.items():
        for abi in ("cp314", "cp314t"):
            if f"{abi}-{cell}" in skip:
                continue
            wheels[f"{abi}-{cell}"] = make_wheel(tmp_path / "dist", f"pkg-1.0-cp314-{abi}-{platform}.whl",
                                                 metadata_lines=metadata_lines)
    return wheels


def gate_all(tmp_path: Path, wheels: dict, **kwargs: object) -> None:
    """A safe report for every cp314t cell, each from its own CI job folder (as downloaded artifacts merge)."""
    for cell, wheel in wheels.items():
        if cell.startswith("cp314t-"):
            platform = PLATFORMS[cell.split("-", 1)[1]]
            write_gate_report(tmp_path / "gate" / cell, wheel, platform=platform, **kwargs)  # type: ignore[arg-type]


def test_complete_release_with_every_free_threaded_cell_gated_safe_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gate_all(tmp_path, build_release(tmp_path))
    code, output = release(capsys, tmp_path, "--expect", *MATRIX)
    assert code == 0, output
    assert "ok safe" in line_of(output, "cp314t-manylinux_aarch64")
    assert line_of(output, "cp314-win_amd64").split()[1] == "ok"  # a GIL cell needs no gate
    assert output.rstrip().endswith("report: " + ", ".join(
        str(tmp_path / "out" / f"{json.loads(next((tmp_path / 'out').glob('*.json')).read_text())['run_id']}{s}")
        for s in (".json", ".md", ".html")))


def test_seed_release_with_a_free_threaded_wheel_in_the_gil_aarch64_cell_fails_naming_the_cell(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The case this project was born from: cp314-manylinux_aarch64 held the cp314t wheel, every gate passed.
    gate_all(tmp_path, build_release(tmp_path, skip=("cp314-manylinux_aarch64",)))
    code, output = release(capsys, tmp_path, "--expect", *MATRIX)
    assert code == 1, output
    wrong = line_of(output, "cp314-manylinux_aarch64")
    assert "WRONG-ABI" in wrong
    assert "cell-wrong-abi: cp314-manylinux_aarch64: no cp314 wheel; the slot holds " \
           "pkg-1.0-cp314-cp314t-manylinux_2_28_aarch64.whl" in output
    assert "ok safe" in line_of(output, "cp314t-manylinux_aarch64")
    record = json.loads(next((tmp_path / "out").glob("*.json")).read_text())
    row = next(r for r in record["cells"] if r["cell"] == "cp314-manylinux_aarch64")
    assert (row["file"], row["abi"]) == ("pkg-1.0-cp314-cp314t-manylinux_2_28_aarch64.whl", "cp314t")


def test_report_whose_sha256_does_not_match_the_shipped_file_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wheels = build_release(tmp_path)
    gate_all(tmp_path, wheels)
    # Rebuilt after the gate ran: same name, other bytes.
    make_wheel(tmp_path / "dist", wheels["cp314t-win_amd64"].name, files={"pkg/__init__.py": b"X = 2\n"},
               metadata_lines=(BETA,))
    code, output = release(capsys, tmp_path, "--expect", *MATRIX)
    assert code == 1, output
    assert "not gated" in line_of(output, "cp314t-win_amd64")
    assert "stale-report:" in output and "the shipped file is not the file gated" in output


def test_report_for_a_file_not_in_the_release_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gate_all(tmp_path, build_release(tmp_path))
    other = make_wheel(tmp_path / "elsewhere", "pkg-0.9-cp314-cp314t-manylinux_2_28_x86_64.whl")
    write_gate_report(tmp_path / "gate" / "old", other, platform="manylinux_2_28_x86_64")
    code, output = release(capsys, tmp_path, "--expect", *MATRIX)
    assert code == 1, output
    assert "foreign-report:" in output and "pkg-0.9-cp314-cp314t-manylinux_2_28_x86_64.whl" in output


@pytest.mark.parametrize(("flags", "exit_code", "mark"), [((), 4, "ok imports-only"),
                                                          (("--allow-imports-only",), 0, "imports-only (allowed)")])
def test_imports_only_report_is_not_gated_unless_allowed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: tuple[str, ...], exit_code: int, mark: str
) -> None:
    wheels = build_release(tmp_path)
    gate_all(tmp_path, {c: w for c, w in wheels.items() if c != "cp314t-macosx_arm64"})
    write_gate_report(tmp_path / "gate" / "mac", wheels["cp314t-macosx_arm64"], platform="macosx_14_0_arm64",
                      audit_only=True)
    code, output = release(capsys, tmp_path, "--expect", *MATRIX, *flags)
    assert code == exit_code, output
    assert mark in line_of(output, "cp314t-macosx_arm64")


def test_missing_report_gil_build_run_and_unsafe_gate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wheels = build_release(tmp_path)
    gate_all(tmp_path, {c: w for c, w in wheels.items() if c not in ("cp314t-win_amd64", "cp314t-macosx_arm64")})
    write_gate_report(tmp_path / "gate" / "mac", wheels["cp314t-macosx_arm64"], platform="macosx_14_0_arm64",
                      free_threading_verdict=False)
    code, output = release(capsys, tmp_path, "--expect", *MATRIX)
    assert code == 4, output
    assert "ok not gated" in line_of(output, "cp314t-win_amd64")
    assert "not gated (GIL-build run)" in line_of(output, "cp314t-macosx_arm64")
    write_gate_report(tmp_path / "gate" / "win", wheels["cp314t-win_amd64"], platform="win_amd64", verdict="unsafe")
    code, output = release(capsys, tmp_path, "--expect", *MATRIX)
    assert code == 1, output
    assert "ok unsafe" in line_of(output, "cp314t-win_amd64")


def test_universal2_wheel_gated_on_arm64_leaves_the_intel_cell_ungated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wheel = make_wheel(tmp_path / "dist", "pkg-1.0-cp314-cp314t-macosx_10_13_universal2.whl", metadata_lines=(BETA,))
    write_gate_report(tmp_path / "gate", wheel, platform="macosx_14_0_arm64")
    code, output = release(capsys, tmp_path, "--expect", "cp314t-macosx_arm64", "cp314t-macosx_x86_64")
    assert code == 4, output
    assert "ok safe" in line_of(output, "cp314t-macosx_arm64")
    assert "gated on macosx_14_0_arm64 only" in output


def test_unreadable_report_fails_and_other_json_is_skipped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gate_all(tmp_path, build_release(tmp_path))
    (tmp_path / "gate" / "broken.json").write_text("{not json")
    (tmp_path / "gate" / "bench.json").write_text(json.dumps({"kind": "bench"}))
    code, output = release(capsys, tmp_path, "--expect", *MATRIX)
    assert code == 1, output
    assert "unreadable-report:" in output and "broken.json" in output and "bench.json" not in output


def test_stable_claim_with_a_gil_enabling_module_names_the_line_and_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wheel = make_wheel(tmp_path / "dist", "pkg-1.0-cp314-cp314t-manylinux_2_28_x86_64.whl", metadata_lines=(STABLE,),
                       files={"pkg/__init__.py": b"", "pkg/_core.cpython-314t-x86_64-linux-gnu.so":
                              b"\x7fELF...pybind11_object...PyInit__core"})
    write_gate_report(tmp_path / "gate", wheel, platform="manylinux_2_28_x86_64", verdict="unsafe",
                      gil_enabled=["pkg._core"])
    code, output = release(capsys, tmp_path, "--expect", "cp314t-manylinux_x86_64")
    assert code == 1, output
    assert "ft-classifier-overclaims:" in output and "re-enabled the GIL on import: pkg._core" in output
    assert ('change: in pyproject.toml [project] classifiers replace "Programming Language :: Python :: Free '
            'Threading :: 3 - Stable" with "Programming Language :: Python :: Free Threading :: 1 - Unstable"'
            ) in output
    assert "fix hint pkg._core (pybind11" in output and "py::mod_gil_not_used()" in output
    record = json.loads(next((tmp_path / "out").glob("*.json")).read_text())
    (overclaim,) = [f for f in record["findings"] if f["rule"] == "ft-classifier-overclaims"]
    assert overclaim["member"] == "pkg-1.0.dist-info/METADATA" and overclaim["line"] == 4


def test_classifier_without_any_free_threaded_wheel_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_wheel(tmp_path / "dist", "pkg-1.0-cp314-cp314-manylinux_2_28_x86_64.whl", metadata_lines=(BETA,))
    (tmp_path / "gate").mkdir()
    code, output = release(capsys, tmp_path, "--expect", "cp314-manylinux_x86_64")
    assert code == 1, output
    assert "ft-classifier-without-wheel:" in output and "holds no free-threaded (cp3XXt or abi3t) wheel" in output


def test_free_threaded_wheel_without_classifier_is_a_warning_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gate_all(tmp_path, build_release(tmp_path, metadata_lines=()))
    code, output = release(capsys, tmp_path, "--expect", *MATRIX)
    assert code == 0, output
    assert "warning ft-classifier-missing:" in output
    assert 'add to pyproject.toml [project] classifiers: "Programming Language :: Python :: Free Threading :: ' \
           '1 - Unstable"' in output


def test_requires_python_that_excludes_the_gated_interpreter_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wheel = make_wheel(tmp_path / "dist", "pkg-1.0-cp314-cp314t-manylinux_2_28_x86_64.whl",
                       metadata_lines=(BETA, "Requires-Python: >=3.10,<3.14"))
    write_gate_report(tmp_path / "gate", wheel, platform="manylinux_2_28_x86_64")
    code, output = release(capsys, tmp_path, "--expect", "cp314t-manylinux_x86_64")
    assert code == 1, output
    assert "Requires-Python '>=3.10,<3.14' excludes 3.14.7" in output
    assert 'replace requires-python = ">=3.10,<3.14" with requires-python = ">=3.10"' in output


def test_free_threaded_stable_abi_fills_cp315t_and_later_cells(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wheel = make_wheel(tmp_path / "dist", "pkg-1.0-cp315-abi3t-manylinux_2_28_x86_64.whl", metadata_lines=(BETA,),
                       files={"pkg/__init__.py": b"", "pkg/_core.abi3t.so": b"\x7fELF"})
    for version in ("3.15.0", "3.16.0"):
        write_gate_report(tmp_path / "gate" / version, wheel, platform="manylinux_2_28_x86_64",
                          interpreter_version=version)
    code, output = release(capsys, tmp_path, "--expect", "cp315t-manylinux_x86_64", "cp316t-manylinux_x86_64")
    assert code == 0, output
    assert "ok safe" in line_of(output, "cp315t-manylinux_x86_64")
    code, output = release(capsys, tmp_path, "--expect", "cp314t-manylinux_x86_64")
    assert code == 1 and "MISSING" in line_of(output, "cp314t-manylinux_x86_64")


def test_reports_are_written_and_the_step_summary_appended(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    gate_all(tmp_path, build_release(tmp_path, skip=("cp314-manylinux_aarch64",)))
    code, _ = release(capsys, tmp_path, "--expect", *MATRIX)
    assert code == 1
    suffixes = sorted(p.suffix for p in (tmp_path / "out").iterdir())
    assert suffixes == [".html", ".json", ".md"]
    record = json.loads(next((tmp_path / "out").glob("*.json")).read_text())
    assert record["verdict"] == "fail" and len(record["cells"]) == 8
    assert list(record) == ["kind", "run_id", "verdict", "exit_code", "directory", "reports_directory",
                            "allow_imports_only", "harness_version", "started", "cells", "findings", "fix_hints",
                            "wheels", "unmatched", "invalid", "sdists"]
    page = next((tmp_path / "out").glob("*.html")).read_text()
    assert page.startswith("<!DOCTYPE html>") and "WRONG-ABI" in page and "<script" not in page
    text = summary.read_text()
    assert text.startswith("earlier step\n") and "# ft-harness release: fail (exit 1)" in text
    assert "| cp314 | ok | WRONG-ABI | ok | ok |" in text


def test_missing_reports_folder_is_one_usage_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    build_release(tmp_path)
    code, output = release(capsys, tmp_path, "--expect", *MATRIX)
    assert code == 2
    assert output.strip() == f"ft-harness release: error: reports directory {tmp_path / 'gate'} does not exist or " \
                             "is not a directory"


def test_every_wheel_that_fills_a_free_threaded_cell_must_be_gated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = make_wheel(tmp_path / "dist", "pkg-1.0-cp314-cp314t-manylinux_2_17_x86_64.whl", metadata_lines=(BETA,))
    new = make_wheel(tmp_path / "dist", "pkg-1.0-cp314-cp314t-manylinux_2_28_x86_64.whl", metadata_lines=(BETA,))
    write_gate_report(tmp_path / "gate", new, platform="manylinux_2_28_x86_64")
    code, output = release(capsys, tmp_path, "--expect", "cp314t-manylinux_x86_64")
    assert code == 4, output
    assert "ok not gated" in line_of(output, "cp314t-manylinux_x86_64")
    assert f"no gate report for {old.name}" in output
    write_gate_report(tmp_path / "gate", old, platform="manylinux_2_28_x86_64")
    code, output = release(capsys, tmp_path, "--expect", "cp314t-manylinux_x86_64")
    assert code == 0, output
