"""The gate judges what a package brings: its own scenario files (``--scenario-path``), a target package
installed beside the wheel (``--with``), and its own test suite run multi-threaded (``--tests``). Every wheel
is built here, at test time."""

from __future__ import annotations

import importlib
import json
import shlex
from pathlib import Path

import pytest
from packaging.tags import sys_tags

from harness.commands import main
from tests.support.markers import needs_free_threading
from tests.support.wheels import make_wheel

SMALL = ["--threads", "4", "--rounds", "3", "--iterations", "50", "--timeout", "60", "--seed", "7",
         "--throughput-threads", "none"]
# A counter whose add() reads, yields, then writes: lost updates whenever two threads add at once; and whose
# pair, set one field at a time, is torn whenever another thread sets it meanwhile.
DEMO = b'''
import time

VERSION = "1"


class Counter:
    def __init__(self):
        self.value = 0
        self.pair = (None, None)

    def add(self):
        value = self.value
        time.sleep(0.0001)
        self.value = value + 1

    def set_pair(self, item):
        self.pair = (item, self.pair[1])
        time.sleep(0.0005)
        self.pair = (self.pair[0], item)


COUNTER = Counter()
'''
SCENARIO_FILE = '''
import threading

import demo
from harness.engine.scenario import Scenario


class {name}(Scenario):
    def setup(self):
        self.counter, self.lock = demo.Counter(), threading.Lock()

    def step(self, thread_index, iteration):
        with {guard}:
            self.counter.add()

    def verify(self):
        expected = self.threads * self.iterations
        assert self.counter.value == expected, f"lost updates: {{self.counter.value}} of {{expected}}"
'''
SUITE = b'''
import threading

import pytest

import demo


def test_counter_exists():
    assert demo.COUNTER is not None


def test_shared_counter():
    me = threading.get_ident()
    for _ in range(100):
        demo.COUNTER.set_pair(me)
        assert demo.COUNTER.pair == (me, me)


def test_version_is_two():
    assert demo.VERSION == "2"


@pytest.mark.thread_unsafe(reason="resets the module on purpose")
def test_reset():
    demo.COUNTER = demo.Counter()
'''


def demo_wheel(directory: Path) -> Path:
    """The demo package as a wheel tagged for this very interpreter."""
    tag = next(iter(sys_tags()))
    return make_wheel(directory, f"demo-1.0-{tag.interpreter}-{tag.abi}-{tag.platform}.whl",
                      files={"demo/__init__.py": DEMO})


def gate(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, dict]:
    code = main(["gate", *args])
    out, err = capsys.readouterr()
    report_dir = Path(args[args.index("--report-dir") + 1])
    (json_report,) = report_dir.glob("*.json")
    return code, out + err, json.loads(json_report.read_text())


@needs_free_threading
@pytest.mark.parametrize(("name", "guard", "exit_code", "verdict"),
                         [("Racy", "threading.Lock()", 1, "unsafe"), ("Locked", "self.lock", 0, "safe")])
def test_own_scenario_file_runs_against_the_installed_wheel(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, guard: str, exit_code: int, verdict: str
) -> None:
    folder = tmp_path / "my scenarios"
    folder.mkdir()
    (folder / "counter_scenarios.py").write_text(SCENARIO_FILE.format(name=name, guard=guard))
    code, output, record = gate(
        capsys, "--wheel", str(demo_wheel(tmp_path)), "--target", f"counter_scenarios:{name}",
        "--scenario-path", str(folder), "--report-dir", str(tmp_path / "r"), *SMALL,
    )
    assert (code, record["verdict"]) == (exit_code, verdict), output
    assert [row["module"] for row in record["imports"]] == ["demo", "counter_scenarios"]
    (scenario,) = record["scenarios"]
    if verdict == "unsafe":
        assert "lost updates" in scenario["errors"][0]["first_traceback"]
        rerun = next(line for line in output.splitlines() if line.strip().startswith("rerun:"))
        assert "--scenario-path" in rerun and "'" + str(folder) + "'" in rerun and "--seed 7" in rerun


@needs_free_threading
def test_without_scenario_path_the_scenario_module_is_not_found(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "counter_scenarios.py").write_text(SCENARIO_FILE.format(name="Locked", guard="self.lock"))
    monkeypatch.chdir(tmp_path)  # the working directory is not made importable by itself
    code, output, record = gate(capsys, "--wheel", str(demo_wheel(tmp_path)), "--target",
                                "counter_scenarios:Locked", "--report-dir", str(tmp_path / "r"), *SMALL)
    assert code == 2 and record["verdict"] == "error", output
    assert "module 'counter_scenarios' not found" in record["note"]
    assert record["imports"] == []  # found missing in the venv, before the import audit of the wheel's modules


@needs_free_threading
@pytest.mark.parametrize(("source", "target"), [("--wheel", "counter_scenarios:Lockd"),
                                                ("--wheel", "counter_scenarios.Locked"),
                                                ("--project", "counter_scenarios:Lockd")])
