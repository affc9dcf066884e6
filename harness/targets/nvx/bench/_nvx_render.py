"""Presentation of the NVX benchmark record: target checks, the stdout table, Markdown, and an SVG chart."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any
from xml.sax.saxutils import escape

from harness.targets.nvx.bench._nvx_scaling import CONTROL

OURS = "nvx"
ONE_SHOT = "nvx.mask"
FLOOR = "cffi floor"
PEER_ORDER = (OURS, ONE_SHOT, FLOOR, "autobahn", "bytes.decode", "websockets")
COLOURS = {OURS: "#2b7bb9", ONE_SHOT: "#5fa8d3", FLOOR: "#bbbbbb", "autobahn": "#e08a2c",
           "bytes.decode": "#6a9f3a", "websockets": "#9b59b6"}
LARGE_FRAME = 64 << 10

# ------------------------------------------------------------------------------------------ targets


def _ratio(record: dict[str, Any], operation: str, corpus: str, peer: str) -> float | None:
    for row in record["throughput"]:
        if row["operation"] == operation and row["corpus"] == corpus:
            return row["ratios"].get(peer)
    return None


def _vs_noop(record: dict[str, Any], operation: str, step: str = "whole call") -> float | None:
    """A step of the call-path table (our whole call by default) over cffi's own call into a no-op with the
    same signature."""
    return next((row["vs_noop"] for row in record["call_path"]
                 if row["operation"] == operation and row["step"].startswith(step)), None)


def _least_with_c(record: dict[str, Any], operation: str) -> float | None:
    """The best whole call pure CFFI allows with NVX's C as it is: the least wrapper around the no-op, plus
    what cffi's call into NVX's function costs over that no-op (both over the no-op)."""
    least, call = _vs_noop(record, operation, "least wrapper"), _vs_noop(record, operation, "cffi call")
    return None if least is None or call is None else least + call - 1.0


def _frame_ratio(record: dict[str, Any], peer: str, sizes: Callable[[int], bool], over: str = OURS) -> float | None:
    """The smallest ratio of ``peer``'s time per frame over ``over``'s (our masker's by default), over the frame
    sizes picked."""
    ratios = [row["results"][peer]["best_ns"] / row["results"][over]["best_ns"] for row in record["per_frame"]
              if sizes(row["bytes"]) and peer in row["results"] and over in row["results"]]
    return min(ratios) if ratios else None


def _two_thread_speedup(record: dict[str, Any]) -> float | None:
    run = record["scaling"]["free-threaded"]
    if not run.get("available"):
        return None
    speedups = [row["speedup"] for row in run["rows"]
                if row["threads"] == 2 and row["unit"] == "calls/s" and row["workload"] != CONTROL]
    return min(speedups) if speedups else None


def _one_kib(size: int) -> bool:
    return size == 1 << 10


def _large(size: int) -> bool:
    return size >= LARGE_FRAME


Figure = Callable[[dict[str, Any]], float | None]
# (what, goal text, higher is better, threshold, value from the record, the best value pure CFFI allows
# (the same figure for the least wrapper with NVX's C, or for the cffi floor), or None where it does not apply)
TARGETS: Sequence[tuple[str, str, bool, float, Figure, Figure | None]] = (
    ("validate mixed UTF-8 vs autobahn NVX", ">= 30x", True, 30.0,
     lambda r: _ratio(r, "validate", "mixed", "autobahn"), None),
    ("validate mixed UTF-8 vs bytes.decode", ">= 5x", True, 5.0,
     lambda r: _ratio(r, "validate", "mixed", "bytes.decode"), None),
    ("validate ASCII vs bytes.decode", ">= 1x", True, 1.0, lambda r: _ratio(r, "validate", "ascii", "bytes.decode"),
     None),
    ("whole validate, 128 B, over cffi's call into a no-op with its signature", "<= 1.5x", False, 1.5,
     lambda r: _vs_noop(r, "validate"), lambda r: _least_with_c(r, "validate")),
    ("whole XorMasker.process, 128 B, over cffi's call into a no-op with its signature", "<= 1.5x", False, 1.5,
     lambda r: _vs_noop(r, "process"), lambda r: _least_with_c(r, "process")),
    ("mask per frame (masker built per frame), 1 KiB, vs autobahn", ">= 5x", True, 5.0,
     lambda r: _frame_ratio(r, "autobahn", _one_kib), lambda r: _frame_ratio(r, "autobahn", _one_kib, FLOOR)),
    ("mask per frame (masker built per frame), 1 KiB, vs websockets", ">= 0.5x", True, 0.5,
     lambda r: _frame_ratio(r, "websockets", _one_kib), lambda r: _frame_ratio(r, "websockets", _one_kib, FLOOR)),
    ("mask per frame, 64 KiB-8 MiB (slowest), vs websockets", ">= 1x", True, 1.0,
     lambda r: _frame_ratio(r, "websockets", _large), lambda r: _frame_ratio(r, "websockets", _large, FLOOR)),
    ("mask per frame, 64 KiB-8 MiB (slowest), vs autobahn", ">= 1.8x", True, 1.8,
     lambda r: _frame_ratio(r, "autobahn", _large), lambda r: _frame_ratio(r, "autobahn", _large, FLOOR)),
    ("free-threaded, 128 B frames, 2 threads vs 1", ">= 1.9x", True, 1.9, _two_thread_speedup, None),
)


def targets(record: dict[str, Any]) -> list[dict[str, Any]]:
    """Each goal of the NVX performance issue with the figure reached; ``met`` is None when unmeasured.
    ``cffi_bound`` is the same figure for the least a pure-CFFI implementation must do (None where it does
    not apply): a goal that even the bound misses cannot be met without leaving CFFI."""
    rows = []
    for what, goal, higher, threshold, value_of, bound_of in TARGETS:
        value = value_of(record)
        met = None if value is None else (value >= threshold if higher else value <= threshold)
        bound = bound_of(record) if bound_of else None
        rows.append({"target": what, "goal": goal, "value": value, "met": met, "cffi_bound": bound})
    return rows


# ---------------------------------------------------------------------------------------- tables


def _num(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 100:
        return f"{value:.0f}"
    return f"{value:.2f}" if value < 10 else f"{value:.1f}"


def _peers(rows: list[dict[str, Any]]) -> list[str]:
    present = {name for row in rows for name in row["results"]}
    return [name for name in PEER_ORDER if name in present]


def _comparison(rows: list[dict[str, Any]], keys: tuple[str, str], metric: str, unit: str,
                ratio_title: str) -> tuple[list[str], list[list[str]]]:
    """One line per measurement: its key columns, each implementation's best figure (spread), the ratios."""
    names = _peers(rows)
    header = [*keys, *[f"{n} {unit} (spread)" for n in names], ratio_title]
    body = []
    for row in rows:
        cells = [str(row[key]) for key in keys]
        for name in names:
            r = row["results"].get(name)
            cells.append(f"{_num(r[metric])} ({r['spread_pct']:.0f}%)" if r else "absent")
        cells.append(", ".join(f"{_num(v)}x {k}" for k, v in row["ratios"].items()) or "-")
        body.append(cells)
    return header, body


def _level_rows(rows: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    header = ["operation", "data", "level", "GB/s (spread)"]
    body = [[row["operation"], row["corpus"], level, f"{_num(r['best_gbps'])} ({r['spread_pct']:.0f}%)"]
            for row in rows for level, r in row["results"].items()]
    return header, body


def _scaling_rows(scaling: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    header = ["build", "workload", "threads", "best", "median", "unit", "speedup vs 1 thread",
              "CPU ns/call", "CPU efficiency"]
    body = []
    for build, run in scaling.items():
        if not run.get("available"):
            body.append([build, f"absent: {run.get('reason')}", *[""] * (len(header) - 2)])
            continue
        gil = "GIL on" if run["interpreter"]["gil_enabled"] else "GIL off"
        for row in run["rows"]:
            scale = 1e6 if row["unit"] == "calls/s" else 1
            unit = "M calls/s" if row["unit"] == "calls/s" else "GB/s"
            body.append([f"{build} ({gil})", row["workload"], str(row["threads"]), _num(row["best"] / scale),
                         _num(row["median"] / scale), unit, f"{row['speedup']:.2f}x",
                         f"{row['cpu_ns_per_call']:.0f}", f"{row['cpu_efficiency']:.2f}"])
    return header, body


def _call_path_rows(rows: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    return ["step", "ns (spread)", "over the no-op"], [
        [r["step"], f"{_num(r['best_ns'])} ({r['spread_pct']:.0f}%)",
         f"{r['vs_noop']:.2f}x" if r["vs_noop"] is not None else ""] for r in rows]


def _frame_rows(rows: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    names = _peers(rows)
    header = ["frame", *[f"{n} ns (GB/s)" for n in names], "peers / our masker", "peers / nvx.mask"]
    body = []
    for row in rows:
        cells = [_size(row["bytes"])]
        for name in names:
            r = row["results"].get(name)
            cells.append(f"{_num(r['best_ns'])} ({_num(r['best_gbps'])})" if r else "absent")
        for ratios in (row["ratios"], row["one_shot_ratios"]):
            cells.append(", ".join(f"{_num(v)}x {k}" for k, v in ratios.items()) or "-")
        body.append(cells)
    return header, body


def _size(size: int) -> str:
    return f"{size >> 20} MiB" if size >= 1 << 20 else f"{size >> 10} KiB" if size >= 1 << 10 else f"{size} B"


def _target_rows(rows: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    verdict = {True: "met", False: "MISSED", None: "not measured"}
    return ["target", "goal", "reached", "status", "best pure CFFI allows"], [
        [t["target"], t["goal"], _num(t["value"]), verdict[t["met"]], _num(t["cffi_bound"])] for t in rows]


def _sections(record: dict[str, Any]) -> list[tuple[str, tuple[list[str], list[list[str]]]]]:
    k, calls = record["settings"]["rounds"], record["settings"]["call_rounds"]
    return [
        (f"Throughput, {record['throughput'][0]['bytes'] >> 10} KiB buffers (best of {k}; spread = median "
         "below best)", _comparison(record["throughput"], ("operation", "corpus"), "best_gbps", "GB/s",
                                    "ours vs peers")),
        ("Our NVX at each SIMD level", _level_rows(record["levels"])),
        (f"Cost of one call, Python call included (best of {calls} loops of {record['settings']['calls']})",
         _comparison(record["per_call"], ("operation", "bytes"), "best_ns", "ns", "peers / ours")),
        (f"Where one {record['call_path'][0]['bytes']}-byte call's time goes (best of {calls} loops)",
         _call_path_rows(record["call_path"])),
        (f"Masking one frame: a masker built per frame, nvx.mask, the cffi floor (result allocated + one cffi "
         f"call, nothing else), autobahn's per-frame masker, websockets apply_mask (best of {calls} loops)",
         _frame_rows(record["per_frame"])),
        ("Thread scaling, per-thread instances", _scaling_rows(record["scaling"])),
        ("Targets", _target_rows(record["targets"])),
    ]


def _headline(record: dict[str, Any]) -> list[str]:
    i, n = record["interpreter"], record["nvx"]
    build = "free-threaded" if i["free_threaded"] else "GIL build"
    absent = [f"{name} ({p['reason']})" for name, p in record["peers"].items() if not p["available"]]
    noise = record["noise"]
    lines = [
        f"NVX benchmark, {record['profile']} profile: CPython {i['version']} {build}, GIL "
        f"{'on' if i['gil_enabled'] else 'off'}; nvx {n['backend']} at {n['level']} (levels: {', '.join(n['levels'])})",
        f"load average {noise['loadavg_before']} -> {noise['loadavg_after']} on {noise['cpu_count']} CPUs; "
        f"{record['duration_s']} s; command: {record['command']}",
    ]
    if absent:
        lines.append("absent peers: " + "; ".join(absent))
    return lines


def _plain(header: list[str], body: list[list[str]]) -> list[str]:
    widths = [max(len(str(c)) for c in column) for column in zip(header, *body)]
    return ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in [header, *body]]


def text_table(record: dict[str, Any]) -> str:
    lines = _headline(record)
    for title, (header, body) in _sections(record):
        lines += ["", title, *_plain(header, body)]
    return "\n".join(lines)


def markdown(record: dict[str, Any]) -> str:
    lines = ["# NVX benchmark", "", *[f"- {line}" for line in _headline(record)]]
    for title, (header, body) in _sections(record):
        lines += ["", f"## {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in body]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------- chart

_WIDTH, _LABEL, _BAR, _GAP = 900, 190, 14, 10


def _bars(title: str, groups: list[tuple[str, list[tuple[str, float, str]]]], unit: str, log: bool,
          top: float) -> tuple[list[str], float]:
    """Horizontal grouped bars; returns the SVG elements and the y where the next panel may start."""
    values = [v for _, bars in groups for _, v, _ in bars if v > 0]
    if not values:
        return [], top
    high = max(values)
    low = min(values) / 2 if log else 0.0
    span = _WIDTH - _LABEL - 120

    def length(v: float) -> float:
        if log:
            return span * (math.log10(v) - math.log10(low)) / (math.log10(high) - math.log10(low) or 1)
        return span * v / high

    out = [f'<text x="10" y="{top + 18}" font-size="15" font-weight="bold">{escape(title)}</text>']
    y = top + 34
    for label, bars in groups:
        out.append(f'<text x="10" y="{y + _BAR * len(bars) / 2 + 4}" font-size="12">{escape(label)}</text>')
        for name, value, colour in bars:
            w = max(length(value), 1.0) if value > 0 else 0
            out.append(f'<rect x="{_LABEL}" y="{y}" width="{w:.1f}" height="{_BAR - 2}" fill="{colour}"/>')
            out.append(f'<text x="{_LABEL + w + 4:.1f}" y="{y + _BAR - 4}" font-size="10">'
                       f'{escape(name)} {_num(value)} {unit}</text>')
            y += _BAR
        y += _GAP
    return out, y + 10


def svg(record: dict[str, Any]) -> str:
    """A self-contained SVG: throughput per data set (log scale) and small-frame scaling speedups."""
    throughput = [
        (f"{row['operation']} {row['corpus']}",
         [(n, row["results"][n]["best_gbps"], COLOURS.get(n, "#777")) for n in PEER_ORDER if n in row["results"]])
        for row in record["throughput"]
    ]
    parts, y = _bars("Throughput, GB/s (log scale; longer is faster)", throughput, "GB/s", True, 0.0)
    frames = [(f"mask per frame, {_size(row['bytes'])}",
               [(n, row["results"][n]["best_gbps"], COLOURS.get(n, "#777")) for n in PEER_ORDER if n in row["results"]])
              for row in record["per_frame"]]
    more, y = _bars("Masking one frame, GB/s (log scale)", frames, "GB/s", True, y)
    parts += more
    scaling = []
    for build, run in record["scaling"].items():
        if not run.get("available"):
            continue
        for workload in dict.fromkeys(row["workload"] for row in run["rows"]):
            bars = [(f"{row['threads']} thr", row["speedup"], "#2b7bb9" if build == "free-threaded" else "#999")
                    for row in run["rows"] if row["workload"] == workload]
            scaling.append((f"{build}: {workload}", bars))
    more, y = _bars("Thread scaling: speedup over 1 thread", scaling, "x", False, y)
    parts += more
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{_WIDTH}" height="{int(y) + 10}" '
            f'font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>'
            + "".join(parts) + "</svg>\n")
