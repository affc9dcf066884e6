"""Interpreter requests: every spelling normalises, and resolution trusts the interpreter's answer, not its name."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest

from harness import UsageError
from harness.interpreter import children
from harness.interpreter import find as interpreter_find
from harness.interpreter.facts import _MARKER as PROBE_MARKER
from harness.interpreter.facts import InterpreterFacts
from harness.interpreter.find import normalise, probe_build, resolve

REAL_FT = "/opt/cpython-3.14t/bin/python3.14t"


def make_executable(path: Path, script: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return str(path)


def fake_python(path: Path, version: str, *, free_threaded: bool, implementation: str = "cpython") -> str:
    """A shell script that answers the probe like an interpreter of the given version and build would."""
    facts = InterpreterFacts(
        executable=str(path),
        version=version,
        implementation=implementation,
        free_threaded=free_threaded,
        gil_enabled=not free_threaded,
        gil_forced=None,
        cpu_count=2,
        cffi_version=None,
    )
    return make_executable(path, f"echo '{PROBE_MARKER}{json.dumps(facts.to_json())}'\n")


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No real interpreter is visible: empty PATH, no uv, an empty /opt, and a current interpreter of 3.9."""
    interpreter_find._ask.cache_clear()
    monkeypatch.setenv("PATH", "")
    monkeypatch.setattr(interpreter_find, "OPT_GLOB", str(tmp_path / "opt" / "cpython-*" / "bin" / "python*"))
    monkeypatch.setattr(children, "uv_command", lambda: None)
    monkeypatch.setattr(sys, "executable", fake_python(tmp_path / "current" / "python", "3.9.1", free_threaded=False))
    yield tmp_path
    interpreter_find._ask.cache_clear()


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("3.14t", "3.14t"),
        ("3.14_t", "3.14t"),
        ("3.14.7t", "3.14.7t"),
        ("3.14.7_t", "3.14.7t"),
        ("3.14.0rc2t", "3.14.0rc2_t"),
        ("3.14.0rc2_t", "3.14.0rc2_t"),
        ("3.14.0RC2T", "3.14.0rc2_t"),
        ("3.14rc2t", "3.14.0rc2_t"),
        ("3.14.0b1t", "3.14.0b1_t"),
        ("3.14.0a7_t", "3.14.0a7_t"),
        ("3.14", "3.14"),
        ("3.14.7", "3.14.7"),
        ("3.14.0rc2", "3.14.0rc2"),
        (" 3.13t ", "3.13t"),
    ],
)
def test_every_spelling_normalises(spec: str, expected: str) -> None:
    assert normalise(spec) == expected


@pytest.mark.parametrize("spec", ["3.14x", "3.14tt", "3", "3.14.0rc", "t", "cpython3.14t", "3.14-t"])
def test_malformed_request_is_a_one_line_usage_error(spec: str) -> None:
    with pytest.raises(UsageError, match=r"expected a version like 3\.14t") as info:
        normalise(spec)
    assert repr(spec) in str(info.value) and "\n" not in str(info.value)


def test_empty_request_is_refused() -> None:
    with pytest.raises(UsageError, match="empty interpreter request"):
        normalise("")


