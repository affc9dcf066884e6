"""``ft-harness bench nvx --quick``: the benchmark runs end to end and reports the agreed structure.

Speed is not asserted here (that is what the benchmark itself reports); only shape and completeness.
"""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from harness.targets.nvx import bench
from harness.targets.nvx.bench import _nvx_render

PEERS = {"autobahn", "websockets", "bytes.decode"}


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    reports = tmp_path_factory.mktemp("reports")
    done = run_cli("bench", "nvx", "--quick", "--report-dir", str(reports), "--gil-python", "none",
                   cwd=Path(__file__).resolve().parents[1])
    return done, reports


def only(reports: Path, suffix: str) -> Path:
    (path,) = reports.glob(f"nvx-*{suffix}")
    return path


@pytest.mark.thread_unsafe(reason="runs a CPU-bound benchmark in a subprocess; copies would only compete")
def test_quick_profile_prints_every_section(quick_run) -> None:
    done, _ = quick_run
    assert done.returncode == 0, done.stderr
    for title in ("Throughput", "Our NVX at each SIMD level", "Cost of one call", "Masking one frame", "Thread scaling",
                  "Targets"):
        assert title in done.stdout
    assert "issue" not in done.stdout  # section titles are for users, not the project's tracker
    assert "reports: " in done.stdout


@pytest.mark.thread_unsafe(reason="reads the files of the module-scoped benchmark run")
def test_quick_profile_writes_json_markdown_and_svg(quick_run) -> None:
    _, reports = quick_run
    record = json.loads(only(reports, ".json").read_text())
    assert record["benchmark"] == "nvx" and record["profile"] == "quick"
    assert set(record["peers"]) == PEERS
    assert all(isinstance(peer["available"], bool) for peer in record["peers"].values())
    assert [(r["operation"], r["corpus"]) for r in record["throughput"]] == [
        ("validate", "ascii"), ("validate", "mixed"), ("validate", "emoji"), ("validate", "error"),
        ("mask", "random")]
    for row in record["throughput"] + record["per_call"]:
        assert "nvx" in row["results"]
        assert set(row["results"]) <= {"nvx"} | PEERS
    assert [(r["operation"], r["bytes"]) for r in record["per_call"]] == [
        (op, size) for size in (16, 64, 128) for op in ("validate", "mask")]
    assert {r["corpus"] for r in record["levels"]} == {"mixed", "random"}
    assert "memory read bound (memchr)" in record["levels"][0]["results"]
    call_path = record["call_path"]
    assert all(r["best_ns"] > 0 and r["bytes"] == 128 for r in call_path)
    assert len({r["step"] for r in call_path}) == len(call_path)  # steps are timed by name: one each
    for operation in ("validate", "process", "mask"):
        steps = [r for r in call_path if r["operation"] == operation]
        # the no-op with the same signature first (the floor), cffi's call into NVX, the whole call, and the
        # least wrapper pure CFFI needs around the no-op
        assert [r["step"].split(":")[0] for r in steps] == ["cffi no-op", "cffi call", "whole call", "least wrapper"]
        assert steps[0]["vs_noop"] == 1.0 and all(r["vs_noop"] > 0 for r in steps)
    assert [r["bytes"] for r in record["per_frame"]] == [128, 1 << 10, 16 << 10, 64 << 10, 1 << 20, 8 << 20]
    for row in record["per_frame"]:
        assert {"nvx", "nvx.mask", "cffi floor"} <= set(row["results"]) <= {
            "nvx", "nvx.mask", "cffi floor", "autobahn", "websockets"}
        assert set(row["ratios"]) == set(row["results"]) - {"nvx"}
        assert set(row["one_shot_ratios"]) == set(row["results"]) - {"nvx", "nvx.mask"}
    assert record["scaling"]["gil"] == {"available": False, "reason": record["scaling"]["gil"]["reason"]}
    free_threaded = record["scaling"]["free-threaded"]
    if free_threaded["available"]:
        assert {row["threads"] for row in free_threaded["rows"]} >= {1}
        assert all(row["speedup"] > 0 and row["cpu_efficiency"] > 0 for row in free_threaded["rows"])
    assert [t["target"] for t in record["targets"]] == [t[0] for t in _nvx_render.TARGETS]
    assert only(reports, ".md").read_text().startswith("# NVX benchmark")
    chart = ElementTree.fromstring(only(reports, ".svg").read_text())
    assert chart.tag.endswith("svg") and len(chart) > 5
    assert not list(reports.glob(".*.tmp"))


@pytest.mark.thread_unsafe(reason="reads the files of the module-scoped benchmark run")
def test_absent_peers_are_reported_not_faked(quick_run) -> None:
    _, reports = quick_run
    record = json.loads(only(reports, ".json").read_text())
    for name, peer in record["peers"].items():
        measured = any(name in row["results"] for row in record["throughput"] + record["per_call"])
        if name in ("autobahn", "websockets"):
            assert all((name in row["results"]) == peer["available"] for row in record["per_frame"]), name
        assert measured == peer["available"], name
        if not peer["available"]:
            assert peer["reason"]


def test_benchmarks_are_discovered_without_helpers() -> None:
    names = bench.available()
    assert "nvx" in names
    assert not [name for name in names if name.startswith("_")]


@pytest.mark.parametrize(
    ("args", "message"),
    [(("bench", "nope"), "unknown benchmark 'nope'"), (("bench", "nvx", "--rounds", "0"), "positive whole number")],
)
def test_bad_usage_is_one_line_exit_2(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    done = run_cli(*args, cwd=tmp_path)
    assert done.returncode == 2
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_targets_give_the_best_pure_cffi_allows_beside_the_figure_reached() -> None:
    """The bound of a per-call goal is the least wrapper plus NVX's C over the no-op; that of a per-frame goal
    is the peer's time over the cffi floor's (a synthetic record, so each figure is known)."""
    steps = {"cffi no-op": 1.0, "cffi call": 1.25, "whole call": 1.7, "least wrapper": 1.4}
    call_path = [{"operation": op, "step": f"{step}: x", "vs_noop": value}
                 for op in ("validate", "process") for step, value in steps.items()]
    per_frame = [{"bytes": size, "results": {"nvx": {"best_ns": 1000.0}, "cffi floor": {"best_ns": 400.0},
                                             "websockets": {"best_ns": 200.0}}} for size in (1 << 10, 64 << 10)]
    record = {"throughput": [], "call_path": call_path, "per_frame": per_frame,
              "scaling": {"free-threaded": {"available": False}}}
    rows = {row["target"]: row for row in _nvx_render.targets(record)}
    validate = rows["whole validate, 128 B, over cffi's call into a no-op with its signature"]
    assert validate["value"] == 1.7 and validate["met"] is False
    assert validate["cffi_bound"] == pytest.approx(1.65)
    frame = rows["mask per frame (masker built per frame), 1 KiB, vs websockets"]
    assert frame["value"] == pytest.approx(0.2) and frame["cffi_bound"] == pytest.approx(0.5)
    assert rows["free-threaded, 128 B frames, 2 threads vs 1"]["cffi_bound"] is None
