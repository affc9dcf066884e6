"""The release gate end to end: a real cp314t wheel of this project, tiny hand-made wheels, and the report."""

from __future__ import annotations

import json
import shutil
import sys
import zipfile
from pathlib import Path

import pytest
from packaging.tags import sys_tags

from harness import UsageError
from harness.commands import main
from harness.commands.gate import parse_thread_counts, write_gate_reports
from harness.interpreter.children import run_uv
from harness.report.gate import render_gate_markdown, render_html, throughput_svg
from harness.wheel.venv import modules_from_record
from tests.support.markers import FREE_THREADED, needs_free_threading
from tests.support.wheels import make_wheel

REPO = Path(__file__).resolve().parents[1]
OWN_TAG = next(iter(sys_tags()))
SMALL = ["--threads", "2", "--rounds", "2", "--iterations", "20", "--timeout", "60", "--seed", "7"]
SCENARIOS = b'''
def ok(thread_index, iteration):
    return thread_index * iteration


def broken(thread_index, iteration):
    if thread_index == 1 and iteration == 3:
        raise ValueError("thread 1 broke")


def broken_with_three_threads(thread_index, iteration):
    if thread_index == 2:
        raise ValueError("thread 2 broke")
'''


def gate(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["gate", *args])
    out, err = capsys.readouterr()
    return code, out + err


def reports(directory: Path) -> dict[str, Path]:
    return {path.suffix: path for path in directory.iterdir()} if directory.exists() else {}


def tiny_wheel(directory: Path, files: dict[str, bytes], **kwargs: object) -> Path:
    """A pure-Python wheel tagged for this very interpreter (so it installs without building anything)."""
    name = f"demo-1.0-{OWN_TAG.interpreter}-{OWN_TAG.abi}-{OWN_TAG.platform}.whl"
    return make_wheel(directory, name, files=files, **kwargs)  # type: ignore[arg-type]


def retagged_copy(wheel: Path, directory: Path, *, filename_abi: str, wheel_file_abi: str) -> Path:
    """A copy of ``wheel`` whose filename and WHEEL ``Tag`` lines name the given ABIs (rest untouched)."""
    python, abi, _platform = wheel.name[: -len(".whl")].split("-")[-3:]
    target = directory / wheel.name.replace(f"-{python}-{abi}-", f"-{python}-{filename_abi}-")
    directory.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as source, zipfile.ZipFile(target, "w") as copy:
        for item in source.infolist():
            data = source.read(item)
            if item.filename.endswith(".dist-info/WHEEL"):
                data = data.replace(f"Tag: {python}-{abi}-".encode(), f"Tag: {python}-{wheel_file_abi}-".encode())
            copy.writestr(item, data)
    return target


