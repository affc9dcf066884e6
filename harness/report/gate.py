"""The gate's report formats: Markdown and one self-contained HTML page (inline CSS and an inline SVG chart of
throughput against thread count), beside the JSON record; both end with the release evidence (the wheel's
identity, its metadata findings and the fix hints), whose list renderers the release report shares.
"""

from __future__ import annotations

import html
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from harness.audit import import_summary
from harness.interpreter.facts import gil_forced_text
from harness.report import tsan as tsan_report
from harness.report.markdown import IMPORT_HEADERS, TEST_ONLY_TITLE, import_rows, render_markdown
from harness.report.terminal import RACE_HINT, status_label

FORMATS = ("json", "gate-md", "html")
_PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")
_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:70rem;color:#222;padding:0 1rem}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}
th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f4f4f4}code,pre{font-family:ui-monospace,monospace;font-size:.85rem}
pre{background:#f7f7f7;padding:.5rem;overflow-x:auto;white-space:pre-wrap}
.verdict{display:inline-block;padding:.2rem .6rem;border-radius:.3rem;color:#fff;font-weight:bold}
.safe{background:#2e7d32}.unsafe{background:#c62828}.error{background:#6d4c41}.imports-only{background:#f9a825}
.passed,.gil-free{color:#2e7d32}.failed,.crashed,.timeout,.error-status,.gil-enabled,.not-found{color:#c62828}
"""


def render_gate_markdown(record: Mapping[str, Any]) -> str:
    """Wheel facts first, then the engine's verdict/audit/scenario Markdown, then the throughput figures."""
    wheel = record.get("wheel") or {}
    tags = ", ".join(f"`{tag}`" for tag in wheel.get("tags", []))
    extensions = ", ".join(f"`{m}`" for m in wheel.get("extension_modules", [])) or "none"
    lines = [
        f"# ft-harness gate: `{wheel.get('file', '?')}`",
        "",
        f"- distribution: {wheel.get('distribution')} {wheel.get('version')}",
        f"- tags: {tags}; expected ABI `{wheel.get('expected_abi')}`",
        f"- extension modules in the wheel: {extensions}",
        "- shared libraries (no init symbol, not judged): "
        + (", ".join(f"`{m}`" for m in wheel.get("libraries", [])) or "none"),
        f"- judged by: {record.get('target')}",
    ]
    if record.get("ignored_pythonpath"):
        lines.append(f"- not passed on to the gate's children: PYTHONPATH=`{record['ignored_pythonpath']}`")
    lines.append("")
    # The engine's Markdown, one heading level down, under the wheel's title.
    lines.append(render_markdown(record).replace("# ft-harness:", "## Verdict:", 1).replace("\n## ", "\n### "))
    if record.get("tests"):
        lines += ["### The package's own tests", "", *tests_markdown(record["tests"]), ""]
    series = _series(record.get("throughput") or [])
    if series:
        lines += ["### Throughput (ops/s by thread count)", ""]
        for name, points in series.items():
            lines.append(f"- `{name}`: " + ", ".join(f"{t} threads: {ops:,.0f}" for t, ops in points))
        lines.append("")
    artifact = record.get("artifact")
    if artifact:
        lines += ["### Release evidence", "", f"- sha256 `{artifact['sha256']}`, {artifact['size']} bytes, "
                  f"ABI `{artifact['abi']}`", f"- gated on {artifact['platform']}, Python {artifact['interpreter']}, "
                  f"ft-harness {artifact['harness_version']}", ""]
    if record.get("metadata_findings"):
        lines += ["### Metadata findings", "", *findings_markdown(record["metadata_findings"]), ""]
    if record.get("fix_hints"):
        lines += ["### Fix hints", "", *fix_hints_markdown(record["fix_hints"])]
    return "\n".join(lines).rstrip() + "\n"


def _suite_counts(tests: Mapping[str, Any]) -> list[tuple[str, object]]:
    floor = tests.get("min_parallel_tests")
    return [
        ("folder", tests["source"]),
        ("tests run", tests["run"]),
        ("run multi-threaded", f"{tests['multi_threaded']} at {tests['threads']} threads"
         + ("" if floor is None else f" (floor {floor}{', below it' if tests['below_floor'] else ''})")),
        ("passed / skipped", f"{tests['passed']} / {tests['skipped']}"),
        ("races (fail threaded, pass alone)", tests["races"]),
        ("fail without threads (not races)", tests["fails_without_threads"]),
        ("GIL culprits (the plugin's watch)", ", ".join(tests["gil_culprits"]) or "none"),
        ("wall time (s)", tests["wall_s"]),
    ]


def tests_markdown(tests: Mapping[str, Any]) -> list[str]:
    """The package's own suite: counts, each failure (race or not) with its first lines, tests kept
    single-threaded and why."""
    lines = [f"- {key}: {value}" for key, value in _suite_counts(tests)]
    for failure in tests["failures"]:
        label = "**race** (passes alone)" if failure["alone"] == "race" else "fails without threads (not a race)"
        first = "; ".join(failure["first_lines"].splitlines())
        lines.append(f"- {label}: `{failure['nodeid']}`" + (f": {first}" if first else ""))
        lines += [f"  - rerun: `{failure['rerun']}`"] if failure.get("rerun") else []
    if any(failure["alone"] == "race" for failure in tests["failures"]):
        lines.append(f"- {RACE_HINT}")
    lines += [f"- kept single-threaded: `{nodeid}`: {reason}" for nodeid, reason in tests["thread_unsafe"].items()]
    return lines


def tests_html(tests: Mapping[str, Any]) -> str:
    """The package's own suite as a key/value table, a failure table and the tests kept single-threaded."""
    parts = [_key_values(_suite_counts(tests))]
    if tests["failures"]:
        parts.append(_table(("test", "alone", "first lines", "rerun"), [
            (f["nodeid"], f["alone"], f["first_lines"], f.get("rerun", "")) for f in tests["failures"]],
            status_column=-1))
    if tests["thread_unsafe"]:
        parts.append(_table(("kept single-threaded", "why"), list(tests["thread_unsafe"].items()), status_column=-1))
    return "\n".join(parts)


def findings_markdown(findings: Sequence[Mapping[str, Any]]) -> list[str]:
    """One bullet per finding: level, rule, message and the exact change."""
    return [f"- **{f['level']}** `{f['rule']}`: {f['message']}" + (f" — change: {f['change']}" if f.get("change")
                                                                    else "") for f in findings]


def fix_hints_markdown(hints: Sequence[Mapping[str, Any]]) -> list[str]:
    """One bullet per fix hint (module, builder, wheel when known, change), then the claim warning once."""
    lines = [f"- `{h['module']}` ({h['builder']}" + (f", in {h['file']}" if h.get("file") else "")
             + f"): {h['change']}" for h in hints]
    return [*lines, "", f"> {hints[0]['warning']}"] if hints else []


def findings_html(findings: Sequence[Mapping[str, Any]]) -> str:
    """The findings as ``<li>`` items (``<li>none</li>`` when there are none)."""
    items = "".join(f"<li><b>{_e(f['level'])}</b> <code>{_e(f['rule'])}</code>: {_e(f['message'])}"
                    + (f"<br>change: <code>{_e(f['change'])}</code>" if f.get("change") else "") + "</li>"
                    for f in findings)
    return items or "<li>none</li>"


def fix_hints_html(hints: Sequence[Mapping[str, Any]]) -> str:
    """The fix hints as ``<li>`` items, each with the claim warning."""
    return "".join(f"<li><code>{_e(h['module'])}</code> ({_e(h['builder'])}): {_e(h['change'])}<br><i>"
                   f"{_e(h['warning'])}</i></li>" for h in hints)


def render_html(record: Mapping[str, Any]) -> str:
    """One page, no external resources: verdict, wheel (a gate run), interpreter, audit, scenarios, throughput
    chart (a gate run; a stress run has the same record without them)."""
    wheel = record.get("wheel") or {}
    interp = record.get("interpreter") or {}
    verdict = str(record.get("verdict", "?"))
    title = f"ft-harness {record.get('kind', 'gate')}: {wheel.get('file') or record.get('target', '?')}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_e(title)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        f'<p><span class="verdict {_e(verdict)}">{_e(verdict)}</span> exit {_e(record.get("exit_code"))}</p>',
    ]
    if record.get("note"):
        parts.append(f"<p><strong>{_e(record['note'])}</strong></p>")
    parts += [] if not wheel else ["<h2>Wheel</h2>", _key_values([
        ("file", wheel.get("file")),
        ("distribution", f"{wheel.get('distribution')} {wheel.get('version')}"),
        ("tags", ", ".join(wheel.get("tags", []))),
        ("expected ABI", wheel.get("expected_abi")),
        ("extension modules", ", ".join(wheel.get("extension_modules", [])) or "none"),
        ("shared libraries (no init symbol, not judged)", ", ".join(wheel.get("libraries", [])) or "none"),
        ("judged by", record.get("target")),
    ])]
    parts += ["<h2>Interpreter</h2>", _key_values([
        ("executable", interp.get("executable")),
        ("version", f"{interp.get('implementation', '')} {interp.get('version', '')}"),
        ("free-threaded build", interp.get("free_threaded")),
        ("GIL enabled at start", interp.get("gil_enabled")),
        ("GIL forced", gil_forced_text(interp.get("gil_forced"), free_threaded=interp.get("free_threaded"))),
        ("ThreadSanitizer build", interp.get("thread_sanitizer", False)),
        ("CPUs", interp.get("cpu_count")),
        ("venv", (record.get("venv") or {}).get("python")),
        ("PYTHONPATH not passed on", record.get("ignored_pythonpath") or "(not set)"),
        ("started", record.get("started")),
        ("duration (s)", record.get("duration_s")),
    ])]
    for title, key in (("Import audit", "imports"), (TEST_ONLY_TITLE, "test_imports")):
        rows = record.get(key) or []
        if rows or key == "imports":
            parts += [f"<h2>{_e(title)}</h2>", f"<p>{_e(import_summary(rows))}</p>",
                      _table(IMPORT_HEADERS, import_rows(rows), status_column=1)]
    scenarios = record.get("scenarios") or []
    parts += ["<h2>Scenarios</h2>", _table(
        ("target", "scenario", "status", "threads", "rounds", "iterations", "failures", "ops/s", "duration (s)"),
        [(s["target"], s["name"], status_label(s["status"], s.get("on_failure")), s["threads"], s["rounds"],
          s["iterations"], s["failures"],
          _number(s.get("ops_per_s")), s.get("duration_s")) for s in scenarios],
        status_column=2,
    ) if scenarios else "<p>No scenarios ran.</p>"]
    for s in scenarios:
        if s["status"] != "passed":
            label = status_label(s["status"], s.get("on_failure"))
            parts.append(f"<h3>{_e(s['name'])}: {_e(label)}</h3><p>{_e(s.get('detail'))}</p>")
            parts.append(f"<p>Rerun: <code>{_e(s.get('rerun'))}</code></p>")
            parts += [f"<pre>{_e(e['type'])} x {_e(e['count'])}\n{_e(e['first_traceback'])}</pre>"
                      for e in s.get("errors") or []]
    if record.get("tsan") is not None:
        parts += ["<h2>ThreadSanitizer</h2>", f"<p>Logs: <code>{_e(record['tsan'].get('log_dir'))}</code></p>"]
        for heading, found in tsan_report.sections(record["tsan"]):
            parts.append(f"<h3>{len(found)} finding(s) {_e(heading)}</h3>")
            for finding in found:
                text = "\n".join(tsan_report.finding_text(finding))
                parts.append(f"<h4>{_e(tsan_report.finding_title(finding))}</h4><pre>{_e(text)}</pre>")
    if record.get("tests"):
        parts += ["<h2>The package's own tests</h2>", tests_html(record["tests"])]
    throughput = record.get("throughput") or []
    if wheel:
        parts += ["<h2>Throughput against threads</h2>", throughput_svg(throughput)]
    if throughput:
        parts.append(_table(
            ("target", "scenario", "threads", "status", "ops/s", "rerun"),
            [(t["target"], t["scenario"], t["threads"], t["status"], _number(t.get("ops_per_s")),
              "" if t["status"] == "passed" else t.get("rerun")) for t in throughput],
            status_column=3,
        ))
    artifact = record.get("artifact")
    if artifact:
        parts += ["<h2>Release evidence</h2>", _key_values([
            ("sha256", artifact["sha256"]),
            ("size (bytes)", artifact["size"]),
            ("ABI", artifact["abi"]),
            ("gated on", f"{artifact['platform']}, Python {artifact['interpreter']}"),
            ("ft-harness", artifact["harness_version"]),
        ])]
    if "metadata_findings" in record:
        parts += ["<h2>Metadata findings</h2>", f"<ul>{findings_html(record['metadata_findings'])}</ul>"]
    if record.get("fix_hints"):
        parts += ["<h2>Fix hints</h2>", f"<ul>{fix_hints_html(record['fix_hints'])}</ul>"]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def throughput_svg(rows: Sequence[Mapping[str, Any]], *, width: int = 720, height: int = 360) -> str:
    """A line chart, one line per scenario: operations per second (y, a log axis with a line per power of ten,
    so 85 and 200,000 ops/s are both readable) at each thread count (x)."""
    series = _series(rows)
    if not series:
        return "<p>No throughput was measured.</p>"
    left, right, top, bottom = 80, 220, 20, 50
    plot_w, plot_h = width - left - right, height - top - bottom
    counts = sorted({t for points in series.values() for t, _ in points})
    values = [ops for points in series.values() for _, ops in points]
    low = math.floor(math.log10(min(values)))
    high = max(math.ceil(math.log10(max(values))), low + 1)

    def x(threads: int) -> float:
        return left + (plot_w * counts.index(threads) / (len(counts) - 1) if len(counts) > 1 else plot_w / 2)

    def y(ops: float) -> float:
        return top + plot_h * (1 - (math.log10(ops) - low) / (high - low))

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="throughput against thread count">',
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#999"/>',
    ]
    for power in range(low, high + 1):
        value = 10.0**power
        out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y(value):.1f}" y2="{y(value):.1f}" stroke="#eee"/>')
        label_y = y(value) + 4
        out.append(f'<text x="{left - 6}" y="{label_y:.1f}" font-size="11" text-anchor="end">{value:,.0f}</text>')
    for threads in counts:
        out.append(
            f'<text x="{x(threads):.1f}" y="{top + plot_h + 16}" font-size="11" text-anchor="middle">{threads}</text>'
        )
    out.append(f'<text x="{left + plot_w / 2}" y="{height - 8}" font-size="12" text-anchor="middle">threads</text>')
    out.append(f'<text x="14" y="{top + plot_h / 2}" font-size="12" text-anchor="middle" '
               f'transform="rotate(-90 14 {top + plot_h / 2})">ops/s (log)</text>')
    for index, (name, points) in enumerate(series.items()):
        colour = _PALETTE[index % len(_PALETTE)]
        coords = " ".join(f"{x(t):.1f},{y(ops):.1f}" for t, ops in points)
        out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{coords}"/>')
        for t, ops in points:
            out.append(f'<circle cx="{x(t):.1f}" cy="{y(ops):.1f}" r="3" fill="{colour}">'
                       f"<title>{_e(name)}: {t} threads, {ops:,.0f} ops/s</title></circle>")
        legend_y = top + 14 + 16 * index
        out.append(f'<rect x="{width - right + 12}" y="{legend_y - 9}" width="10" height="10" fill="{colour}"/>')
        out.append(f'<text x="{width - right + 28}" y="{legend_y}" font-size="11">{_e(name)}</text>')
    out.append("</svg>")
    return "\n".join(out)


def _series(rows: Sequence[Mapping[str, Any]]) -> dict[str, list[tuple[int, float]]]:
    series: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for row in rows:
        if row.get("ops_per_s"):
            series[f"{row['target']}:{row['scenario']}"].append((int(row["threads"]), float(row["ops_per_s"])))
    return {name: sorted(points) for name, points in series.items()}


def _key_values(items: Sequence[tuple[str, object]]) -> str:
    rows = "".join(f"<tr><th>{_e(key)}</th><td>{_e(value)}</td></tr>" for key, value in items)
    return f"<table>{rows}</table>"


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]], *, status_column: int) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = []
        for index, value in enumerate(row):
            kind = str(value).split()[0] if index == status_column else ""
            css = f' class="{_e(kind)}{"-status" if kind == "error" else ""}"' if kind else ""
            cells.append(f"<td{css}>{_e(value)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _number(value: object) -> str:
    return f"{value:,.0f}" if isinstance(value, (int, float)) else ""


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value))
