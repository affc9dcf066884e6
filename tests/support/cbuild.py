"""Build small C extension modules at test time with the machine's compiler (no committed binaries).

``build_extension`` compiles plain C-API sources for an interpreter (its headers and ``EXT_SUFFIX``);
``plain_module_source`` writes a minimal module with or without the free-threading declaration;
``build_cffi`` turns a cffi ``cdef`` + C source into an extension (cffi emits the C, we compile it, so no
setuptools is needed).
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path

WARNINGS = ("-Wall", "-Wextra")
_CONFIG_KEYS = ("CC", "INCLUDEPY", "EXT_SUFFIX", "CONFIG_ARGS")
# A ThreadSanitizer interpreter runs only instrumented code (and symbolises its frames with debug info).
TSAN_FLAGS = ("-fsanitize=thread", "-g")


class BuildError(RuntimeError):
    """The compiler failed; the message carries its output."""


@cache
def build_config(python: str = sys.executable) -> dict[str, str]:
    """``CC``, ``INCLUDEPY``, ``EXT_SUFFIX`` and ``CONFIG_ARGS`` of ``python`` (asked of that interpreter)."""
    code = f"import json, sysconfig; print(json.dumps({{k: sysconfig.get_config_var(k) for k in {_CONFIG_KEYS!r}}}))"
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def build_extension(
    name: str,
    sources: Sequence[Path],
    out_dir: Path,
    *,
    defines: Mapping[str, str | None] | None = None,
    python: str = sys.executable,
) -> Path:
    """Compile ``sources`` into ``out_dir/<name><EXT_SUFFIX>`` for ``python``; returns the module's path.

    ``name`` may be dotted (``pkg.mod``): the file lands in ``out_dir/pkg/`` (packages need their own
    ``__init__.py``). ``defines`` become ``-DKEY=VALUE`` (``-DKEY`` for ``None``).
    """
    config = build_config(python)
    parts = name.split(".")
    target = Path(out_dir, *parts[:-1], parts[-1] + config["EXT_SUFFIX"])
    target.parent.mkdir(parents=True, exist_ok=True)
    flags = [f"-D{k}" if v is None else f"-D{k}={v}" for k, v in (defines or {}).items()]
    if "--with-thread-sanitizer" in (config["CONFIG_ARGS"] or ""):
        flags += TSAN_FLAGS
    cmd = [
        *shlex.split(config["CC"] or "cc"), "-shared", "-fPIC", "-O1", *WARNINGS, f"-I{config['INCLUDEPY']}",
        *flags, *map(str, sources), "-o", str(target),
    ]
    return _compile(cmd, target)


def _compile(cmd: list[str], target: Path) -> Path:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BuildError(f"{shlex.join(cmd)} failed:\n{proc.stderr}")
    return target


def build_library(path: Path, source: str) -> Path:
    """Compile C ``source`` into a plain shared library at ``path`` (no Python init symbol: a ctypes library)."""
    c_file = path.with_name(path.name.split(".", 1)[0] + "_lib_src.c")
    path.parent.mkdir(parents=True, exist_ok=True)
    c_file.write_text(source, encoding="utf-8")
    compiler = shlex.split(build_config()["CC"] or "cc")
    cmd = [*compiler, "-shared", "-fPIC", "-O1", *WARNINGS, str(c_file), "-o", str(path)]
    return _compile(cmd, path)


def plain_module_source(name: str, *, free_threading: bool, extra_code: str = "", extra_methods: str = "") -> str:
    """A minimal multi-phase-init module ``name`` with ``answer() -> 42``.

    ``free_threading=True`` adds the ``Py_mod_gil``/``Py_MOD_GIL_NOT_USED`` slot; without it, importing the
    module on a free-threaded build turns the GIL back on. ``extra_code`` holds more C functions and
    ``extra_methods`` their ``PyMethodDef`` entries (each ending with a comma).
    """
    short = name.rsplit(".", 1)[-1]
    gil_slot = "#ifdef Py_mod_gil\n    {Py_mod_gil, Py_MOD_GIL_NOT_USED},\n#endif\n" if free_threading else ""
    return f"""#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *answer(PyObject *module, PyObject *Py_UNUSED(ignored))
{{
    (void)module;
    return PyLong_FromLong(42);
}}
{extra_code}
static PyMethodDef methods[] = {{
    {{"answer", answer, METH_NOARGS, "Return 42."}},
    {extra_methods}
    {{NULL, NULL, 0, NULL}}
}};

static PyModuleDef_Slot slots[] = {{
{gil_slot}    {{0, NULL}}
}};

static struct PyModuleDef moduledef = {{
    PyModuleDef_HEAD_INIT, "{name}", NULL, 0, methods, slots, NULL, NULL, NULL
}};

PyMODINIT_FUNC PyInit_{short}(void)
{{
    return PyModuleDef_Init(&moduledef);
}}
"""


def build_plain_module(name: str, out_dir: Path, *, free_threading: bool, python: str = sys.executable) -> Path:
    """Write :func:`plain_module_source` to ``out_dir`` and build it; returns the module's path."""
    source = Path(out_dir, f"{name.replace('.', '_')}_src.c")
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_text(plain_module_source(name, free_threading=free_threading), encoding="utf-8")
    return build_extension(name, [source], out_dir, python=python)


def build_cffi(
    name: str,
    cdef: str,
    source: str,
    out_dir: Path,
    *,
    python: str = sys.executable,
    extra_sources: Sequence[Path] = (),
) -> Path:
    """Build a cffi API-mode module ``name`` (``from name import ffi, lib``) into ``out_dir``.

    The C is emitted by the cffi of *this* interpreter (cffi's output is interpreter-neutral) and compiled
    for ``python``.
    """
    import cffi

    ffi = cffi.FFI()
    ffi.cdef(cdef)
    ffi.set_source(name, source)
    generated = Path(out_dir, f"{name.replace('.', '_')}_cffi_src.c")
    generated.parent.mkdir(parents=True, exist_ok=True)
    ffi.emit_c_code(str(generated))
    # cffi defaults to the limited API, which free-threaded builds do not support.
    defines = {"_CFFI_NO_LIMITED_API": None}
    return build_extension(name, [generated, *extra_sources], out_dir, defines=defines, python=python)
