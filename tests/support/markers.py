"""Shared skip markers: tests that need a free-threaded build, tests only the longer profile runs."""

from __future__ import annotations

import os
import sysconfig

import pytest

FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))

needs_free_threading = pytest.mark.skipif(
    not FREE_THREADED, reason="needs a free-threaded (Py_GIL_DISABLED) build of CPython"
)

# The longer profile: FT_HARNESS_SLOW_TESTS=1 also runs the tests marked ``slow`` (each takes tens of seconds).
SLOW_TESTS_ENV = "FT_HARNESS_SLOW_TESTS"
slow = pytest.mark.skipif(
    os.environ.get(SLOW_TESTS_ENV) != "1", reason=f"slow: runs in the longer profile ({SLOW_TESTS_ENV}=1)"
)
