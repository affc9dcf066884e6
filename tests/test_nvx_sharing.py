"""nvx._sharing: shared per-message objects switched to deferred reference counting where that exists."""

from __future__ import annotations

import pytest

from nvx._sharing import defer_refcounts
from tests.support.markers import FREE_THREADED, needs_free_threading


@needs_free_threading
def test_each_object_is_switched_once() -> None:
    first, second = [1], {"a": 1}  # tracked by the garbage collector, as deferred counting requires
    assert defer_refcounts(first, second) == 2
    assert defer_refcounts(first, second) == 0


@needs_free_threading
def test_an_untracked_object_is_left_alone() -> None:
    assert defer_refcounts(12345.5) == 0  # floats are not tracked by the garbage collector


@needs_free_threading
def test_nvx_shared_per_message_objects_are_deferred() -> None:
    pytest.importorskip("nvx._nvx_cffi", reason="the compiled NVX extension is not built")
    from nvx import _compiled

    assert _compiled.DEFERRED == 6
    shared = (_compiled._validate, _compiled._process, _compiled._mask, _compiled._new, _compiled._XOR_STATE,
              _compiled._FRESH_ZERO)
    assert defer_refcounts(*shared) == 0


@pytest.mark.skipif(FREE_THREADED, reason="checks the GIL build")
def test_nothing_changes_on_a_gil_build() -> None:
    assert defer_refcounts([1]) == 0
