"""Import audit: every module that turns the GIL back on, or fails to import, is named; clean ones pass."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from harness.audit import audit
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
    return folder


def run_audit(folder: Path, *modules: str):
    results = audit(modules, python=sys.executable, env={"PYTHONPATH": str(folder)})
    return {r.module: r for r in results}


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
