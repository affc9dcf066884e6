"""Shared skip markers for tests that need a free-threaded build."""

from __future__ import annotations

import sysconfig

import pytest

FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))

needs_free_threading = pytest.mark.skipif(
    not FREE_THREADED, reason="needs a free-threaded (Py_GIL_DISABLED) build of CPython"
)
