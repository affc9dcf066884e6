"""Import audit: every module that turns the GIL back on, or fails to import, is named; clean ones pass."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from harness.audit import audit, static_imports, zygote
from harness.commands import main
from tests.support.cbuild import build_plain_module
from tests.support.markers import FREE_THREADED, needs_free_threading


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two modules without the free-threading declaration, one with it, and two pure-Python modules."""
    folder = tmp_path_factory.mktemp("audit")
    build_plain_module("undeclared_one", folder, free_threading=False)
    build_plain_module("undeclared_two", folder, free_threading=False)
    build_plain_module("declared", folder, free_threading=True)
    (folder / "raises_on_import.py").write_text("raise ValueError('refusing to import')\n")
    (folder / "imports_missing.py").write_text("import no_such_dependency_xyz\n")
    (folder / "plain_python.py").write_text("VALUE = 1\n")
    (folder / "pure_importer.py").write_text("import undeclared_one\n")
    (folder / "imports_declared.py").write_text("import declared\n")
    (folder / "aborts.py").write_text("import os\nos.abort()\n")
    (folder / "hangs.py").write_text("import time\ntime.sleep(60)\n")
    probe = "import json, os, sys\nwith open(os.path.join(os.environ['PROBE_OUT'], __name__ + '.json'), 'w') as f:\n"
    probe += "    json.dump({'parent': os.getppid(), 'modules': sorted(sys.modules)}, f)\n"
    for name in ("probe_a", "probe_b"):
        (folder / f"{name}.py").write_text(probe)
    for name in ("free_user_a", "free_user_b"):  # share a GIL-free dependency their top level imports
        (folder / f"{name}.py").write_text("import plain_python\n" + probe)
    for name in ("culprit_user_a", "culprit_user_b"):  # share a culprit their top level imports
        (folder / f"{name}.py").write_text("import undeclared_one\n" + probe)
    packages = {
        "prepkg": "VALUE = 1\n",
        "threadpkg": "import threading, time\nthreading.Thread(target=time.sleep, args=(30,), daemon=True).start()\n",
        "culpritpkg": "import undeclared_two\n",
        # Starts a pool of OPENBLAS_NUM_THREADS - 1 workers at import, as OpenBLAS does (default 4).
        "poolpkg": "import os, threading, time\nfor _ in range(int(os.environ.get('OPENBLAS_NUM_THREADS', 4)) - 1):\n"
                   "    threading.Thread(target=time.sleep, args=(30,), daemon=True).start()\n",
    }
    for package, init in packages.items():
        (folder / package).mkdir()
        (folder / package / "__init__.py").write_text(init)
        for name in ("a", "b"):
            (folder / package / f"{name}.py").write_text(probe)
    return folder


def run_audit(folder: Path, *modules: str):
    results = audit(modules, python=sys.executable, env={"PYTHONPATH": str(folder)})
    return {r.module: r for r in results}


def fork_and_spawn(built: Path, tmp_path: Path, modules: list[str]) -> tuple[dict, dict]:
    """The verdicts of both methods, and what each probe module saw (its parent, sys.modules), by method."""
    seen, verdicts = {}, {}
    for method in ("fork", "spawn"):
        out = tmp_path / method
        out.mkdir()
        results = audit(modules, python=sys.executable, method=method,
                        env={"PYTHONPATH": str(built), "PROBE_OUT": str(out)})
        verdicts[method] = [(r.module, r.status, r.caused_by, r.warning, r.error) for r in results]
        seen[method] = {path.stem: json.loads(path.read_text()) for path in out.glob("*.json")}
    return verdicts, seen


@needs_free_threading
def test_every_undeclared_module_is_named_with_the_warning(built: Path) -> None:
    results = run_audit(built, "undeclared_one", "declared", "undeclared_two")
    for name in ("undeclared_one", "undeclared_two"):
        assert results[name].status == "gil-enabled"
        assert results[name].gil_enabled_after is True
        assert f"module '{name}'" in results[name].warning
    assert results["declared"].status == "gil-free"
    assert results["declared"].gil_enabled_after is False and results["declared"].warning is None


def test_raising_module_is_an_error_with_its_message(built: Path) -> None:
    results = run_audit(built, "raises_on_import", "plain_python")
    assert results["raises_on_import"].status == "error"
    assert "ValueError: refusing to import" in results["raises_on_import"].error
    assert results["plain_python"].status == ("gil-free" if FREE_THREADED else "gil-enabled")
    assert results["plain_python"].error is None