@pytest.fixture(scope="session")
def project_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real wheel of this project built under this interpreter, once per session (from a copy of the tree)."""
    if not FREE_THREADED:
        pytest.skip("the cp314t wheel is built under the free-threaded interpreter")
    base = tmp_path_factory.mktemp("project-wheel")
    source = base / "src"
    shutil.copytree(
        REPO,
        source,
        ignore=shutil.ignore_patterns(
            ".git", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", "reports", "*.so", "*.pyd", ".venv*"
        ),
    )
    done = run_uv(["build", "--wheel", "--python", sys.executable, "--out-dir", str(base / "dist"), str(source)],
                  timeout_s=900)
    assert done.returncode == 0, done.stderr[-3000:]
    (wheel,) = (base / "dist").glob("*.whl")
    return wheel


def test_modules_from_record_finds_extensions_and_top_level(tmp_path: Path) -> None:
    record = "\n".join([
        "pkg/__init__.py,sha256=x,1",
        "pkg/_speed.cpython-314t-x86_64-linux-gnu.so,sha256=x,1",
        "pkg/sub/_fast.abi3.so,,",
        "pkg/__pycache__/x.cpython-314.pyc,,",
        "pkg.libs/libz-abc.so,,",
        "pkg-1.0.dist-info/RECORD,,",
        "../../bin/pkg-cli,,",
        "single.py,,",
        "pkg/data.json,,",
    ])
    installed = modules_from_record(tmp_path, record)
    assert installed.extension_modules == ("pkg._speed", "pkg.sub._fast")
    assert installed.top_level == ("pkg", "single")


@pytest.mark.parametrize(("text", "counts"), [("1,2,4", (1, 2, 4)), ("8", (8,)), ("none", ()), ("2,2,1", (2, 1))])
def test_throughput_thread_counts(text: str, counts: tuple[int, ...]) -> None:
    assert parse_thread_counts(text) == counts


@pytest.mark.parametrize("text", ["", "0", "1,x", "-1,2"])
def test_bad_throughput_thread_counts(text: str) -> None:
    with pytest.raises(UsageError, match="bad --throughput-threads"):
        parse_thread_counts(text)


THROUGHPUT = [
    {"target": "t", "scenario": "a<b", "threads": 1, "ops_per_s": 1000.0, "status": "passed"},
    {"target": "t", "scenario": "a<b", "threads": 2, "ops_per_s": 1800.0, "status": "passed"},
    {"target": "t", "scenario": "c", "threads": 1, "ops_per_s": 500.0, "status": "passed"},
    {"target": "t", "scenario": "c", "threads": 2, "ops_per_s": None, "status": "crashed"},
]


def test_throughput_chart_draws_one_line_per_scenario() -> None:
    svg = throughput_svg(THROUGHPUT)
    assert svg.startswith("<svg") and svg.count("<polyline") == 2
    assert "t:a&lt;b" in svg and "a<b" not in svg
    assert "1,800 ops/s" in svg
    assert "No throughput" in throughput_svg([])


def test_throughput_chart_has_a_log_axis_so_slow_and_fast_scenarios_are_both_readable() -> None:
    rows = [{"target": "t", "scenario": name, "threads": threads, "ops_per_s": ops, "status": "passed"}
            for name, ops in (("slow", 85.0), ("fast", 200_000.0)) for threads in (1, 2)]
    svg = throughput_svg(rows, height=360)
    top, bottom = 20, 360 - 50
    heights = {float(part.split('"')[1]) for part in svg.split(' cy=')[1:]}
    assert len(heights) == 2
    slow_y = max(heights)  # lower on the page
    assert slow_y < bottom - 0.1 * (bottom - top), f"the 85 ops/s line sits at the bottom ({slow_y} of {bottom})"
    assert ">100<" in svg and ">1,000,000<" in svg and "ops/s (log)" in svg


def record_for_report(**changes: object) -> dict:
    record = {
        "run_id": "gate-demo-test",
        "verdict": "safe",
        "exit_code": 0,
        "note": "",
        "target": "t",
        "wheel": {"file": "demo.whl", "distribution": "demo", "version": "1.0", "tags": ["cp314-cp314t-linux_x86_64"],
                  "expected_abi": "cp314t", "extension_modules": []},
        "interpreter": {"executable": "/py", "version": "3.14.7", "free_threaded": True},
        "imports": [{"module": "demo", "status": "gil-free", "gil_enabled_after": False}],
        "scenarios": [],
        "throughput": THROUGHPUT,
    }
    record.update(changes)
    return record


def test_html_report_is_self_contained() -> None:
    page = render_html(record_for_report(note="<script>alert(1)</script>"))
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page and "<style>" in page
    assert "<script" not in page and "&lt;script&gt;" in page
    assert "src=" not in page and "href=" not in page and "@import" not in page


EVIDENCE = {
    "artifact": {"file": "demo.whl", "sha256": "ab" * 32, "size": 1234, "distribution": "demo", "version": "1.0",
                 "tags": ["cp314-cp314t-linux_x86_64"], "abi": "cp314t", "platform": "manylinux_2_28_x86_64",
                 "interpreter": "3.14.7", "harness_version": "0.1.0"},
    "metadata_findings": [{"rule": "ft-classifier-overclaims", "level": "error", "message": "claims <3 - Stable>",
                           "file": "demo.whl", "member": "demo-1.0.dist-info/METADATA", "line": 4,
                           "change": "replace it with 1 - Unstable"}],
    "fix_hints": [{"module": "demo._core", "member": "demo/_core.so", "builder": "pybind11",
                   "change": "py::mod_gil_not_used()", "warning": "Declaring it is a claim"}],
}


@pytest.mark.parametrize("render", [render_gate_markdown, render_html])
def test_gate_reports_show_the_release_evidence(render: object) -> None:
    assert callable(render)
    shown = render(record_for_report(**EVIDENCE))
    for text in ("ab" * 32, "manylinux_2_28_x86_64", "ft-classifier-overclaims", "replace it with 1 - Unstable",
                 "demo._core", "py::mod_gil_not_used()", "Declaring it is a claim"):
        assert text in shown, text
    assert "<3 - Stable>" not in shown if render is render_html else "<3 - Stable>" in shown  # escaped in HTML
    quiet = render(record_for_report())
    assert "Metadata findings" not in quiet and "Fix hints" not in quiet and "Release evidence" not in quiet


def test_reports_are_written_atomically_and_summary_is_appended(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    paths = write_gate_reports(record_for_report(), tmp_path / "reports")
    assert [p.name for p in paths] == ["gate-demo-test.json", "gate-demo-test.md", "gate-demo-test.html"]
    assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == sorted(p.name for p in paths)
    assert json.loads(paths[0].read_text())["verdict"] == "safe"
    text = summary.read_text()
    assert text.startswith("earlier step\n") and "# ft-harness gate: `demo.whl`" in text and "1,800" in text


@needs_free_threading
@pytest.mark.parametrize(
    ("source", "flags", "exit_code", "verdict", "line"),
    [
        (b"VALUE = 1\n", [], 0, "imports-only", "import demo: gil-free"),
        (b"VALUE = 1\n", ["--require-stress"], 4, "imports-only", "--require-stress: exit 4"),
        (b"raise ImportError('demo is broken')\n", [], 1, "unsafe", "import demo: error (ImportError: demo is broken)"),
    ],
)
def test_gate_import_audit_of_installed_wheel(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], source: bytes, flags: list[str], exit_code: int,
    verdict: str, line: str,
) -> None:
    wheel = tiny_wheel(tmp_path, {"demo/__init__.py": source})
    code, output = gate(capsys, "--wheel", str(wheel), "--report-dir", str(tmp_path / "r"), *SMALL, *flags)
    assert code == exit_code, output
    assert line in output and f"verdict: {verdict} (exit {exit_code})" in output
    assert ("nothing was stressed: no target judges demo" in output) == (verdict == "imports-only")
    assert set(reports(tmp_path / "r")) == {".json", ".md", ".html"}
    record = json.loads(reports(tmp_path / "r")[".json"].read_text())
    assert record["verdict"] == verdict and record["wheel"]["expected_abi"] == OWN_TAG.abi
    assert record["audit_only"] is True  # no target, no tests
    assert f"## Verdict: {verdict}" in reports(tmp_path / "r")[".md"].read_text()
    assert f'class="verdict {verdict}"' in reports(tmp_path / "r")[".html"].read_text()
    assert record["venv"]["kept"] is False and not Path(record["venv"]["python"]).exists()


@needs_free_threading
def test_gate_runs_scenarios_against_installed_code_and_measures_throughput(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wheel = tiny_wheel(tmp_path, {"demo/__init__.py": b"", "demo/scenarios.py": SCENARIOS})
    code, output = gate(
        capsys, "--wheel", str(wheel), "--target", "demo.scenarios:ok", "--throughput-threads", "1,2",
        "--report-dir", str(tmp_path / "r"), *SMALL,
    )
    assert code == 0, output
    record = json.loads(reports(tmp_path / "r")[".json"].read_text())
    assert [s["status"] for s in record["scenarios"]] == ["passed"]
    assert [(row["threads"], row["status"]) for row in record["throughput"]] == [(1, "passed"), (2, "passed")]
    assert all(row["ops_per_s"] for row in record["throughput"])
    assert "<polyline" in reports(tmp_path / "r")[".html"].read_text()


@needs_free_threading
def test_gate_fires_on_a_failing_scenario(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wheel = tiny_wheel(tmp_path, {"demo/__init__.py": b"", "demo/scenarios.py": SCENARIOS})
    code, output = gate(
        capsys, "--wheel", str(wheel), "--target", "demo.scenarios:broken", "--report-dir", str(tmp_path / "r"), *SMALL
    )
    assert code == 1, output
    record = json.loads(reports(tmp_path / "r")[".json"].read_text())
    (scenario,) = record["scenarios"]
    assert scenario["status"] == "failed" and scenario["errors"][0]["type"].endswith("ValueError")
    assert "-m harness gate --wheel" in scenario["rerun"] and "--seed 7" in scenario["rerun"]
    assert record["throughput"] == []


@needs_free_threading
def test_failed_install_is_reported_and_exits_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UV_OFFLINE", "1")
    wheel = tiny_wheel(tmp_path, {"demo/__init__.py": b""}, requires=["ft-harness-no-such-dependency>=1"])
    code, output = gate(capsys, "--wheel", str(wheel), "--report-dir", str(tmp_path / "r"), *SMALL)
    assert code == 3, output
    assert "uv could not install" in output
    record = json.loads(reports(tmp_path / "r")[".json"].read_text())
    assert record["verdict"] == "error" and "ft-harness-no-such-dependency" in record["note"]


@needs_free_threading
def test_gil_forced_off_is_unfit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHON_GIL", "0")
    wheel = tiny_wheel(tmp_path, {"demo/__init__.py": b""})
    code, output = gate(capsys, "--wheel", str(wheel), "--report-dir", str(tmp_path / "r"), *SMALL)
    assert code == 3, output
    assert output.count("GIL is forced off") == 1 and "metadata" not in output, output
    assert json.loads(reports(tmp_path / "r")[".json"].read_text())["venv"] is None


@needs_free_threading
def test_unknown_scenario_is_bad_usage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wheel = tiny_wheel(tmp_path, {"demo/__init__.py": b"", "demo/scenarios.py": SCENARIOS})
    assert main(["gate", "--wheel", str(wheel), "--target", "demo.scenarios:ok", "--scenario", "nope"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "unknown scenario 'nope'" in err and len(err.splitlines()) == 1, out + err


def test_gate_project_wheel_is_safe(project_wheel: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, output = gate(
        capsys, "--wheel", str(project_wheel), "--report-dir", str(tmp_path / "r"), "--throughput-threads", "1,2",
        "--scenario", "per-thread-reference", "--scenario", "cold-start", *SMALL,
    )
    assert code == 0, output
    assert "targets: nvx" in output  # picked by the wheel's distribution name
    assert set(reports(tmp_path / "r")) == {".json", ".md", ".html"}
    record = json.loads(reports(tmp_path / "r")[".json"].read_text())
    assert record["wheel"]["tags"][0].startswith("cp314-cp314t-")
    audited = {row["module"]: row["status"] for row in record["imports"]}
    assert audited.get("nvx._nvx_cffi") == "gil-free" and audited.get("nvx") == "gil-free"
    assert {row["threads"] for row in record["throughput"]} == {1, 2}
    assert "<polyline" in reports(tmp_path / "r")[".html"].read_text()


def one_usage_line(code: int, output: str, expected: str) -> None:
    assert code == 2, output
    errors = [line for line in output.splitlines() if "error:" in line]
    assert len(errors) == 1 and expected in errors[0], output


def test_project_wheel_offered_to_a_gil_gate(project_wheel: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, output = gate(capsys, "--wheel", str(project_wheel), "--expect-abi", "cp314")
    one_usage_line(code, output, "ABI tag cp314t, expected exactly cp314 (a free-threaded wheel offered to a GIL gate)")


def test_gil_wheel_offered_to_the_free_threaded_gate(
    project_wheel: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gil_wheel = retagged_copy(project_wheel, tmp_path, filename_abi="cp314", wheel_file_abi="cp314")
    code, output = gate(capsys, "--wheel", str(gil_wheel))
    expected = "ABI tag cp314, expected exactly cp314t (a GIL wheel offered to the free-threaded gate)"
    one_usage_line(code, output, expected)


def test_renamed_wheel_is_refused(project_wheel: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    renamed = retagged_copy(project_wheel, tmp_path, filename_abi="cp314", wheel_file_abi="cp314t")
    code, output = gate(capsys, "--wheel", str(renamed))
    one_usage_line(code, output, "disagree with the WHEEL file's Tag lines")


def test_truncated_wheel_is_refused(project_wheel: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    truncated = tmp_path / project_wheel.name
    truncated.write_bytes(project_wheel.read_bytes()[:4096])
    code, output = gate(capsys, "--wheel", str(truncated))
    one_usage_line(code, output, "is not a readable wheel")


@needs_free_threading
def test_callers_pythonpath_cannot_shadow_the_installed_wheel(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    shadow = tmp_path / "shadow" / "demo"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('the source tree, not the wheel')\n")
    monkeypatch.setenv("PYTHONPATH", str(shadow.parent))
    wheel = tiny_wheel(tmp_path, {"demo/__init__.py": b"", "demo/scenarios.py": SCENARIOS})
    code, output = gate(
        capsys, "--wheel", str(wheel), "--target", "demo.scenarios:ok", "--throughput-threads", "1",
        "--report-dir", str(tmp_path / "r"), *SMALL,
    )
    assert code == 0, output
    assert "import demo: gil-free" in output and "PYTHONPATH is not passed on" in output
    record = json.loads(reports(tmp_path / "r")[".json"].read_text())
    assert record["ignored_pythonpath"] == str(shadow.parent)
    assert [s["status"] for s in record["scenarios"]] == ["passed"]
    assert str(shadow.parent) in reports(tmp_path / "r")[".md"].read_text()


@needs_free_threading
def test_a_throughput_run_that_fails_keeps_its_evidence(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A scenario passing at the gate's thread count failed at a throughput run's: its traceback and rerun were lost
    (only its status was kept)."""
    wheel = tiny_wheel(tmp_path, {"demo/__init__.py": b"", "demo/scenarios.py": SCENARIOS})
    code, output = gate(capsys, "--wheel", str(wheel), "--target", "demo.scenarios:broken_with_three_threads",
                        "--throughput-threads", "1,3", "--report-dir", str(tmp_path / "r"), *SMALL)
    assert code == 1, output
    record = json.loads(reports(tmp_path / "r")[".json"].read_text())
    assert [(row["threads"], row["status"]) for row in record["throughput"]] == [(1, "passed"), (3, "failed")]
    passed, failed = record["scenarios"]
    assert passed["status"] == "passed" and failed["name"] == "broken_with_three_threads @ 3 threads"
    assert "thread 2 broke" in failed["errors"][0]["first_traceback"] and "--threads 3" in failed["rerun"]
    assert "thread 2 broke" in output and f"rerun: {failed['rerun']}" in output
    assert "thread 2 broke" in reports(tmp_path / "r")[".md"].read_text()
