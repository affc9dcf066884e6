"""Importing NVX: the compiled backend is chosen, keeps the GIL off on a free-threaded build, and
``NVX_BACKEND`` selects the backend. Each check runs in a fresh interpreter."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support.markers import needs_free_threading


def run_python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {key: value for key, value in os.environ.items() if key not in ("PYTHON_GIL", "NVX_BACKEND")}
    return subprocess.run(
        [sys.executable, "-c", code], env={**clean, **env}, capture_output=True, text=True, timeout=60
    )


def fresh_python(code: str, **env: str) -> str:
    done = run_python(code, **env)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@needs_free_threading
def test_importing_compiled_nvx_keeps_the_gil_off() -> None:
    out = fresh_python(
        "import sys, nvx, nvx._nvx_cffi, nvx._compiled; print(nvx.BACKEND, sys._is_gil_enabled())"
    )
    assert out == "cffi False"


def test_compiled_backend_is_the_default() -> None:
    assert fresh_python("import nvx; print(nvx.BACKEND, nvx.Utf8Validator.__module__)") == "cffi nvx._compiled"


def test_nvx_backend_pure_forces_the_reference() -> None:
    out = fresh_python("import nvx; print(nvx.BACKEND, nvx.XorMasker.__module__)", NVX_BACKEND="pure")
    assert out == "pure nvx._pure"


def test_an_unknown_nvx_backend_is_an_import_error_naming_it() -> None:
    done = run_python("import nvx", NVX_BACKEND="bogus")
    assert done.returncode != 0
    assert "NVX_BACKEND='bogus': expected 'pure', 'cffi' or unset" in done.stderr
