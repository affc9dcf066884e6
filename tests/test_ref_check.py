"""A ``module:attribute`` target's attribute is read from the module's text, never by running it: missing only
when the text binds no such name and nothing in it could bind one unseen."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.targets.ref_check import bound_names


@pytest.mark.parametrize(("source", "bound"), [
    ("import os.path as p\nfrom x import y\nclass A: pass\nasync def b(): pass\nif 1:\n    C = D = 1\n",
     {"p", "y", "A", "b", "C", "D"}),
    ("def f():\n    global G\n    G = 1\n", {"f", "G"}),
])
def test_names_the_text_binds(tmp_path: Path, source: str, bound: set[str]) -> None:
    (tmp_path / "m.py").write_text(source)
    assert bound_names(tmp_path / "m.py") == bound


@pytest.mark.parametrize("source", [
    "from os import *\n", "def __getattr__(name):\n    return name\n", "globals()['X'] = 1\n", "def broken(:\n",
])
def test_names_bound_unseen_cannot_be_told(tmp_path: Path, source: str) -> None:
    (tmp_path / "m.py").write_text(source)
    assert bound_names(tmp_path / "m.py") is None
