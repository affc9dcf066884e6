"""cffi builder for NVX in API (out-of-line) mode: compiles the C sources into ``nvx._nvx_cffi``.

setuptools picks up ``ffibuilder`` through ``setup.py``'s ``cffi_modules``; for development,
``python nvx/_build.py --inplace`` compiles the extension and places it next to these sources.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCES = ("nvx_cpu.c", "nvx_utf8.c", "nvx_utf8_simd.c", "nvx_xor.c", "nvx_floor.c")

API_BEGIN = "/* ---- Python API:"
API_END = "/* ---- end of Python API ---- */"


def python_api(header: str) -> str:
    """The cdef: the validator's struct as opaque to Python, then the prototypes and constants marked in nvx.h
    (one source of truth)."""
    with open(header, encoding="utf-8") as handle:
        text = handle.read()
    prototypes = text[text.index(API_BEGIN) : text.index(API_END)]
    return "typedef struct { ...; } nvx_utf8;\n" + prototypes


WARNINGS = ["/W4"] if sys.platform == "win32" else ["-Wall", "-Wextra", "-O3"]


def make_builder(source_dir: str) -> FFI:
    """A builder whose C sources live in ``source_dir`` (setuptools insists on paths relative to the root)."""
    builder = FFI()
    builder.cdef(python_api(os.path.join(HERE, "nvx.h")))
    builder.set_source(
        "nvx._nvx_cffi",
        '#include "nvx.h"',
        sources=[os.path.join(source_dir, name) for name in SOURCES],
        include_dirs=[source_dir],
        depends=[os.path.join(source_dir, "nvx.h")],
        extra_compile_args=WARNINGS,
    )
    return builder


ffibuilder = make_builder("nvx")


def build_inplace() -> str:
    """Compile in a scratch directory and atomically replace ``nvx/_nvx_cffi*.so``; returns its path."""
    with tempfile.TemporaryDirectory(prefix="nvx-build-") as scratch:
        built = make_builder(HERE).compile(tmpdir=scratch)
        target = os.path.join(HERE, os.path.basename(built))
        staging = target + ".tmp"
        shutil.copyfile(built, staging)
        os.replace(staging, target)
    return target


if __name__ == "__main__":
    if sys.argv[1:] != ["--inplace"]:
        print("usage: python nvx/_build.py --inplace", file=sys.stderr)
        raise SystemExit(2)
    print(build_inplace())