def test_path_request_normalises_to_absolute(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_python(isolated / "bin" / "python3", "3.14.7", free_threaded=True)
    monkeypatch.chdir(isolated)
    assert normalise("bin/python3") == str(isolated / "bin" / "python3")
    assert resolve("./bin/python3") == str(isolated / "bin" / "python3")


def test_bare_command_name_is_looked_up_on_path(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = fake_python(isolated / "bin" / "mypython", "3.14.7", free_threaded=True)
    monkeypatch.setenv("PATH", str(isolated / "bin"))
    assert resolve("mypython") == path


def test_path_that_is_not_a_python_is_refused(isolated: Path) -> None:
    broken = make_executable(isolated / "bin" / "python", "echo 'boom' >&2; exit 4\n")
    with pytest.raises(UsageError, match=r"failed to start: boom \(expected a runnable python interpreter\)"):
        resolve(broken)
    with pytest.raises(UsageError, match="neither a version nor an existing file"):
        resolve(str(isolated / "missing" / "python"))


def test_none_is_the_current_interpreter(isolated: Path) -> None:
    assert resolve(None) == sys.executable


def test_gil_request_skips_free_threaded_build_first_on_path(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # autobahn's bug: the free-threaded install comes first on PATH and also answers to "python3.14".
    ft_bin, gil_bin = isolated / "ft" / "bin", isolated / "gil" / "bin"
    ft = fake_python(ft_bin / "python3.14t", "3.14.7", free_threaded=True)
    fake_python(ft_bin / "python3.14", "3.14.7", free_threaded=True)
    gil = fake_python(gil_bin / "python3.14", "3.14.7", free_threaded=False)
    monkeypatch.setenv("PATH", os.pathsep.join([str(ft_bin), str(gil_bin)]))
    assert resolve("3.14") == gil
    assert resolve("3.14.7") == gil
    assert resolve("3.14t") == ft
    assert probe_build(resolve("3.14")).free_threaded is False


def test_gil_request_with_only_free_threaded_build_is_refused_naming_both(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ft_bin = isolated / "ft" / "bin"
    fake_python(ft_bin / "python3.14t", "3.14.7", free_threaded=True)
    misnamed = fake_python(ft_bin / "python3.14", "3.14.7", free_threaded=True)
    monkeypatch.setenv("PATH", str(ft_bin))
    with pytest.raises(UsageError) as info:
        resolve("3.14")
    message = str(info.value)
    assert "no interpreter matches 3.14 (GIL build)" in message
    assert f"{misnamed} is 3.14.7t (free-threaded build)" in message


def test_file_name_is_not_trusted_for_free_threaded_request(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    liar = fake_python(isolated / "bin" / "python3.14t", "3.14.7", free_threaded=False)
    monkeypatch.setenv("PATH", str(isolated / "bin"))
    with pytest.raises(UsageError, match=rf"3.14t \(free-threaded build\): found only {liar} is 3.14.7 \(GIL build\)"):
        resolve("3.14t")


@pytest.mark.parametrize(
    ("spec", "installed", "matches"),
    [
        ("3.14.7t", "3.14.7", True),
        ("3.14.6t", "3.14.7", False),
        ("3.14t", "3.14.0rc2", True),
        ("3.14.0t", "3.14.0rc2", False),
        ("3.14.0rc2t", "3.14.0rc2", True),
        ("3.14.0rc2_t", "3.14.0rc2", True),
        ("3.14.0rc1_t", "3.14.0rc2", False),
        ("3.13t", "3.14.7", False),
    ],
)
def test_version_parts_must_match(
    isolated: Path, monkeypatch: pytest.MonkeyPatch, spec: str, installed: str, matches: bool
) -> None:
    path = fake_python(isolated / "bin" / "python3.14t", installed, free_threaded=True)
    monkeypatch.setenv("PATH", str(isolated / "bin"))
    if matches:
        assert resolve(spec) == path
    else:
        with pytest.raises(UsageError, match="no interpreter matches"):
            resolve(spec)


def test_pypy_does_not_satisfy_a_cpython_request(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_python(isolated / "bin" / "python3.11", "3.11.9", free_threaded=False, implementation="pypy")
    monkeypatch.setenv("PATH", str(isolated / "bin"))
    with pytest.raises(UsageError, match=r"found only .* is pypy 3.11.9 \(GIL build\)"):
        resolve("3.11")


def test_opt_installs_are_searched(isolated: Path) -> None:
    fake_python(isolated / "opt" / "cpython-3.14t" / "bin" / "python3.14t", "3.14.7", free_threaded=True)
    gil = fake_python(isolated / "opt" / "cpython-3.14" / "bin" / "python3.14", "3.14.7", free_threaded=False)
    assert resolve("3.14") == gil


def test_uv_managed_interpreters_are_searched(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    managed_bin = isolated / "uv" / "cpython-3.14.7+freethreaded" / "bin"
    managed = fake_python(managed_bin / "python3.14t", "3.14.7", free_threaded=True)
    other = fake_python(isolated / "uv" / "cpython-3.12.1" / "bin" / "python3.12", "3.12.1", free_threaded=False)
    listing = [
        {"path": other, "version_parts": {"major": 3, "minor": 12, "patch": 1}},
        {"path": managed, "version_parts": {"major": 3, "minor": 14, "patch": 7}},
    ]
    uv = make_executable(isolated / "tools" / "uv", f"echo '{json.dumps(listing)}'\n")
    monkeypatch.setattr(children, "uv_command", lambda: [uv])
    assert resolve("3.14t") == managed


@pytest.mark.skipif(not os.path.exists(REAL_FT), reason=f"needs the free-threaded build at {REAL_FT}")
def test_real_free_threaded_first_on_path_never_answers_a_gil_request(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", os.pathsep.join([os.path.dirname(REAL_FT), os.environ.get("PATH", "")]))
    monkeypatch.setattr(children, "uv_command", lambda: None)  # slow to list; covered by the fake-uv test
    interpreter_find._ask.cache_clear()
    assert probe_build(resolve("3.14t")).free_threaded is True
    try:
        gil = resolve("3.14")
    except UsageError as exc:
        assert "3.14 (GIL build)" in str(exc)
    else:
        assert probe_build(gil).free_threaded is False
