"""Fix hints for extension modules that turned the GIL back on: how each was built, read from its binary
(Cython, pybind11, nanobind, PyO3, cffi, plain C-API multi-phase or single-phase init), and the slot, call or
directive that declares free-threading support for that build. Declaring it is a claim, and every hint says so.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from harness.wheel.tags import is_extension_module

CLAIM_WARNING = (
    "Declaring free-threading support is a claim, not a fix: CPython then keeps the GIL off and runs this "
    "module's code on many threads at once. Declare it only with stress results that back it (ft-harness gate "
    "or stress on the free-threaded build, passing), after fixing what they find."
)


@dataclass(frozen=True)
class Builder:
    """A way extension modules are built: how to recognise its binaries and where the declaration goes."""

    name: str
    recognise: Callable[[bytes], bool]
    change: str


def _has(*needles: bytes) -> Callable[[bytes], bool]:
    return lambda binary: any(needle in binary for needle in needles)


BUILDERS: tuple[Builder, ...] = (
    Builder("PyO3", _has(b"pyo3", b"PyO3"),
            "PyO3 0.23 or later: `#[pymodule(gil_used = false)]` on the module (or `.gil_used(false)` on a "
            "module built by hand)"),
    Builder("nanobind", _has(b"nanobind"),
            "nanobind 2.2 or later: build with `nanobind_add_module(<name> FREE_THREADED ...)` in CMakeLists.txt"),
    Builder("pybind11", _has(b"pybind11"),
            "pybind11 2.13 or later: `PYBIND11_MODULE(<name>, m, py::mod_gil_not_used())`"),
    Builder("Cython", lambda binary: b"__pyx_" in binary or re.search(rb"_cython_3_\d", binary) is not None,
            "Cython 3.1 or later: the directive `# cython: freethreading_compatible = True` at the top of the "
            ".pyx (or `compiler_directives={'freethreading_compatible': True}` in cythonize)"),
    Builder("cffi", _has(b"_cffi_backend"),
            "rebuild with cffi 2.0 or later (its generated module declares Py_mod_gil) and without the limited "
            "API (`py_limited_api=False`; free-threaded builds cannot use abi3)"),
    Builder("C API, multi-phase init", _has(b"PyModuleDef_Init"),
            "add `{Py_mod_gil, Py_MOD_GIL_NOT_USED},` to the module's PyModuleDef_Slot array (inside "
            "`#ifdef Py_mod_gil`)"),
    Builder("C API, single-phase init", _has(b"PyModule_Create2"),
            "after `m = PyModule_Create(&def);` add `#ifdef Py_GIL_DISABLED` "
            "`PyUnstable_Module_SetGIL(m, Py_MOD_GIL_NOT_USED);` `#endif` (or move to multi-phase init with the "
            "Py_mod_gil slot)"),
)
UNKNOWN = Builder("unknown", lambda binary: True,
                  "declare Py_mod_gil = Py_MOD_GIL_NOT_USED (multi-phase init) or call PyUnstable_Module_SetGIL "
                  "(single-phase init), through whatever generates the module")


@dataclass(frozen=True)
class FixHint:
    """For one GIL-enabling module: the wheel member it lives in, how it was built, the change, the warning."""

    module: str
    member: str
    builder: str
    change: str
    warning: str = CLAIM_WARNING

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def detect_builder(binary: bytes) -> Builder:
    """The first builder whose signature the binary carries (binding generators before the plain C API)."""
    return next((b for b in BUILDERS if b.recognise(binary)), UNKNOWN)


def module_name(member: str) -> str:
    """``pkg/_speed.cpython-314t-x86_64-linux-gnu.so`` -> ``pkg._speed``."""
    parts = PurePosixPath(member).parts
    return ".".join([*parts[:-1], parts[-1].split(".", 1)[0]])


def hints_for_wheel(wheel: Path, modules: Sequence[str]) -> list[FixHint]:
    """A hint for each named module that is an extension module inside ``wheel`` (others are skipped)."""
    wanted = set(modules)
    hints = []
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.namelist():
            name = module_name(member)
            if is_extension_module(member) and name in wanted:
                builder = detect_builder(archive.read(member))
                hints.append(FixHint(name, member, builder.name, builder.change))
    return sorted(hints, key=lambda hint: hint.module)
