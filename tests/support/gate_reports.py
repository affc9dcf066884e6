"""Gate JSON reports as a gate on another machine would write them, for the release tests: the identity
comes from the real :class:`harness.pipeline.record.ArtifactIdentity` over the fixture wheel."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from harness.pipeline.record import ArtifactIdentity
from harness.wheel.tags import read_wheel


def write_gate_report(
    directory: Path,
    wheel: Path,
    *,
    platform: str,
    verdict: str = "safe",
    audit_only: bool = False,
    free_threading_verdict: bool = True,
    gil_enabled: Sequence[str] = (),
    interpreter_version: str = "3.14.7",
) -> Path:
    """Write ``<directory>/gate-<wheel stem>-<platform>.json`` for ``wheel`` as gated on ``platform``."""
    info = read_wheel(wheel)
    abi = sorted(info.abis)[-1]
    imports = [{"module": m, "status": "gil-enabled", "gil_enabled_after": True} for m in gil_enabled]
    record = {
        "run_id": f"gate-{wheel.stem}-{platform}",
        "kind": "gate",
        "verdict": verdict,
        "exit_code": {"safe": 0, "unsafe": 1}.get(verdict, 3),
        "audit_only": audit_only,
        "free_threading_verdict": free_threading_verdict,
        "note": "a module re-enabled the GIL" if gil_enabled else "",
        "wheel": {"file": wheel.name},
        "interpreter": {"version": interpreter_version, "free_threaded": True},
        "imports": imports,
        "scenarios": [],
        "artifact": ArtifactIdentity.of(info, abi, platform, interpreter_version).to_json(),
    }
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{record['run_id']}.json"
    path.write_text(json.dumps(record), encoding="utf-8")
    return path