def test_misspelt_target_in_the_scenario_path_is_one_line_before_the_venv(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], source: str, target: str
) -> None:
    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "counter_scenarios.py").write_text(SCENARIO_FILE.format(name="Locked", guard="self.lock"))
    given = demo_wheel(tmp_path) if source == "--wheel" else tmp_path  # a project: never built, the check is first
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "demo"\nversion = "1"\n')
    code = main(["gate", source, str(given), "--target", target, "--scenario-path", str(folder),
                 "--report-dir", str(tmp_path / "r"), *SMALL])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1, out + err
    assert not list((tmp_path / "r").glob("*"))  # no venv, no audit, no report


TARGET_PACKAGE = b'''
from harness.targets import ScenarioSpec, Target

TARGET = Target(
    name="demo-counter",
    description="the demo counter, each thread its own",
    modules=("demo",),
    scenarios=(ScenarioSpec(name="own-counter", ref="demo_target:own_counter"),),
    distributions=("demo",),
)


def own_counter(thread_index, iteration):
    import demo

    counter = demo.Counter()
    counter.add()
    assert counter.value == 1
'''


@needs_free_threading
def test_with_installs_a_target_package_found_by_its_entry_point(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target_wheel = make_wheel(tmp_path / "t", "demo_target-1.0-py3-none-any.whl", files={
        "demo_target.py": TARGET_PACKAGE,
        "demo_target-1.0.dist-info/entry_points.txt": b"[ft_harness.targets]\ndemo-counter = demo_target:TARGET\n",
    })
    code, output, record = gate(capsys, "--wheel", str(demo_wheel(tmp_path)), "--with", str(target_wheel),
                                "--report-dir", str(tmp_path / "r"), *SMALL)
    assert code == 0 and record["verdict"] == "safe", output
    assert "targets: demo-counter" in output and record["targets"] == ["demo-counter"]
    assert [(s["target"], s["name"], s["status"]) for s in record["scenarios"]] == [
        ("demo-counter", "own-counter", "passed")]
    assert "--with " + str(target_wheel) in record["scenarios"][0]["rerun"]


def source_tree(tmp_path: Path) -> Path:
    """A package's source tree: tests beside a ``demo`` folder that must never be imported instead of the wheel."""
    root = tmp_path / "src-tree"
    (root / "demo").mkdir(parents=True)
    (root / "demo" / "__init__.py").write_text("raise ImportError('the source tree shadowed the wheel')\n")
    (root / "test").mkdir()
    (root / "test" / "test_demo.py").write_bytes(SUITE)
    return root / "test"


@needs_free_threading
def test_own_tests_find_a_race_only_visible_threaded_and_a_test_failing_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, output, record = gate(capsys, "--wheel", str(demo_wheel(tmp_path)), "--tests", str(source_tree(tmp_path)),
                                "--parallel-threads", "4", "--report-dir", str(tmp_path / "r"), *SMALL)
    assert code == 1 and record["verdict"] == "unsafe", output
    tests = record["tests"]
    assert (tests["run"], tests["multi_threaded"], tests["threads"]) == (4, 3, 4)
    alone = {f["nodeid"].rsplit("::", 1)[-1]: f["alone"] for f in tests["failures"]}
    assert alone == {"test_shared_counter": "race", "test_version_is_two": "fails without threads"}
    assert "assert '1' == '2'" in next(f["first_lines"] for f in tests["failures"] if f["alone"] != "race")
    assert list(tests["thread_unsafe"].values()) == ["resets the module on purpose"]
    assert "RACE (passes alone)" in output and "fails without threads (not a race)" in output
    markdown = next((tmp_path / "r").glob("*.md")).read_text()
    assert "**race** (passes alone)" in markdown and "test_version_is_two" in markdown
    assert "race" in next((tmp_path / "r").glob("*.html")).read_text()
    assert "- judged by: the package's own tests" in markdown and "per scenario" not in markdown  # nothing stressed
    assert "@pytest.mark.thread_unsafe" in output and "@pytest.mark.thread_unsafe" in markdown  # what to do if...
    # Each failure's rerun, printed and kept: the gate again on that test alone, with the threads it failed with.
    race = next(f for f in tests["failures"] if f["alone"] == "race")
    assert f"rerun: {race['rerun']}" in output and race["rerun"] in markdown
    words = shlex.split(race["rerun"])
    assert words[words.index("--parallel-threads") + 1] == "4"
    assert words[words.index("--only-test") + 1] == race["nodeid"]
    code, output, record = gate(capsys, *words[words.index("gate") + 1:], "--report-dir", str(tmp_path / "again"),
                                *SMALL)
    assert code == 1 and record["tests"]["run"] == 1, output
    assert [f["alone"] for f in record["tests"]["failures"]] == ["race"]


@needs_free_threading
@pytest.mark.parametrize(("floor", "exit_code", "verdict"), [("1", 0, "safe"), ("2", 1, "unsafe")])
def test_own_tests_passing_threaded_make_the_gate_safe_above_the_floor(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], floor: str, exit_code: int, verdict: str
) -> None:
    code, output, record = gate(capsys, "--wheel", str(demo_wheel(tmp_path)), "--tests", str(source_tree(tmp_path)),
                                "--pytest-args", "-k 'counter_exists or reset'", "--min-parallel-tests", floor,
                                "--report-dir", str(tmp_path / "r"), *SMALL)
    assert (code, record["verdict"]) == (exit_code, verdict), output
    assert (record["tests"]["run"], record["tests"]["multi_threaded"], record["tests"]["failures"]) == (2, 1, [])
    assert len([line for line in output.splitlines() if line.startswith("tests: 2 run,")]) == 1, output
    assert record["tests"]["below_floor"] is (verdict == "unsafe")


