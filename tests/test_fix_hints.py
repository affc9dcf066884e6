"""Fix hints: the build tool is read from the binary, and each hint names that tool's declaration and the
warning that declaring it is a claim. Plain C-API (multi- and single-phase) and cffi modules are compiled
here; Cython, pybind11, nanobind and PyO3 are not available to build on this machine, so their detectors are
fed the strings their binaries carry."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.wheel.fix_hints import BUILDERS, CLAIM_WARNING, detect_builder, hints_for_wheel, module_name
from tests.support.cbuild import build_cffi, build_extension, build_plain_module
from tests.support.wheels import make_wheel

SINGLE_PHASE = """#include <Python.h>
static struct PyModuleDef def = {PyModuleDef_HEAD_INIT, "single", NULL, -1, NULL, NULL, NULL, NULL, NULL};
PyMODINIT_FUNC PyInit_single(void) { return PyModule_Create(&def); }
"""
SIGNATURES = {
    "PyO3": b"\x00called `Result::unwrap()`/root/.cargo/registry/src/pyo3-0.22.6/src/err/mod.rs\x00",
    "nanobind": b"\x00nanobind::detail::nb_func_new\x00PyModuleDef_Init\x00",
    "pybind11": b"\x00pybind11_object\x00__pybind11_module_local_v5\x00PyModule_Create2\x00",
    "Cython": b"\x00__pyx_capi__\x00_cython_3_1_2\x00PyModuleDef_Init\x00",
}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The bytes of a multi-phase, a single-phase and a cffi module compiled for this interpreter."""
    out = tmp_path_factory.mktemp("hints")
    source = out / "single.c"
    source.write_text(SINGLE_PHASE)
    return {
        "C API, multi-phase init": build_plain_module("multi", out, free_threading=False).read_bytes(),
        "C API, single-phase init": build_extension("single", [source], out).read_bytes(),
        "cffi": build_cffi("_hint_cffi", "int twice(int);", "static int twice(int x) { return 2 * x; }",
                           out).read_bytes(),
    }


@pytest.mark.parametrize("builder", ["C API, multi-phase init", "C API, single-phase init", "cffi"])
def test_compiled_modules_are_recognised(built: dict[str, bytes], builder: str) -> None:
    assert detect_builder(built[builder]).name == builder


@pytest.mark.parametrize("builder", sorted(SIGNATURES))
def test_binding_generators_are_recognised_before_the_c_api_they_use(builder: str) -> None:
    assert detect_builder(SIGNATURES[builder]).name == builder


def test_unrecognised_binary_gets_the_generic_hint() -> None:
    builder = detect_builder(b"\x7fELF nothing known here")
    assert builder.name == "unknown" and "Py_MOD_GIL_NOT_USED" in builder.change


@pytest.mark.parametrize(
    ("builder", "declaration"),
    [
        ("PyO3", "#[pymodule(gil_used = false)]"),
        ("nanobind", "FREE_THREADED"),
        ("pybind11", "py::mod_gil_not_used()"),
        ("Cython", "# cython: freethreading_compatible = True"),
        ("cffi", "cffi 2.0"),
        ("C API, multi-phase init", "{Py_mod_gil, Py_MOD_GIL_NOT_USED},"),
        ("C API, single-phase init", "PyUnstable_Module_SetGIL(m, Py_MOD_GIL_NOT_USED);"),
    ],
)
def test_each_builder_names_its_declaration(builder: str, declaration: str) -> None:
    assert declaration in next(b for b in BUILDERS if b.name == builder).change


def test_hints_for_a_wheel_name_the_member_and_carry_the_claim_warning(
    tmp_path: Path, built: dict[str, bytes]
) -> None:
    files = {
        "pkg/__init__.py": b"",
        "pkg/_multi.cpython-314t-x86_64-linux-gnu.so": built["C API, multi-phase init"],
        "pkg/sub/_cy.cpython-314t-x86_64-linux-gnu.so": SIGNATURES["Cython"],
        "pkg/_fine.cpython-314t-x86_64-linux-gnu.so": built["cffi"],
    }
    wheel = make_wheel(tmp_path, "pkg-1.0-cp314-cp314t-manylinux_2_28_x86_64.whl", files=files)
    hints = hints_for_wheel(wheel, ["pkg._multi", "pkg.sub._cy", "pkg"])
    assert [(h.module, h.member, h.builder) for h in hints] == [
        ("pkg._multi", "pkg/_multi.cpython-314t-x86_64-linux-gnu.so", "C API, multi-phase init"),
        ("pkg.sub._cy", "pkg/sub/_cy.cpython-314t-x86_64-linux-gnu.so", "Cython"),
    ]
    assert all(h.warning == CLAIM_WARNING and "claim" in h.warning for h in hints)


def test_module_name_of_a_member() -> None:
    assert module_name("pkg/sub/_fast.cpython-314t-x86_64-linux-gnu.so") == "pkg.sub._fast"
    assert module_name("_top.cp314t-win_amd64.pyd") == "_top"
