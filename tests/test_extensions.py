"""Extension module or plain library: the export table decides (ELF built here; Mach-O and PE images made here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import UsageError
from harness.wheel.extensions import (
    exported_symbols,
    file_is_extension,
    init_symbols,
    is_python_extension,
    module_name_of,
)
from harness.wheel.tags import check_extension_suffixes, read_wheel
from harness.wheel.venv import modules_from_record
from tests.support.binaries import elf_image, macho_image, pe_image
from tests.support.cbuild import build_config, build_library, build_plain_module
from tests.support.markers import needs_free_threading
from tests.support.wheels import make_wheel

CTYPES_SOURCE = "int add(int a, int b) { return a + b; }\n"
UNDEFINED = ["PyLong_FromLong"]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A ctypes library named like an abi3 extension, and a real extension module."""
    folder = tmp_path_factory.mktemp("shared")
    return {
        "library": build_library(folder / "_raw_ecb.abi3.so", CTYPES_SOURCE),
        "extension": build_plain_module("_speed", folder, free_threading=True),
    }


def test_ctypes_library_built_here_is_not_an_extension(built: dict[str, Path]) -> None:
    library = built["library"]
    assert "add" in exported_symbols(library.read_bytes())
    assert is_python_extension(library.read_bytes(), module_name_of(library)) is False
    assert file_is_extension(library) is False


def test_extension_built_here_is_an_extension(built: dict[str, Path]) -> None:
    extension = built["extension"]
    assert module_name_of(extension) == "_speed"
    assert is_python_extension(extension.read_bytes(), "_speed") is True
    assert file_is_extension(extension) is True


@pytest.mark.parametrize("is64", [True, False])
@pytest.mark.parametrize("big", [True, False])
def test_elf_of_every_class_and_byte_order(is64: bool, big: bool) -> None:
    extension = elf_image(["PyInit__speed"], UNDEFINED, is64=is64, big=big)
    library = elf_image(["add"], ["PyInit__speed"], is64=is64, big=big)  # only referencing it is not exporting it
    assert is_python_extension(extension, "_speed") is True
    assert is_python_extension(library, "_speed") is False


@pytest.mark.parametrize("universal", [False, True])
def test_macho(universal: bool) -> None:
    assert is_python_extension(macho_image(["PyInit__speed"], UNDEFINED, universal=universal), "_speed") is True
    assert is_python_extension(macho_image(["add"], ["PyInit__speed"], universal=universal), "_speed") is False


def test_pe() -> None:
    assert is_python_extension(pe_image(["PyInit__speed"]), "_speed") is True
    assert is_python_extension(pe_image(["PyModExport__speed"]), "_speed") is True
    assert is_python_extension(pe_image(["add"]), "_speed") is False
    assert is_python_extension(pe_image([]), "_speed") is False


def test_unreadable_or_unknown_files_are_judged_as_extensions(tmp_path: Path) -> None:
    assert is_python_extension(b"\x7fELF", "_speed") is None  # truncated
    assert is_python_extension(b"#!/bin/sh\n", "_speed") is None
    assert file_is_extension(tmp_path / "missing.so") is True


def test_non_ascii_module_names_use_the_punycode_entry_point() -> None:
    assert init_symbols("pkg.spam") == {"PyInit_spam", "PyModExport_spam"}
    assert "PyInitU_spm_rla" in init_symbols("späm")


def wheel_with(tmp_path: Path, built: dict[str, Path], library_member: str) -> Path:
    tag = build_config()["EXT_SUFFIX"]
    files = {
        "demo/__init__.py": b"",
        f"demo/_speed{tag}": built["extension"].read_bytes(),
        library_member: built["library"].read_bytes(),
    }
    return make_wheel(tmp_path, "demo-1.0-cp314-cp314t-linux_x86_64.whl", files=files)


@needs_free_threading
def test_wheel_ctypes_library_is_listed_apart_and_not_refused(tmp_path: Path, built: dict[str, Path]) -> None:
    info = read_wheel(wheel_with(tmp_path, built, "demo/_raw_ecb.abi3.so"))
    assert info.libraries == ("demo/_raw_ecb.abi3.so",)
    assert [m.split(".")[0] for m in info.extension_modules] == ["demo/_speed"]
    check_extension_suffixes(info, "cp314t")  # the abi3 name of a library is no claim about the ABI


def test_wheel_abi3_extension_is_still_refused(tmp_path: Path, built: dict[str, Path]) -> None:
    files = {"demo/__init__.py": b"", "demo/_speed.abi3.so": built["extension"].read_bytes()}
    info = read_wheel(make_wheel(tmp_path, "demo-1.0-cp314-cp314t-linux_x86_64.whl", files=files))
    assert info.extension_modules == ("demo/_speed.abi3.so",) and info.libraries == ()
    with pytest.raises(UsageError, match="built for abi3, expected cp314t"):
        check_extension_suffixes(info, "cp314t")


def test_installed_library_is_neither_audited_nor_top_level(tmp_path: Path, built: dict[str, Path]) -> None:
    suffix = build_config()["EXT_SUFFIX"]
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / f"_speed{suffix}").write_bytes(built["extension"].read_bytes())
    (tmp_path / "demo" / "_raw_ecb.abi3.so").write_bytes(built["library"].read_bytes())
    (tmp_path / "rawlib.abi3.so").write_bytes(built["library"].read_bytes())
    record = f"demo/__init__.py,,\ndemo/_speed{suffix},,\ndemo/_raw_ecb.abi3.so,,\nrawlib.abi3.so,,\n"
    installed = modules_from_record(tmp_path, record)
    assert installed.extension_modules == ("demo._speed",)
    assert installed.top_level == ("demo",)

