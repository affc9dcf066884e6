"""The plugin's GIL watch end to end (pytester): it names every culprit wherever it is imported (a conftest
file, ``--pyargs``, collection, a test), keeps going after the first, reports the tests that ran with the
GIL on as not judged, and lives alongside pytest-run-parallel's own GIL check.

Each case fires on C modules built without the free-threading declaration and stays silent on the same
modules built with it. Runs that turn the GIL on go to a subprocess (``runpytest_subprocess``): in this
process it would stay on.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cbuild import build_plain_module
from tests.support.markers import needs_free_threading

pytestmark = needs_free_threading

CLEAN = ("clean_a", "clean_b")
CULPRITS = ("culprit_a", "culprit_b")


@pytest.fixture(scope="module")
def extensions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two C modules with the free-threading declaration (``clean_*``) and two without (``culprit_*``)."""
    folder = tmp_path_factory.mktemp("plugin-ext")
    for name in CLEAN:
        build_plain_module(name, folder, free_threading=True)
    for name in CULPRITS:
        build_plain_module(name, folder, free_threading=False)
    return folder


def importing(folder: Path) -> str:
    return f"import sys\nsys.path.insert(0, {str(folder)!r})\n"


def modules(culprits: bool) -> tuple[str, str]:
    return CULPRITS if culprits else CLEAN


def assert_silent(result: pytest.RunResult, passed: int) -> None:
    result.assert_outcomes(passed=passed)
    assert result.ret == 0
    assert "re-enable" not in result.stdout.str() and "not judged" not in result.stdout.str()


# --- one culprit in a test ---


@pytest.mark.parametrize("culprits", [True, False], ids=["culprit", "clean"])
def test_the_test_that_turned_the_gil_on_fails(pytester: pytest.Pytester, extensions: Path, culprits: bool) -> None:
    first, _ = modules(culprits)
    pytester.makepyfile(test_gil=importing(extensions) + f"""
def test_before():
    pass

def test_import():
    import {first}
    assert {first}.answer() == 42

def test_after():
    pass
""")
    result = pytester.runpytest_subprocess("-v")
    if not culprits:
        assert_silent(result, passed=3)
        return
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines([
        "*::test_before PASSED*",
        "*::test_import FAILED*",
        "*::test_after PASSED*",
        "ft-harness: the GIL was re-enabled during test test_gil.py::test_import (call): *",
        "  suspect culprit_a: re-enables the GIL when imported alone in a fresh interpreter *",
        "ft-harness: 1 tests ran with the GIL on: not judged",
        "  test_gil.py::test_after",
    ])


# --- every culprit, the tests after the first not judged, the floor without them ---


@pytest.mark.parametrize("culprits", [True, False], ids=["culprits", "clean"])
def test_every_culprit_is_named_and_later_tests_are_not_judged(pytester: pytest.Pytester, extensions: Path,
                                                               culprits: bool) -> None:
    first, second = modules(culprits)
    pytester.makepyfile(test_two=importing(extensions) + f"""
def test_a_clean():
    pass

def test_b_first():
    import {first}

def test_c_middle():
    pass

def test_d_second():
    import {second}

def test_e_last():
    pass
""")
    result = pytester.runpytest_subprocess("--parallel-threads=2", "--ft-min-parallel-tests=3", "-p", "no:randomly")
    if not culprits:
        result.stdout.fnmatch_lines(["5 tests ran multi-threaded (5 under pytest-run-parallel, 0 through *)"])
        assert_silent(result, passed=5)
        return
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=4, errors=1)  # pytest-run-parallel counts a failed parallel test as an error
    result.stdout.fnmatch_lines([
        "2 tests ran multi-threaded (2 under pytest-run-parallel, 0 through ft_stress scenarios)",
        "ft-harness: 2 extension module(s) re-enable the GIL (each imported alone in a fresh interpreter):",
        "  culprit_a: first imported during test test_two.py::test_b_first (call)",
        "  culprit_b: first imported during test test_two.py::test_d_second (call)",
        "ft-harness: 3 tests ran with the GIL on: not judged",
        "  test_two.py::test_c_middle",
        "  test_two.py::test_d_second",
        "  test_two.py::test_e_last",
        "ft-harness: only 2 tests ran multi-threaded, fewer than the floor of 3 (--ft-min-parallel-tests)",
    ])


# --- before the first test: conftest files, --pyargs, collection ---


@pytest.mark.parametrize("culprits", [True, False], ids=["culprit", "clean"])
@pytest.mark.parametrize("args", [[], ["--ft-require-free-threading"], ["--parallel-threads=2"]],
                         ids=["plain", "require-free-threading", "run-parallel"])
