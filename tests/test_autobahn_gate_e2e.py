"""End to end on the real thing: build autobahn's cp314t wheel from its PyPI sdist and gate it.

Opt-in (several minutes on two cores: ~30 s wheel build, fresh-venv install, 91-module import audit, the
target's scenarios, then the gate's throughput runs): set ``FT_HARNESS_E2E_AUTOBAHN=1``. Skips with a reason
on a GIL build, without a C compiler, or when PyPI cannot be reached.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from harness.targets.autobahn import TARGET
from tests.support.markers import needs_free_threading

AUTOBAHN = "autobahn==26.10.2"
OPT_IN = "FT_HARNESS_E2E_AUTOBAHN"

pytestmark = [
    needs_free_threading,
    pytest.mark.skipif(os.environ.get(OPT_IN) != "1", reason=f"slow end-to-end gate of autobahn: set {OPT_IN}=1"),
    pytest.mark.skipif(shutil.which("cc") is None and shutil.which("gcc") is None,
                       reason="building autobahn's NVX extensions needs a C compiler"),
    pytest.mark.thread_unsafe(reason="builds a wheel and runs the gate in subprocesses"),
    pytest.mark.timeout(1800),
]


def _pypi_reachable() -> bool:
    try:
        socket.create_connection(("pypi.org", 443), timeout=5).close()
    except OSError:
        return False
    return True


@pytest.fixture(scope="module")
def autobahn_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """autobahn's cp314t wheel, built from the sdist by pip under this (free-threaded) interpreter."""
    if not _pypi_reachable():
        pytest.skip("PyPI (pypi.org:443) is not reachable")
    work = tmp_path_factory.mktemp("autobahn-build")
    builder = work / "venv"
    subprocess.run(["uv", "venv", "--no-project", "--python", sys.executable, str(builder)], check=True)
    subprocess.run(["uv", "pip", "install", "--python", str(builder / "bin" / "python"), "pip"], check=True)
    subprocess.run(
        [str(builder / "bin" / "python"), "-m", "pip", "wheel", "--no-deps", "--no-binary", "autobahn",
         AUTOBAHN, "-w", str(work / "dist")],
        check=True,
    )
    (wheel,) = (work / "dist").glob("autobahn-*-cp314-cp314t-*.whl")
    return wheel


def test_gate_judges_the_real_autobahn_wheel(autobahn_wheel: Path, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    done = subprocess.run(
        [sys.executable, "-m", "harness", "gate", "--wheel", str(autobahn_wheel), "--target", "autobahn",
         "--report-dir", str(reports)],
        capture_output=True,
        text=True,
    )
    output = done.stdout + done.stderr
    assert done.returncode in (0, 1), output
    (json_report,) = reports.glob("*.json")
    assert len(list(reports.glob("*.md"))) == 1 and len(list(reports.glob("*.html"))) == 1, output
    record = json.loads(json_report.read_text(encoding="utf-8"))
    assert record["verdict"] == ("safe" if done.returncode == 0 else "unsafe")
    assert f"verdict: {record['verdict']}" in output
    audited = {entry["module"]: entry for entry in record["imports"]}
    assert {"_nvx_utf8validator", "_nvx_xormasker", "autobahn.websocket.protocol"} <= set(audited)
    assert {s["name"] for s in record["scenarios"]} == {spec.name for spec in TARGET.scenarios}
    for scenario in record["scenarios"]:
        assert scenario["rerun"] and "--scenario " + scenario["name"] in scenario["rerun"]