STRESS_SCENARIO = '''
def broken(thread_index, iteration):
    if thread_index == 1 and iteration == 3:
        raise ValueError("thread 1 broke")
'''


@needs_free_threading
def test_stress_scenario_path_reaches_the_children_and_the_rerun(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "my_stress_scenarios.py").write_text(STRESS_SCENARIO)
    monkeypatch.chdir(tmp_path)
    args = ["stress", "--target", "my_stress_scenarios:broken", "--report-dir", str(tmp_path / "r"),
            "--threads", "2", "--rounds", "1", "--iterations", "10", "--seed", "3"]
    assert main(args) == 2  # the module is not importable: the working directory is not on the path by itself
    assert "my_stress_scenarios" in capsys.readouterr().err
    assert main([*args, "--scenario-path", str(folder)]) == 1
    rerun = next(line for line in capsys.readouterr().out.splitlines() if line.strip().startswith("rerun:"))
    assert f"--scenario-path {folder}" in rerun and "--no-import-audit" in rerun


@needs_free_threading
@pytest.mark.parametrize("source", ["--sdist", "--project"])
def test_a_missing_source_to_build_is_one_line_before_any_build(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], source: str
) -> None:
    missing = tmp_path / "nowhere.tar.gz"
    code = main(["gate", source, str(missing), "--report-dir", str(tmp_path / "r"), *SMALL])
    out, err = capsys.readouterr()
    assert code == 2 and out == "", out  # not "building a wheel from ..." first
    assert err == f"ft-harness gate: error: {missing} does not exist (expected an sdist, .tar.gz or .zip, or a " \
                  "project directory)\n"


@needs_free_threading
@pytest.mark.parametrize(("module", "step", "unfinished"), [
    ("harness.pipeline.gate", "run_suite", ["the package's own tests"]),
    ("harness.pipeline.judge", "_audit", ["import audit", "the package's own tests"]),
])
def test_a_gate_interrupted_before_its_test_suite_ran_names_the_suite_unfinished(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, module: str, step: str,
    unfinished: list[str],
) -> None:
    """Interrupted in the import audit, the gate ran the suite all the same (up to an hour) and called nothing
    unfinished."""
    suites: list[object] = []

    def interrupted_here(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(importlib.import_module(module), step, interrupted_here)
    if step != "run_suite":
        monkeypatch.setattr(importlib.import_module("harness.pipeline.gate"), "run_suite",
                            lambda *args: suites.append(args))
    code, output, record = gate(capsys, "--wheel", str(demo_wheel(tmp_path)), "--tests", str(source_tree(tmp_path)),
                                "--report-dir", str(tmp_path / "r"), *SMALL)
    assert code == 130 and record["verdict"] == "interrupted", output
    assert record["interrupted"]["unfinished"] == unfinished and suites == []


@needs_free_threading
def test_an_extra_the_package_does_not_have_is_said_not_passed_over(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """uv installs nothing for an unknown extra and exits 0 (a package that moved its test requirements to a
    dependency group): the run then failed later for want of them, with no word of why."""
    code, output, record = gate(capsys, "--wheel", str(demo_wheel(tmp_path)), "--with", "demo[nosuch]",
                                "--report-dir", str(tmp_path / "r"), *SMALL)
    assert code == 0, output
    line = next(line for line in output.splitlines() if line.startswith("uv warning:"))
    assert "does not have an extra named `nosuch`" in line and line in record["note"]


@needs_free_threading
def test_a_suite_missing_a_module_it_imports_is_told_to_bring_it_with_with(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "conftest.py").write_text("import hypothesis_not_installed_here\n")
    (suite / "test_x.py").write_text("def test_x():\n    pass\n")
    code, output, record = gate(capsys, "--wheel", str(demo_wheel(tmp_path)), "--tests", str(suite),
                                "--report-dir", str(tmp_path / "r"), *SMALL)
    assert code == 2, output
    assert "No module named 'hypothesis_not_installed_here'" in record["note"]
    assert record["note"].endswith("; install what the tests import with --with REQ")


@pytest.mark.parametrize("flag", [["--only-test", "test_x.py::test_x"], ["--parallel-threads", "2"]])
def test_a_tests_flag_without_tests_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: list[str]
) -> None:
    code = main(["gate", "--wheel", str(tmp_path / "any.whl"), *flag, "--report-dir", str(tmp_path / "r")])
    out, err = capsys.readouterr()
    assert code == 2 and out == "", out
    assert err == ("ft-harness gate: error: --parallel-threads, --pytest-args, --min-parallel-tests and --only-test "
                   "need --tests DIR\n")