def test_missing_module_is_not_found_but_a_missing_dependency_is_an_error(built: Path) -> None:
    results = run_audit(built, "no_such_module_abc", "imports_missing")
    assert results["no_such_module_abc"].status == "not-found"
    assert results["imports_missing"].status == "error"
    assert "no_such_dependency_xyz" in results["imports_missing"].error


@needs_free_threading
def test_clean_stdlib_modules_are_gil_free() -> None:
    results = audit(["json", "collections"], python=sys.executable)
    assert [(r.module, r.status) for r in results] == [("json", "gil-free"), ("collections", "gil-free")]


def test_results_keep_the_order_given() -> None:
    modules = ["os", "no_such_module_abc", "json"]
    assert [r.module for r in audit(modules, python=sys.executable)] == modules


@needs_free_threading
def test_caused_by_names_the_culprit_confirmed_alone(built: Path) -> None:
    results = run_audit(built, "pure_importer", "imports_declared", "declared")
    assert results["pure_importer"].status == "gil-enabled"
    assert results["pure_importer"].caused_by == "undeclared_one"  # imported alone, not in the list given
    assert results["imports_declared"].status == "gil-free" and results["imports_declared"].caused_by is None
    assert run_audit(built, "undeclared_one")["undeclared_one"].caused_by == "undeclared_one"


@needs_free_threading
def test_a_culprit_beside_a_missing_module_still_exits_1(
    built: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(built))
    assert main(["imports", "undeclared_one", "no_such_module_abc", "raises_on_import", "pure_importer"]) == 1
    out = capsys.readouterr().out
    assert "pure_importer: gil-enabled, caused by undeclared_one" in out
    assert ("unsafe: 4 modules: 0 GIL-free; 2 GIL-enabled by 1 GIL culprit(s) (undeclared_one); "
            "1 import error(s) (raises_on_import); 1 not found (no_such_module_abc)") in out
    assert main(["imports", "declared", "no_such_module_abc"]) == (2 if FREE_THREADED else 1)


@needs_free_threading
@pytest.mark.skipif(not zygote.available(), reason="the zygote forks (Linux)")
def test_zygote_gives_the_same_verdicts_as_one_process_per_module(built: Path) -> None:
    modules = ["declared", "undeclared_one", "pure_importer", "raises_on_import", "no_such_module_abc",
               "imports_missing", "aborts", "hangs"]
    env = {"PYTHONPATH": str(built)}
    forked = audit(modules, python=sys.executable, env=env, timeout_s=3, method="fork")
    spawned = audit(modules, python=sys.executable, env=env, timeout_s=3, method="spawn")

    def verdicts(results):
        return [(r.module, r.status, r.gil_enabled_after, r.caused_by, r.warning, (r.error or "")[:40])
                for r in results]

    assert verdicts(forked) == verdicts(spawned)
    assert [r.status for r in forked] == ["gil-free", "gil-enabled", "gil-enabled", "error", "not-found", "error",
                                          "error", "error"]
    assert "killed by SIGABRT" in forked[6].error and "did not finish within 3 s" in forked[7].error


@needs_free_threading
@pytest.mark.skipif(not zygote.available(), reason="the zygote forks (Linux)")
def test_zygote_children_share_one_clean_parent(built: Path, tmp_path: Path) -> None:
    seen = {}
    for method in ("fork", "spawn"):
        out = tmp_path / method
        out.mkdir()
        audit(["probe_a", "probe_b"], python=sys.executable, env={"PYTHONPATH": str(built), "PROBE_OUT": str(out)},
              method=method)
        seen[method] = [json.loads((out / f"{name}.json").read_text()) for name in ("probe_a", "probe_b")]
    forked, spawned = seen["fork"], seen["spawn"]
    assert forked[0]["parent"] == forked[1]["parent"] != os.getpid()  # one zygote forked both
    assert spawned[0]["parent"] == spawned[1]["parent"] == os.getpid()
    extra = set(forked[0]["modules"]) - set(spawned[0]["modules"])
    assert extra <= set(zygote.ZYGOTE_IMPORTS), extra  # nothing else was imported before the module


