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
SOURCES = ("nvx_cpu.c", "nvx_utf8.c", "nvx_utf8_simd.c", "nvx_xor.c")

# Only what Python calls; the authoritative declarations (and their ownership rules) are in nvx.h.
CDEF = """
typedef struct { ...; } nvx_utf8;
typedef struct { ...; } nvx_xor;

int nvx_cpu_level(void);

void nvx_utf8_init(nvx_utf8 *state, int level);
void nvx_utf8_reset(nvx_utf8 *state);
int64_t nvx_utf8_validate(nvx_utf8 *state, const char *data, size_t length);
uint64_t nvx_utf8_total(nvx_utf8 *state);

void nvx_xor_init(nvx_xor *state, const char *mask, int level);
void nvx_xor_reset(nvx_xor *state);
uint64_t nvx_xor_pointer(nvx_xor *state);
void nvx_xor_process(nvx_xor *state, const char *data, char *out, size_t length);
"""

WARNINGS = ["/W4"] if sys.platform == "win32" else ["-Wall", "-Wextra", "-O3"]


def make_builder(source_dir: str) -> FFI:
    """A builder whose C sources live in ``source_dir`` (setuptools insists on paths relative to the root)."""
    builder = FFI()
    builder.cdef(CDEF)
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