def test_a_culprit_imported_by_a_conftest_file_is_named(pytester: pytest.Pytester, extensions: Path,
                                                        culprits: bool, args: list[str]) -> None:
    first, _ = modules(culprits)
    pytester.makeconftest(importing(extensions) + f"import {first}\n")
    pytester.makepyfile(test_one="def test_one(): pass\n\ndef test_two(): pass\n")
    result = pytester.runpytest_subprocess(*args)
    if not culprits:
        assert_silent(result, passed=2)
        return
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # not 3: the interpreter started with the GIL off
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines([
        "*GIL check after every test: on*",
        "ft-harness: the GIL was re-enabled during the loading of plugins and conftest files (before collection): *",
        "  suspect culprit_a: re-enables the GIL when imported alone *",
        "  culprit_a: first imported during the loading of plugins and conftest files (before collection)",
        "ft-harness: 2 tests ran with the GIL on: not judged",
    ])


@pytest.mark.parametrize("culprits", [True, False], ids=["culprit", "clean"])
def test_a_culprit_imported_by_a_plugin_loaded_before_ours_is_named(pytester: pytest.Pytester, extensions: Path,
                                                                    culprits: bool) -> None:
    first, _ = modules(culprits)
    pytester.makepyfile(early_plugin=importing(extensions) + f"import {first}\n",
                        test_one="def test_one(): pass\n")
    result = pytester.runpytest_subprocess("-p", "early_plugin")
    result.stdout.fnmatch_lines(["ft-harness: cpython * (free-threaded, GIL off) at *"])  # as the interpreter started
    if not culprits:
        assert_silent(result, passed=1)
        return
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([
        "ft-harness: the GIL was re-enabled during the loading of plugins and conftest files (before collection): *",
        "  suspect culprit_a: re-enables the GIL when imported alone *",
        "ft-harness: 1 tests ran with the GIL on: not judged",
    ])


@pytest.mark.parametrize("culprits", [True, False], ids=["culprit", "clean"])
def test_a_culprit_imported_while_resolving_pyargs_is_named(pytester: pytest.Pytester, extensions: Path,
                                                            culprits: bool) -> None:
    first, _ = modules(culprits)
    package = pytester.mkpydir("suite_pkg")
    (package / "__init__.py").write_text(importing(extensions) + f"import {first}\n")
    (package / "test_in_pkg.py").write_text("def test_one(): pass\n")
    result = pytester.runpytest_subprocess("--pyargs", "suite_pkg.test_in_pkg")
    if not culprits:
        assert_silent(result, passed=1)
        return
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([
        "ft-harness: the GIL was re-enabled during the resolution of the command-line arguments (--pyargs *): *",
        "  suspect culprit_a: re-enables the GIL when imported alone *",
        "ft-harness: 1 tests ran with the GIL on: not judged",
    ])


@pytest.mark.parametrize("culprits", [True, False], ids=["culprit", "clean"])
def test_a_culprit_found_at_collection_fails_the_session_but_its_tests_run(pytester: pytest.Pytester,
                                                                          extensions: Path, culprits: bool) -> None:
    first, _ = modules(culprits)
    pytester.makepyfile(test_collect=importing(extensions) + f"import {first}\n\n"
                        "def test_x(): pass\n\ndef test_y(): pass\n")
    result = pytester.runpytest_subprocess()
    if not culprits:
        assert_silent(result, passed=2)
        return
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines([
        "ft-harness: the GIL was re-enabled during the collection of test_collect.py: *",
        "  culprit_a: first imported during the collection of test_collect.py",
        "ft-harness: 2 tests ran with the GIL on: not judged",
    ])


# --- alongside pytest-run-parallel (and pytest-timeout) ---


@pytest.mark.parametrize("culprits", [True, False], ids=["culprit", "clean"])
def test_run_parallel_does_not_end_the_session_before_ours_names_the_culprits(
    pytester: pytest.Pytester, extensions: Path, culprits: bool
) -> None:
    first, second = modules(culprits)
    pytester.makepyfile(test_par=importing(extensions) + f"""
def test_a():
    pass

def test_b():
    import {first}

def test_c():
    import {second}

def test_d():
    pass
""")
    args = ("--parallel-threads=2", "--timeout=60", "-p", "no:randomly")
    result = pytester.runpytest_subprocess(*args)
    result.stdout.fnmatch_lines(["ft-harness: pytest-run-parallel's GIL check is off (--ignore-gil-enabled set by "
                                 "ft-harness): ft-harness names every culprit and the suite runs to its end"])
    if not culprits:
        assert_silent(result, passed=4)
        return
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=3, errors=1)  # pytest-run-parallel counts a failed parallel test as an error
    result.stdout.fnmatch_lines(["  culprit_a: first imported during test test_par.py::test_b (call)",
                                 "  culprit_b: first imported during test test_par.py::test_c (call)"])
    # The peer alone: its GIL check ends the session at the first culprit, and names only that one.
    alone = pytester.runpytest_subprocess(*args, "-p", "no:ft_harness")
    assert alone.ret != 0
    alone.stdout.fnmatch_lines(["*GIL was dynamically re-enabled during test execution of 'test_par.py::test_b' "
                                "to load module 'culprit_a'*"])
    assert "test_d" not in alone.stdout.str() and "culprit_b" not in alone.stdout.str()
