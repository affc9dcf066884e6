"""The ft-harness pytest plugin end to end (pytester): options and their sources, the header and its seed,
the ft_stress fixture and marker (a crashing scenario run in a child), require-free-threading, the
multi-threaded floor, the session report and hooks, and living alongside pytest-run-parallel and
pytest-timeout. The GIL watch is tested in ``test_plugin_gil.py``.
"""

from __future__ import annotations

import json
import re
import sys

import pytest

from harness.settings import ALL_FIELDS, FIELDS, Field, StressSettings
from tests.support.markers import FREE_THREADED, needs_free_threading
from tests.support.scenarios import LOST_UPDATE_SOURCE

SCENARIOS = "import threading\n\nimport pytest\n" + LOST_UPDATE_SOURCE + """

class Locked(LostUpdate):
    def setup(self):
        super().setup()
        self.lock = threading.Lock()

    def step(self, thread_index, iteration):
        with self.lock:
            super().step(thread_index, iteration)
"""

SMALL = ("--ft-threads=2", "--ft-iterations=20", "--ft-rounds=2", "--ft-seed=7")


# --- options, header, seed ---


def test_options_are_grouped_and_settable_in_ini(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(["ft-harness: free-threading stress scenarios and GIL checks:"])
    for field in ALL_FIELDS:
        result.stdout.fnmatch_lines([f"  {field.plugin_flag}*", f"  {field.ini_key} (*)*"])
    markers = pytester.runpytest("--markers")
    markers.stdout.fnmatch_lines(["@pytest.mark.ft_stress(scenario=None, *, threads=None, *timeout=None, *"
                                  "budget=None, explore=None, strategy=None, replay=None)*"])


# A value other than the default for every engine setting, as the command line or an ini file spells it.
NON_DEFAULT = {"threads": "3", "rounds": "4", "iterations": "5", "timeout_s": "6.5", "stall_s": "0.25",
               "seed": "77", "report_dir": "elsewhere", "switch_interval_s": "0.002", "barrier": "condition",
               "budget_s": "2.5", "explore": "false", "strategy": "pct", "replay": '{"events":[]}'}


def cli_words(field: Field, value: str) -> str:
    if field.switch:  # --ft-<name> / --no-ft-<name>
        return field.plugin_flag if field.parse(value) else field.plugin_flag.replace("--", "--no-", 1)
    return f"{field.plugin_flag}={value}"


@pytest.mark.parametrize("where", ["cli", "ini"])
def test_every_setting_reaches_the_session_from_its_flag_and_ini_key(pytester: pytest.Pytester, where) -> None:
    assert set(NON_DEFAULT) == {f.name for f in FIELDS}, "give every setting of FIELDS a non-default value here"
    if where == "cli":
        args = [cli_words(f, NON_DEFAULT[f.name]) for f in FIELDS]
    else:
        args = []
        pytester.makeini("[pytest]\n" + "".join(f"{f.ini_key} = {NON_DEFAULT[f.name]}\n" for f in FIELDS))
    pytester.makepyfile("""
        import json
        from pathlib import Path

        def test_settings(ft_settings):
            Path("settings.json").write_text(json.dumps(ft_settings.to_json()))
    """)
    assert pytester.runpytest(*args).ret == 0
    got = json.loads((pytester.path / "settings.json").read_text())
    expected = {f.name: f.parse(NON_DEFAULT[f.name]) for f in FIELDS}
    assert got == {**expected, "report_dir": str(expected["report_dir"])}
    assert got != StressSettings().to_json()


def test_header_shows_interpreter_settings_and_seed(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_nothing(): pass")
    result = pytester.runpytest("--ft-threads=3", "--ft-iterations=9", "--ft-seed=1234", "--ft-budget=0.5",
                                "--no-ft-explore")
    build = "free-threaded, GIL off" if FREE_THREADED else "GIL build, GIL on"
    result.stdout.fnmatch_lines([
        f"ft-harness: cpython {sys.version.split()[0]} ({build}) at *",
        "ft-harness: threads=3 iterations=9 rounds=* seed=1234 (reproduce with --ft-seed=1234) budget=0.5s "
        "explore=no; GIL check after "
        f"every test: {'on' if FREE_THREADED else 'off (the GIL is on at start)'}",
    ])
    assert result.ret == 0


def test_seed_in_the_header_reproduces_the_run(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        from pathlib import Path

        def test_seed(ft_settings):
            Path("seed.txt").write_text(str(ft_settings.seed))
    """)
    first = pytester.runpytest()
    seed = re.search(r"reproduce with --ft-seed=(\d+)", first.stdout.str()).group(1)
    assert (pytester.path / "seed.txt").read_text() == seed
    (pytester.path / "seed.txt").unlink()
    second = pytester.runpytest(f"--ft-seed={seed}")
    second.stdout.fnmatch_lines([f"*seed={seed} (reproduce with --ft-seed={seed})*"])
    assert (pytester.path / "seed.txt").read_text() == seed
    assert first.ret == second.ret == 0


def test_precedence_cli_env_ini_pyproject(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyprojecttoml("""
        [tool.pytest.ini_options]
        ft_threads = 3
        ft_iterations = "9"
        ft_rounds = 4

        [tool.ft-harness]
        rounds = 8
        timeout = 7
    """)
    pytester.makepyfile("def test_nothing(): pass")
    monkeypatch.setenv("FT_HARNESS_ITERATIONS", "11")
    result = pytester.runpytest("--ft-rounds=5")
    result.stdout.fnmatch_lines(["ft-harness: threads=3 iterations=11 rounds=5 timeout=7s *"])


@pytest.mark.parametrize(
    ("args", "ini", "message"),
    [
        (["--ft-threads=0"], "", "*ft-harness: bad --ft-threads on the command line: '0', expected a positive integer"),
        ([], 'ft_iterations = "many"', "*ft-harness: bad ft_iterations in the pytest configuration *: 'many', "
                                       "expected a positive integer"),
        (["--ft-min-parallel-tests=-1"], "", "*bad --ft-min-parallel-tests on the command line: '-1', expected a "
                                            "count of tests (0 or more)"),
    ],
    ids=["cli", "ini", "floor"],
)
def test_bad_value_is_one_line_naming_its_source(pytester: pytest.Pytester, args, ini, message) -> None:
    pytester.makepyprojecttoml(f"[tool.pytest.ini_options]\n{ini}\n")
    pytester.makepyfile("def test_nothing(): pass")
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


# --- the ft_stress fixture and marker ---


def test_fixture_fails_on_lost_update_with_summary_and_rerun(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_fixture=SCENARIOS + """
def test_lost(ft_stress):
    ft_stress(LostUpdate)
""")
    result = pytester.runpytest(*SMALL)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([
        "ft-harness: scenario LostUpdate failed (2 threads x 20 iterations x 2 rounds, seed 7): * failure*; *",
        "  AssertionError x 1; first traceback:",
        "*lost updates*",
        "rerun this test: *-m pytest test_fixture.py::test_lost --ft-threads 2 --ft-iterations 20 --ft-rounds 2 "
        "--ft-timeout * --ft-seed 7 --ft-budget 1 --ft-replay '{*}'",  # an explored failure replays its schedule
    ])


def test_fixture_passes_on_locked_scenario_and_returns_the_result(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_fixture=SCENARIOS + """
def test_locked(ft_stress):
    result = ft_stress(Locked, threads=3)
    assert (result.status, result.threads, result.iterations, result.seed) == ("passed", 3, 20, 7)

def test_unchecked(ft_stress):
    assert ft_stress(LostUpdate, check=False).status == "failed"
""")
    result = pytester.runpytest(*SMALL)
    result.assert_outcomes(passed=2)


def test_marker_runs_the_scenario_after_the_body(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_marker=SCENARIOS + """
@pytest.mark.ft_stress(scenario=LostUpdate)
def test_lost():
    pass

@pytest.mark.ft_stress(Locked, threads=3, rounds=1)
def test_locked():
    pass

@pytest.mark.ft_stress("tests.support.scenarios:LostUpdate")
def test_lost_by_reference():
    pass

@pytest.mark.ft_stress(iterations=5, budget=0.2, explore=False)
def test_marker_values_reach_the_fixture(ft_stress):
    assert ft_stress(Locked).iterations == 5
    assert ft_stress(Locked, iterations=6).iterations == 6
    assert ft_stress(Locked).exploration is None
    assert ft_stress(Locked, explore=True).exploration["trials"] >= 1
""")
    result = pytester.runpytest(*SMALL, "-v")
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines([
        "*::test_lost FAILED*",
        "*::test_locked PASSED*",
        "*::test_lost_by_reference FAILED*",
        "*::test_marker_values_reach_the_fixture PASSED*",
    ])
    result.stdout.fnmatch_lines([
        "rerun the scenario alone: *-m harness stress --no-import-audit "
        "--target tests.support.scenarios:LostUpdate --scenario LostUpdate "
        "--threads 2 --rounds 2 --iterations 20 *--seed 7*",
    ])


def test_bad_marker_value_fails_only_that_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_bad=SCENARIOS + """
@pytest.mark.ft_stress(Locked, threads="many")
def test_bad_value():
    pass

@pytest.mark.ft_stress(Locked, colour="blue")
def test_unknown_key():
    pass

@pytest.mark.ft_stress("no-such-scenario")
def test_unknown_name():
    pass
""")
    result = pytester.runpytest(*SMALL)
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines([
        "ft-harness: bad threads in the ft_stress marker of test_bad.py::test_bad_value: 'many', expected a "
        "positive integer",
        "ft-harness: unknown setting 'colour' in the ft_stress marker of test_bad.py::test_unknown_key: *",
        "ft-harness: unknown scenario 'no-such-scenario': expected *",
    ])


def test_hooks_add_scenarios_and_see_results(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(SCENARIOS + """
SEEN = []

def pytest_ft_harness_scenarios(config):
    return {"locked": Locked, "lost": LostUpdate}

def pytest_ft_harness_scenario_result(item, result):
    SEEN.append((item.name, result.status))

def pytest_ft_harness_session_report(config, record):
    record["seen_by_conftest"] = SEEN
""")
    pytester.makepyfile("""
        import pytest

        @pytest.mark.ft_stress("locked")
        def test_registered():
            pass

        def test_registered_by_fixture(ft_stress):
            assert ft_stress("lost", check=False).status == "failed"
    """)
    result = pytester.runpytest(*SMALL, "--ft-report-dir=out")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*2 tests ran multi-threaded (0 under pytest-run-parallel, 2 through ft_stress "
                                 "scenarios)", "report: out*pytest-*.json"])
    [report] = (pytester.path / "out").glob("pytest-*.json")
    record = json.loads(report.read_text())
    assert record["seen_by_conftest"] == [["test_registered", "passed"], ["test_registered_by_fixture", "failed"]]
    assert [s["nodeid"] for s in record["scenarios"]] == ["test_hooks_add_scenarios_and_see_results.py::"
                                                          "test_registered", "test_hooks_add_scenarios_and_see_"
                                                          "results.py::test_registered_by_fixture"]
    assert record["settings"]["seed"] == 7 and record["interpreter"]["free_threaded"] == FREE_THREADED


# --- require free threading ---


@needs_free_threading
@pytest.mark.parametrize("how", [["--ft-require-free-threading"], ["-o", "ft_require_free_threading=true"]])
def test_require_free_threading_passes_on_free_threaded_build(pytester: pytest.Pytester, how) -> None:
    pytester.makepyfile("def test_nothing(): pass")
    assert pytester.runpytest(*how).ret == 0


# A free-threaded build with the GIL forced either way cannot judge; on a GIL build, the build itself.
UNFIT = [("1", "the GIL is forced on"), ("0", "the GIL is forced off")] if FREE_THREADED else [
    (None, "is not a free-threaded build")]


@pytest.mark.parametrize(("python_gil", "reason"), UNFIT, ids=[f"PYTHON_GIL={v}" for v, _ in UNFIT])
def test_require_free_threading_fails_the_session_when_unfit(pytester: pytest.Pytester,
                                                             monkeypatch: pytest.MonkeyPatch, python_gil,
                                                             reason) -> None:
    if python_gil is not None:
        monkeypatch.setenv("PYTHON_GIL", python_gil)
    pytester.makepyfile("def test_nothing(): pass")
    result = pytester.runpytest_subprocess("--ft-require-free-threading")
    assert result.ret == 3
    result.stderr.fnmatch_lines([f"*ft-harness: --ft-require-free-threading: unfit to judge: *{reason}*"])


# --- the multi-threaded floor ---

FLOOR_TESTS = """
import pytest

def test_one():
    pass

def test_two():
    pass

@pytest.mark.thread_unsafe
def test_single_threaded():
    pass

@pytest.mark.skip(reason="never runs")
def test_skipped():
    pass
"""


def test_floor_fails_when_too_few_tests_ran_multi_threaded(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(FLOOR_TESTS)
    result = pytester.runpytest("--parallel-threads=2", "--ft-min-parallel-tests=3")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([
        "2 tests ran multi-threaded (2 under pytest-run-parallel, 0 through ft_stress scenarios)",
        "ft-harness: only 2 tests ran multi-threaded, fewer than the floor of 3 (--ft-min-parallel-tests)",
    ])


def test_floor_passes_when_met(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(FLOOR_TESTS)
    pytester.makepyprojecttoml("[tool.pytest.ini_options]\nft_min_parallel_tests = 2\n")
    result = pytester.runpytest("--parallel-threads=2")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["2 tests ran multi-threaded (2 under pytest-run-parallel, 0 through ft_stress "
                                 "scenarios)"])


def test_floor_counts_nothing_without_parallel_threads(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(FLOOR_TESTS)
    result = pytester.runpytest("--ft-min-parallel-tests=1")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["ft-harness: only 0 tests ran multi-threaded, fewer than the floor of 1 *"])


# --- alongside pytest-run-parallel and pytest-timeout ---


def test_fixture_under_run_parallel_and_timeout(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml("[tool.pytest.ini_options]\ntimeout = 30\nft_timeout = 20\n")
    pytester.makepyfile(test_both=SCENARIOS + """
def test_locked(ft_stress):
    assert ft_stress(Locked).threads == 2

def test_plain(num_parallel_threads):
    assert num_parallel_threads == 2
""")
    result = pytester.runpytest(*SMALL, "--parallel-threads=2", "-v")
    assert result.ret == 0
    result.stdout.fnmatch_lines([
        "*timeout=20s seed=7*",
        "timeout: 30.0s",
        "*::test_locked PASSED [[]thread-unsafe[]]: ft_stress runs its own threads*",
        "*::test_plain PARALLEL PASSED*",
        "2 tests ran multi-threaded (1 under pytest-run-parallel, 1 through ft_stress scenarios)",
    ])


# --- a crashing scenario, and the marker under pytest-run-parallel ---

CRASHING = """
import ctypes


def segfault():
    ctypes.string_at(0)


def calm():
    pass
"""


def test_a_scenario_given_as_reference_that_crashes_fails_its_test_and_the_session_goes_on(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(crashing=CRASHING, test_crash="""
import pytest

def test_fixture_crash(ft_stress):
    ft_stress("crashing:segfault")

@pytest.mark.ft_stress("crashing:segfault")
def test_marker_crash():
    pass

def test_fixture_calm(ft_stress):
    assert ft_stress("crashing:calm").status == "passed"

@pytest.mark.ft_stress("crashing:calm")
def test_marker_calm():
    pass
""")
    result = pytester.runpytest(*SMALL, "-v", "-p", "no:randomly")
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines([
        "*::test_fixture_crash FAILED*",
        "*::test_marker_crash FAILED*",
        "*::test_fixture_calm PASSED*",
        "*::test_marker_calm PASSED*",
    ])
    result.stdout.fnmatch_lines([
        "ft-harness: scenario segfault crashed (2 threads x 20 iterations x 2 rounds, seed 7): 1 failure; the "
        "scenario's process killed by SIGSEGV before writing its result; faulthandler dump of *",
        "*Fatal Python error: Segmentation fault*",
        "*in segfault*",
        "rerun the scenario alone: *-m harness stress --no-import-audit --target crashing:segfault *",
    ])


@pytest.mark.parametrize("scenario", ["LostUpdate", "Locked"])
def test_marker_under_run_parallel_runs_once_and_a_race_is_a_failure(pytester: pytest.Pytester,
                                                                     scenario: str) -> None:
    pytester.makepyfile(test_marker=SCENARIOS + f"""
@pytest.mark.ft_stress(scenario={scenario})
def test_marked(num_parallel_threads):
    assert num_parallel_threads == 1
""")
    result = pytester.runpytest(*SMALL, "--parallel-threads=4", "--ft-report-dir=out", "-v")
    [report] = (pytester.path / "out").glob("pytest-*.json")
    assert len(json.loads(report.read_text())["scenarios"]) == 1
    if scenario == "Locked":
        result.assert_outcomes(passed=1)
        result.stdout.fnmatch_lines(["*::test_marked PASSED [[]thread-unsafe[]]: ft_stress runs its own threads*"])
        return
    result.assert_outcomes(failed=1)  # a failure, not an error
    result.stdout.fnmatch_lines(["*::test_marked FAILED ([[]thread-unsafe[]]: ft_stress runs its own threads)*",
                                 "ft-harness: scenario LostUpdate failed *"])
