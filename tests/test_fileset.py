"""The release fileset check: exact ABI per cell, platform by family + architecture, nothing by prefix."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import UsageError
from harness.commands import main
from harness.wheel.fileset import Cell, check, parse_cell, platform_keys
from tests.support.wheels import make_wheel


def fileset(capsys: pytest.CaptureFixture[str], directory: Path, *cells: str) -> tuple[int, str]:
    code = main(["fileset", str(directory), "--expect", *cells])
    out, err = capsys.readouterr()
    return code, out + err


def cell_line(output: str, cell: str) -> str:
    return next(line for line in output.splitlines() if line.startswith(cell + " "))


def test_autobahn_case_free_threaded_wheel_never_fills_the_gil_cell(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # autobahn 26.6.1: the Linux aarch64 cp314 slot held a cp314t wheel; a prefix match on "cp314" passed it.
    wheel = "autobahn-26.6.1-cp314-cp314t-manylinux_2_24_aarch64.manylinux_2_28_aarch64.whl"
    make_wheel(tmp_path, wheel)
    code, output = fileset(capsys, tmp_path, "cp314-manylinux_aarch64", "cp314t-manylinux_aarch64")
    assert code == 1
    wrong = cell_line(output, "cp314-manylinux_aarch64")
    assert "WRONG-ABI" in wrong and "no cp314 wheel" in wrong and wheel in wrong
    assert "ok" in cell_line(output, "cp314t-manylinux_aarch64").split()
    assert "FAIL: 1 present, 0 missing, 1 wrong-abi" in output


def test_gil_wheel_only_leaves_free_threaded_cell_missing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_wheel(tmp_path, "autobahn-26.6.1-cp314-cp314-manylinux_2_28_aarch64.whl")
    make_wheel(tmp_path, "autobahn-26.6.1-cp314-cp314t-manylinux_2_28_x86_64.whl")
    code, output = fileset(capsys, tmp_path, "cp314-manylinux_aarch64", "cp314t-manylinux_aarch64")
    assert code == 1
    assert "WRONG-ABI" in cell_line(output, "cp314t-manylinux_aarch64")  # the GIL wheel sits in its slot
    assert "wheels matching no expected cell: autobahn-26.6.1-cp314-cp314t-manylinux_2_28_x86_64.whl" in output


def test_complete_release_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name in (
        "pkg-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "pkg-1.0-cp314-cp314-macosx_10_13_universal2.whl",
        "pkg-1.0-cp314t-cp314t-manylinux_2_28_aarch64.whl",  # odd but exact: the ABI decides
        "pkg-1.0-cp314-cp314t-win_amd64.whl",
        "pkg-1.0-pp311-pypy311_pp73-manylinux_2_17_x86_64.whl",
    ):
        make_wheel(tmp_path, name)
    (tmp_path / "pkg-1.0.tar.gz").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("not a release file")
    cells = ("cp311-manylinux_x86_64", "cp314-macosx_arm64", "cp314-macosx_x86_64", "cp314t-manylinux_aarch64",
             "cp314t-win_amd64", "pp311-manylinux_x86_64")
    code, output = fileset(capsys, tmp_path, *cells)
    assert code == 0, output
    assert "PASS: 6 present, 0 missing, 0 wrong-abi" in output
    assert "sdist: pkg-1.0.tar.gz" in output
    assert "wheels matching no expected cell: none" in output


def test_matrix_rows_are_interpreters_and_columns_platforms(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_wheel(tmp_path, "pkg-1.0-cp314-cp314-manylinux_2_28_x86_64.whl")
    _, output = fileset(capsys, tmp_path, "cp314-manylinux_x86_64", "cp314t-manylinux_x86_64", "cp314-win_amd64")
    lines = output.splitlines()
    assert lines[1].split() == ["manylinux_x86_64", "win_amd64"]
    assert lines[2].split() == ["cp314", "ok", "MISSING"]
    assert lines[3].split() == ["cp314t", "WRONG-ABI", "-"]
    assert "sdist: none" in output


def test_platform_family_and_architecture_must_both_match(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_wheel(tmp_path, "pkg-1.0-cp312-cp312-musllinux_1_2_x86_64.whl")
    make_wheel(tmp_path, "pkg-1.0-cp312-cp312-manylinux_2_28_aarch64.whl")
    make_wheel(tmp_path, "pkg-1.0-cp313-abi3-manylinux_2_28_x86_64.whl")  # stable ABI of 3.13: out of 3.12's reach
    code, output = fileset(capsys, tmp_path, "cp312-manylinux_x86_64")
    assert code == 1
    assert "MISSING" in cell_line(output, "cp312-manylinux_x86_64")
    for name in ("musllinux_1_2_x86_64", "manylinux_2_28_aarch64", "cp313-abi3-manylinux_2_28_x86_64"):
        assert name in output.split("wheels matching no expected cell:")[1]


def test_invalid_wheel_fails_the_fileset_even_when_cells_are_full(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_wheel(tmp_path, "pkg-1.0-cp314-cp314-manylinux_2_28_x86_64.whl")
    make_wheel(tmp_path, "pkg-1.0-cp314-cp314-win_amd64.whl", wheel_tags=["cp314-cp314t-win_amd64"])
    code, output = fileset(capsys, tmp_path, "cp314-manylinux_x86_64")
    assert code == 1
    assert "invalid wheels:" in output and "disagree with the WHEEL file's Tag lines" in output
    assert "FAIL: 1 present, 0 missing, 0 wrong-abi, 1 invalid" in output


@pytest.mark.parametrize(
    ("cell", "problem"),
    [
        ("cp314", "platform ''"),
        ("cp3-manylinux_x86_64", "interpreter 'cp3'"),
        ("pp311t-manylinux_x86_64", "interpreter 'pp311t'"),
        ("py3-manylinux_x86_64", "interpreter 'py3'"),
        ("cp314-solaris_sparc", "platform 'solaris_sparc'"),
        ("cp314-manylinux", "platform 'manylinux'"),
    ],
)
def test_bad_cell_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str], cell: str, problem: str) -> None:
    code, output = fileset(capsys, tmp_path, cell)
    assert code == 2
    assert problem in output and len(output.strip().splitlines()) == 1


def test_missing_directory_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, output = fileset(capsys, tmp_path / "nope", "cp314-manylinux_x86_64")
    assert code == 2 and "does not exist" in output


@pytest.mark.parametrize(
    ("platform", "keys"),
    [
        ("manylinux_2_28_x86_64", {"manylinux_x86_64"}),
        ("manylinux2014_aarch64", {"manylinux_aarch64"}),
        ("manylinux1_i686", {"manylinux_i686"}),
        ("musllinux_1_2_x86_64", {"musllinux_x86_64"}),
        ("macosx_11_0_arm64", {"macosx_arm64"}),
        ("macosx_10_13_universal2", {"macosx_universal2", "macosx_arm64", "macosx_x86_64"}),
        ("macosx_10_9_intel", {"macosx_intel", "macosx_i386", "macosx_x86_64"}),
        ("win_amd64", {"win_amd64"}),
        ("win32", {"win32"}),
        ("linux_x86_64", {"linux_x86_64"}),
    ],
)
def test_platform_keys(platform: str, keys: set[str]) -> None:
    assert platform_keys(platform) == keys


def test_parse_cell() -> None:
    assert parse_cell("CP314T-manylinux_aarch64") == Cell("cp314t", "manylinux_aarch64")
    assert parse_cell("cp314t-win_amd64").python_tag == "cp314"
    with pytest.raises(UsageError):
        parse_cell("")


def test_check_reports_each_cell(tmp_path: Path) -> None:
    make_wheel(tmp_path, "pkg-1.0-cp314-cp314t-manylinux_2_28_x86_64.whl")
    report = check(tmp_path, [Cell("cp314t", "manylinux_x86_64"), Cell("cp313t", "manylinux_x86_64")])
    assert [(str(r.cell), r.status) for r in report.cells] == [
        ("cp314t-manylinux_x86_64", "present"),
        ("cp313t-manylinux_x86_64", "missing"),
    ]
    assert not report.ok


def test_the_folder_may_come_after_the_cells(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_wheel(tmp_path, "pkg-1.0-cp314-cp314t-manylinux_2_28_x86_64.whl")
    code = main(["fileset", "--expect", "cp314t-manylinux_x86_64", str(tmp_path)])
    out, _ = capsys.readouterr()
    assert code == 0 and "ok" in cell_line(out, "cp314t-manylinux_x86_64").split()


def test_a_missing_folder_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fileset", "--expect", "cp314t-manylinux_x86_64"]) == 2
    assert "give the folder of wheels" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("wheel", "cell", "status", "reason"),
    [
        ("pkg-1.0-cp315-abi3t-manylinux_2_28_x86_64.whl", "cp315t-manylinux_x86_64", "present", ""),
        ("pkg-1.0-cp315-abi3t-manylinux_2_28_x86_64.whl", "cp316t-manylinux_x86_64", "present", ""),
        ("pkg-1.0-cp315-abi3.abi3t-manylinux_2_28_x86_64.whl", "cp315-manylinux_x86_64", "present", ""),
        ("pkg-1.0-cp315-abi3t-manylinux_2_28_x86_64.whl", "cp315-manylinux_x86_64", "wrong-abi",
         "tag the wheel abi3.abi3t"),
        ("pkg-1.0-cp314-abi3t-manylinux_2_28_x86_64.whl", "cp314t-manylinux_x86_64", "wrong-abi",
         "abi3t loads only on free-threaded CPython 3.15 or later, not cp314t"),
        ("pkg-1.0-cp39-abi3-manylinux_2_28_x86_64.whl", "cp314t-manylinux_x86_64", "wrong-abi",
         "a free-threaded build (cp314t) cannot load abi3 extensions"),
        ("pkg-1.0-cp39-abi3-manylinux_2_28_x86_64.whl", "cp314-manylinux_x86_64", "present", ""),
        ("pkg-1.0-cp315-abi3t-manylinux_2_28_x86_64.whl", "cp314t-manylinux_x86_64", "missing", ""),
        ("pkg-1.0-cp315-cp315t-manylinux_2_28_x86_64.whl", "cp315t-manylinux_x86_64", "present", ""),
    ],
)
def test_stable_abi_wheels_fill_the_cells_that_can_load_them(
    tmp_path: Path, wheel: str, cell: str, status: str, reason: str
) -> None:
    make_wheel(tmp_path, wheel, files={"pkg/__init__.py": b""})
    (result,) = check(tmp_path, [parse_cell(cell)]).cells
    assert result.status == status
    assert reason in result.reason if reason else result.reason == ""


def test_refusal_reason_is_rendered(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_wheel(tmp_path, "pkg-1.0-cp314-abi3t-manylinux_2_28_x86_64.whl")
    code, output = fileset(capsys, tmp_path, "cp314t-manylinux_x86_64")
    assert code == 1
    assert "(abi3t loads only on free-threaded CPython 3.15 or later, not cp314t)" in cell_line(
        output, "cp314t-manylinux_x86_64")
