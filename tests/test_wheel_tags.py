"""Wheel tags: parsed with packaging, cross-checked against the WHEEL file, held to one exact ABI."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from packaging.tags import sys_tags

from harness import UsageError
from harness.wheel.tags import (
    ask_interpreter,
    check_abi,
    check_extension_suffixes,
    check_wheel,
    extension_abi,
    gate_abi,
    read_wheel,
)
from tests.support.wheels import make_wheel

FT_WHEEL = "demo-1.0-cp314-cp314t-manylinux_2_28_x86_64.whl"
FT_MODULE = "demo/_speed.cpython-314t-x86_64-linux-gnu.so"
OWN_TAG = next(iter(sys_tags()))


def one_line_usage_error(excinfo: pytest.ExceptionInfo[UsageError]) -> str:
    message = str(excinfo.value)
    assert "\n" not in message and excinfo.value.exit_code == 2
    return message


def test_reads_tags_and_extension_modules(tmp_path: Path) -> None:
    files = {
        "demo/__init__.py": b"",
        FT_MODULE: b"\x7fELF",
        "demo.libs/libz-1234.so": b"\x7fELF",
        "demo-1.0.data/headers/x.so": b"",
    }
    info = read_wheel(make_wheel(tmp_path, FT_WHEEL, files=files))
    assert info.distribution == "demo" and info.version == "1.0"
    assert [str(tag) for tag in info.tags] == ["cp314-cp314t-manylinux_2_28_x86_64"]
    assert info.abis == {"cp314t"}
    assert info.extension_modules == (FT_MODULE,)


def test_compressed_filename_tags_equal_expanded_tag_lines(tmp_path: Path) -> None:
    name = "demo-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
    lines = ["cp311-cp311-manylinux_2_17_x86_64", "cp311-cp311-manylinux2014_x86_64"]
    assert len(read_wheel(make_wheel(tmp_path, name, wheel_tags=lines)).tags) == 2


def test_renamed_wheel_whose_filename_and_tags_disagree_is_refused(tmp_path: Path) -> None:
    renamed = "demo-1.0-cp314-cp314-manylinux_2_28_x86_64.whl"
    path = make_wheel(tmp_path, renamed, wheel_tags=["cp314-cp314t-manylinux_2_28_x86_64"])
    with pytest.raises(UsageError) as info:
        read_wheel(path)
    message = one_line_usage_error(info)
    assert "filename tags cp314-cp314-manylinux_2_28_x86_64 disagree" in message
    assert "Tag lines cp314-cp314t-manylinux_2_28_x86_64" in message


def test_truncated_zip_is_refused(tmp_path: Path) -> None:
    path = make_wheel(tmp_path, FT_WHEEL)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(UsageError, match=f"{FT_WHEEL} is not a readable wheel") as info:
        read_wheel(path)
    one_line_usage_error(info)


def test_damaged_member_fails_crc_check(tmp_path: Path) -> None:
    path = make_wheel(tmp_path, FT_WHEEL, files={"demo/__init__.py": b"VALUE = 'abcdefgh'\n"})
    data = bytearray(path.read_bytes())
    offset = data.index(b"abcdefgh")
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(UsageError, match=r"member demo/__init__\.py fails its CRC check"):
        read_wheel(path)


@pytest.mark.parametrize("missing", ["WHEEL", "METADATA", "RECORD"])
def test_missing_metadata_is_refused(tmp_path: Path, missing: str) -> None:
    path = make_wheel(tmp_path, FT_WHEEL, omit=[missing])
    with pytest.raises(UsageError, match=f"is missing demo-1.0.dist-info/{missing}"):
        read_wheel(path)


def test_metadata_naming_another_distribution_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="METADATA names distribution 'other', the filename names 'demo'"):
        read_wheel(make_wheel(tmp_path, FT_WHEEL, metadata_name="other"))


def test_not_a_wheel_filename_or_file(tmp_path: Path) -> None:
    bad = tmp_path / "demo.whl"
    bad.write_bytes(b"")
    with pytest.raises(UsageError, match="not a valid wheel filename"):
        read_wheel(bad)
    with pytest.raises(UsageError, match="does not exist"):
        read_wheel(tmp_path / FT_WHEEL)


@pytest.mark.parametrize(
    ("filename", "expected_abi", "hint"),
    [
        ("demo-1.0-cp314-cp314-manylinux_2_28_x86_64.whl", "cp314t", "a GIL wheel offered to the free-threaded gate"),
        (FT_WHEEL, "cp314", "a free-threaded wheel offered to a GIL gate"),
        ("demo-1.0-cp39-abi3-manylinux_2_28_x86_64.whl", "cp314t", "carries ABI tag abi3, expected exactly cp314t"),
        ("demo-1.0-py3-none-any.whl", "cp314t", "carries ABI tag none"),
        ("demo-1.0-cp315-abi3t-manylinux_2_28_x86_64.whl", "cp314t",
         "abi3t is the free-threaded stable ABI of CPython 3.15.: it cannot load on cp314t"),
        ("demo-1.0-cp39-abi3-manylinux_2_28_x86_64.whl", "cp315t", "a free-threaded build cannot load abi3"),
    ],
)
def test_wrong_abi_is_refused(tmp_path: Path, filename: str, expected_abi: str, hint: str) -> None:
    info = read_wheel(make_wheel(tmp_path, filename))
    with pytest.raises(UsageError, match=hint) as excinfo:
        check_abi(info, expected_abi)
    one_line_usage_error(excinfo)


def test_exact_abi_passes(tmp_path: Path) -> None:
    check_abi(read_wheel(make_wheel(tmp_path, FT_WHEEL)), "cp314t")


@pytest.mark.parametrize(
    ("member", "abi"),
    [
        ("a/m.cpython-314t-x86_64-linux-gnu.so", "cp314t"),
        ("a/m.cpython-314-aarch64-linux-gnu.so", "cp314"),
        ("a/m.cpython-314t-darwin.so", "cp314t"),
        ("a/m.cp314t-win_amd64.pyd", "cp314t"),
        ("a/m.cp311-win32.pyd", "cp311"),
        ("a/m.abi3.so", "abi3"),
        ("a/m.abi3t.so", "abi3t"),
        ("a/m.so", None),
        ("a/m.pyd", None),
    ],
)
def test_extension_abi_from_suffix(member: str, abi: str | None) -> None:
    assert extension_abi(member) == abi


def test_extension_module_built_for_another_abi_is_refused(tmp_path: Path) -> None:
    files = {FT_MODULE: b"", "demo/_slow.cpython-314-x86_64-linux-gnu.so": b""}
    info = read_wheel(make_wheel(tmp_path, FT_WHEEL, files=files))
    message = r"extension module demo/_slow.cpython-314-x86_64-linux-gnu.so is built for cp314, expected cp314t"
    with pytest.raises(UsageError, match=message):
        check_extension_suffixes(info, "cp314t")


def test_matching_extension_modules_pass(tmp_path: Path) -> None:
    files = {FT_MODULE: b"", "demo/_plain.so": b""}
    check_extension_suffixes(read_wheel(make_wheel(tmp_path, FT_WHEEL, files=files)), "cp314t")


def own_wheel(tmp_path: Path, *, abi: str = OWN_TAG.abi, platform: str = OWN_TAG.platform) -> Path:
    return make_wheel(tmp_path, f"demo-1.0-{OWN_TAG.interpreter}-{abi}-{platform}.whl")


def test_interpreter_is_asked_for_its_own_abi_and_tags(tmp_path: Path) -> None:
    info = read_wheel(own_wheel(tmp_path))
    answer = ask_interpreter(sys.executable, info.tags)
    assert answer.abi == OWN_TAG.abi
    assert answer.supported == {str(OWN_TAG)}
    assert check_wheel(info, python=sys.executable) == OWN_TAG.abi


def test_wheel_for_another_platform_is_not_installable(tmp_path: Path) -> None:
    info = read_wheel(own_wheel(tmp_path, platform="win_arm64" if OWN_TAG.platform != "win_arm64" else "linux_s390x"))
    with pytest.raises(UsageError, match=f"is not installable on {sys.executable}: none of its tags") as excinfo:
        check_wheel(info, python=sys.executable)
    one_line_usage_error(excinfo)


def test_default_expected_abi_is_the_interpreters_own(tmp_path: Path) -> None:
    other = OWN_TAG.abi[:-1] if OWN_TAG.abi.endswith("t") else OWN_TAG.abi + "t"
    info = read_wheel(own_wheel(tmp_path, abi=other))
    with pytest.raises(UsageError, match=f"carries ABI tag {other}, expected exactly {OWN_TAG.abi}"):
        check_wheel(info, python=sys.executable)


@pytest.mark.parametrize(
    ("filename", "interpreter_abi", "held_to"),
    [
        ("demo-1.0-cp315-abi3t-manylinux_2_28_x86_64.whl", "cp315t", "abi3t"),
        ("demo-1.0-cp315-abi3.abi3t-manylinux_2_28_x86_64.whl", "cp316t", "abi3t"),
        ("demo-1.0-cp315-abi3t-manylinux_2_28_x86_64.whl", "cp314t", "cp314t"),  # then refused by check_abi
        ("demo-1.0-cp315-abi3t-manylinux_2_28_x86_64.whl", "cp315", "cp315"),
        (FT_WHEEL, "cp314t", "cp314t"),
    ],
)
def test_stable_free_threaded_abi_is_held_to_abi3t_on_315t_and_later(
    tmp_path: Path, filename: str, interpreter_abi: str, held_to: str
) -> None:
    info = read_wheel(make_wheel(tmp_path, filename, files={"demo/_core.abi3t.so": b""}))
    assert gate_abi(info, interpreter_abi) == held_to


def test_abi3_abi3t_wheel_passes_an_abi3t_gate_and_its_suffixes_are_checked(tmp_path: Path) -> None:
    files = {"demo/_core.abi3t.so": b"", "demo/_old.abi3.so": b""}
    info = read_wheel(make_wheel(tmp_path, "demo-1.0-cp315-abi3.abi3t-manylinux_2_28_x86_64.whl", files=files))
    check_abi(info, "abi3t")
    with pytest.raises(UsageError, match=re.escape("demo/_old.abi3.so is built for abi3, expected abi3t")):
        check_extension_suffixes(info, "abi3t")


def test_interpreter_reports_its_own_platform_family(tmp_path: Path) -> None:
    answer = ask_interpreter(sys.executable, read_wheel(own_wheel(tmp_path)).tags)
    families = [t.platform for t in sys_tags() if not t.platform.startswith("linux_")]
    assert answer.platform == (families[0] if families else OWN_TAG.platform)
