"""The built-in ``nvx`` target: our NVX (compiled cffi backend and pure-Python backend) as data.

The scenarios live in :mod:`harness.targets.nvx_scenarios`; per-scenario sizes keep the default
``stress --target nvx`` a serious run that still ends well within a minute on two cores.
"""

from __future__ import annotations

from harness.targets import ScenarioSpec, Target

_SCENARIOS = "harness.targets.nvx_scenarios"


def _spec(name: str, cls: str, description: str, **sizes: int) -> ScenarioSpec:
    return ScenarioSpec(name=name, ref=f"{_SCENARIOS}:{cls}", description=description, **sizes)


TARGET = Target(
    name="nvx",
    description="NVX: incremental UTF-8 validation and WebSocket XOR masking (cffi and pure-Python backends)",
    modules=("nvx", "nvx._compiled", "nvx._nvx_cffi", "nvx._pure", "_cffi_backend"),
    scenarios=(
        _spec("per-thread-reference", "PerThreadReference",
              "per-thread compiled instances (every SIMD level) agree with nvx._pure over random chunkings",
              iterations=60),
        _spec("shared-instance", "SharedInstance",
              "one compiled validator and masker shared by all threads: consistent, atomic, nothing lost",
              iterations=150),
        _spec("churn-gc", "Churn",
              "compiled objects made and dropped in cycles while another thread runs gc.collect()",
              rounds=10, iterations=40),
        _spec("cold-start", "ColdStart",
              "all threads import nvx and make their first call at once, then race fresh instances",
              iterations=1),
        _spec("pure-per-thread", "PurePerThread",
              "per-thread pure instances agree with bytes.decode and a plain XOR over random chunkings",
              iterations=60),
        _spec("pure-shared-instance", "PureSharedInstance",
              "one pure validator and masker shared by all threads: consistent, atomic, nothing lost",
              iterations=150),
        _spec("pure-churn-gc", "PureChurn",
              "pure objects made and dropped in cycles while another thread runs gc.collect()",
              rounds=10, iterations=40),
        _spec("pure-cold-start", "PureColdStart",
              "all threads import the pure backend and make their first call at once",
              iterations=1),
    ),
    distributions=("ft-harness",),
)
