"""Thread scaling of NVX, measured inside the interpreter being judged (run as a child process).

Every thread gets its own validator, masker and private copy of the payload (nothing shared, so only the
interpreter and NVX decide how well it scales). Threads start together from a barrier; throughput is
total work over wall time, best of k rounds. A control workload with no NVX in it (a Python function
that builds the same kind of tuple) shows how well this machine scales plain Python in the same run: on a
shared 2-CPU VM that ceiling moves from run to run. Usage: ``python -m harness.targets.nvx.bench._nvx_scaling '<json>'``
with keys threads, calls, large_size, large_calls, rounds; prints one JSON object on stdout.
"""

from __future__ import annotations

import json
import platform
import sys
import sysconfig
import threading
import time
from collections.abc import Callable
from itertools import repeat
from typing import Any

from harness.targets.nvx.bench._nvx_corpus import frame, text

SMALL = 128
CONTROL = "control: Python call, no NVX"


def _python_call(data: bytes) -> tuple[bool, bool, int, int]:
    return (True, True, len(data), len(data))


def _workloads(large_size: int) -> dict[str, tuple[str, int, Callable[[Any], Callable[[], object]]]]:
    """name -> (kind of rate, bytes per call, factory that builds one thread's call from nvx)."""

    def validate(payload: bytes, reset: bool) -> Callable[[Any], Callable[[], object]]:
        def build(nvx: Any) -> Callable[[], object]:
            validator, data = nvx.Utf8Validator(), bytes(bytearray(payload))
            if not reset:
                return lambda: validator.validate(data)
            return lambda: (validator.reset(), validator.validate(data))

        return build

    def mask(payload: bytes) -> Callable[[Any], Callable[[], object]]:
        def build(nvx: Any) -> Callable[[], object]:
            masker, data = nvx.XorMasker(b"\x8a\x13\x5c\xe7"), bytes(bytearray(payload))
            return lambda: masker.process(data)

        return build

    def control(nvx: Any) -> Callable[[], object]:
        data = bytes(bytearray(frame(SMALL)))
        return lambda: _python_call(data)

    large = text("mixed", large_size)
    return {
        CONTROL: ("calls/s", SMALL, control),
        f"validate {SMALL} B": ("calls/s", SMALL, validate(frame(SMALL), reset=False)),
        f"mask {SMALL} B": ("calls/s", SMALL, mask(frame(SMALL))),
        f"validate {len(large) >> 10} KiB": ("GB/s", len(large), validate(large, reset=True)),
        f"mask {len(large) >> 10} KiB": ("GB/s", len(large), mask(large)),
    }


def _run(build: Callable[[Any], Callable[[], object]], nvx: Any, threads: int, calls: int) -> tuple[float, float]:
    """(wall seconds, mean CPU seconds per thread) for ``threads`` threads doing ``calls`` calls each.

    The wall time runs from the first thread's start to the last thread's end, as seen by the threads
    (on a GIL build the main thread might only wake up after the workers are done).
    """
    barrier = threading.Barrier(threads)
    spans: list[tuple[float, float, float]] = []

    def worker() -> None:
        call = build(nvx)
        barrier.wait()
        start, cpu = time.perf_counter(), time.thread_time()
        for _ in repeat(None, calls):
            call()
        spans.append((start, time.perf_counter(), time.thread_time() - cpu))

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    wall = max(end for _, end, _ in spans) - min(start for start, _, _ in spans)
    return wall, sum(cpu for _, _, cpu in spans) / threads


def measure(threads: list[int], calls: int, large_size: int, large_calls: int, rounds: int) -> dict[str, Any]:
    """Scaling rows for every workload and thread count, plus the facts of this interpreter.

    ``speedup`` is wall-clock throughput over the one-thread figure (what the user gets, and what other
    processes on a shared machine disturb most); ``cpu_efficiency`` is the one-thread CPU time per call
    over the CPU time per call with N threads, 1.0 meaning that threads do not slow each other down
    (contention). On a GIL build waiting threads burn no CPU, so only the speedup tells there.
    """
    import nvx

    rows = []
    for name, (unit, size, build) in _workloads(large_size).items():
        per_thread = large_calls if unit == "GB/s" else calls
        # Thread counts take turns within each round, so a busy spell on the machine hits them alike.
        samples: dict[int, list[tuple[float, float]]] = {count: [] for count in threads}
        for _ in range(rounds):
            for count in threads:
                samples[count].append(_run(build, nvx, count, per_thread))
        base_rate = base_cpu = None
        for count in threads:
            runs = sorted(samples[count])
            work = count * per_thread * (size / 1e9 if unit == "GB/s" else 1)
            best, median = work / runs[0][0], work / runs[len(runs) // 2][0]
            cpu_per_call = min(cpu for _, cpu in runs) / per_thread
            base_rate, base_cpu = base_rate or best, base_cpu or cpu_per_call
            rows.append({"workload": name, "threads": count, "unit": unit, "best": best, "median": median,
                         "speedup": best / base_rate, "cpu_ns_per_call": cpu_per_call * 1e9,
                         "cpu_efficiency": base_cpu / cpu_per_call})
    return {"interpreter": _facts(nvx), "rows": rows}


def _facts(nvx: Any) -> dict[str, Any]:
    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    level = getattr(getattr(nvx, "_compiled", None), "BEST_LEVEL", None) if nvx.BACKEND == "cffi" else None
    return {
        "executable": sys.executable,
        "version": platform.python_version(),
        "free_threaded": bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
        "gil_enabled": bool(gil),
        "nvx_backend": nvx.BACKEND,
        "nvx_level": level,
    }


def main(argv: list[str]) -> int:
    params = json.loads(argv[1])
    try:
        import nvx
    except ImportError as exc:
        print(json.dumps({"absent": f"nvx is not importable here: {exc}"}))
        return 0
    if nvx.BACKEND != "cffi":
        print(json.dumps({"absent": "nvx here has no compiled backend (install ft-harness into this interpreter)"}))
        return 0
    print(json.dumps(measure(**params)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
