"""The package's folders are the pipeline: no import loop, and no module imports a later stage.

Stages, in order: shared ground (``harness``, ``harness.settings``, the target catalogue ``harness.targets``)
-> ``interpreter`` -> ``wheel`` -> ``audit`` -> ``engine`` (with the targets' scenario modules, which the
engine loads) -> ``pipeline`` -> ``report`` -> the front ends (``commands``, ``pytest_plugin``, and the
``bench`` of a target, which a command runs). Imports are read from the source, so an import inside a
function counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import harness

ROOT = Path(harness.__file__).parent
STAGES = ("ground", "interpreter", "wheel", "audit", "engine", "pipeline", "report", "front end")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(ROOT.rglob("*.py"))}


def stage(module: str) -> str:
    parts = module.split(".")
    if module in ("harness", "harness.settings", "harness.__main__", "harness.targets"):
        return "front end" if module == "harness.__main__" else "ground"
    if parts[1] == "targets":
        return "front end" if "bench" in parts else "engine"
    if parts[1] in ("commands", "pytest_plugin"):
        return "front end"
    return parts[1]


def imports_of(module: str) -> set[str]:
    """The harness modules ``module`` imports (``from pkg import submodule`` names the submodule)."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                child = f"{node.module}.{alias.name}"
                found.add(child if child in MODULES else node.module)
    return {name for name in found if name in MODULES and name != module}


GRAPH = {module: imports_of(module) for module in MODULES}


def upward_imports(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    """Every edge from a module to one of a later stage."""
    return sorted((a, b) for a, targets in graph.items() for b in targets
                  if STAGES.index(stage(b)) > STAGES.index(stage(a)))


def find_loop(graph: dict[str, set[str]]) -> list[str] | None:
    """One import loop as ``[a, b, ..., a]``, or None."""
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> list[str] | None:
        if module in path:
            return [*path[path.index(module):], module]
        if module in done:
            return None
        for imported in sorted(graph.get(module, ())):
            loop = visit(imported, [*path, module])
            if loop:
                return loop
        done.add(module)
        return None

    return next((loop for module in sorted(graph) if (loop := visit(module, []))), None)


def verdict_setters(source: str) -> list[int]:
    """Lines that assign a record's ``verdict`` or ``exit_code`` attribute (alone or in a tuple)."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
            node, (ast.AugAssign, ast.AnnAssign)) else []
        for target in targets:
            for leaf in target.elts if isinstance(target, ast.Tuple) else [target]:
                if isinstance(leaf, ast.Attribute) and leaf.attr in ("verdict", "exit_code"):
                    lines.append(node.lineno)
    return lines


def test_only_the_verdict_module_decides_a_run_record() -> None:
    setters = {m: found for m, path in MODULES.items() if m != "harness.pipeline.verdict"
               if (found := verdict_setters(path.read_text(encoding="utf-8")))}
    assert setters == {}
    assert verdict_setters(MODULES["harness.pipeline.verdict"].read_text(encoding="utf-8"))
    assert verdict_setters("record.verdict = 'safe'\nrecord.note, record.exit_code = '', 0\n") == [1, 2]


def test_every_module_has_a_stage() -> None:
    assert {stage(m) for m in MODULES} <= set(STAGES)


def test_no_module_imports_a_later_stage() -> None:
    assert upward_imports(GRAPH) == []


def test_no_import_loop() -> None:
    assert find_loop(GRAPH) is None


def test_the_checks_fire_on_a_broken_graph() -> None:
    broken = {**GRAPH, "harness.engine.runner": {*GRAPH["harness.engine.runner"], "harness.pipeline.judge"}}
    assert ("harness.engine.runner", "harness.pipeline.judge") in upward_imports(broken)
    loop = find_loop(broken)
    assert loop is not None and loop[0] == loop[-1] and "harness.pipeline.judge" in loop


def test_top_level_stays_small() -> None:
    entries = [p.name for p in ROOT.iterdir() if p.name != "__pycache__"]
    assert len(entries) <= 12, sorted(entries)