@needs_free_threading
@pytest.mark.skipif(not zygote.available(), reason="the zygote forks (Linux)")
def test_a_shared_gil_free_dependency_is_preloaded_and_a_culprit_never(built: Path, tmp_path: Path) -> None:
    modules = ["probe_a", "free_user_a", "free_user_b", "culprit_user_a", "culprit_user_b"]
    verdicts, seen = fork_and_spawn(built, tmp_path, modules)
    assert verdicts["fork"] == verdicts["spawn"]
    assert [v[1:3] for v in verdicts["fork"]] == [("gil-free", None)] * 3 + [("gil-enabled", "undeclared_one")] * 2
    forked = seen["fork"]
    root = forked["probe_a"]["parent"]
    assert forked["free_user_a"]["parent"] == forked["free_user_b"]["parent"] != root  # plain_python preloaded
    assert forked["culprit_user_a"]["parent"] == forked["culprit_user_b"]["parent"] == root  # never preloaded


def test_top_level_imports_are_the_ones_every_import_runs(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "mod.py").write_text("import os.path\nfrom . import sibling\nfrom ..pkg.sub import thing\n"
                                    "if True:\n    import under_if\ntry:\n    import under_try\nexcept ImportError:\n"
                                    "    pass\ndef f():\n    import in_function\n")
    imports = static_imports.top_level_imports("pkg.mod", [str(tmp_path / "missing"), str(tmp_path)])
    assert imports == ["os", "os.path", "pkg", "pkg.sub"]
    assert static_imports.top_level_imports("pkg.absent", [str(tmp_path)]) == []


def test_preload_tree_moves_modules_sharing_a_dependency_under_a_zygote_that_preloads_it() -> None:
    imports = {"a.x": ["dep", "json"], "a.y": ["dep", "json"], "a.z": ["json"], "b": ["dep", "dep.core"],
               "c": ["dep", "dep.core"]}
    tree = zygote.preload_tree(["a.x", "a.y", "a.z", "b", "c"], imports)
    # json is stdlib (cheap, left alone); dep.core, deeper than dep and as shared, goes first (it imports dep).
    assert tree == zygote.PreloadNode(None, [], [
        zygote.PreloadNode("a", ["a.z"], [zygote.PreloadNode("dep", ["a.x", "a.y"])]),
        zygote.PreloadNode("dep.core", ["b", "c"]),
    ])


def test_preload_tree_nests_modules_under_their_deepest_shared_ancestor() -> None:
    tree = zygote.preload_tree(["a", "a.b", "a.b.c", "a.b.d", "a.x", "z", "q.r"])
    deepest = zygote.PreloadNode("a.b", ["a.b.c", "a.b.d"])
    assert tree == zygote.PreloadNode(None, ["a", "z", "q.r"], [zygote.PreloadNode("a", ["a.b", "a.x"], [deepest])])


@needs_free_threading
@pytest.mark.skipif(not zygote.available(), reason="the zygote forks (Linux)")
def test_preloaded_ancestor_only_when_gil_free_and_single_threaded(built: Path, tmp_path: Path) -> None:
    modules = ["probe_a", "prepkg.a", "prepkg.b", "threadpkg.a", "threadpkg.b", "poolpkg.a", "poolpkg.b",
               "culpritpkg.a", "culpritpkg.b"]
    verdicts, seen = fork_and_spawn(built, tmp_path, modules)
    assert verdicts["fork"] == verdicts["spawn"]
    assert [v[1:3] for v in verdicts["fork"][-2:]] == [("gil-enabled", "undeclared_two")] * 2
    forked = seen["fork"]
    root = forked["probe_a"]["parent"]
    assert forked["prepkg.a"]["parent"] == forked["prepkg.b"]["parent"] != root  # a zygote that imported prepkg
    assert forked["threadpkg.a"]["parent"] == root  # threadpkg started a thread: no fork from there
    # The zygote sizes BLAS pools to one thread: a package that starts one only for a bigger pool is preloaded.
    assert forked["poolpkg.a"]["parent"] == forked["poolpkg.b"]["parent"] not in (root, forked["prepkg.a"]["parent"])
    extra = set(forked["prepkg.a"]["modules"]) - set(seen["spawn"]["prepkg.a"]["modules"])
    assert extra <= set(zygote.ZYGOTE_IMPORTS), extra
