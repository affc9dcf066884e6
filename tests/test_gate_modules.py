"""Which modules of a real-looking wheel the gate judges: ctypes libraries out, test-only modules apart,
pure-Python wheels in, and each gil-enabled module's cause named (wheels built here, C compiled here)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.audit.module_filter import ModuleSplit, is_test_module, split_modules
from tests.support.cbuild import build_config, build_library, build_plain_module
from tests.support.markers import needs_free_threading
from tests.support.wheels import make_wheel
from tests.test_gate import OWN_TAG, SMALL, gate, reports, tiny_wheel

PURE_WHEEL = "demo-1.0-py3-none-any.whl"
LOADS_LIBRARY = b"""
import ctypes, pathlib
_raw = ctypes.CDLL(str(next(pathlib.Path(__file__).parent.glob("_raw_ecb*.so"))))
assert _raw.add(2, 3) == 5
from demo import _speed
"""


def record_of(directory: Path) -> dict:
    return json.loads(reports(directory)[".json"].read_text())


@pytest.mark.parametrize(
    ("module", "test_only"),
    [
        ("greenlet.tests._test_extension", True),
        ("pkg.testing.helpers", True),
        ("pkg._speed_test_helper", True),
        ("test_demo", True),
        ("tests", True),
        ("pkg._speedups", False),
        ("pkg.contest", False),
        ("attestation", False),
    ],
)
def test_test_only_modules_are_told_by_their_names(module: str, test_only: bool) -> None:
    assert is_test_module(module) is test_only


def test_split_modules_excludes_first_and_keeps_order() -> None:
    modules = ["pkg", "pkg.tests._ext", "pkg._speed", "test_pkg", "pkg._speed"]
    assert split_modules(modules) == ModuleSplit(("pkg", "pkg._speed"), ("pkg.tests._ext", "test_pkg"), ())
    assert split_modules(modules, include_tests=True).test_only == ()
    split = split_modules(modules, exclude=["pkg.tests.*", "*._speed"], include_tests=True)
    assert split.judged == ("pkg", "test_pkg") and split.excluded == ("pkg.tests._ext", "pkg._speed")


@pytest.fixture(scope="module")
def c_modules(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """A declared extension ``_speed``, an undeclared ``_legacy`` and a ctypes library, compiled here."""
    folder = tmp_path_factory.mktemp("c")
    return {
        "_speed": build_plain_module("demo._speed", folder, free_threading=True).read_bytes(),
        "_legacy": build_plain_module("demo._legacy", folder, free_threading=False).read_bytes(),
        "library": build_library(folder / "_raw_ecb.abi3.so", "int add(int a, int b) { return a + b; }\n").read_bytes(),
    }


@needs_free_threading
def test_ctypes_library_in_a_wheel_is_neither_refused_nor_audited(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], c_modules: dict[str, bytes]
) -> None:
    suffix = build_config()["EXT_SUFFIX"]
    files = {"demo/__init__.py": LOADS_LIBRARY, f"demo/_speed{suffix}": c_modules["_speed"],
             "demo/_raw_ecb.abi3.so": c_modules["library"]}
    wheel = tiny_wheel(tmp_path, files)
    code, output = gate(capsys, "--wheel", str(wheel), "--report-dir", str(tmp_path / "r"), *SMALL)
    assert code == 0, output
    record = record_of(tmp_path / "r")
    statuses = {row["module"]: row["status"] for row in record["imports"]}
    assert statuses == {"demo": "gil-free", "demo._speed": "gil-free"}
    assert record["wheel"]["libraries"] == ["demo/_raw_ecb.abi3.so"]
    assert "demo/_raw_ecb.abi3.so" in reports(tmp_path / "r")[".md"].read_text()


@needs_free_threading
def test_gil_enabled_rows_name_their_cause(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], c_modules: dict[str, bytes]
) -> None:
    suffix = build_config()["EXT_SUFFIX"]
    files = {"demo/__init__.py": b"from demo import _legacy\n", f"demo/_legacy{suffix}": c_modules["_legacy"]}
    wheel = tiny_wheel(tmp_path, files)
    code, output = gate(capsys, "--wheel", str(wheel), "--report-dir", str(tmp_path / "r"), *SMALL)
    assert code == 1, output
    causes = {row["module"]: row["caused_by"] for row in record_of(tmp_path / "r")["imports"]}
    assert causes == {"demo": "demo._legacy", "demo._legacy": "demo._legacy"}
    assert "import demo: gil-enabled, caused by demo._legacy" in output
    assert "2 GIL-enabled by 1 GIL culprit(s) (demo._legacy); 0 import error(s); 0 not found" in output
    for suffix_ in (".md", ".html"):
        text = reports(tmp_path / "r")[suffix_].read_text()
        assert "imports demo._legacy" in text and "itself: no free-threading declaration" in text


@needs_free_threading
def test_failing_test_only_module_is_a_finding_not_a_failed_gate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wheel = tiny_wheel(tmp_path, {"demo/__init__.py": b"", "test_demo.py": b"import psutil_not_installed_xyz\n"})
    code, output = gate(capsys, "--wheel", str(wheel), "--report-dir", str(tmp_path / "r"), *SMALL)
    assert code == 0, output
    assert "test-only import test_demo: error" in output and "findings (not the verdict" in output
    record = record_of(tmp_path / "r")
    assert [row["module"] for row in record["imports"]] == ["demo"]
    assert [(row["module"], row["status"]) for row in record["test_imports"]] == [("test_demo", "error")]
    for suffix in (".md", ".html"):
        assert "Test-only modules (findings, not the verdict)" in reports(tmp_path / "r")[suffix].read_text()


@needs_free_threading
def test_include_tests_judges_test_only_modules_and_exclude_drops_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wheel = tiny_wheel(tmp_path, {"demo/__init__.py": b"", "test_demo.py": b"import psutil_not_installed_xyz\n"})
    code, output = gate(capsys, "--wheel", str(wheel), "--include-tests", "--report-dir", str(tmp_path / "a"), *SMALL)
    assert code == 1, output
    assert "import test_demo: error" in output
    code, output = gate(capsys, "--wheel", str(wheel), "--include-tests", "--exclude-module", "test_*",
                        "--report-dir", str(tmp_path / "b"), *SMALL)
    assert code == 0, output
    record = record_of(tmp_path / "b")
    assert record["excluded_modules"] == ["test_demo"] and record["test_imports"] == []


@needs_free_threading
@pytest.mark.parametrize(("source", "exit_code"), [(b"VALUE = 1\n", 0), (b"raise ImportError('broken')\n", 1)])
def test_pure_python_wheel_is_gated_and_audited(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], source: bytes, exit_code: int
) -> None:
    wheel = make_wheel(tmp_path, PURE_WHEEL, files={"demo/__init__.py": source})
    code, output = gate(capsys, "--wheel", str(wheel), "--report-dir", str(tmp_path / "r"), *SMALL)
    assert code == exit_code, output
    assert "(ABI none, tags py3-none-any)" in output
    (row,) = record_of(tmp_path / "r")["imports"]
    assert row["module"] == "demo" and row["status"] == ("gil-free" if exit_code == 0 else "error")


def test_pure_python_wheel_held_to_an_explicit_abi_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wheel = make_wheel(tmp_path, PURE_WHEEL, files={"demo/__init__.py": b""})
    code, output = gate(capsys, "--wheel", str(wheel), "--expect-abi", OWN_TAG.abi)
    assert code == 2 and f"ABI tag none, expected exactly {OWN_TAG.abi}" in output
