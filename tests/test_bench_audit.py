"""``bench audit`` (README's Benchmarks): the three audit methods on the same modules, same verdicts."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.audit import zygote
from tests.support.markers import needs_free_threading
from tests.test_cli_core import harness


@needs_free_threading
@pytest.mark.skipif(not zygote.available(), reason="the zygote forks (Linux)")
def test_bench_audit_compares_the_methods_on_a_target(tmp_path: Path) -> None:
    proc = harness(tmp_path, "bench", "audit", "--target", "nvx", "--rounds", "1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    methods = [line.split(":")[0].strip() for line in proc.stdout.splitlines() if "modules/s" in line]
    assert methods == ["spawn", "fork", "fork+preload"], proc.stdout
    assert "target nvx: 5 modules" in proc.stdout and "verdicts identical" in proc.stdout


def test_bench_audit_without_modules_is_one_line_exit_2(tmp_path: Path) -> None:
    proc = harness(tmp_path, "bench", "audit")
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stdout + proc.stderr
