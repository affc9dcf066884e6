"""The built-in ``nvx`` target: our NVX (compiled cffi backend and pure-Python backend) as data.

Every kind of scenario runs on both backends: ``<kind>`` on the compiled one, ``pure-<kind>`` on the pure
one (classes in :mod:`harness.targets.nvx.scenarios`). Per-scenario sizes keep the default
``stress --target nvx`` a serious run that still ends well within a minute on two cores.
"""

from __future__ import annotations

from typing import Any

from harness.targets import ScenarioSpec, Target

_SCENARIOS = "harness.targets.nvx.scenarios"

# (name, class, what it checks, sizes); the pure backend's class is "Pure" + class.
_KINDS: tuple[tuple[str, str, str, dict[str, Any]], ...] = (
    ("per-thread-reference", "PerThreadReference",
     "per-thread instances agree with the reference over random chunkings (compiled: nvx._pure at every "
     "SIMD level; pure: bytes.decode and a plain XOR)", {"iterations": 100}),
    ("shared-instance", "SharedInstance",
     "one validator and masker shared by all threads: consistent results, atomic calls, no byte lost", {}),
    ("churn-gc", "Churn",
     "objects made, checked and dropped in cycles while another thread runs gc.collect()",
     {"rounds": 8, "iterations": 8}),
    ("cold-start", "ColdStart",
     "all threads import the backend and make their first call at once, then race fresh instances",
     {"iterations": 1}),
)

TARGET = Target(
    name="nvx",
    description="NVX: incremental UTF-8 validation and WebSocket XOR masking (cffi and pure-Python backends)",
    modules=("nvx", "nvx._compiled", "nvx._nvx_cffi", "nvx._pure", "_cffi_backend"),
    scenarios=tuple(
        ScenarioSpec(name=prefix + name, ref=f"{_SCENARIOS}:{class_prefix}{cls}",
                     description=f"{backend}: {description}", **sizes)
        for prefix, class_prefix, backend in (("", "", "compiled"), ("pure-", "Pure", "pure"))
        for name, cls, description, sizes in _KINDS
    ),
    distributions=("ft-harness",),
)
