"""``bench nvx``: our NVX against its peers, in one run, on this machine.

Measures, side by side: UTF-8 validation throughput (ASCII, mixed European/CJK text, emoji, valid text
with one error at the end) for our NVX, autobahn's NVX and ``bytes.decode``; XOR masking throughput for
our NVX, autobahn's NVX and ``websockets.speedups.apply_mask``; the cost of one call on 16/64/128-byte
frames, Python call included; where one 128-byte call's time goes (cffi's own call into NVX and into a
no-op C function with the same signature, and the least Python wrapper any pure-CFFI implementation of the
same API needs around that no-op, beside the whole call); masking one frame as a WebSocket sender does (a
masker built per frame, as autobahn does, or ``nvx.mask``, beside the cffi floor: the result allocated and
one cffi call into NVX's C, nothing else) from 128 B to 8 MiB; and
thread scaling (per-thread instances) on the free-threaded build and, when one is available, on a GIL
build, each in its own child process. Peers that are not installed are
reported as absent. Every figure is the best of k interleaved rounds, with the spread; ratios compare
figures of the same run. Prints a table and writes ``nvx-<time>.json``, ``.md`` and ``.svg`` (a chart)
to the report folder. ``--quick`` is a seconds-long profile for CI; figures from it are not meaningful.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import sysconfig
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from itertools import repeat
from pathlib import Path
from typing import Any

from harness import EXIT_SAFE, UsageError
from harness.interpreter import find as interpreter_find
from harness.interpreter.children import child_env, harness_command
from harness.interpreter.facts import probe
from harness.report import render_json, write_files
from harness.settings import positive_count
from harness.targets.nvx.bench import _nvx_render
from harness.targets.nvx.bench._nvx_corpus import CORPORA, frame, text
from harness.targets.nvx.bench._timing import Timing, interleaved

FT_REQUEST, GIL_REQUEST = "3.14t", "3.14"
FRAME_SIZES = (16, 64, 128)
CALL_PATH_BYTES = 128
MASK_FRAME_SIZES = (128, 1 << 10, 16 << 10, 64 << 10, 1 << 20, 8 << 20)
ONE_SHOT = "nvx.mask"
FLOOR = "cffi floor"
READ_BOUND = "memory read bound (memchr)"
MASK = b"\x8a\x13\x5c\xe7"
OURS = "nvx"
CHILD_TIMEOUT_S = 600


@dataclass(frozen=True)
class Profile:
    size: int  # bytes of each throughput buffer
    rounds: int  # interleaved rounds per throughput figure (best-of-k)
    calls: int  # calls per timed loop for per-call costs (short loops dodge a busy machine's preemption)
    call_rounds: int  # interleaved rounds per per-call figure
    frame_bytes: int  # bytes masked per timed loop of the per-frame figures (at least one frame)
    scaling_calls: int  # small-frame calls per thread
    large_size: int  # bytes per call in the large-buffer scaling workloads
    large_calls: int  # large calls per thread
    scaling_rounds: int


FULL = Profile(8 << 20, 9, 2_000, 30, 1 << 20, 50_000, 1 << 20, 200, 9)
QUICK = Profile(256 << 10, 2, 500, 2, 64 << 10, 2_000, 64 << 10, 20, 1)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="a few seconds, for CI (figures not meaningful)")
    parser.add_argument("--rounds", type=positive_count, metavar="K", help="interleaved rounds per figure (best of K)")
    parser.add_argument("--size-mib", type=positive_count, metavar="N", help="throughput buffer size (default 8)")
    parser.add_argument("--max-threads", type=positive_count, metavar="N",
                        help=f"largest thread count for scaling (default os.cpu_count() = {os.cpu_count()})")
    parser.add_argument("--report-dir", type=Path, default=Path("reports"), metavar="DIR",
                        help="folder for the JSON, Markdown and SVG reports (default reports/)")
    parser.add_argument("--ft-python", metavar="PATH",
                        help=f"free-threaded interpreter for the scaling run (default: this one if it is "
                             f"free-threaded, else the {FT_REQUEST} interpreter found like --python {FT_REQUEST})")
    parser.add_argument("--gil-python", metavar="PATH",
                        help=f"GIL interpreter for the comparison scaling run, 'none' to skip (default "
                             f"the {GIL_REQUEST} interpreter found like --python {GIL_REQUEST}, if any); it needs "
                             "ft-harness (nvx) installed")


def run(args: argparse.Namespace) -> int:
    profile = _profile(args)
    pythons = {"free-threaded": _ft_python(args.ft_python), "gil": _gil_python(args.gil_python)}
    threads = _thread_counts(args.max_threads or os.cpu_count() or 1)
    started = time.time()
    load_before = _loadavg()
    peers = _peers()
    import nvx

    if nvx.BACKEND != "cffi":
        raise UsageError("nvx's compiled backend is not importable here; install ft-harness with its extension")
    record: dict[str, Any] = {
        "benchmark": "nvx",
        "profile": "quick" if args.quick else "full",
        "settings": asdict(profile),
        "command": " ".join(shlex.quote(a) for a in [Path(sys.executable).name, "-m", "harness", *sys.argv[1:]]),
        "started": datetime.fromtimestamp(started, UTC).isoformat(timespec="seconds"),
        "interpreter": _interpreter(),
        "nvx": {"backend": nvx.BACKEND, "level": nvx._compiled.BEST_LEVEL,
                "levels": list(nvx._compiled.AVAILABLE_LEVELS)},
        "peers": {name: peer.status for name, peer in peers.items()},
        "throughput": _throughput(profile, peers),
        "levels": _levels(profile),
        "per_call": _per_call(profile, peers),
        "call_path": _call_path(profile),
        "per_frame": _per_frame(profile, peers),
    }
    record["scaling"] = {build: _scaling(python, profile, threads) for build, python in pythons.items()}
    record["targets"] = _nvx_render.targets(record)
    record["noise"] = {"cpu_count": os.cpu_count(), "loadavg_before": load_before, "loadavg_after": _loadavg()}
    record["duration_s"] = round(time.time() - started, 2)
    print(_nvx_render.text_table(record))
    stem = "nvx-" + datetime.fromtimestamp(started, UTC).strftime("%Y%m%dT%H%M%SZ")
    paths = write_files(args.report_dir, {f"{stem}.json": render_json(record),
                                          f"{stem}.md": _nvx_render.markdown(record),
                                          f"{stem}.svg": _nvx_render.svg(record)})
    print("reports: " + ", ".join(str(p) for p in paths))
    return EXIT_SAFE


# ------------------------------------------------------------------------------------------ peers


@dataclass(frozen=True)
class Peer:
    """A peer implementation: its status for the report, and its callables when it is installed."""

    status: dict[str, Any]
    validator: Callable[[], Any] | None = None  # makes an object with .validate(data) and .reset()
    masker: Callable[[bytes, int], Any] | None = None  # (mask, length) -> object with .process(data)
    apply_mask: Callable[[bytes, bytes], bytes] | None = None


def _peers() -> dict[str, Peer]:
    peers = {}
    try:
        from autobahn import __version__ as autobahn_version
        from autobahn.nvx._utf8validator import Utf8Validator
        from autobahn.nvx._xormasker import create_xor_masker

        Utf8Validator().validate(b"probe")
        peers["autobahn"] = Peer({"available": True, "version": autobahn_version}, Utf8Validator,
                                 create_xor_masker)
    except Exception as exc:  # any failure (not installed, NVX not compiled) means absent
        peers["autobahn"] = Peer({"available": False, "reason": f"{type(exc).__name__}: {exc}"})
    try:
        from websockets import __version__ as websockets_version
        from websockets.speedups import apply_mask

        peers["websockets"] = Peer({"available": True, "version": websockets_version}, apply_mask=apply_mask)
    except Exception as exc:
        peers["websockets"] = Peer({"available": False, "reason": f"{type(exc).__name__}: {exc}"})
    peers["bytes.decode"] = Peer({"available": True, "version": platform.python_version()})
    return peers


# ------------------------------------------------------------------------------------ measurements


def _throughput(profile: Profile, peers: dict[str, Peer]) -> list[dict[str, Any]]:
    import nvx

    rows = []
    for corpus in CORPORA:
        data = text(corpus, profile.size)
        candidates = {OURS: _validate_whole(nvx.Utf8Validator(), data)}
        if peers["autobahn"].validator:
            candidates["autobahn"] = _validate_whole(peers["autobahn"].validator(), data)
        candidates["bytes.decode"] = _bind(_decode, data)
        rows.append(_rates("validate", corpus, len(data), candidates, profile.rounds))
    payload = os.urandom(profile.size)
    maskers: dict[str, Callable[[bytes], object]] = {OURS: nvx.XorMasker(MASK).process}
    if peers["autobahn"].masker:
        maskers["autobahn"] = peers["autobahn"].masker(MASK, len(payload)).process
    if peers["websockets"].apply_mask:
        maskers["websockets"] = functools.partial(_apply_mask, peers["websockets"].apply_mask)
    rows.append(_rates("mask", "random", len(payload), {k: _bind(f, payload) for k, f in maskers.items()},
                       profile.rounds))
    return rows


def _levels(profile: Profile) -> list[dict[str, Any]]:
    """Our NVX pinned to each SIMD level the CPU has, on mixed text and on masking, beside the memory read
    bandwidth of this machine (glibc's memchr scanning zeros for a byte that is not there: no validator
    can read a buffer faster, so at that figure validation is bound by memory, not by its code)."""
    from nvx import _compiled

    data, payload, zeros = text("mixed", profile.size), os.urandom(profile.size), bytes(profile.size)
    validate = {lv: _validate_whole(_compiled.Utf8Validator(level=lv), data) for lv in _compiled.AVAILABLE_LEVELS}
    validate[READ_BOUND] = lambda: zeros.find(b"\x01")
    mask = {lv: _bind(_compiled.XorMasker(MASK, level=lv).process, payload) for lv in _compiled.AVAILABLE_LEVELS}
    return [_rates("validate", "mixed", len(data), validate, profile.rounds),
            _rates("mask", "random", len(payload), mask, profile.rounds)]


def _per_call(profile: Profile, peers: dict[str, Peer]) -> list[dict[str, Any]]:
    import nvx

    rows = []
    for size in FRAME_SIZES:
        data = frame(size)
        candidates = {OURS: _loop(nvx.Utf8Validator().validate, data, profile.calls)}
        if peers["autobahn"].validator:
            candidates["autobahn"] = _loop(peers["autobahn"].validator().validate, data, profile.calls)
        candidates["bytes.decode"] = _loop(bytes.decode, data, profile.calls)
        rows.append(_costs("validate", size, candidates, profile))
        payload = os.urandom(size)
        candidates = {OURS: _loop(nvx.XorMasker(MASK).process, payload, profile.calls)}
        if peers["autobahn"].masker:
            candidates["autobahn"] = _loop(peers["autobahn"].masker(MASK, size).process, payload, profile.calls)
        if peers["websockets"].apply_mask:
            apply = functools.partial(_apply_mask, peers["websockets"].apply_mask)
            candidates["websockets"] = _loop(apply, payload, profile.calls)
        rows.append(_costs("mask", size, candidates, profile))
    return rows


def _call_path(profile: Profile) -> list[dict[str, Any]]:
    """Where one 128-byte call's time goes. For each per-message call: cffi's own call into a C function
    that does nothing but has the same signature (the floor cffi sets: argument tuple, conversions,
    detaching the thread), cffi's own call into NVX's function, our whole Python call, and the least wrapper
    a pure-CFFI implementation of the same API must put around the no-op (a Python call, ``len``, the result:
    a 4-tuple, or a fresh ``bytes`` for C to fill); ``vs_noop`` is each over the no-op, so the least wrapper's
    is the best ratio pure CFFI allows. Then what building a masker costs: cffi's ``ffi.new`` of its state,
    and the whole constructor."""
    from nvx import _compiled

    ffi, lib, n = _compiled.ffi, _compiled.lib, CALL_PATH_BYTES
    data, payload = frame(n), os.urandom(n)
    # The result buffer real calls pass: a private bytes object that C writes (never shared, never hashed).
    out = bytes(bytearray(n))
    validator, masker = _compiled.Utf8Validator(), _compiled.XorMasker(MASK)
    state, vstate, how = masker._state, validator._state, _compiled._BEST_HOW
    new, state_type, initial = ffi.new, _compiled._XOR_STATE, MASK + _compiled._BEST_BYTE
    groups = {
        "validate": {
            "cffi no-op: lib.nvx_noop_validate(state, data, n)": _loop_positional(
                lib.nvx_noop_validate, (vstate, data, n), profile.calls),
            "cffi call: lib.nvx_utf8_validate(state, data, n)": _loop_positional(
                lib.nvx_utf8_validate, (vstate, data, n), profile.calls),
            "whole call: Utf8Validator.validate(data)": _loop(validator.validate, data, profile.calls),
            "least wrapper: len(data), the no-op validate, a 4-tuple": _loop(
                _least_validate(lib.nvx_noop_validate, vstate), data, profile.calls),
        },
        "process": {
            "cffi no-op: lib.nvx_noop_process(state, data, out, n)": _loop_positional(
                lib.nvx_noop_process, (state, payload, out, n), profile.calls),
            "cffi call: lib.nvx_xor_process(state, data, out, n)": _loop_positional(
                lib.nvx_xor_process, (state, payload, out, n), profile.calls),
            "whole call: XorMasker.process(data)": _loop(masker.process, payload, profile.calls),
            "least wrapper: len(data), b'\\0' * n, the no-op process": _loop(
                _least_process(lib.nvx_noop_process, state), payload, profile.calls),
        },
        "mask": {
            "cffi no-op: lib.nvx_noop_mask(data, out, n, key, how)": _loop_positional(
                lib.nvx_noop_mask, (payload, out, n, MASK, how), profile.calls),
            "cffi call: lib.nvx_xor_mask(data, out, n, key, how)": _loop_positional(
                lib.nvx_xor_mask, (payload, out, n, MASK, how), profile.calls),
            "whole call: nvx.mask(data, key)": _loop_positional(_compiled.mask, (payload, MASK), profile.calls),
            "least wrapper: len(data), b'\\0' * n, the no-op mask": _loop_positional(
                _least_mask(lib.nvx_noop_mask, how), (payload, MASK), profile.calls),
        },
        "construct": {
            "cffi call, 1 argument: lib.nvx_xor_pointer(state)": _loop(lib.nvx_xor_pointer, state, profile.calls),
            "cffi ffi.new of a masker's state (key + level)": _loop_positional(
                new, (state_type, initial), profile.calls),
            "whole call: XorMasker(key)": _loop(_compiled.XorMasker, MASK, profile.calls),
        },
    }
    steps = {name: work for group in groups.values() for name, work in group.items()}
    timings = interleaved(steps, rounds=profile.call_rounds, units=profile.calls)
    rows = []
    for operation, group in groups.items():
        floor = timings[next(iter(group))].best_s
        for name in group:
            t = timings[name]
            rows.append({"operation": operation, "step": name, "bytes": n, "best_ns": t.best_s * 1e9,
                         "median_ns": t.median_s * 1e9, "spread_pct": t.spread_pct,
                         "vs_noop": t.best_s / floor if operation != "construct" else None})
    return rows


def _per_frame(profile: Profile, peers: dict[str, Peer]) -> list[dict[str, Any]]:
    """Masking one frame as a WebSocket sender does: our masker built per frame and used once (as autobahn
    does with ``create_xor_masker(mask, n).process(data)``), our one-shot ``nvx.mask(data, key)``,
    autobahn's per-frame masker, and websockets' ``apply_mask(data, mask)``; beside them the cffi floor, the
    least any pure-CFFI masking costs: the result allocated as ours is, and one cffi call into NVX's C, with no
    checks. ``ratios`` are the others' time over our masker's; ``one_shot_ratios`` the same over
    ``nvx.mask``'s. Where a peer's time over the floor's misses a target, pure CFFI cannot reach it."""
    import nvx
    from nvx import _compiled

    rows = []
    for size in MASK_FRAME_SIZES:
        payload, calls = os.urandom(size), max(1, min(profile.calls, profile.frame_bytes // size))
        candidates = {OURS: _masker_per_frame(nvx.XorMasker, (MASK,), payload, calls),
                      ONE_SHOT: _loop_positional(nvx.mask, (payload, MASK), calls),
                      FLOOR: _loop_positional(_least_mask(_compiled.lib.nvx_xor_mask, _compiled._BEST_HOW),
                                              (payload, MASK), calls)}
        if peers["autobahn"].masker:
            candidates["autobahn"] = _masker_per_frame(peers["autobahn"].masker, (MASK, size), payload, calls)
        if peers["websockets"].apply_mask:
            candidates["websockets"] = _loop_positional(peers["websockets"].apply_mask, (payload, MASK), calls)
        results = {}
        for name, times in _rotating_rounds(candidates, profile.call_rounds, calls).items():
            best, median = min(times), statistics.median(times)
            results[name] = {"best_ns": best * 1e9, "median_ns": median * 1e9,
                             "spread_pct": 100.0 * (median - best) / best, "best_gbps": size / best / 1e9}
        ratios = {name: r["best_ns"] / results[OURS]["best_ns"] for name, r in results.items() if name != OURS}
        one_shot = {name: r["best_ns"] / results[ONE_SHOT]["best_ns"] for name, r in results.items()
                    if name not in (OURS, ONE_SHOT)}
        rows.append({"operation": "mask per frame", "bytes": size, "calls": calls, "results": results,
                     "ratios": ratios, "one_shot_ratios": one_shot})
    return rows


def _scaling(python: str | None, profile: Profile, threads: list[int]) -> dict[str, Any]:
    """Run the scaling workloads in a child of ``python`` (absent when there is none)."""
    if python is None:
        return {"available": False, "reason": "skipped: no such interpreter here, or --gil-python none"}
    params = {"threads": threads, "calls": profile.scaling_calls, "large_size": profile.large_size,
              "large_calls": profile.large_calls, "rounds": profile.scaling_rounds}
    try:
        done = subprocess.run(harness_command(python, "harness.targets.nvx.bench._nvx_scaling", json.dumps(params)),
                              env=child_env(python), capture_output=True, text=True, timeout=CHILD_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {"available": False, "python": python, "reason": f"{type(exc).__name__}: {exc}"}
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"available": False, "python": python, "reason": f"child exited {done.returncode}: {tail}"}
    result = json.loads(done.stdout)
    if "absent" in result:
        return {"available": False, "python": python, "reason": result["absent"]}
    return {"available": True, "python": python, **result}


# ---------------------------------------------------------------------------------------- helpers


def _validate_whole(validator: Any, data: bytes) -> Callable[[], object]:
    def work() -> None:
        validator.reset()
        validator.validate(data)

    return work


def _least_validate(validate: Callable[[Any, bytes, int], int], state: Any) -> Callable[[bytes], tuple]:
    """The least Python any pure-CFFI ``validate(data)`` with NVX's result does around its C call."""

    def least(data: bytes) -> tuple[bool, bool, int, int]:
        length = len(data)
        return (True, True, length, validate(state, data, length))

    return least


def _least_process(process: Callable[[Any, bytes, bytes, int], None], state: Any) -> Callable[[bytes], bytes]:
    """The least Python any pure-CFFI ``process(data)`` does: the fresh result (zero-filled, the cheapest way
    at 128 B) and the C call that fills it."""

    def least(data: bytes) -> bytes:
        length = len(data)
        out = b"\0" * length
        process(state, data, out, length)
        return out

    return least


def _least_mask(mask: Callable[[bytes, bytes, int, bytes, int], None], how: int) -> Callable[[bytes, bytes], bytes]:
    """The least Python any pure-CFFI ``mask(data, key)`` does: the result allocated as ``nvx.mask`` does
    (zero-filled below nvx._fresh.UNINITIALISED_MIN, uninitialised from there) and the C call, no checks."""
    from nvx._fresh import UNINITIALISED_MIN, new_bytes

    def least(data: bytes, key: bytes) -> bytes:
        length = len(data)
        out = b"\0" * length if length < UNINITIALISED_MIN else new_bytes(length)
        mask(data, out, length, key, how)
        return out

    return least


def _decode(data: bytes) -> None:
    with contextlib.suppress(UnicodeDecodeError):
        data.decode("utf-8")


def _apply_mask(apply_mask: Callable[[bytes, bytes], bytes], payload: bytes) -> bytes:
    """websockets' ``apply_mask(data, mask)`` with our mask, shaped like the maskers' ``process``."""
    return apply_mask(payload, MASK)


def _bind(function: Callable[[bytes], object], argument: bytes) -> Callable[[], object]:
    return lambda: function(argument)


def _loop(function: Callable[[Any], object], argument: Any, calls: int) -> Callable[[], None]:
    def work() -> None:
        for _ in repeat(None, calls):
            function(argument)

    return work


def _rotating_rounds(candidates: dict[str, Callable[[], None]], rounds: int, units: int) -> dict[str, list[float]]:
    """Seconds per unit of each candidate in each round, the order rotating from round to round: with
    megabyte results, whichever runs first after the others freed theirs pays for the allocator giving
    memory back to the system (measured: 10-30% slower at 8 MiB, whoever it is)."""
    names = list(candidates)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for turn in range(rounds):
        order = names[turn % len(names):] + names[: turn % len(names)]
        for name, timing in interleaved({n: candidates[n] for n in order}, rounds=1, units=units).items():
            samples[name].append(timing.best_s)
    return samples


def _masker_per_frame(make: Callable[..., Any], arguments: tuple[Any, ...], payload: bytes,
                      calls: int) -> Callable[[], None]:
    """``calls`` frames, each masked by a masker built for it: ``make(*arguments).process(payload)``, with
    the one or two arguments passed as real code passes them."""
    if len(arguments) == 1:
        (a,) = arguments

        def work1() -> None:
            for _ in repeat(None, calls):
                make(a).process(payload)

        return work1
    a, b = arguments

    def work2() -> None:
        for _ in repeat(None, calls):
            make(a, b).process(payload)

    return work2


def _loop_positional(function: Callable[..., object], arguments: tuple[Any, ...], calls: int) -> Callable[[], None]:
    """Like ``_loop`` with two to five positional arguments, passed as in real code (not as ``*args``,
    which hands a METH_VARARGS function the ready-made tuple and would hide part of its cost)."""
    a, b, *rest = arguments
    if not rest:

        def work2() -> None:
            for _ in repeat(None, calls):
                function(a, b)

        return work2
    if len(rest) == 1:
        (c,) = rest

        def work3() -> None:
            for _ in repeat(None, calls):
                function(a, b, c)

        return work3
    if len(rest) == 2:
        c, d = rest

        def work4() -> None:
            for _ in repeat(None, calls):
                function(a, b, c, d)

        return work4
    c, d, e = rest

    def work5() -> None:
        for _ in repeat(None, calls):
            function(a, b, c, d, e)

    return work5


def _rates(operation: str, corpus: str, size: int, candidates: dict[str, Callable[[], object]],
           rounds: int) -> dict[str, Any]:
    timings = interleaved(candidates, rounds=rounds)
    results = {name: _rate(t, size) for name, t in timings.items()}
    ours = results[OURS]["best_gbps"] if OURS in results else None
    ratios = {name: ours / r["best_gbps"] for name, r in results.items() if name != OURS and ours}
    return {"operation": operation, "corpus": corpus, "bytes": size, "results": results, "ratios": ratios}


def _rate(timing: Timing, size: int) -> dict[str, float]:
    return {"best_gbps": size / timing.best_s / 1e9, "median_gbps": size / timing.median_s / 1e9,
            "worst_gbps": size / timing.worst_s / 1e9, "spread_pct": timing.spread_pct}


def _costs(operation: str, size: int, candidates: dict[str, Callable[[], None]], profile: Profile) -> dict[str, Any]:
    timings = interleaved(candidates, rounds=profile.call_rounds, units=profile.calls)
    results = {name: {"best_ns": t.best_s * 1e9, "median_ns": t.median_s * 1e9, "worst_ns": t.worst_s * 1e9,
                      "spread_pct": t.spread_pct} for name, t in timings.items()}
    ours = results[OURS]["best_ns"]
    ratios = {name: r["best_ns"] / ours for name, r in results.items() if name != OURS}
    return {"operation": operation, "bytes": size, "results": results, "ratios": ratios}


def _thread_counts(limit: int) -> list[int]:
    counts = [1]
    while counts[-1] * 2 <= limit:
        counts.append(counts[-1] * 2)
    return counts if counts[-1] == limit else [*counts, limit]


def _free_threaded() -> bool:
    return bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


def _ft_python(requested: str | None) -> str | None:
    if requested:
        return _existing(requested, "--ft-python")
    if _free_threaded():
        return sys.executable
    return _found(FT_REQUEST)


def _gil_python(requested: str | None) -> str | None:
    if requested == "none":
        return None
    if requested:
        return _existing(requested, "--gil-python")
    return _found(GIL_REQUEST)


def _found(request: str) -> str | None:
    """The interpreter ``--python REQUEST`` would judge, or None when there is none here."""
    try:
        return interpreter_find.resolve(request)
    except UsageError:
        return None


def _existing(path: str, flag: str) -> str:
    if not os.access(path, os.X_OK):
        raise UsageError(f"{flag} {path!r}: expected an executable Python interpreter")
    return path


def _interpreter() -> dict[str, Any]:
    return probe(sys.executable).to_json()


def _loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def _profile(args: argparse.Namespace) -> Profile:
    profile = QUICK if args.quick else FULL
    if args.rounds:
        profile = replace(profile, rounds=args.rounds, call_rounds=args.rounds, scaling_rounds=args.rounds)
    if args.size_mib:
        profile = replace(profile, size=args.size_mib << 20)
    return profile
